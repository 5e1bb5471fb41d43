//! The `chat` line protocol (issue 14): what one line from a chat user asks for.
//!
//! ```text
//! /nick NAME     take a name (one word, at most 32 bytes)
//! /join ROOM     move to ROOM (everyone starts in `lobby`)
//! /leave         leave the room (then nothing you say goes anywhere)
//! /who           who is in your room
//! /rooms         every room and how many are in it
//! /me ACTION     `* nick ACTION` to the room
//! /help          the commands
//! /quit          say goodbye and hang up
//! //text         says "/text" (a leading slash, escaped)
//! anything else  said to your room as `<nick> text`
//! ```
//!
//! Commands are case-insensitive; the line is UTF-8 (checked by the caller) without
//! its line end. A chat line is text for people: control characters (an escape
//! sequence would act on every reader's terminal) are refused, tabs allowed.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Nick(&'a str),
    Join(&'a str),
    Leave,
    Who,
    Rooms,
    Me(&'a str),
    Help,
    Quit,
    /// Text for the room.
    Say(&'a str),
    /// A blank line: nothing to do.
    Nothing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatError<'a> {
    /// `/x` for a command that does not exist (the word, with its slash).
    Unknown(&'a str),
    /// The command needs an argument: its usage.
    Usage(&'static str),
    ControlCharacter,
}

impl std::fmt::Display for ChatError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatError::Unknown(word) => {
                write!(
                    f,
                    "unknown command {word} (/help lists them; //text says /text)"
                )
            }
            ChatError::Usage(usage) => write!(f, "usage: {usage}"),
            ChatError::ControlCharacter => f.write_str("control characters are not allowed"),
        }
    }
}

/// The commands as `/help` lists them.
pub const HELP: &str = "/nick NAME, /join ROOM, /leave, /who, /rooms, /me ACTION, /help, /quit; \
anything else is said to your room (//text says /text)";

pub fn parse(line: &str) -> Result<Command<'_>, ChatError<'_>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ChatError::ControlCharacter);
    }
    if line.trim().is_empty() {
        return Ok(Command::Nothing);
    }
    let Some(command) = line.strip_prefix('/') else {
        return Ok(Command::Say(line));
    };
    if command.starts_with('/') {
        return Ok(Command::Say(command));
    }
    let (verb, rest) = command.split_once([' ', '\t']).unwrap_or((command, ""));
    let arg = rest.trim();
    let word = |usage| match arg {
        "" => Err(ChatError::Usage(usage)),
        a if a.contains([' ', '\t']) => Err(ChatError::Usage(usage)),
        a => Ok(a),
    };
    let bare = |c: Command<'static>| match arg {
        "" => Ok(c),
        _ => Err(ChatError::Usage(usage_of(c))),
    };
    match verb.to_ascii_lowercase().as_str() {
        "nick" => word("/nick NAME").map(Command::Nick),
        "join" => word("/join ROOM").map(Command::Join),
        "me" if !arg.is_empty() => Ok(Command::Me(arg)),
        "me" => Err(ChatError::Usage("/me ACTION")),
        "leave" | "part" => bare(Command::Leave),
        "who" => bare(Command::Who),
        "rooms" | "list" => bare(Command::Rooms),
        "help" => Ok(Command::Help),
        "quit" => Ok(Command::Quit),
        _ => Err(ChatError::Unknown(
            line.split([' ', '\t']).next().unwrap_or(line),
        )),
    }
}

fn usage_of(c: Command<'_>) -> &'static str {
    match c {
        Command::Leave => "/leave",
        Command::Who => "/who",
        _ => "/rooms",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn commands_and_their_errors() {
        assert_eq!(parse("/nick alice"), Ok(Command::Nick("alice")));
        assert_eq!(parse("/NICK  alice \r"), Ok(Command::Nick("alice")));
        assert_eq!(parse("/join rust"), Ok(Command::Join("rust")));
        assert_eq!(parse("/leave"), Ok(Command::Leave));
        assert_eq!(parse("/who"), Ok(Command::Who));
        assert_eq!(parse("/rooms"), Ok(Command::Rooms));
        assert_eq!(parse("/me waves  hello"), Ok(Command::Me("waves  hello")));
        assert_eq!(parse("/help"), Ok(Command::Help));
        assert_eq!(parse("/quit"), Ok(Command::Quit));
        assert_eq!(parse("hello /there"), Ok(Command::Say("hello /there")));
        assert_eq!(parse("//slash"), Ok(Command::Say("/slash")));
        assert_eq!(parse("  "), Ok(Command::Nothing));
        assert_eq!(parse("/nick"), Err(ChatError::Usage("/nick NAME")));
        assert_eq!(parse("/nick a b"), Err(ChatError::Usage("/nick NAME")));
        assert_eq!(parse("/who me"), Err(ChatError::Usage("/who")));
        assert_eq!(parse("/me"), Err(ChatError::Usage("/me ACTION")));
        assert_eq!(parse("/frob x"), Err(ChatError::Unknown("/frob")));
        assert_eq!(parse("hi\x1b[2J"), Err(ChatError::ControlCharacter));
        assert_eq!(parse("tab\tok"), Ok(Command::Say("tab\tok")));
    }

    proptest! {
        /// Text that is not a command is said as it is.
        #[test]
        fn plain_text_is_said_unchanged(text in "[^/\\p{Cc}][^\\p{Cc}]{0,40}") {
            prop_assume!(!text.trim().is_empty());
            prop_assert_eq!(parse(&text), Ok(Command::Say(&text)));
        }

        /// An argument names exactly what follows the command.
        #[test]
        fn one_word_arguments(name in "[a-z0-9_-]{1,20}", verb in "nick|join|NICK|Join") {
            let line = format!("/{verb} {name}");
            let cmd = parse(&line);
            let want = if verb.eq_ignore_ascii_case("nick") { Command::Nick(&name) } else { Command::Join(&name) };
            prop_assert_eq!(cmd, Ok(want));
        }

        #[test]
        fn any_line_parses_or_errs(line in "\\PC{0,40}|[\\x00-\\x7f]{0,20}") {
            let _ = parse(&line);
        }
    }
}
