//! Fuzz target `chat`: the chat rooms core (src/service/chat.rs) checked against a
//! small model of it written here.
//!
//! Input: steps separated by `\n`. A step's first byte picks one of five members
//! (`'0'`..`'4'`, any byte taken as `(b - '0') mod 5`) and its second byte the action:
//! `+` the member's connection arrives, `-` it goes away, any other byte: the rest of
//! the step is a line the member typed (decoded with `String::from_utf8_lossy`, parsed
//! by `proto::chat::parse`). So a seed is readable text:
//!
//! ```text
//! 0+
//! 0 /nick alice
//! 1+
//! 1 hello
//! 1-
//! ```
//!
//! The real `Chat` runs with a limit of 4 rooms (so the room limit is reached) beside
//! the model: each member's nick and room, each room's members in the order they
//! joined, and the guest counter. The driver does what the loop does: a connection
//! arrives once, only a connected member's lines are run, a line that does not parse
//! changes nothing (the session answers it), and `/quit` hangs up (then it departs).
//! Checks, after every step:
//! - the effects are the ones the model expects, in order: the lines the README's chat
//!   section spells out exactly (`* alice joined rust (2 here)`, `<alice> hi`,
//!   `* bye`, ...), a refusal as some `* error: ...` reply, and the other notices
//!   (welcome, help, `/leave`) as a reply that mentions what it is about;
//! - `nick(m)` and `room(m)` are the model's for every member (`None` when gone);
//! - `members(room)` is exactly the model's list, in join order, for every room the
//!   model has, every room named in the step, and every room someone was in before;
//! - no two members have the same nick, whatever its case;
//! - every `Effect::Room` names a room that some member was in before or after the
//!   step, and every reply starts with `* `;
//! - and never a panic.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::fuzz_target;
use sockloop::proto::chat::{Command, HELP, parse};
use sockloop::service::chat::{Chat, Effect, LOBBY, MAX_NICK};
use sockloop::service::hub::{Limits, Member};

/// Members 0..MEMBERS; the member id is the index (an id may come back after a depart).
const MEMBERS: usize = 5;
/// Rooms at once: small, so that five members can hit the limit.
const MAX_ROOMS: usize = 4;
/// Longest room name, in bytes (the hub's default).
const MAX_ROOM_NAME: usize = 64;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_topics: MAX_ROOMS,
        // A chat member is in one room, but a `/join` enters the new room before it
        // leaves the old one, so it needs two at that moment; the default allows 16.
        max_per_member: 16,
        max_name: MAX_ROOM_NAME,
    };
    let mut chat = Chat::new(limits);
    let mut model = Model::default();
    for step in data.split(|&b| b == b'\n') {
        let Some((&who, rest)) = step.split_first() else {
            continue;
        };
        let m = usize::from(who.wrapping_sub(b'0')) % MEMBERS;
        let before = real_rooms(&chat);
        let mut out = Vec::new();
        let expect = match rest.split_first() {
            Some((b'+', _)) if model.people[m].is_none() => {
                chat.arrive(id(m), &mut out);
                model.arrive(m)
            }
            // A connection arrives once.
            Some((b'+', _)) => continue,
            Some((b'-', _)) => {
                // Also for a member who is not there: the core must ignore it.
                chat.depart(id(m), &mut out);
                model.depart(m)
            }
            // A closed connection sends no lines.
            _ if model.people[m].is_none() => continue,
            line => {
                let line = line.map_or(&[][..], |(_, line)| line);
                let line = String::from_utf8_lossy(line);
                let Ok(command) = parse(&line) else {
                    // The session answers a line that does not parse; the core never
                    // sees it. So nothing is said and nothing changes.
                    check(&chat, &model, &before, &out, &[]);
                    continue;
                };
                chat.run(id(m), command, &mut out);
                let mut expect = model.run(m, command);
                if command == Command::Quit {
                    // The loop hangs up once the replies are out: the member departs.
                    chat.depart(id(m), &mut out);
                    expect.extend(model.depart(m));
                }
                expect
            }
        };
        check(&chat, &model, &before, &out, &expect);
    }
});

fn id(m: usize) -> Member {
    m as Member
}

/// The rooms the real core has anyone in.
fn real_rooms(chat: &Chat) -> BTreeSet<String> {
    (0..MEMBERS)
        .filter_map(|m| chat.room(id(m)))
        .map(String::from)
        .collect()
}

