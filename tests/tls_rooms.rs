//! A chat room over TLS: people on `tls://` (the `sockloop tcp --tls` client), on
//! `wss://` (the `sockloop ws` client) and on plain TCP in one room, in one order.

#![cfg(all(feature = "pubsub", feature = "tls"))]

mod support {
    pub mod client_run;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod tls_server;
}

use std::net::TcpStream;
use std::time::Duration;
use support::client_run::run;
use support::tls_server::self_signed_server;

#[test]
fn a_chat_room_spans_tls_wss_and_plain_tcp() {
    use std::io::BufRead;
    let (server, cert) = self_signed_server(
        &[
            "tls://127.0.0.1:0=chat",
            "tcp://127.0.0.1:0=chat",
            "https://127.0.0.1:0",
        ],
        &[],
    );
    let plain = TcpStream::connect(server.addr("tcp", "chat")).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut room = std::io::BufReader::new(plain);
    let mut hear = || {
        let mut line = String::new();
        room.read_line(&mut line).expect("a line from the room");
        line.trim_end().to_string()
    };
    assert_eq!(
        hear(),
        "* welcome to sockloop chat, guest-1; /help lists the commands"
    );
    assert_eq!(hear(), "* guest-1 joined lobby (1 here)");
    let ca = cert.to_str().expect("a UTF-8 path");
    let tls = server.addr("tls", "chat").to_string();
    run(
        &["tcp", "--tls", "--ca", ca, &tls],
        b"/nick secure\nhello over tls\n",
    )
    .assert_code(0)
    .assert_stdout(
        "* welcome to sockloop chat, guest-2; /help lists the commands\n\
             * guest-2 joined lobby (2 here)\n\
             * guest-2 is now known as secure\n\
             <secure> hello over tls\n",
    );
    let wss = format!(
        "wss://127.0.0.1:{}/chat",
        server.addr("https", "web").port()
    );
    run(
        &["ws", "-v", "--ca", ca, &wss],
        b"/nick web\nhello over wss\n",
    )
    .assert_code(0)
    .assert_stdout(
        "* welcome to sockloop chat, guest-3; /help lists the commands\n\
             * guest-3 joined lobby (2 here)\n\
             * guest-3 is now known as web\n\
             <web> hello over wss\n",
    )
    .assert_stderr_has("answered 1000");
    let heard: Vec<String> = (0..8).map(|_| hear()).collect();
    assert_eq!(
        heard,
        [
            "* guest-2 joined lobby (2 here)",
            "* guest-2 is now known as secure",
            "<secure> hello over tls",
            "* secure left lobby",
            "* guest-3 joined lobby (2 here)",
            "* guest-3 is now known as web",
            "<web> hello over wss",
            "* web left lobby",
        ]
    );
}
