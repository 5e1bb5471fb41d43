//! A subscriber's checks: every delivery is a whole payload of this run, each
//! publisher's sequence only goes up, and a gap in it is covered by the `DROPPED`
//! notices received so far (the server sends the notice before any later delivery).

use super::payload::Payloads;
use super::reply::{Reply, shown};
use super::tally::Tally;

/// The topic every subscriber subscribes to and every publisher publishes on.
pub const TOPIC: &str = "bench";

pub struct Subscriber {
    /// The server answered our SUB.
    pub subscribed: bool,
    /// The sequence number expected next from each publisher.
    next: Box<[u64]>,
    pub received: u64,
    pub dropped: u64,
    /// Deliveries known missing from the sequences.
    pub gaps: u64,
}

impl Subscriber {
    pub fn new(publishers: usize) -> Subscriber {
        Subscriber {
            subscribed: false,
            next: vec![0; publishers].into_boxed_slice(),
            received: 0,
            dropped: 0,
            gaps: 0,
        }
    }

    /// Deliveries and drops: what the server accounted for.
    pub fn accounted(&self) -> u64 {
        self.received + self.dropped
    }

    /// The run is over and publisher `p` had `acked[p]` publishes answered: what it
    /// published after the last delivery seen from it is missing too. Adds those to
    /// the gaps and returns how many there were.
    pub fn count_tails(&mut self, acked: &[u64]) -> u64 {
        let tails: u64 = self
            .next
            .iter()
            .zip(acked)
            .map(|(next, acked)| acked.saturating_sub(*next))
            .sum();
        self.gaps += tails;
        tails
    }

    #[inline]
    pub fn on_reply(
        &mut self,
        reply: Reply<'_>,
        now_ns: u64,
        payloads: &Payloads,
        tally: &mut Tally,
    ) -> Result<(), String> {
        match reply {
            Reply::Msg { topic, payload } if self.subscribed && topic == TOPIC.as_bytes() => {
                self.deliver(payload, now_ns, payloads, tally)
            }
            Reply::Dropped(n) if self.subscribed => {
                self.dropped += n;
                tally.dropped += n;
                tally.accounted += n;
                Ok(())
            }
            Reply::Ok if !self.subscribed => {
                self.subscribed = true;
                tally.subscribed += 1;
                Ok(())
            }
            Reply::Err(why) => Err(format!(
                "the server answered 'ERR {}' to SUB {TOPIC}",
                shown(why)
            )),
            Reply::Msg { topic, .. } if self.subscribed => Err(format!(
                "a delivery on topic '{}', not {TOPIC}",
                shown(topic)
            )),
            Reply::Ok => Err("an OK that answers nothing".into()),
            Reply::Other(line) => Err(format!(
                "'{}' is not a pubsub reply — is the URL a pubsub endpoint?",
                shown(line)
            )),
            Reply::Msg { .. } | Reply::Dropped(_) => Err("a delivery before the OK to SUB".into()),
        }
    }

    #[inline]
    fn deliver(
        &mut self,
        payload: &[u8],
        now_ns: u64,
        payloads: &Payloads,
        tally: &mut Tally,
    ) -> Result<(), String> {
        let stamp = payloads.read(payload)?;
        let publishers = self.next.len();
        let Some(next) = self.next.get_mut(stamp.publisher) else {
            return Err(format!(
                "a delivery from publisher {} of {publishers}",
                stamp.publisher
            ));
        };
        if stamp.seq < *next {
            return Err(format!(
                "publisher {}'s message {} came after its message {}: repeated or out of order",
                stamp.publisher,
                stamp.seq,
                *next - 1
            ));
        }
        let gap = stamp.seq - *next;
        *next = stamp.seq + 1;
        if gap > 0 {
            self.gaps += gap;
            tally.gaps += gap;
            if self.gaps > self.dropped {
                return Err(format!(
                    "publisher {}'s messages {}..{} are missing, and no DROPPED notice says so \
                     ({} missing in all, {} announced)",
                    stamp.publisher,
                    stamp.seq - gap,
                    stamp.seq - 1,
                    self.gaps,
                    self.dropped
                ));
            }
        }
        self.received += 1;
        tally.deliveries += 1;
        tally.accounted += 1;
        tally.hist.record_ns(now_ns.saturating_sub(stamp.sent_ns));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::bench::fanout::payload::Stamp;

    fn msg(p: &Payloads, publisher: usize, seq: u64) -> Vec<u8> {
        let mut v = Vec::new();
        p.write(
            Stamp {
                publisher,
                seq,
                sent_ns: 1000,
            },
            &mut v,
        );
        v
    }

    fn deliver(payload: &[u8]) -> Reply<'_> {
        Reply::Msg {
            topic: b"bench",
            payload,
        }
    }

    #[test]
    fn sequences_gaps_and_drops() {
        let p = Payloads::new(40);
        let mut t = Tally::default();
        let mut s = Subscriber::new(2);
        let mut feed = |s: &mut Subscriber, r: Reply<'_>| s.on_reply(r, 5000, &p, &mut t);
        let m = |publisher, seq| msg(&p, publisher, seq);
        assert!(feed(&mut s, deliver(&m(0, 0))).is_err(), "before the OK");
        let mut s = Subscriber::new(2);
        feed(&mut s, Reply::Ok).unwrap();
        assert!(s.subscribed);
        feed(&mut s, deliver(&m(0, 0))).unwrap();
        feed(&mut s, deliver(&m(1, 0))).unwrap();
        feed(&mut s, deliver(&m(0, 1))).unwrap();
        feed(&mut s, Reply::Dropped(2)).unwrap();
        feed(&mut s, deliver(&m(0, 4))).unwrap();
        assert_eq!((s.received, s.dropped, s.gaps, s.accounted()), (4, 2, 2, 6));
        // One more missing than announced.
        assert!(feed(&mut s, deliver(&m(1, 2))).is_err());
        let mut s2 = Subscriber::new(2);
        feed(&mut s2, Reply::Ok).unwrap();
        feed(&mut s2, deliver(&m(0, 3))).unwrap_err();
        for bad in [
            deliver(&m(2, 0)),
            Reply::Ok,
            Reply::Err(b"no"),
            Reply::Other(b"SUB bench"),
            Reply::Msg {
                topic: b"news",
                payload: b"x",
            },
        ] {
            let mut s = Subscriber::new(2);
            feed(&mut s, Reply::Ok).unwrap();
            assert!(feed(&mut s, bad).is_err(), "{bad:?}");
        }
        let mut s = Subscriber::new(1);
        feed(&mut s, Reply::Ok).unwrap();
        feed(&mut s, deliver(&m(0, 5))).unwrap_err();
        feed(&mut s, deliver(&m(0, 5))).unwrap_err();
        assert_eq!(t.hist.count(), 4);
        // Publisher 0's last delivery here was its message 5 (so 6 were sent).
        assert_eq!(s.count_tails(&[8]), 2);
        assert_eq!(s.gaps, 5 + 2);
        // Every OK above, one per subscriber.
        assert_eq!(t.subscribed, 8);
    }
}
