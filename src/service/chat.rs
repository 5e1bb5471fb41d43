//! Chat rooms (issue 14), the pure core: nicks, who is in which room, and what each
//! command says to whom. The session parses a line ([`crate::proto::chat`]), checks
//! its rate limit, and hands the command here; the [`Effect`]s come back for the
//! session (replies to the speaker) and the loop (lines for a room, fanned out).
//!
//! Every connection is one person in at most one room; it arrives as `guest-N` in
//! `lobby`. What is said in a room reaches everyone in it, the speaker too, so each
//! sees the room's conversation in the one order the server saw it.

#[cfg(test)]
mod tests;

use super::hub::{self, Hub, Member};
use crate::proto::chat::{Command, HELP};
use std::collections::HashMap;

/// Where everyone starts.
pub const LOBBY: &str = "lobby";
/// Longest nick, in bytes.
pub const MAX_NICK: usize = 32;

/// What a command does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A line for the speaker alone.
    Reply(String),
    /// A line for everyone in the room.
    Room { room: Box<str>, text: String },
    /// Hang up once the replies are out.
    Close,
}

struct Person {
    nick: Box<str>,
    room: Option<Box<str>>,
}

#[derive(Default)]
pub struct Chat {
    rooms: Hub,
    people: HashMap<Member, Person>,
    /// Nick (lower case: `Alice` and `alice` are one name) → its owner.
    nicks: HashMap<Box<str>, Member>,
    guests: u64,
    /// Between `guest-` and the number: a process's tag when rooms span processes
    /// (`--broker`), so that two processes' guests do not share a name.
    guest_tag: String,
}

impl Chat {
    pub fn new(limits: hub::Limits) -> Chat {
        Chat {
            rooms: Hub::new(limits),
            ..Chat::default()
        }
    }

    /// A new connection: a guest nick, a welcome, and the lobby.
    pub fn arrive(&mut self, me: Member, out: &mut Vec<Effect>) {
        let nick = self.guest_nick();
        self.nicks.insert(key(&nick), me);
        self.people.insert(
            me,
            Person {
                nick: nick.clone().into(),
                room: None,
            },
        );
        out.push(Effect::Reply(format!(
            "* welcome to sockloop chat, {nick}; /help lists the commands"
        )));
        self.join(me, LOBBY, out);
    }

    /// The connection is gone: its room is told, its nick is free.
    pub fn depart(&mut self, me: Member, out: &mut Vec<Effect>) {
        let Some(person) = self.people.remove(&me) else {
            return;
        };
        self.nicks.remove(&key(&person.nick));
        self.rooms.leave(me);
        if let Some(room) = person.room {
            let text = format!("* {} left {room}", person.nick);
            out.push(Effect::Room { room, text });
        }
    }

    pub fn nick(&self, me: Member) -> Option<&str> {
        self.people.get(&me).map(|p| &*p.nick)
    }

    pub fn room(&self, me: Member) -> Option<&str> {
        self.people.get(&me).and_then(|p| p.room.as_deref())
    }

    /// Carries out one command of `me`'s.
    pub fn run(&mut self, me: Member, command: Command<'_>, out: &mut Vec<Effect>) {
        match command {
            Command::Nick(nick) => self.rename(me, nick, out),
            Command::Join(room) => self.join(me, room, out),
            Command::Leave => self.leave_room(me, out),
            Command::Who => self.who(me, out),
            Command::Rooms => self.list_rooms(out),
            Command::Me(action) => self.say(me, |nick| format!("* {nick} {action}"), out),
            Command::Say(text) => self.say(me, |nick| format!("<{nick}> {text}"), out),
            Command::Help => out.push(Effect::Reply(format!("* commands: {HELP}"))),
            Command::Quit => {
                out.push(Effect::Reply("* bye".into()));
                out.push(Effect::Close);
            }
            Command::Nothing => {}
        }
    }

    /// Guests are `guest-TAG-N` from now on (`--broker`: rooms span processes).
    pub fn tag_guests(&mut self, tag: &str) {
        self.guest_tag = format!("{tag}-");
    }

    fn guest_nick(&mut self) -> String {
        loop {
            self.guests += 1;
            let nick = format!("guest-{}{}", self.guest_tag, self.guests);
            if !self.nicks.contains_key(&key(&nick)) {
                return nick;
            }
        }
    }

