//! `--broker redis://HOST:PORT`: chat rooms and pub/sub topics shared by several
//! sockloop processes through Redis pub/sub. This is the pure half — channel names,
//! the envelope each message travels in, which channels to (un)subscribe — and
//! runtime/server/broker.rs the sockets.
//!
//! Each process subscribes, on one Redis connection, to the channel of every room and
//! topic that has a member here (`sockloop:chat:ROOM`, `sockloop:pubsub:TOPIC`), and
//! publishes, on a second connection (a subscribed RESP2 connection may only
//! subscribe), everything said here. A message comes back from Redis to every
//! subscribed process, its sender included; the envelope names the sending process,
//! so each one delivers locally exactly once:
//!
//! ```text
//! PUBLISH sockloop:pubsub:news "3f9a0c12d4e5b6a7 t breaking"
//!                               origin           kind body
//! ```
//!
//! kind `c`: a chat line as the room shows it (`<alice> hi`); `t`: a text payload;
//! `b`: a binary payload (a WebSocket's binary publish). A message on one of our
//! channels without an envelope — `redis-cli PUBLISH sockloop:pubsub:news hello` — is
//! delivered too, as from outside: text if it is UTF-8, binary if not (on a chat
//! channel: a line, if it is one).

use super::fanout::{Body, HubKind, Publish};
use std::collections::BTreeSet;

/// Where every channel name starts.
pub const PREFIX: &str = "sockloop:";

/// The channel of a room or topic.
pub fn channel(hub: HubKind, name: &str) -> String {
    match hub {
        HubKind::Chat => format!("{PREFIX}chat:{name}"),
        HubKind::PubSub => format!("{PREFIX}pubsub:{name}"),
    }
}

/// The room or topic of a channel of ours.
pub fn topic_of(channel: &[u8]) -> Option<(HubKind, &str)> {
    let channel = std::str::from_utf8(channel).ok()?;
    let rest = channel.strip_prefix(PREFIX)?;
    if let Some(room) = rest.strip_prefix("chat:") {
        return Some((HubKind::Chat, room));
    }
    rest.strip_prefix("pubsub:").map(|t| (HubKind::PubSub, t))
}

/// The envelope around a publish, as the PUBLISH payload.
pub fn envelope(origin: u64, body: &Body) -> Vec<u8> {
    let (kind, bytes) = match body {
        Body::Chat(text) => (b'c', text.as_bytes()),
        Body::Pub { payload, binary } => (if *binary { b'b' } else { b't' }, &payload[..]),
    };
    let mut out = Vec::with_capacity(bytes.len() + 19);
    out.extend_from_slice(format!("{origin:016x} ").as_bytes());
    out.push(kind);
    out.push(b' ');
    out.extend_from_slice(bytes);
    out
}

/// What a message from Redis on `channel` is: the publish to deliver here, or
/// nothing (ours, coming back; or not something a room can show).
pub fn open(ours: u64, channel: &[u8], payload: &[u8]) -> Option<Publish> {
    let (hub, name) = topic_of(channel)?;
    let (origin, kind, bytes) = match split_envelope(payload) {
        Some(parts) => parts,
        None => (None, None, payload),
    };
    if origin == Some(ours) {
        return None;
    }
    let body = match (hub, kind) {
        (HubKind::Chat, None | Some(b'c')) => Body::Chat(chat_line(bytes)?),
        (HubKind::PubSub, Some(b'b')) => Body::Pub {
            payload: bytes.to_vec(),
            binary: true,
        },
        (HubKind::PubSub, Some(b't')) => Body::Pub {
            payload: bytes.to_vec(),
            binary: false,
        },
        (HubKind::PubSub, None) => Body::Pub {
            payload: bytes.to_vec(),
            binary: std::str::from_utf8(bytes).is_err(),
        },
        _ => return None,
    };
    Some(Publish {
        hub,
        topic: name.into(),
        body,
        copied_to: None,
    })
}

/// `origin kind body`, if the payload is in an envelope.
fn split_envelope(payload: &[u8]) -> Option<(Option<u64>, Option<u8>, &[u8])> {
    let (head, body) = (payload.get(..19)?, payload.get(19..)?);
    let hex = std::str::from_utf8(head.get(..16)?).ok()?;
    let origin = u64::from_str_radix(hex, 16).ok()?;
    match head.get(16..)? {
        [b' ', kind @ (b'c' | b't' | b'b'), b' '] => Some((Some(origin), Some(*kind), body)),
        _ => None,
    }
}

