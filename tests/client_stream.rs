//! The `tcp` and `unix` clients as real processes: full duplex (a server that talks
//! first is shown before we send anything), half-close on end of input, `-e`
//! one-shot, `--prompt` with STOP, connect errors and usage errors — against
//! `sockloop serve`, inline `std::net` peers and a Python peer.

mod support {
    pub mod bounded_read;
    pub mod client_run;
    pub mod deps;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod free_port;
    pub mod one_listener;
    pub mod output;
    pub mod peer_thread;
    pub mod process;
    pub mod python;
    pub mod server;
    pub mod stdout_wait;
    pub mod tcp_peer;
    pub mod temp;
    pub mod unix_spec;
}

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;
use support::client_run::run;
use support::finished::{CHILD_TIMEOUT, Finished};
use support::free_port::free_tcp_port;
use support::one_listener::serve_one;
use support::peer_thread::PEER_IO_TIMEOUT;
use support::process::{BIN, Proc, sockloop};
use support::python::{Peer, python3};
use support::server::Server;
use support::tcp_peer::{read_line, tcp_peer};
use support::temp::TempDir;
use support::unix_spec::UnixSpec;

/// What the client sent, up to its close; a reset fails the peer.
fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let (got, err) =
        support::bounded_read::read_to_eof(stream, Vec::new(), PEER_IO_TIMEOUT, "peer");
    assert!(
        err.is_none(),
        "peer: read to EOF: {err:?} (after {} bytes)",
        got.len()
    );
    got
}

/// Deterministic filler bytes for bulk transfers (no `STOP` line can appear: only
/// digits and newlines).
fn digits(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'0' + ((i * 7 + i / 64) % 10) as u8
            }
        })
        .collect()
}

/// True when the tests run as root (which ignores socket file permissions).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn tcp_server(service: &str) -> (Server, String) {
    let (server, addr) = serve_one("tcp", service, &[]);
    (server, addr.to_string())
}

// ---------------------------------------------------------------------------------
// TCP against inline peers
// ---------------------------------------------------------------------------------

#[test]
fn tcp_shows_what_the_server_pushes_before_sending_anything() {
    let (addr, peer) = tcp_peer(|mut s| {
        s.write_all(b"WELCOME, nothing asked\n").unwrap();
        // Wait for the test's go-ahead (a line from the client), then push again
        // unasked, then echo.
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let first = read_line(&mut reader);
        s.write_all(b"unasked push\n").unwrap();
        s.write_all(format!("echo: {first}\n").as_bytes()).unwrap();
        let rest = {
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest).unwrap();
            rest
        };
        s.write_all(format!("after EOF: {} more bytes\n", rest.len()).as_bytes())
            .unwrap();
        first
    });
    let addr = addr.to_string();
    let mut client = Proc::spawn(sockloop(&["tcp", &addr]));
    // Nothing has been written to the client's stdin: the greeting must still show.
    client.wait_stdout("WELCOME, nothing asked\n");
    client.write(b"first line\n");
    client.wait_stdout("echo: first line\n");
    client.write(b"tail\n");
    client.close_stdin();
    let done = client.wait();
    done.assert_code(0).assert_stdout(
        "WELCOME, nothing asked\nunasked push\necho: first line\nafter EOF: 5 more bytes\n",
    );
    assert_eq!(peer.join(), "first line");
}

#[test]
fn tcp_end_of_input_half_closes_and_the_late_reply_is_printed() {
    // This peer answers only after it has seen our FIN: the client must shut its
    // sending side on end of input and keep reading.
    let (addr, peer) = tcp_peer(|mut s| {
        let got = read_to_eof(&mut s);
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(format!("got {} bytes\n", got.len()).as_bytes())
            .unwrap();
        got
    });
    let input = b"alpha\nbeta\n\x00\xff binary too\n";
    let done = run(&["tcp", &addr.to_string()], input);
    done.assert_code(0)
        .assert_stdout(&format!("got {} bytes\n", input.len()));
    assert_eq!(peer.join(), input);
}

#[test]
fn tcp_server_half_close_ends_the_session_after_its_last_words() {
    // The peer answers one line, then shuts its sending side (but keeps reading).
    let (addr, peer) = tcp_peer(|mut s| {
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let line = read_line(&mut reader);
        s.write_all(format!("{line} received, goodbye\n").as_bytes())
            .unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        // The client closes its end when it exits: we see EOF, not a timeout.
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        rest
    });
    let client = Proc::spawn(sockloop(&["tcp", "-v", &addr.to_string()]));
    client.write(b"one\n");
    // Standard input stays open: the server's FIN alone ends the client.
    let done = client.wait();
    done.assert_code(0)
        .assert_stdout("one received, goodbye\n")
        .assert_stderr_has("closed the connection");
    assert_eq!(peer.join(), b"");
}

