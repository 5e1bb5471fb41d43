//! Rooms and topics, for the chat and pub/sub services (issue 14): who is subscribed
//! to what, the limits on both, and the count of what a slow subscriber missed. Pure:
//! no sockets, no clock. The loop tells the hub what members ask for and queues each
//! published message for the members [`Hub::publish`] names, in the order it names
//! them — the order they joined, so every subscriber sees one publisher's messages in
//! the order they were sent.
//!
//! A member is a connection, named by the loop's connection id. Topics are exact
//! names (no wildcards: a subscription is then one lookup, and what a subscriber gets
//! is plain to see from what it asked for).

mod names;
#[cfg(test)]
mod tests;

pub use names::check_name;

use std::collections::HashMap;
use std::fmt;

/// A connection, by the loop's id for it.
pub type Member = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Topics (rooms) in existence at once.
    pub max_topics: usize,
    /// Topics one member may be subscribed to at once.
    pub max_per_member: usize,
    /// Longest topic name, in bytes.
    pub max_name: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_topics: 1024,
            max_per_member: 16,
            max_name: 64,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubError {
    /// The name is not a usable topic name; says why.
    BadName(&'static str),
    TooManyTopics(usize),
    TooManyForMember(usize),
    AlreadySubscribed,
    NotSubscribed,
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::BadName(why) => write!(f, "bad name: {why}"),
            HubError::TooManyTopics(n) => write!(f, "the server has {n} topics, its limit"),
            HubError::TooManyForMember(n) => {
                write!(
                    f,
                    "already subscribed to {n} topics, the limit per connection"
                )
            }
            HubError::AlreadySubscribed => f.write_str("already subscribed"),
            HubError::NotSubscribed => f.write_str("not subscribed"),
        }
    }
}

#[derive(Default)]
struct MemberState {
    topics: Vec<Box<str>>,
    /// Messages dropped for this member since it was last told.
    missed: u64,
}

#[derive(Default)]
pub struct Hub {
    limits: Limits,
    /// Each topic's members, in the order they subscribed.
    topics: HashMap<Box<str>, Vec<Member>>,
    members: HashMap<Member, MemberState>,
    /// Messages dropped for slow subscribers, since start.
    dropped: u64,
    /// Bumped whenever a topic appears or goes away: a broker that mirrors the set
    /// of topics (`--broker`) looks again only when this moved.
    changes: u64,
}

impl Hub {
    pub fn new(limits: Limits) -> Hub {
        Hub {
            limits,
            ..Hub::default()
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Topics (rooms) in existence: those with at least one member.
    /// How many times a topic appeared or went away since start.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Every topic with a member.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.topics.keys().map(|t| &**t)
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    pub fn subscribe(&mut self, member: Member, topic: &str) -> Result<(), HubError> {
        check_name(topic, self.limits.max_name).map_err(HubError::BadName)?;
        let state = self.members.entry(member).or_default();
        if state.topics.iter().any(|t| &**t == topic) {
            return Err(HubError::AlreadySubscribed);
        }
        if state.topics.len() >= self.limits.max_per_member {
            return Err(HubError::TooManyForMember(self.limits.max_per_member));
        }
        if let Some(members) = self.topics.get_mut(topic) {
            members.push(member);
        } else if self.topics.len() >= self.limits.max_topics {
            self.forget_if_idle(member);
            return Err(HubError::TooManyTopics(self.limits.max_topics));
        } else {
            self.topics.insert(topic.into(), vec![member]);
            self.changes += 1;
        }
        if let Some(state) = self.members.get_mut(&member) {
            state.topics.push(topic.into());
        }
        Ok(())
    }

    pub fn unsubscribe(&mut self, member: Member, topic: &str) -> Result<(), HubError> {
        let state = self
            .members
            .get_mut(&member)
            .ok_or(HubError::NotSubscribed)?;
        let at = state
            .topics
            .iter()
            .position(|t| &**t == topic)
            .ok_or(HubError::NotSubscribed)?;
        state.topics.remove(at);
        self.remove_from_topic(member, topic);
        self.forget_if_idle(member);
        Ok(())
    }

    /// The member is gone (its connection closed): out of every topic.
    pub fn leave(&mut self, member: Member) {
        if let Some(state) = self.members.remove(&member) {
            for topic in &state.topics {
                self.remove_from_topic(member, topic);
            }
        }
    }

    /// Who gets a message published on `topic`, in the order they subscribed (the
    /// publisher too, if it is subscribed). Empty for a topic no one is on.
    pub fn publish(&self, topic: &str) -> &[Member] {
        self.topics.get(topic).map_or(&[], Vec::as_slice)
    }

    /// The topics `member` is subscribed to, in the order it joined them.
    pub fn topics_of(&self, member: Member) -> impl Iterator<Item = &str> {
        self.members
            .get(&member)
            .into_iter()
            .flat_map(|s| s.topics.iter().map(|t| &**t))
    }

    /// Every topic with its member count, sorted by name.
    pub fn list(&self) -> Vec<(&str, usize)> {
        let mut all: Vec<(&str, usize)> =
            self.topics.iter().map(|(t, m)| (&**t, m.len())).collect();
        all.sort_unstable();
        all
    }

    /// A message for `member` was dropped: its queue was full (the policy is the
    /// loop's; the hub keeps the count, to tell the member once it catches up).
    pub fn dropped_for(&mut self, member: Member) {
        self.dropped += 1;
        if let Some(state) = self.members.get_mut(&member) {
            state.missed += 1;
        }
    }

    /// The member's queue has room again: how many messages it missed since it was
    /// last told (once; `None` when it missed nothing).
    pub fn take_missed(&mut self, member: Member) -> Option<u64> {
        let state = self.members.get_mut(&member)?;
        Some(std::mem::take(&mut state.missed)).filter(|&n| n > 0)
    }

    /// Messages dropped for slow subscribers since start (for `STATS`).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn remove_from_topic(&mut self, member: Member, topic: &str) {
        if let Some(members) = self.topics.get_mut(topic) {
            members.retain(|&m| m != member);
            if members.is_empty() {
                self.topics.remove(topic);
                self.changes += 1;
            }
        }
    }

    /// A member on no topic with nothing to be told is not kept.
    fn forget_if_idle(&mut self, member: Member) {
        if self
            .members
            .get(&member)
            .is_some_and(|s| s.topics.is_empty() && s.missed == 0)
        {
            self.members.remove(&member);
        }
    }
}
