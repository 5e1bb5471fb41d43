//! Fan-out, carried out (issue 14): what a step said to a room or topic is queued
//! for each recipient as one shared frame per wire format, and every queue that got
//! frames this turn is written once, at the end of the turn.
//!
//! ```text
//!   step → outbox → for each recipient (hub order = join order):
//!            its format's frame (encoded at its first recipient, shared after)
//!            queue full (`--max-output`)? → dropped, counted, told later
//!            else queued, no system call; the slot is marked dirty
//!   end of turn → each dirty queue: one writev of all it holds, then settle
//!   queue drained → `DROPPED N` / `* N messages dropped …`, once
//! ```
//!
//! A recipient is named by its slot and the low half of its connection id, so a
//! slot reused by a new connection cannot receive an old one's subscriptions (a
//! closing connection leaves every hub anyway).

use super::Server;
use crate::service::fanout::{Format, Frame, HubKind, Publish};
use crate::service::hub::Member;
use crate::trace::{self, Layer};

/// A format's frame for one publish: not needed yet, made, or refused by the memory
/// budget (then every recipient reading that format misses the message).
enum Made {
    NotYet,
    Frame(Frame),
    NoRoom,
}

/// What one publish did, for the trace and the counters.
#[derive(Default)]
struct Tally {
    queued: u64,
    dropped: u64,
    frame_bytes: [usize; 2],
}

impl Server {
    /// The hubs' name for the connection in `slot`.
    pub(super) fn member(&self, slot: usize) -> Member {
        member_id(slot, self.conns.get(slot).map_or(0, |c| c.id))
    }

    fn slot_of(&self, member: Member) -> Option<usize> {
        let slot = (member & 0xFFFF_FFFF) as usize;
        let conn = self.conns.get(slot)?;
        (conn.id & 0xFFFF_FFFF == member >> 32).then_some(slot)
    }

    /// Fans out everything the last step put in the outbox.
    pub(super) fn deliver(&mut self) {
        let mut outbox = std::mem::take(&mut self.shared.outbox);
        for publish in outbox.drain(..) {
            self.fan_out(&publish);
            self.broker_publish(&publish);
        }
        // The outbox keeps its capacity (a step says a few things at most).
        self.shared.outbox = outbox;
    }

    pub(super) fn fan_out(&mut self, publish: &Publish) {
        let members = match publish.hub {
            HubKind::Chat => self.shared.chat.members(&publish.topic),
            HubKind::PubSub => self.shared.pubsub.publish(&publish.topic),
        };
        let mut recipients = std::mem::take(&mut self.recipients);
        recipients.clear();
        recipients.extend_from_slice(members);
        let mut made = [Made::NotYet, Made::NotYet];
        let mut tally = Tally::default();
        for &member in recipients.iter().filter(|&&m| Some(m) != publish.copied_to) {
            self.queue_for(member, publish, &mut made, &mut tally);
        }
        self.recipients = recipients;
        let own_copy = u64::from(publish.copied_to.is_some());
        self.shared.fanout.published += 1;
        self.shared.fanout.delivered += tally.queued + own_copy;
        if trace::on(Layer::Line) || trace::on(Layer::Ws) {
            trace_publish(publish, &tally);
        }
    }

    /// Queues the publish for one recipient, or drops it there (queue full, or no
    /// memory for the frame).
    fn queue_for(
        &mut self,
        member: Member,
        publish: &Publish,
        made: &mut [Made; 2],
        tally: &mut Tally,
    ) {
        let Some(slot) = self.slot_of(member) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let Some((format, _)) = conn.session.fanout() else {
            return; // a WebSocket closing: it takes no more messages
        };
        let made = &mut made[format as usize];
        if let Made::NotYet = made {
            *made = make_frame(publish, format, &mut self.shared.memory);
            if let Made::Frame(f) = made {
                tally.frame_bytes[format as usize] = f.len();
            }
        }
        let queued = conn.queued();
        let frame = match made {
            Made::Frame(f) if queued + f.len() <= self.policy.max_output => f.clone(),
            _ => {
                tally.dropped += 1;
                self.shared.fanout.dropped += 1;
                match publish.hub {
                    HubKind::Chat => self.shared.chat.hub_mut().dropped_for(member),
                    HubKind::PubSub => self.shared.pubsub.dropped_for(member),
                }
                return;
            }
        };
        let before = conn.footprint();
        conn.push_frame(frame);
        // The queue's own growth (a slot for the frame); the frame is counted once.
        let _ = self.shared.memory.resize(before, conn.footprint());
        tally.queued += 1;
        if queued == 0 {
            // Nothing was waiting, so nothing watches for writability: written at
            // the end of the turn.
            self.dirty.push(slot);
        }
    }