/// Everything the core should agree on after a step (see the module comment).
fn check(chat: &Chat, model: &Model, before: &BTreeSet<String>, out: &[Effect], expect: &[Expect]) {
    // The effects, one by one: the model says what each should be.
    let agree = out.len() == expect.len() && out.iter().zip(expect).all(|(e, x)| x.matches(e));
    assert!(agree, "effects {out:#?}\nbut the model expects {expect:#?}");

    // Each member's nick and room. Both come from the same commands, so any
    // difference is a command the core carried out differently from the model.
    for m in 0..MEMBERS {
        let person = model.people[m].as_ref();
        let nick = person.map(|p| p.nick.as_str());
        let room = person.and_then(|p| p.room.as_deref());
        assert_eq!(chat.nick(id(m)), nick, "nick of member {m}");
        assert_eq!(chat.room(id(m)), room, "room of member {m}");
    }

    // Who is in each room, in join order: that is who receives its lines, so a member
    // left behind in a room they left (or missing from their own) would be a leak or
    // a lost line. A room the model does not have must be empty in the core too.
    let after = real_rooms(chat);
    let mut rooms: BTreeSet<&str> = model.rooms.keys().map(String::as_str).collect();
    rooms.extend(before.iter().map(String::as_str));
    rooms.extend(out.iter().filter_map(|e| match e {
        Effect::Room { room, .. } => Some(&**room),
        _ => None,
    }));
    for room in rooms {
        let want = model.rooms.get(room).map_or(&[][..], Vec::as_slice);
        assert_eq!(chat.members(room), want, "members of room {room:?}");
    }

    // Nicks are unique whatever their case (the core's own promise, model or not).
    let mut keys = BTreeSet::new();
    for nick in (0..MEMBERS).filter_map(|m| chat.nick(id(m))) {
        assert!(keys.insert(nick.to_lowercase()), "nick {nick:?} twice");
    }

    // A line for a room goes to a room that is or was someone's: a room no one was in
    // has no one to receive it. And server lines start with `* ` (README).
    for effect in out {
        match effect {
            Effect::Room { room, .. } => assert!(
                before.contains(&**room) || after.contains(&**room),
                "a line for {room:?}, where no one was before or after"
            ),
            Effect::Reply(text) => assert!(text.starts_with("* "), "reply {text:?}"),
            Effect::Close => {}
        }
    }
}

/// What the model expects one effect to be.
#[derive(Debug)]
enum Expect {
    /// Exactly this effect: the wording the README documents.
    Exactly(Effect),
    /// A reply that is not an error and mentions this (its wording is not documented).
    Notice(String),
    /// A refusal: some `* error: ...` reply.
    Refused,
}

impl Expect {
    fn matches(&self, effect: &Effect) -> bool {
        match (self, effect) {
            (Expect::Exactly(want), got) => want == got,
            (Expect::Notice(about), Effect::Reply(text)) => {
                !text.starts_with("* error: ") && text.contains(about.as_str())
            }
            (Expect::Refused, Effect::Reply(text)) => text.starts_with("* error: "),
            _ => false,
        }
    }
}

fn reply(text: String) -> Expect {
    Expect::Exactly(Effect::Reply(text))
}

fn to_room(room: &str, text: String) -> Expect {
    Expect::Exactly(Effect::Room {
        room: room.into(),
        text,
    })
}

struct Person {
    nick: String,
    room: Option<String>,
}

/// The chat as the README describes it, kept as plainly as possible: no nick index,
/// just a look through the (at most five) members.
#[derive(Default)]
struct Model {
    people: [Option<Person>; MEMBERS],
    /// Each room with its members in the order they joined; a room exists while
    /// someone is in it.
    rooms: BTreeMap<String, Vec<Member>>,
    /// The last `guest-N` handed out.
    guests: u64,
}

