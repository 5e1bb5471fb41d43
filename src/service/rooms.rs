//! What a chat or pub/sub connection does with one line (a line on a stream, a text
//! message on a WebSocket), whatever its transport: the replies for the speaker come
//! back to the caller, which frames them its way; what is said to a room or published
//! on a topic goes to the loop's outbox, which fans it out.

use super::Shared;
use super::chat::Effect;
use super::fanout::{Body, Format, HubKind, Publish};
use super::hub::{HubError, check_name};
use crate::proto::chat::{self, Command};
use crate::proto::command::After;
use crate::proto::pubsub::{self, Request};

/// Replies to the speaker: chat lines (`* …`), or `OK` / `ERR …` for pub/sub. No line
/// ends: the caller adds its framing.
pub type Replies = Vec<String>;

/// A chat connection opened: a guest nick and the lobby.
pub fn chat_arrive(shared: &mut Shared, replies: &mut Replies) {
    let mut effects = Vec::new();
    shared.chat.arrive(shared.serving, &mut effects);
    apply(shared, effects, replies);
}

/// One line from a chat user.
pub fn chat_line(shared: &mut Shared, line: &[u8], replies: &mut Replies) -> After {
    shared.requests += 1;
    let Ok(line) = std::str::from_utf8(line) else {
        replies.push("* error: a chat line must be UTF-8".into());
        return After::Continue;
    };
    let command = match chat::parse(line) {
        Ok(command) => command,
        Err(e) => {
            replies.push(format!("* error: {e}"));
            return After::Continue;
        }
    };
    let relayed = matches!(
        command,
        Command::Say(_) | Command::Me(_) | Command::Nick(_) | Command::Join(_)
    );
    if relayed && !allowed(shared) {
        shared.fanout.throttled += 1;
        replies.push(format!(
            "* error: slow down: more than {} lines per second; not sent",
            shared.publish_rate
        ));
        return After::Continue;
    }
    let mut effects = Vec::new();
    shared.chat.run(shared.serving, command, &mut effects);
    apply(shared, effects, replies)
}

/// The connection is gone: its room is told; its subscriptions and its rate go.
pub fn depart(shared: &mut Shared, member: u64) {
    let mut effects = Vec::new();
    shared.chat.depart(member, &mut effects);
    shared.pubsub.leave(member);
    shared.rates.remove(&member);
    apply(shared, effects, &mut Vec::new());
}

/// One more chat line or publish from the connection being served, within
/// `--publish-rate`? Its bucket is made at its first publish (most connections never
/// publish, and carry nothing for it).
fn allowed(shared: &mut Shared) -> bool {
    let rate = shared.publish_rate;
    rate == 0
        || shared
            .rates
            .entry(shared.serving)
            .or_default()
            .allow(shared.now, rate)
}

/// Replies go to the speaker; lines for a room to the outbox — and to the speaker's
/// replies as well when the speaker is in that room, in their place among its
/// replies.
fn apply(shared: &mut Shared, effects: Vec<Effect>, replies: &mut Replies) -> After {
    let mut after = After::Continue;
    let me = shared.serving;
    for effect in effects {
        match effect {
            Effect::Reply(text) => replies.push(text),
            Effect::Room { room, text } => {
                let copied_to = (shared.chat.room(me) == Some(&*room)).then_some(me);
                if copied_to.is_some() {
                    replies.push(text.clone());
                }
                shared.outbox.push(Publish {
                    hub: HubKind::Chat,
                    topic: room,
                    body: Body::Chat(text),
                    copied_to,
                });
            }
            Effect::Close => after = After::Close,
        }
    }
    after
}

/// One pub/sub request line; its reply (`OK` or `ERR …`) goes to `reply`.
pub fn pubsub_line(shared: &mut Shared, line: &[u8], reply: &mut Vec<u8>) {
    shared.requests += 1;
    let member = shared.serving;
    let result = match pubsub::parse(line) {
        Ok(Request::Sub(topic)) => shared.pubsub.subscribe(member, topic).map_err(explain),
        Ok(Request::Unsub(topic)) => shared.pubsub.unsubscribe(member, topic).map_err(explain),
        Ok(Request::Pub { topic, payload }) => publish(shared, topic, payload, false),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => reply.extend_from_slice(b"OK"),
        Err(why) => {
            reply.extend_from_slice(b"ERR ");
            reply.extend_from_slice(why.as_bytes());
        }
    }
}

/// A publish: checked, counted against the rate, and put in the outbox.
pub fn publish(
    shared: &mut Shared,
    topic: &str,
    payload: &[u8],
    binary: bool,
) -> Result<(), String> {
    check_name(topic, shared.pubsub.limits().max_name)
        .map_err(|why| format!("bad topic: {why}"))?;
    if payload.len() > MAX_PUBLISH {
        return Err(format!(
            "message too long to publish ({} bytes; the limit is {MAX_PUBLISH})",
            payload.len()
        ));
    }
    if !allowed(shared) {
        shared.fanout.throttled += 1;
        return Err(format!(
            "slow down: more than {} publishes per second; not sent",
            shared.publish_rate
        ));
    }
    let me = shared.serving;
    let subscribed = shared.pubsub.topics_of(me).any(|t| t == topic);
    shared.outbox.push(Publish {
        hub: HubKind::PubSub,
        topic: topic.into(),
        body: Body::Pub {
            payload: payload.to_vec(),
            binary,
        },
        copied_to: subscribed.then_some(me),
    });
    Ok(())
}

/// A publisher subscribed to its own topic gets its copy right after its `OK`,
/// written by its session (in `format`) rather than by the fan-out, so that it sees
/// it in order with its replies. Call after writing the reply to a request that
/// started when the outbox held `mark` publishes.
pub fn copy_own(shared: &Shared, mark: usize, format: Format, out: &mut Vec<u8>) {
    let me = shared.serving;
    for publish in shared.outbox.get(mark..).unwrap_or_default() {
        if publish.copied_to == Some(me) {
            out.extend_from_slice(&publish.encode(format));
        }
    }
}

/// The largest payload one publish may carry: a quarter of the default queue bound
/// per subscriber (`--max-output`), so a few fit in any subscriber's queue.
pub const MAX_PUBLISH: usize = 64 * 1024;

fn explain(e: HubError) -> String {
    match e {
        HubError::BadName(why) => format!("bad topic: {why}"),
        e => e.to_string(),
    }
}

/// What a subscriber that missed `n` messages is told once it has caught up.
pub fn missed_notice(kind: HubKind, n: u64) -> String {
    match kind {
        HubKind::PubSub => format!("DROPPED {n}"),
        HubKind::Chat => format!(
            "* {} dropped: your connection was reading too slowly",
            crate::plural::count(n, "message")
        ),
    }
}