    /// End of the turn: every queue that got frames is written, in one system call
    /// each, and settled (writable interest for what the kernel did not take).
    pub(super) fn flush_fanout(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for slot in dirty.drain(..) {
            if self.flush(slot) {
                self.settle(slot);
            }
        }
        self.dirty = dirty;
    }

    /// A subscriber's queue has drained: if messages were dropped for it, it is told
    /// how many, once.
    pub(super) fn tell_missed(&mut self, slot: usize) {
        let member = self.member(slot);
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let Some((_, kind)) = conn.session.fanout().filter(|_| conn.queued() == 0) else {
            return;
        };
        let hub = match kind {
            HubKind::Chat => self.shared.chat.hub_mut(),
            HubKind::PubSub => &mut self.shared.pubsub,
        };
        let Some(missed) = hub.take_missed(member) else {
            return;
        };
        crate::debug!("#{} caught up after {missed} dropped messages", conn.id);
        let before = conn.footprint();
        let out = &mut self.scratch;
        conn.session.write_missed(missed, &mut self.shared, out);
        let sent = conn.send(out);
        out.clear();
        let _ = self.shared.memory.resize(before, conn.footprint());
        if let Ok(n) = sent {
            self.shared.bytes_out += n as u64;
        }
    }

    /// The connection in `slot` is closing: out of every room and topic, its room
    /// told.
    pub(super) fn depart(&mut self, member: Member) {
        crate::service::depart(&mut self.shared, member);
        if !self.shared.outbox.is_empty() {
            self.deliver();
        }
    }
}

/// A connection's name in the hubs: its slot, and the low half of its id.
pub(super) fn member_id(slot: usize, id: u64) -> Member {
    ((id & 0xFFFF_FFFF) << 32) | slot as u64
}

fn make_frame(
    publish: &Publish,
    format: Format,
    memory: &mut crate::service::memory::MemoryBudget,
) -> Made {
    let bytes = publish.encode(format);
    if !memory.may_share(bytes.capacity()) {
        memory.refuse();
        return Made::NoRoom;
    }
    Made::Frame(Frame::new(bytes, memory.fanout_cell()))
}

/// `--trace=line,ws`: `fan-out chat "lobby": 3 queued, 1 dropped (queue full),
/// publisher's copy inline; shared frames: line 14 bytes, ws 15 bytes`.
fn trace_publish(publish: &Publish, tally: &Tally) {
    use std::fmt::Write;
    let hub = match publish.hub {
        HubKind::Chat => "chat",
        HubKind::PubSub => "pubsub",
    };
    let mut frames = String::new();
    for (name, bytes) in ["line", "ws"].iter().zip(tally.frame_bytes) {
        if bytes > 0 {
            let _ = write!(frames, " {name} {bytes} bytes");
        }
    }
    let layer = if trace::on(Layer::Line) {
        Layer::Line
    } else {
        Layer::Ws
    };
    crate::trace!(
        layer,
        "fan-out {hub} {:?}: {} queued, {} dropped (queue full){}; shared frames:{}",
        &*publish.topic,
        tally.queued,
        tally.dropped,
        if publish.copied_to.is_some() {
            ", publisher's copy inline"
        } else {
            ""
        },
        if frames.is_empty() { " none" } else { &frames }
    );
}
