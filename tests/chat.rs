//! The chat service through a real `sockloop serve`: people on TCP, on a Unix socket
//! and on WebSockets (`/chat`) in the same rooms, seeing each other's lines in one
//! order; names, rooms and the limits, with their readable refusals.

#![cfg(feature = "pubsub")]

mod support {
    pub mod bounded_read;
    pub mod http_client;
    pub mod line_client;
    pub mod net;
    pub mod nonblocking_write;
    pub mod output;
    pub mod process;
    pub mod room_member;
    pub mod server;
    pub mod temp;
    pub mod unix_spec;
    pub mod ws_client;
}

use sockloop::proto::ws::frame::Opcode;
use std::time::Duration;
use support::room_member::{Member, flood_until_paused, serve_rooms};
use support::server::Server;
use support::unix_spec::UnixSpec;
use support::ws_client::{Handshake, WsClient};

/// A server with chat on TCP, on a Unix socket and at /chat.
fn chat_server(name: &str, extra: &[&str]) -> (Server, UnixSpec) {
    serve_rooms(name, "chat", extra)
}

/// Arrives and reads the welcome and its own arrival: returns its guest nick.
fn arrive(member: &mut Member) -> String {
    let welcome = member.hear();
    let nick = welcome
        .strip_prefix("* welcome to sockloop chat, ")
        .and_then(|rest| rest.strip_suffix("; /help lists the commands"))
        .unwrap_or_else(|| panic!("welcome: {welcome:?}"))
        .to_string();
    let joined = member.hear();
    assert!(
        joined.starts_with(&format!("* {nick} joined lobby (")),
        "{joined:?}"
    );
    nick
}

#[test]
fn tcp_unix_and_websocket_people_share_a_room_in_one_order() {
    let (server, unix) = chat_server("chat-share", &[]);
    let mut tcp = Member::tcp(server.addr("tcp", "chat"));
    let first = arrive(&mut tcp);
    let mut local = Member::unix(&unix.path);
    let second = arrive(&mut local);
    assert_eq!(tcp.hear(), format!("* {second} joined lobby (2 here)"));
    let mut web = Member::ws(server.addr("http", "web"), "/chat");
    let third = arrive(&mut web);
    for m in [&mut tcp, &mut local] {
        assert_eq!(m.hear(), format!("* {third} joined lobby (3 here)"));
    }

    tcp.say("/nick alice");
    local.say("/nick bob");
    web.say("/nick carol");
    let renames = [
        format!("* {first} is now known as alice"),
        format!("* {second} is now known as bob"),
        format!("* {third} is now known as carol"),
    ];
    // Everyone, the speakers too, sees the three renames in the one order the
    // server took them — whichever order that was.
    let seen = tcp.hear_n(3);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, renames);
    assert_eq!(local.hear_n(3), seen);
    assert_eq!(web.hear_n(3), seen);

    // One speaker's lines arrive in the order said, to everyone.
    for i in 0..20 {
        local.say(&format!("line {i} from the unix socket"));
    }
    for m in [&mut tcp, &mut local, &mut web] {
        for i in 0..20 {
            assert_eq!(m.hear(), format!("<bob> line {i} from the unix socket"));
        }
    }
    web.say("/me waves from a browser");
    for m in [&mut tcp, &mut local, &mut web] {
        assert_eq!(m.hear(), "* carol waves from a browser");
    }
    assert_eq!(tcp.ask("/who"), "* in lobby: alice, bob, carol");
    assert_eq!(local.ask("/nick ALICE"), "* error: nick ALICE is taken");
    assert_eq!(web.ask("//slash"), "<carol> /slash");
    tcp.hear_n(1);
    local.hear_n(1);
    assert_eq!(tcp.ask("/help").split_once(':').unwrap().0, "* commands");
}

#[test]
fn join_moves_between_rooms_and_leaving_is_announced() {
    let (server, unix) = chat_server("chat-join", &[]);
    let mut a = Member::tcp(server.addr("tcp", "chat"));
    arrive(&mut a);
    let mut b = Member::ws(server.addr("http", "web"), "/chat");
    arrive(&mut b);
    a.hear();
    let mut c = Member::unix(&unix.path);
    arrive(&mut c);
    a.hear();
    b.hear();
    a.say("/nick ann");
    b.say("/nick ben");
    c.say("/nick cy");
    for m in [&mut a, &mut b, &mut c] {
        m.hear_n(3);
    }

    b.say("/join rust");
    assert_eq!(b.hear(), "* ben joined rust (1 here)");
    for m in [&mut a, &mut c] {
        assert_eq!(m.hear(), "* ben left lobby");
    }
    c.say("/join rust");
    assert_eq!(a.hear(), "* cy left lobby");
    assert_eq!(b.hear(), "* cy joined rust (2 here)");
    assert_eq!(c.hear(), "* cy joined rust (2 here)");
    assert_eq!(a.ask("/rooms"), "* rooms: lobby (1), rust (2)");

    a.say("only the lobby hears this");
    assert_eq!(a.hear(), "<ann> only the lobby hears this");
    c.say("rust only");
    assert_eq!(b.hear(), "<cy> rust only");
    assert_eq!(c.hear(), "<cy> rust only");
    b.hears_nothing(Duration::from_millis(200));

    assert_eq!(
        b.ask("/leave"),
        "* you are in no room now; /join ROOM to talk again"
    );
    assert_eq!(c.hear(), "* ben left rust");
    assert_eq!(
        b.ask("anyone?"),
        "* error: you are in no room; /join ROOM to talk"
    );
    drop(c);
    assert_eq!(
        a.ask("/rooms"),
        "* rooms: lobby (1)",
        "an empty room is gone"
    );
    assert_eq!(
        b.ask("/nick cy"),
        "* ben is now known as cy",
        "a departed nick is free"
    );
}