#[test]
fn tcp_one_shot_http_head_request() {
    // A mini HTTP/1.0 server: reads the request head, prints the request line back,
    // closes.
    let (addr, peer) = tcp_peer(|mut s| {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut byte).unwrap(), 1, "EOF inside the head");
            head.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&head[..head.len() - 4]).into_owned();
        let body = format!("request line: {}\n", line.lines().next().unwrap_or(""));
        write!(
            s,
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        // Whatever else the client sent (nothing, then its FIN).
        let rest = read_to_eof(&mut s);
        (head, rest)
    });
    let done = run(
        &["tcp", "-e", r"HEAD / HTTP/1.0\r\n\r\n", &addr.to_string()],
        b"",
    );
    done.assert_code(0);
    assert!(
        done.stdout.starts_with("HTTP/1.0 200 OK\r\n")
            && done
                .stdout
                .ends_with("\r\n\r\nrequest line: HEAD / HTTP/1.0\n"),
        "stdout: {:?}",
        done.stdout
    );
    // It ended with the server's close, not with the 2 s silence timeout.
    assert!(
        done.elapsed < Duration::from_millis(1500),
        "took {:?}",
        done.elapsed
    );
    let (head, rest) = peer.join();
    assert_eq!(head, b"HEAD / HTTP/1.0\r\n\r\n", "escapes interpreted");
    assert_eq!(rest, b"", "no newline added after a final \\n");
}

#[test]
fn tcp_one_shot_escapes_and_final_newline() {
    let (addr, peer) = tcp_peer(|mut s| {
        let got = read_to_eof(&mut s);
        s.write_all(format!("got {} bytes\n", got.len()).as_bytes())
            .unwrap();
        got
    });
    // stdin has data that must not be read in -e mode.
    let done = run(
        &["tcp", "-e", r"a\tb\x41\\z", &addr.to_string()],
        b"NOT THIS\n",
    );
    done.assert_code(0).assert_stdout("got 7 bytes\n");
    assert_eq!(peer.join(), b"a\tbA\\z\n");
}

#[test]
fn tcp_one_shot_gives_up_after_silence() {
    // The peer answers but never closes: -w 0.4 of silence ends the client (exit 0).
    let (release, hold) = mpsc::channel::<()>();
    let (addr, peer) = tcp_peer(move |mut s| {
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let line = read_line(&mut reader);
        s.write_all(format!("pong to {line}\n").as_bytes()).unwrap();
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        // Our FIN came; keep the connection open until the test is done.
        let _ = hold.recv_timeout(CHILD_TIMEOUT);
        rest
    });
    let done = run(&["tcp", "-w", "0.4", "-e", "ping", &addr.to_string()], b"");
    let _ = release.send(());
    done.assert_code(0).assert_stdout("pong to ping\n");
    assert!(
        done.elapsed >= Duration::from_millis(350) && done.elapsed < Duration::from_secs(3),
        "took {:?}",
        done.elapsed
    );
    assert_eq!(peer.join(), b"", "nothing after the request line");
}

#[test]
fn tcp_one_shot_default_silence_is_two_seconds() {
    let (release, hold) = mpsc::channel::<()>();
    let (addr, peer) = tcp_peer(move |mut s| {
        let got = read_to_eof(&mut s);
        // Never answer, never close (until the test is done).
        let _ = hold.recv_timeout(CHILD_TIMEOUT);
        got
    });
    let done = run(&["tcp", "-e", "hello", &addr.to_string()], b"");
    let _ = release.send(());
    done.assert_code(0).assert_stdout("");
    assert!(
        done.elapsed >= Duration::from_millis(1900) && done.elapsed < Duration::from_secs(5),
        "took {:?}",
        done.elapsed
    );
    assert_eq!(peer.join(), b"hello\n");
}

#[test]
fn tcp_verbose_reports_connect_and_close() {
    let (addr, peer) = tcp_peer(drop);
    let done = run(&["tcp", "-v", &addr.to_string()], b"");
    done.assert_code(0)
        .assert_stderr_has(&format!("connected to {addr} from 127.0.0.1:"))
        .assert_stderr_has(&format!("{addr} closed the connection"));
    peer.join();
}