/// The name rules (README: one word, 1 to `max` bytes, no control characters; a
/// "word" has no whitespace of any kind).
fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Model {
    /// Whether a member other than `m` has `nick`, whatever its case.
    fn taken(&self, nick: &str, m: usize) -> bool {
        let key = nick.to_lowercase();
        (0..MEMBERS).any(|other| {
            other != m
                && self.people[other]
                    .as_ref()
                    .is_some_and(|p| p.nick.to_lowercase() == key)
        })
    }

    fn nick(&self, m: usize) -> &str {
        self.people[m].as_ref().map_or("", |p| p.nick.as_str())
    }

    fn room(&self, m: usize) -> Option<&str> {
        self.people[m].as_ref().and_then(|p| p.room.as_deref())
    }

    /// A welcome as the next free `guest-N`, then the lobby (which may be refused
    /// when it does not exist and the room limit is reached).
    fn arrive(&mut self, m: usize) -> Vec<Expect> {
        let nick = loop {
            self.guests += 1;
            let nick = format!("guest-{}", self.guests);
            if !self.taken(&nick, m) {
                break nick;
            }
        };
        let mut expect = vec![Expect::Notice(nick.clone())];
        self.people[m] = Some(Person { nick, room: None });
        expect.extend(self.join(m, LOBBY));
        expect
    }

    /// Gone: the room (if any) is told, the nick is free.
    fn depart(&mut self, m: usize) -> Vec<Expect> {
        let expect = self.leave_quietly(m);
        self.people[m] = None;
        expect
    }

    fn run(&mut self, m: usize, command: Command<'_>) -> Vec<Expect> {
        match command {
            Command::Nick(nick) => self.rename(m, nick),
            Command::Join(room) => self.join(m, room),
            Command::Leave => match self.room(m) {
                None => vec![Expect::Refused],
                Some(_) => {
                    let mut expect = self.leave_quietly(m);
                    expect.push(Expect::Notice("no room".into()));
                    expect
                }
            },
            Command::Who => match self.room(m) {
                None => vec![Expect::Refused],
                Some(room) => {
                    let nicks: Vec<&str> = self.rooms[room]
                        .iter()
                        .map(|&who| self.nick(who as usize))
                        .collect();
                    vec![reply(format!("* in {room}: {}", nicks.join(", ")))]
                }
            },
            Command::Rooms if self.rooms.is_empty() => vec![Expect::Notice("no rooms".into())],
            Command::Rooms => {
                // BTreeMap order is byte order, the order the README's example shows.
                let rooms: Vec<String> = self
                    .rooms
                    .iter()
                    .map(|(room, members)| format!("{room} ({})", members.len()))
                    .collect();
                vec![reply(format!("* rooms: {}", rooms.join(", ")))]
            }
            Command::Me(action) => self.say(m, format!("* {} {action}", self.nick(m))),
            Command::Say(text) => self.say(m, format!("<{}> {text}", self.nick(m))),
            Command::Help => vec![Expect::Notice(HELP.into())],
            Command::Quit => vec![reply("* bye".into()), Expect::Exactly(Effect::Close)],
            Command::Nothing => vec![],
        }
    }

    /// A valid nick no one else has (whatever its case) is taken; the room hears of
    /// it, or the member alone when in no room. Renaming to one's own nick in another
    /// case is allowed.
    fn rename(&mut self, m: usize, nick: &str) -> Vec<Expect> {
        if !valid_name(nick, MAX_NICK) || self.taken(nick, m) {
            return vec![Expect::Refused];
        }
        let Some(person) = self.people[m].as_mut() else {
            return vec![];
        };
        let text = format!("* {} is now known as {nick}", person.nick);
        person.nick = nick.into();
        match &person.room {
            Some(room) => vec![to_room(room, text)],
            None => vec![reply(text)],
        }
    }

    /// Moves to `room`: refused for the room one is in, a bad name, or a new room
    /// when the limit is reached — counting the room being left as free if this
    /// member is the last one in it (it empties as the member moves).
    fn join(&mut self, m: usize, room: &str) -> Vec<Expect> {
        let new_room = !self.rooms.contains_key(room);
        let frees = self
            .room(m)
            .and_then(|old| self.rooms.get(old))
            .is_some_and(|members| members.len() == 1);
        let rooms_after_leaving = self.rooms.len() - usize::from(frees);
        if self.room(m) == Some(room)
            || !valid_name(room, MAX_ROOM_NAME)
            || (new_room && rooms_after_leaving >= MAX_ROOMS)
        {
            return vec![Expect::Refused];
        }
        let mut expect = self.leave_quietly(m);
        let members = self.rooms.entry(room.into()).or_default();
        members.push(id(m));
        let here = members.len();
        let Some(person) = self.people[m].as_mut() else {
            return expect;
        };
        person.room = Some(room.into());
        expect.push(to_room(
            room,
            format!("* {} joined {room} ({here} here)", person.nick),
        ));
        expect
    }

    /// Out of the current room (if any), and the room hears `* nick left room`.
    fn leave_quietly(&mut self, m: usize) -> Vec<Expect> {
        let Some(person) = self.people[m].as_mut() else {
            return vec![];
        };
        let Some(room) = person.room.take() else {
            return vec![];
        };
        if let Some(members) = self.rooms.get_mut(&room) {
            members.retain(|&who| who != id(m));
            if members.is_empty() {
                self.rooms.remove(&room);
            }
        }
        vec![to_room(&room, format!("* {} left {room}", person.nick))]
    }

    /// A line for the room one is in; refused in no room.
    fn say(&self, m: usize, text: String) -> Vec<Expect> {
        match self.room(m) {
            Some(room) => vec![to_room(room, text)],
            None => vec![Expect::Refused],
        }
    }
}