/// A line a room can show: UTF-8, no control characters (they would act on every
/// reader's terminal), not empty.
fn chat_line(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let fine = !text.is_empty() && !text.chars().any(char::is_control);
    fine.then(|| text.to_string())
}

/// What /metrics says about the broker.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub up: bool,
    pub connects: u64,
    pub sent: u64,
    pub received: u64,
    /// Said here while Redis was away (or not reading): not heard elsewhere.
    pub unsent: u64,
    pub subscriptions: u64,
}

/// The channels Redis should send us, against those it does: what to subscribe to
/// and what to drop. `wanted` is every room and topic with a member here.
#[derive(Default)]
pub struct Subscriptions {
    subscribed: BTreeSet<String>,
}

impl Subscriptions {
    /// (subscribe, unsubscribe) to make Redis' set `wanted`; the caller sends them.
    pub fn update(&mut self, wanted: BTreeSet<String>) -> (Vec<String>, Vec<String>) {
        let add = wanted.difference(&self.subscribed).cloned().collect();
        let drop = self.subscribed.difference(&wanted).cloned().collect();
        self.subscribed = wanted;
        (add, drop)
    }

    /// The connection was lost: a new one starts with nothing subscribed.
    pub fn forget(&mut self) {
        self.subscribed.clear();
    }

    pub fn len(&self) -> usize {
        self.subscribed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subscribed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_name_their_hub() {
        assert_eq!(channel(HubKind::Chat, "lobby"), "sockloop:chat:lobby");
        assert_eq!(channel(HubKind::PubSub, "news"), "sockloop:pubsub:news");
        assert_eq!(
            topic_of(b"sockloop:chat:lobby"),
            Some((HubKind::Chat, "lobby"))
        );
        assert_eq!(
            topic_of(b"sockloop:pubsub:a:b"),
            Some((HubKind::PubSub, "a:b"))
        );
        assert_eq!(topic_of(b"other:pubsub:news"), None);
        assert_eq!(topic_of(b"sockloop:queue:x"), None);
    }

    #[test]
    fn an_envelope_opens_elsewhere_and_not_at_home() {
        let body = Body::Pub {
            payload: b"bits \x00\xff".to_vec(),
            binary: true,
        };
        let sealed = envelope(0x3f9a, &body);
        assert!(sealed.starts_with(b"0000000000003f9a b bits"));
        assert!(
            open(0x3f9a, b"sockloop:pubsub:news", &sealed).is_none(),
            "ours"
        );
        let p = open(7, b"sockloop:pubsub:news", &sealed).unwrap();
        assert_eq!((p.hub, &*p.topic), (HubKind::PubSub, "news"));
        assert_eq!(p.body, body);
        assert_eq!(p.copied_to, None);
        let line = envelope(1, &Body::Chat("<alice> hi".into()));
        let p = open(2, b"sockloop:chat:lobby", &line).unwrap();
        assert_eq!(p.body, Body::Chat("<alice> hi".into()));
    }

    #[test]
    fn messages_without_an_envelope_come_from_outside() {
        let p = open(1, b"sockloop:pubsub:news", b"hello").unwrap();
        assert_eq!(
            p.body,
            Body::Pub {
                payload: b"hello".to_vec(),
                binary: false
            }
        );
        let p = open(1, b"sockloop:pubsub:news", b"\xff\xfe").unwrap();
        assert!(matches!(p.body, Body::Pub { binary: true, .. }));
        let p = open(1, b"sockloop:chat:lobby", b"* the admin says hi").unwrap();
        assert_eq!(p.body, Body::Chat("* the admin says hi".into()));
        assert!(
            open(1, b"sockloop:chat:lobby", b"\x1b[2J").is_none(),
            "escape"
        );
        assert!(open(1, b"sockloop:chat:lobby", b"").is_none());
        assert!(open(1, b"elsewhere", b"hello").is_none());
        // A chat channel takes chat lines only.
        let sealed = envelope(
            9,
            &Body::Pub {
                payload: b"x".to_vec(),
                binary: false,
            },
        );
        assert!(open(1, b"sockloop:chat:lobby", &sealed).is_none());
    }

    #[test]
    fn subscriptions_follow_the_rooms() {
        let mut s = Subscriptions::default();
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            s.update(set(&["a", "b"])),
            (vec!["a".into(), "b".into()], vec![])
        );
        assert_eq!(
            s.update(set(&["b", "c"])),
            (vec!["c".into()], vec!["a".into()])
        );
        assert_eq!(s.len(), 2);
        s.forget();
        assert!(s.is_empty());
        assert_eq!(s.update(set(&["b"])), (vec!["b".into()], vec![]));
    }
}