#[test]
fn floods_control_characters_and_long_lines_are_refused_not_relayed() {
    let (server, _unix) = chat_server("chat-limits", &["--publish-rate", "5", "--max-line", "64"]);
    let mut a = Member::tcp(server.addr("tcp", "chat"));
    arrive(&mut a);
    let mut b = Member::ws(server.addr("http", "web"), "/chat");
    arrive(&mut b);
    a.hear();

    for i in 0..8 {
        a.say(&format!("flood {i}"));
    }
    let said = a.hear_n(8);
    let relayed: Vec<&String> = said.iter().filter(|l| l.contains("> flood")).collect();
    assert_eq!(relayed.len(), 5, "a burst of one second's worth: {said:?}");
    assert!(
        said.iter()
            .filter(|l| !l.contains("> flood"))
            .all(|l| l == "* error: slow down: more than 5 lines per second; not sent"),
        "{said:?}"
    );
    for i in 0..5 {
        assert_eq!(b.hear(), format!("<{}> flood {i}", nick_of(relayed[0])));
    }
    b.hears_nothing(Duration::from_millis(200));

    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        b.ask("bell\u{7} and escape\u{1b}[2J"),
        "* error: control characters are not allowed"
    );
    assert_eq!(
        b.ask(&"x".repeat(65)),
        "* error: line too long (max 64 bytes)"
    );
    assert_eq!(
        a.ask(&"y".repeat(100)),
        "* error: line too long (max 64 bytes)"
    );
    assert_eq!(
        a.ask("/frob"),
        "* error: unknown command /frob (/help lists them; //text says /text)"
    );
    assert_eq!(a.ask("/nick two words"), "* error: usage: /nick NAME");
    assert_eq!(
        a.ask(&format!("/nick {}", "n".repeat(33))),
        format!("* error: nick \"{}\": too long", "n".repeat(33))
    );
    b.hears_nothing(Duration::from_millis(100));
    let Member::Line(mut line) = a else {
        unreachable!()
    };
    assert_eq!(line.request("/quit"), "* bye");
    line.expect_eof();
    assert!(b.hear().ends_with(" left lobby"));
}

#[test]
fn a_flooder_that_never_reads_is_paused_and_the_room_goes_on() {
    let (server, _unix) = chat_server("chat-flood", &["--max-output", "16k"]);
    let mut talker = Member::ws(server.addr("http", "web"), "/chat");
    arrive(&mut talker);
    let Member::Line(mut flooder) = Member::tcp(server.addr("tcp", "chat")) else {
        unreachable!()
    };
    // Lines the rate limit answers with an error each: the flooder's own replies
    // pile up unread until the server stops reading it.
    let line = format!("{}\n", "z".repeat(60));
    flood_until_paused(&mut flooder, line.as_bytes());
    let nick = talker.hear();
    assert!(nick.ends_with("joined lobby (2 here)"), "{nick:?}");
    // Whatever of the flood was relayed has arrived; the room still works at once.
    talker.say("/nick still-here");
    loop {
        let heard = talker.hear();
        if heard.ends_with("is now known as still-here") {
            break;
        }
        assert!(heard.ends_with(&"z".repeat(60)), "{heard:?}");
    }
}

#[test]
fn quit_on_a_websocket_closes_with_1000_and_unknown_paths_are_404() {
    let (server, _unix) = chat_server("chat-ws", &[]);
    let web = server.addr("http", "web");
    let refused = WsClient::connect_with(web, "/chatroom", Handshake::default())
        .err()
        .expect("no endpoint at /chatroom");
    assert_eq!(refused.status(), 404);
    assert!(
        refused.body_str().contains("/chat or /pubsub"),
        "{}",
        refused.body_str()
    );

    let Ok((mut ws, _)) = WsClient::connect_with(web, "/chat", Handshake::default()) else {
        panic!("/chat refused the WebSocket");
    };
    assert!(ws.recv_text().starts_with("* welcome"));
    ws.recv_text();
    ws.send_frame(true, Opcode::Binary, b"\x00\x01");
    assert_eq!(ws.recv_text(), "* error: send chat lines as text messages");
    assert_eq!(ws.request("/quit"), "* bye");
    let close = ws.recv_frame();
    assert_eq!(close.opcode, Opcode::Close);
    assert_eq!(&close.payload[..2], &1000u16.to_be_bytes());
    ws.send_frame(true, Opcode::Close, &close.payload[..2]);
    ws.conn.expect_eof(Duration::from_secs(2));
}

fn nick_of(line: &str) -> &str {
    line.trim_start_matches('<').split_once('>').unwrap().0
}