// ---------------------------------------------------------------------------------
// TCP against sockloop serve
// ---------------------------------------------------------------------------------

#[test]
fn tcp_pipes_commands_to_sockloop_cmd() {
    let (_server, addr) = tcp_server("cmd");
    let done = run(&["tcp", &addr], b"ADD 1 2\nSUB 5 7\nECHO hi there\n");
    done.assert_code(0).assert_stdout("3\n-2\nhi there\n");
}

#[test]
fn tcp_prompt_and_stop_against_sockloop_echo() {
    let (_server, addr) = tcp_server("echo");
    let mut client = Proc::spawn(sockloop(&["tcp", "--prompt", &addr]));
    client.wait_stdout(">> ");
    client.write(b"hello\n");
    client.wait_stdout("->: hello\n>> ");
    client.write(b"STOP\n");
    // stdin is left open: STOP alone ends the client.
    client
        .wait()
        .assert_code(0)
        .assert_stdout(">> ->: hello\n>> ->: STOP\nTCP client exiting...\n");
}

/// The server closing (here after QUIT) ends the prompt's line, so the shell's
/// prompt does not land after `>> `, and says on stderr that the client is exiting.
#[test]
fn tcp_prompt_when_the_server_closes() {
    let (_server, addr) = tcp_server("cmd");
    let mut client = Proc::spawn(sockloop(&["tcp", "--prompt", &addr]));
    client.wait_stdout(">> ");
    client.write(b"QUIT\n");
    client
        .wait()
        .assert_code(0)
        .assert_stdout(">> ->: BYE\n>> \n")
        .assert_stderr_has(&format!(
            "sockloop: {addr} closed the connection; TCP client exiting..."
        ));

    let unix = UnixSpec::new("unix-prompt-close", "cmd");
    let _server = Server::start(&["-l", &unix.spec, "-q"]);
    let mut client = Proc::spawn(sockloop(&["unix", "--prompt", unix.path.to_str().unwrap()]));
    client.wait_stdout(">> ");
    client.write(b"QUIT\n");
    client
        .wait()
        .assert_code(0)
        .assert_stdout(">> ->: BYE\n>> \n")
        .assert_stderr_has("closed the connection; Unix client exiting...");
}

#[test]
fn tcp_two_mebibytes_through_sockloop_echo() {
    // Both directions busy at once: stdin faster than the socket drains, stdout
    // written while more is sent.
    let (_server, addr) = tcp_server("echo");
    let data = digits(2 << 20);
    let mut client = Proc::spawn(sockloop(&["tcp", &addr]));
    client.write(&data);
    client.close_stdin();
    let done = client.wait();
    done.assert_code(0);
    assert_eq!(done.stdout.len(), data.len(), "echoed length");
    assert!(done.stdout.as_bytes() == data, "echo differs");
}

#[test]
fn tcp_connection_refused() {
    let addr = free_tcp_port();
    let done = run(&["tcp", &addr.to_string()], b"x\n");
    done.assert_code(1)
        .assert_stderr_has(&format!(
            "connection refused: {addr} — is a server listening?"
        ))
        .assert_stdout("");
}

#[test]
fn tcp_usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &["tcp"],
        &["tcp", "127.0.0.1"],
        &["tcp", "127.0.0.1:1", "extra"],
        &["tcp", "-w", "soon", "127.0.0.1:1"],
        &["tcp", "-e", r"\xZZ", "127.0.0.1:1"],
        &["tcp", "--no-such-option", "127.0.0.1:1"],
        &["unix"],
    ];
    for args in cases {
        let done: Finished = run(args, b"");
        done.assert_code(2)
            .assert_stderr_has(&format!("sockloop {}: ", args[0]));
    }
}

// ---------------------------------------------------------------------------------
// Unix
// ---------------------------------------------------------------------------------

#[test]
fn unix_pipes_commands_to_a_sockloop_listener() {
    let unix = UnixSpec::new("unix-cmd", "cmd");
    let _server = Server::start(&["-l", &unix.spec, "-q"]);
    let path = unix.path.to_str().unwrap();
    let done = run(&["unix", "-v", path], b"ADD 2 3\nECHO over unix\n");
    done.assert_code(0)
        .assert_stdout("5\nover unix\n")
        .assert_stderr_has(&format!("connected to {path}"))
        .assert_stderr_has("half-closing");
}

