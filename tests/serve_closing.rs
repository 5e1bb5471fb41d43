//! How a service connection ends, through a real `sockloop serve`: half-close (every
//! request answered, then EOF), the bounded drain after the server's FIN, and closing
//! with unread input without losing the goodbye.

mod support {
    pub mod background_send;
    pub mod bounded_read;
    pub mod half_close;
    pub mod line_client;
    pub mod net;
    pub mod nonblocking_write;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod tcp_and_unix;
    pub mod temp;
    pub mod unix_spec;
}

use std::time::{Duration, Instant};
use support::line_client::Client;
use support::server::Server;
use support::tcp_and_unix::TcpAndUnix;
/// Sends `request`, then our FIN; what the server sent before its own EOF, which
/// must come without an error (a reset would have lost replies).
fn reply_to_half_closed(mut c: Client, request: &[u8]) -> String {
    c.send(request);
    c.shutdown_write();
    let (got, err) = c.read_to_eof();
    assert!(err.is_none(), "{err:?}");
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn half_close_gets_replies_then_eof() {
    let both = TcpAndUnix::start("half_close", "cmd", &["-l", "tcp://127.0.0.1:0=random"]);
    let (server, path) = (&both.server, &both.unix.path);
    let addr = server.addr("tcp", "cmd");

    assert_eq!(reply_to_half_closed(Client::tcp(addr), b"ADD 2 3\n"), "5\n");

    // An unterminated last line is still a request.
    let got = reply_to_half_closed(Client::tcp(addr), b"ECHO one\nADD 2 3");
    assert_eq!(got, "one\n5\n");

    // The same over Unix, CRLF on the first line.
    let got = reply_to_half_closed(Client::unix(path), b"SUB 2 3\r\nECHO last");
    assert_eq!(got, "-1\nlast\n");

    // Many pipelined requests then half-close: every one answered before EOF.
    let batch: String = (0..500).map(|i| format!("ECHO {i}\n")).collect();
    let expected: String = (0..500).map(|i| format!("{i}\n")).collect();
    assert_eq!(
        reply_to_half_closed(Client::tcp(addr), batch.as_bytes()),
        expected
    );

    let mut c = Client::tcp(server.addr("tcp", "random"));
    c.send(b"3 3\n4 4");
    c.shutdown_write();
    let (got, _) = c.read_to_eof();
    assert_eq!(String::from_utf8_lossy(&got), "3\n4\n");
}

#[test]
fn the_drain_after_our_fin_ends_on_time_however_much_the_peer_sends() {
    // After BYE the server shuts its side and reads (and discards) until the peer's
    // FIN: 2 s at most, even for a peer that keeps sending and never closes. What
    // the peer sends is not activity that could keep the connection open.
    let server = Server::start(&["-l", "tcp://127.0.0.1:0=cmd"]);
    let mut c = Client::tcp(server.addr("tcp", "cmd"));
    assert_eq!(c.request("QUIT"), "BYE");
    c.expect_eof();
    let start = Instant::now();
    let refused = loop {
        let waited = start.elapsed();
        assert!(
            waited < Duration::from_secs(6),
            "still draining after {waited:?}"
        );
        // Once the server has closed, a write is answered with a reset.
        if c.write_nonblocking(b"more\n").is_err() {
            break waited;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        refused >= Duration::from_millis(1500),
        "closed after {refused:?}, before the 2 s drain time"
    );
}

#[test]
fn closing_with_unread_input_does_not_lose_the_reply() {
    // The server closes after STOP/QUIT while the client is still sending: it must
    // drain that input instead of closing with unread data, which would send a reset
    // that can destroy the goodbye still on its way.
    let both = TcpAndUnix::start("drain", "cmd", &["-l", "tcp://127.0.0.1:0=echo"]);
    let (server, path) = (&both.server, &both.unix.path);
    let garbage = vec![b'g'; 300 * 1024];
    for round in 0..3 {
        let mut c = Client::tcp(server.addr("tcp", "cmd"));
        let mut data = b"ADD 1 1\nQUIT\n".to_vec();
        data.extend_from_slice(&garbage);
        c.send(&data);
        let (got, err) = c.read_to_eof();
        assert_eq!(String::from_utf8_lossy(&got), "2\nBYE\n", "round {round}");
        assert!(err.is_none(), "round {round}: reply lost to {err:?}");

        let mut c = Client::tcp(server.addr("tcp", "echo"));
        let mut data = b"x\nSTOP\n".to_vec();
        data.extend_from_slice(&garbage);
        c.send(&data);
        let (got, err) = c.read_to_eof();
        assert_eq!(String::from_utf8_lossy(&got), "x\nSTOP\n", "round {round}");
        assert!(err.is_none(), "round {round}: reply lost to {err:?}");

        // Replies still queued in the server when it closes: with unread input, a
        // plain close would reset the connection and drop them.
        for stream in both.clients() {
            let mut c = stream;
            let mut data = "RANDOMS 10000 10 99\n".repeat(40).into_bytes();
            data.extend_from_slice(b"QUIT\n");
            data.extend_from_slice(&garbage);
            let writer = c.send_in_background(data);
            for i in 0..40 {
                let line = c.read_line();
                assert_eq!(line.len(), 10000 * 3 - 1, "round {round}, reply {i}");
            }
            assert_eq!(c.read_line(), "BYE", "round {round}");
            c.expect_eof();
            drop(c);
            // The garbage after QUIT was drained, not refused.
            writer
                .join()
                .unwrap()
                .expect("writes after QUIT were refused");
        }

        // The client keeps sending after the goodbye arrived.
        let mut c = Client::unix(path);
        assert_eq!(c.request("QUIT"), "BYE");
        c.send(&garbage);
        c.expect_eof();
    }
}
