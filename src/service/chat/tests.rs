use super::*;
use crate::proto::chat::parse;
use proptest::prelude::*;

fn run(chat: &mut Chat, me: Member, line: &str) -> Vec<Effect> {
    let mut out = Vec::new();
    chat.run(me, parse(line).expect("a command"), &mut out);
    out
}

fn room(room: &str, text: &str) -> Effect {
    Effect::Room {
        room: room.into(),
        text: text.into(),
    }
}

fn reply(text: &str) -> Effect {
    Effect::Reply(text.into())
}

#[test]
fn arrive_talk_rename_move_and_depart() {
    let mut chat = Chat::default();
    let mut out = Vec::new();
    chat.arrive(1, &mut out);
    assert_eq!(
        out,
        [
            reply("* welcome to sockloop chat, guest-1; /help lists the commands"),
            room("lobby", "* guest-1 joined lobby (1 here)"),
        ]
    );
    chat.arrive(2, &mut Vec::new());
    assert_eq!(run(&mut chat, 1, "hi"), [room("lobby", "<guest-1> hi")]);
    assert_eq!(
        run(&mut chat, 1, "/nick Alice"),
        [room("lobby", "* guest-1 is now known as Alice")]
    );
    assert_eq!(
        run(&mut chat, 2, "/nick alice"),
        [reply("* error: nick alice is taken")],
        "nicks are one name whatever their case"
    );
    assert_eq!(
        run(&mut chat, 1, "/nick ALICE"),
        [room("lobby", "* Alice is now known as ALICE")],
        "but one may change one's own case"
    );
    assert_eq!(
        run(&mut chat, 2, "/me waves"),
        [room("lobby", "* guest-2 waves")]
    );
    assert_eq!(
        run(&mut chat, 2, "/who"),
        [reply("* in lobby: ALICE, guest-2")]
    );
    assert_eq!(
        run(&mut chat, 2, "/join rust"),
        [
            room("lobby", "* guest-2 left lobby"),
            room("rust", "* guest-2 joined rust (1 here)")
        ]
    );
    assert_eq!(chat.members("lobby"), [1]);
    assert_eq!(
        run(&mut chat, 2, "/rooms"),
        [reply("* rooms: lobby (1), rust (1)")]
    );
    let mut out = Vec::new();
    chat.depart(2, &mut out);
    assert_eq!(out, [room("rust", "* guest-2 left rust")]);
    assert_eq!(run(&mut chat, 1, "/rooms"), [reply("* rooms: lobby (1)")]);
    assert_eq!(
        run(&mut chat, 1, "/nick guest-2"),
        [room("lobby", "* ALICE is now known as guest-2")],
        "a departed nick is free"
    );
}

#[test]
fn out_of_a_room_and_refusals() {
    let mut chat = Chat::new(hub::Limits {
        max_topics: 2,
        ..hub::Limits::default()
    });
    chat.arrive(1, &mut Vec::new());
    assert_eq!(
        run(&mut chat, 1, "/leave"),
        [
            room("lobby", "* guest-1 left lobby"),
            reply("* you are in no room now; /join ROOM to talk again")
        ]
    );
    assert_eq!(
        run(&mut chat, 1, "hello?"),
        [reply("* error: you are in no room; /join ROOM to talk")]
    );
    assert_eq!(run(&mut chat, 1, "/rooms"), [reply("* no rooms")]);
    assert_eq!(
        run(&mut chat, 1, "/nick bob"),
        [reply("* guest-1 is now known as bob")]
    );
    assert_eq!(run(&mut chat, 1, "/join a").len(), 1);
    assert_eq!(
        run(&mut chat, 1, "/join a"),
        [reply("* error: you are already in a")]
    );
    chat.arrive(2, &mut Vec::new());
    assert_eq!(
        run(&mut chat, 2, "/join c").len(),
        2,
        "the last one in a room may move to a new one: the room count stays"
    );
    assert_eq!(run(&mut chat, 2, "/join lobby").len(), 2);
    chat.arrive(3, &mut Vec::new());
    assert_eq!(
        run(&mut chat, 2, "/join c"),
        [reply(
            "* error: cannot open room c: 2 rooms exist, the limit"
        )]
    );
    assert_eq!(
        chat.room(2),
        Some("lobby"),
        "a refused join keeps the old room"
    );
    let long = "x".repeat(MAX_NICK + 1);
    assert_eq!(
        run(&mut chat, 2, &format!("/nick {long}")),
        [reply(&format!("* error: nick {long:?}: too long"))]
    );
    assert_eq!(run(&mut chat, 2, "/quit"), [reply("* bye"), Effect::Close]);
}

#[test]
fn a_guest_number_someone_took_is_skipped() {
    let mut chat = Chat::default();
    chat.arrive(1, &mut Vec::new());
    run(&mut chat, 1, "/nick guest-2");
    chat.arrive(2, &mut Vec::new());
    assert_eq!(chat.nick(2), Some("guest-3"));
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        "(/nick|/join) (a|b|c|guest-1|guest-2|A)",
        Just("/leave".to_string()),
        Just("/who".to_string()),
        Just("hi".to_string()),
    ]
}

proptest! {
    /// Whatever people do: nicks stay unique, each person's room is the room the hub
    /// has them in, and every line for a room names a room someone was in.
    #[test]
    fn nicks_unique_and_rooms_consistent(
        steps in proptest::collection::vec((0u64..4, line(), any::<bool>()), 1..60)
    ) {
        let mut chat = Chat::default();
        let mut present = std::collections::BTreeSet::new();
        for (me, line, depart) in steps {
            let mut out = Vec::new();
            if !present.contains(&me) {
                chat.arrive(me, &mut out);
                present.insert(me);
            } else if depart {
                chat.depart(me, &mut out);
                present.remove(&me);
            } else {
                chat.run(me, parse(&line).unwrap(), &mut out);
            }
            let nicks: Vec<String> = present.iter().filter_map(|m| chat.nick(*m)).map(str::to_lowercase).collect();
            let unique: std::collections::BTreeSet<_> = nicks.iter().collect();
            prop_assert_eq!(unique.len(), present.len());
            for m in &present {
                if let Some(room) = chat.room(*m) {
                    prop_assert!(chat.members(room).contains(m));
                }
            }
            for effect in &out {
                if let Effect::Room { room, .. } = effect {
                    prop_assert!(!room.is_empty());
                }
            }
        }
    }
}