#[test]
fn unix_prompt_and_stop_against_sockloop_echo() {
    let unix = UnixSpec::new("unix-prompt", "echo");
    let _server = Server::start(&["-l", &unix.spec, "-q"]);
    let mut client = Proc::spawn(sockloop(&["unix", "--prompt", unix.path.to_str().unwrap()]));
    client.write(b"over unix\n");
    client.wait_stdout("->: over unix\n>> ");
    client.write(b"STOP\n");
    client
        .wait()
        .assert_code(0)
        .assert_stdout(">> ->: over unix\n>> ->: STOP\nUnix client exiting...\n");
}

#[test]
fn unix_greeting_and_half_close_against_a_python_peer() {
    let Some(python) = python3() else {
        return;
    };
    let dir = TempDir::new("unix-py");
    let path = dir.join("py.sock");
    let path = path.to_str().unwrap();
    let mut peer = Peer::start(&python, "push_server.py", &["greet", "--unix", path]);
    let mut client = Proc::spawn(sockloop(&["unix", path]));
    client.wait_stdout("hello from python\n");
    client.write(b"one\ntwo\n");
    client.wait_stdout("py: two\n");
    client.close_stdin();
    client
        .wait()
        .assert_code(0)
        .assert_stdout("hello from python\npy: one\npy: two\nbye after 2 lines\n");
    assert_eq!(peer.lines_to_exit(), ["EOF", "RECEIVED 8 bytes"]);
}

#[test]
fn tcp_half_close_against_a_python_peer() {
    let Some(python) = python3() else {
        return;
    };
    let mut peer = Peer::start(&python, "push_server.py", &["count"]);
    let input = digits(100_000);
    let addr = peer.addr.clone();
    let mut client = Proc::spawn(sockloop(&["tcp", &addr]));
    client.write(&input);
    client.close_stdin();
    client
        .wait()
        .assert_code(0)
        .assert_stdout("got 100000 bytes\n");
    assert_eq!(peer.lines_to_exit(), ["EOF", "RECEIVED 100000 bytes"]);
}

#[test]
fn unix_no_such_file() {
    let dir = TempDir::new("unix-none");
    let path = dir.join("nobody.sock");
    let path = path.to_str().unwrap();
    run(&["unix", path], b"")
        .assert_code(1)
        .assert_stderr_has(&format!("no such file: {path}"));
}

#[test]
fn unix_stale_socket_file() {
    let dir = TempDir::new("unix-stale");
    let path = dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    assert!(
        path.exists(),
        "the socket file stays after its listener is gone"
    );
    let path = path.to_str().unwrap();
    run(&["unix", path], b"")
        .assert_code(1)
        .assert_stderr_has(&format!(
            "connection refused: {path} — the file is there but no server is listening (stale socket?)"
        ));
}

#[test]
fn unix_path_that_is_not_a_socket() {
    let dir = TempDir::new("unix-notsock");
    let file = dir.join("notes.txt");
    std::fs::write(&file, b"not a socket\n").unwrap();
    let file = file.to_str().unwrap();
    let done = run(&["unix", file], b"");
    done.assert_code(1)
        .assert_stderr_has(&format!("{file} is a regular file, not a socket"));
    assert!(!done.stderr.contains("stale"), "{:?}", done.stderr);
    let sub = dir.join("d");
    std::fs::create_dir(&sub).unwrap();
    let sub = sub.to_str().unwrap();
    let done = run(&["unix", sub], b"");
    done.assert_code(1)
        .assert_stderr_has(&format!("{sub} is a directory, not a socket"));
    assert!(!done.stderr.contains("stale"), "{:?}", done.stderr);
}

#[test]
fn unix_permission_denied() {
    let dir = TempDir::new("unix-perm");
    let path = dir.join("closed.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let path = path.to_str().unwrap();
    let client = if running_as_root() {
        // Root ignores file permissions: run the client as nobody (65534) instead.
        if !std::path::Path::new("/usr/bin/setpriv").exists() {
            eprintln!("skipping: running as root and /usr/bin/setpriv is missing");
            return;
        }
        let mut command = Command::new("/usr/bin/setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        command.args([BIN, "unix", path]);
        Proc::spawn(command)
    } else {
        Proc::spawn(sockloop(&["unix", path]))
    };
    client
        .wait()
        .assert_code(1)
        .assert_stderr_has(&format!("permission denied: {path}"));
}
