//! Usage errors as a person meets them: every subcommand's mistake is one line on
//! stderr, `sockloop COMMAND: what was wrong`, in our words rather than the option
//! parser's, with exit code 2.

mod support {
    pub mod client_run;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod process;
    pub mod usage;
}

use support::client_run::run;
use support::usage::usage_error;

#[test]
fn option_parser_mistakes_are_one_line_in_our_words() {
    usage_error(&["serve", "--max-line"]).assert_stderr_has("--max-line needs a value");
    usage_error(&["serve", "--bogus"]).assert_stderr_has("unknown option '--bogus'");
    usage_error(&["serve", "-l"]).assert_stderr_has("-l needs a value");
    usage_error(&["serve", "--reuse-port=yes"]).assert_stderr_has("--reuse-port takes no value");
    usage_error(&["serve", "--backlog", "1", "--backlog", "2"])
        .assert_stderr_has("--backlog is given more than once");
    usage_error(&["tcp", "-Z", "127.0.0.1:1"]).assert_stderr_has("unknown option '-Z'");
    usage_error(&["unix", "--timeout"]).assert_stderr_has("--timeout needs a value");
    usage_error(&["udp", "--nope", "127.0.0.1:1"]).assert_stderr_has("unknown option '--nope'");
    usage_error(&["ws", "--max-message"]).assert_stderr_has("--max-message needs a value");
    usage_error(&["rpc", "--what", "127.0.0.1:1", "quit"])
        .assert_stderr_has("unknown option '--what'");
    usage_error(&["lookup", "--timeout"]).assert_stderr_has("--timeout needs a value");
    usage_error(&["bench", "--bogus"]);
}

#[test]
fn value_mistakes_are_one_line_naming_the_subcommand() {
    usage_error(&["lookup", "288.8.8.8"])
        .assert_stderr_has("'288.8.8.8' is not a valid IP address");
    usage_error(&["serve", "--max-conns", "lots"]);
    usage_error(&["serve", "stray"]);
    usage_error(&["tcp"]);
    usage_error(&["udp", "--timeout", "x", "127.0.0.1:1"]);
    usage_error(&["ws", "--idle-max", "0", "ws://127.0.0.1:1/"]);
    usage_error(&["rpc", "127.0.0.1:1", "mul", "1", "2"]);
    #[cfg(feature = "bench")]
    usage_error(&["bench", "ws", "ws://127.0.0.1:1/", "-c", "0"]);
}

#[test]
fn sizes_take_the_same_units_everywhere() {
    // Each is refused for its unit ("kB" is ambiguous), so no connection is tried.
    for args in [
        &["serve", "--max-message", "1kB"][..],
        &["serve", "--max-line", "1MB"],
        &["serve", "--max-output", "lots"],
        &["ws", "--max-message", "2kB", "ws://127.0.0.1:1/"],
    ] {
        usage_error(args).assert_stderr_has("is not a size: give bytes, or with k/KiB (1024)");
    }
    #[cfg(feature = "bench")]
    usage_error(&["bench", "ws", "ws://127.0.0.1:1/", "--size", "16kB"])
        .assert_stderr_has("is not a size");
}

/// `serve`'s listener and limit mistakes: each is its one usage line, naming what was
/// wrong, before anything is bound.
#[test]
fn serve_command_line_mistakes_exit_2_naming_the_mistake() {
    let cases: &[(&[&str], &str)] = &[
        (&["-l", "127.0.0.1:80"], "no transport"),
        (&["-l", "tcp://127.0.0.1"], "no port"),
        (&["-l", "tcp://:99999"], "0 to 65535"),
        (&["-l", "tcp://:0=gossip"], "unknown service"),
        (&["-l", "sctp://:0"], "unknown transport"),
        (&["-l", "udp://127.0.0.1:0=counter"], "UDP has none"),
        #[cfg(feature = "pubsub")]
        (&["-l", "udp://127.0.0.1:0=chat"], "UDP has none"),
        #[cfg(not(feature = "pubsub"))]
        (
            &["-l", "tcp://127.0.0.1:0=chat"],
            "built without the `pubsub` feature",
        ),
        (&["-l", "unix:=cmd"], "empty socket path"),
        (&["--max-line", "0"], "--max-line"),
        (&["--max-conns", "-3"], "--max-conns"),
        (
            &["--max-conns-per-ip", "some"],
            "--max-conns-per-ip 'some' is not a whole number",
        ),
        (&["--idle-timeout", "soon"], "--idle-timeout"),
        (&["--idle-timeout", "-1"], "--idle-timeout"),
        (&["--backlog", "0"], "--backlog"),
        (&["--max-output", "lots"], "--max-output"),
        (&["--bogus"], "bogus"),
        (&["tcp://:0=echo"], "unexpected argument"),
    ];
    for (args, why) in cases {
        let mut full = vec!["serve"];
        full.extend_from_slice(args);
        usage_error(&full).assert_stderr_has(why);
    }
    let help = run(&["serve", "--help"], b"");
    help.assert_code(0);
    assert!(
        help.stdout.contains("usage: sockloop serve"),
        "{}",
        help.stdout
    );
    run(&["frobnicate"], b"").assert_code(2);
}
