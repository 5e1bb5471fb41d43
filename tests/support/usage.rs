//! A usage error as a person meets it: exit code 2, nothing on stdout, and one line
//! on stderr, `sockloop COMMAND: what was wrong`, in our words rather than the option
//! parser's.

use super::client_run::run;
use super::finished::Finished;

/// Runs `sockloop ARGS` (no input) and checks that it is exactly one usage line.
pub fn usage_error(args: &[&str]) -> Finished {
    let done = run(args, b"");
    done.assert_code(2).assert_stdout("");
    let command = args.first().copied().unwrap_or_default();
    let prefix = format!("sockloop {command}: ");
    assert!(
        done.stderr.starts_with(&prefix) && done.stderr.ends_with('\n'),
        "{args:?}: not a `{prefix}…` line: {:?}",
        done.stderr
    );
    assert_eq!(
        done.stderr.lines().count(),
        1,
        "{args:?}: more than one line: {:?}",
        done.stderr
    );
    for getopts_words in ["Argument to option", "Unrecognized option", "Option '"] {
        assert!(
            !done.stderr.contains(getopts_words),
            "{args:?}: the option parser's words: {:?}",
            done.stderr
        );
    }
    done
}
