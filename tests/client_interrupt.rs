//! Ctrl-C and the exit code: one convention, 130 (128 + SIGINT, what a shell reports
//! for a program Ctrl-C stopped). `ws` catches the first Ctrl-C to close cleanly and
//! exits 130 on the second, as `serve` does (tests/client_ws.rs has that test, with
//! the peer it needs); `tcp`, `unix` and `udp` do not catch it and are ended by the
//! signal itself, which a shell reports as 130 as well.

mod support {
    pub mod client_run;
    pub mod exit;
    pub mod finished;
    pub mod one_listener;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod signal;
    pub mod stdout_wait;
    pub mod temp;
    pub mod unix_spec;
}

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;
use support::client_run::run;
use support::one_listener::serve_one;
use support::process::{Proc, sockloop};
use support::server::Server;
use support::unix_spec::UnixSpec;

const EXIT_WITHIN: Duration = Duration::from_secs(5);
const SIGINT: i32 = 2;

/// What `$?` would be in a shell: the exit code, or 128 + the signal that ended it.
fn shell_code(status: ExitStatus) -> Option<i32> {
    status
        .code()
        .or_else(|| status.signal().map(|sig| 128 + sig))
}

/// Starts `sockloop ARGS`, shows that it is running by an echo of `hello`, then
/// presses Ctrl-C once and gives the exit status.
fn echo_then_ctrl_c(args: &[&str]) -> ExitStatus {
    let mut client = Proc::spawn(sockloop(args));
    client.write(b"hello\n");
    client.wait_stdout("hello");
    client.signal("INT");
    client.wait_exit(EXIT_WITHIN)
}

#[test]
fn stream_and_udp_clients_end_by_sigint_which_is_130() {
    let (_tcp, tcp) = serve_one("tcp", "echo", &[]);
    // The end of input is no interruption: it ends the session normally.
    let done = run(&["tcp", &tcp.to_string()], b"hello\n");
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    let status = echo_then_ctrl_c(&["tcp", &tcp.to_string()]);
    assert_eq!(shell_code(status), Some(130), "tcp: {status:?}");
    assert_eq!(status.signal(), Some(SIGINT), "tcp: {status:?}");

    let (_udp, udp) = serve_one("udp", "echo", &[]);
    let status = echo_then_ctrl_c(&["udp", &udp.to_string()]);
    assert_eq!(shell_code(status), Some(130), "udp: {status:?}");

    let unix = UnixSpec::new("interrupt", "echo");
    let _unix = Server::start(&["-q", "-l", &unix.spec]);
    let status = echo_then_ctrl_c(&["unix", &unix.path.to_string_lossy()]);
    assert_eq!(shell_code(status), Some(130), "unix: {status:?}");
}
