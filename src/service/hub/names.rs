//! What makes a usable topic, room or nick name: one word a line protocol can carry
//! (`SUB name`, `/join name`), shown to other people as it is.

/// `Ok` for a name of 1 to `max` bytes with no whitespace and no control characters
/// (a name is a word in the line protocols, and is printed in front of other
/// people's terminals, where an escape sequence could do anything); else why not.
pub fn check_name(name: &str, max: usize) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > max {
        return Err("too long");
    }
    if name.chars().any(char::is_whitespace) {
        return Err("no spaces allowed");
    }
    if name.chars().any(char::is_control) {
        return Err("no control characters allowed");
    }
    Ok(())
}
