//! `--trace LAYERS` written without `=`, as people write it: taken as the layers when
//! it reads as layers, and said exactly what went wrong when it does not. Only where
//! tracing is built in (the `trace` feature).
#![cfg(feature = "trace")]

mod support {
    pub mod client_run;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod free_port;
    pub mod process;
}

use support::client_run::run;
use support::finished::Finished;
use support::free_port::free_tcp_port;

/// Runs `sockloop ARGS` (no input) and checks that it is one usage line.
fn usage_error(args: &[&str]) -> Finished {
    let done = run(args, b"");
    done.assert_code(2).assert_stdout("");
    assert_eq!(
        done.stderr.lines().count(),
        1,
        "{args:?}: {:?}",
        done.stderr
    );
    done
}

/// `--trace ws URL` takes `ws` as the layers (getopts alone would take it for the URL
/// and call the URL an unexpected argument): the client goes on to connect, and fails
/// only at the refused port.
#[test]
fn trace_layers_may_follow_as_the_next_argument() {
    let url = format!("ws://{}/ws", free_tcp_port());
    for args in [
        &["ws", "--trace", "ws", &url][..],
        &["ws", "--trace", "ws,http", &url],
        &["ws", "--trace", &url],
        &["ws", &url, "--trace"],
    ] {
        run(args, b"")
            .assert_code(1)
            .assert_stderr_has("connection refused");
    }
    let target = free_tcp_port().to_string();
    run(&["tcp", "--trace", "loop", &target], b"")
        .assert_code(1)
        .assert_stderr_has("connection refused");
}

/// A layer list with a mistake in it is reported as such; a single unknown word
/// after a bare `--trace` is the target, and the error says what may have happened.
#[test]
fn trace_layer_mistakes_are_said_exactly() {
    let url = format!("ws://{}/ws", free_tcp_port());
    usage_error(&["ws", "--trace", "ws,htp", &url]).assert_stderr_has("unknown trace layer 'htp'");
    usage_error(&["ws", "--trace=wss", &url]).assert_stderr_has("unknown trace layer 'wss'");
    usage_error(&["ws", "--trace", "wss", &url]).assert_stderr_has(&format!(
        "unexpected argument '{url}'; if the argument after --trace was meant as its layers, \
         they are loop, line, http, ws, tls, udp, dns"
    ));
    usage_error(&["serve", "--trace", "wat"])
        .assert_stderr_has("if the argument after --trace was meant as its layers");
}