    fn rename(&mut self, me: Member, nick: &str, out: &mut Vec<Effect>) {
        if let Err(why) = hub::check_name(nick, MAX_NICK) {
            return error(out, format!("nick {nick:?}: {why}"));
        }
        let Some(person) = self.people.get_mut(&me) else {
            return;
        };
        match self.nicks.get(&key(nick)) {
            Some(&owner) if owner != me => return error(out, format!("nick {nick} is taken")),
            _ => {}
        }
        let old = std::mem::replace(&mut person.nick, nick.into());
        self.nicks.remove(&key(&old));
        self.nicks.insert(key(nick), me);
        let text = format!("* {old} is now known as {nick}");
        match person.room.clone() {
            Some(room) => out.push(Effect::Room { room, text }),
            None => out.push(Effect::Reply(text)),
        }
    }

    fn join(&mut self, me: Member, room: &str, out: &mut Vec<Effect>) {
        let Some(person) = self.people.get(&me) else {
            return;
        };
        if person.room.as_deref() == Some(room) {
            return error(out, format!("you are already in {room}"));
        }
        let limits = self.rooms.limits();
        if let Err(why) = hub::check_name(room, limits.max_name) {
            return error(out, format!("room {room:?}: bad name: {why}"));
        }
        // A new room needs a free place, which the room being left gives up if it
        // empties: so the one person in a room can always move to a new one.
        let opens = self.rooms.publish(room).is_empty();
        let frees = person
            .room
            .as_deref()
            .is_some_and(|old| self.rooms.publish(old).len() == 1);
        if opens && !frees && self.rooms.topic_count() >= limits.max_topics {
            let n = limits.max_topics;
            return error(
                out,
                format!("cannot open room {room}: {n} rooms exist, the limit"),
            );
        }
        // Out of the old room first: a person is in one room, never two at once.
        self.leave_room_quietly(me, out);
        if let Err(e) = self.rooms.subscribe(me, room) {
            // Cannot happen after the checks above; said rather than hidden.
            return error(out, format!("room {room:?}: {e}"));
        }
        let Some(person) = self.people.get_mut(&me) else {
            return;
        };
        person.room = Some(room.into());
        let here = self.rooms.publish(room).len();
        out.push(Effect::Room {
            room: room.into(),
            text: format!("* {} joined {room} ({here} here)", person.nick),
        });
    }

    fn leave_room(&mut self, me: Member, out: &mut Vec<Effect>) {
        if self.room(me).is_none() {
            return error(out, "you are in no room".into());
        }
        self.leave_room_quietly(me, out);
        out.push(Effect::Reply(
            "* you are in no room now; /join ROOM to talk again".into(),
        ));
    }

    /// Out of the current room, with the room told.
    fn leave_room_quietly(&mut self, me: Member, out: &mut Vec<Effect>) {
        let Some(person) = self.people.get_mut(&me) else {
            return;
        };
        if let Some(room) = person.room.take() {
            let _ = self.rooms.unsubscribe(me, &room);
            let text = format!("* {} left {room}", person.nick);
            out.push(Effect::Room { room, text });
        }
    }

    fn who(&self, me: Member, out: &mut Vec<Effect>) {
        let Some(room) = self.room(me) else {
            return error(out, "you are in no room; /join ROOM".into());
        };
        let nicks: Vec<&str> = self
            .rooms
            .publish(room)
            .iter()
            .filter_map(|m| self.nick(*m))
            .collect();
        out.push(Effect::Reply(format!("* in {room}: {}", nicks.join(", "))));
    }

    fn list_rooms(&self, out: &mut Vec<Effect>) {
        let rooms: Vec<String> = self
            .rooms
            .list()
            .into_iter()
            .map(|(room, n)| format!("{room} ({n})"))
            .collect();
        out.push(Effect::Reply(match rooms.is_empty() {
            true => "* no rooms".into(),
            false => format!("* rooms: {}", rooms.join(", ")),
        }));
    }

    fn say(&self, me: Member, line: impl FnOnce(&str) -> String, out: &mut Vec<Effect>) {
        let Some(person) = self.people.get(&me) else {
            return;
        };
        match &person.room {
            Some(room) => out.push(Effect::Room {
                room: room.clone(),
                text: line(&person.nick),
            }),
            None => error(out, "you are in no room; /join ROOM to talk".into()),
        }
    }

    /// Who is in `room`, in the order they joined: the recipients of its lines.
    /// The rooms with people in them, as a [`Hub`] says (for `--broker`).
    pub fn rooms(&self) -> &Hub {
        &self.rooms
    }

    pub fn members(&self, room: &str) -> &[Member] {
        self.rooms.publish(room)
    }

    /// The hub of rooms, for its drop counts.
    pub fn hub_mut(&mut self) -> &mut Hub {
        &mut self.rooms
    }
}

fn key(nick: &str) -> Box<str> {
    nick.to_lowercase().into()
}

fn error(out: &mut Vec<Effect>, what: String) {
    out.push(Effect::Reply(format!("* error: {what}")));
}
