//! What publishers send and when: `PUB bench PAYLOAD` as a masked text frame or a
//! line, and the pacing of `--rate`.

use super::payload::{Payloads, Stamp};
use super::reply::{Reply, shown};
use super::subscriber::TOPIC;
use super::tally::Tally;
use crate::proto::ws::frame::{self, Opcode};
use rand::RngExt;
use std::time::{Duration, Instant};

pub struct Publisher {
    pub id: usize,
    pub sent: u64,
    pub acked: u64,
}

impl Publisher {
    pub fn outstanding(&self) -> u64 {
        self.sent - self.acked
    }

    #[inline]
    pub fn on_reply(&mut self, reply: Reply<'_>, tally: &mut Tally) -> Result<(), String> {
        match reply {
            Reply::Ok if self.sent > self.acked => {
                self.acked += 1;
                tally.acked += 1;
                tally.outstanding -= 1;
                Ok(())
            }
            Reply::Ok => Err("an OK that answers no publish".into()),
            Reply::Err(why) => Err(format!(
                "the server refused a publish: 'ERR {}' (is it running with --publish-rate 0?)",
                shown(why)
            )),
            Reply::Msg { .. } | Reply::Dropped(_) => {
                Err("a publisher, never subscribed, received a delivery".into())
            }
            Reply::Other(line) => Err(format!(
                "'{}' is not a pubsub reply — is the URL a pubsub endpoint?",
                shown(line)
            )),
        }
    }

    /// Appends this publisher's next publish, stamped `now_ns`.
    #[inline]
    pub fn write_next(&mut self, ws: bool, payloads: &Payloads, now_ns: u64, bufs: &mut Bufs<'_>) {
        let stamp = Stamp {
            publisher: self.id,
            seq: self.sent,
            sent_ns: now_ns,
        };
        self.sent += 1;
        if ws {
            let line = &mut *bufs.scratch;
            line.clear();
            line.extend_from_slice(b"PUB ");
            line.extend_from_slice(TOPIC.as_bytes());
            line.push(b' ');
            payloads.write(stamp, line);
            // A fresh key per frame, as every client must (RFC 6455 §5.3).
            let key = rand::rng().random();
            frame::write_frame(bufs.out, true, Opcode::Text, line, Some(key));
        } else {
            let out = &mut *bufs.out;
            out.extend_from_slice(b"PUB ");
            out.extend_from_slice(TOPIC.as_bytes());
            out.push(b' ');
            payloads.write(stamp, out);
            out.push(b'\n');
        }
    }
}

/// Where a publish is written: the connection's output, and (WebSocket) a scratch
/// buffer the message is assembled in before it is framed and masked.
pub struct Bufs<'a> {
    pub out: &'a mut Vec<u8>,
    pub scratch: &'a mut Vec<u8>,
}

/// `SUB bench`, as a masked text frame or a line.
pub fn write_sub(ws: bool, out: &mut Vec<u8>) {
    let line = format!("SUB {TOPIC}");
    if ws {
        frame::write_frame(
            out,
            true,
            Opcode::Text,
            line.as_bytes(),
            Some(rand::rng().random()),
        );
    } else {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
}

/// `--rate`: publish number `k` of every publisher is due `k / rate` seconds after
/// the start. Publishers all keep the same schedule, so one timer serves them all.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    start: Instant,
    rate: f64,
}

impl Pace {
    pub fn new(start: Instant, rate: f64) -> Pace {
        Pace { start, rate }
    }

    /// How many publishes each publisher should have sent by `now`.
    pub fn due(&self, now: Instant) -> u64 {
        let secs = now.saturating_duration_since(self.start).as_secs_f64();
        (secs * self.rate) as u64 + 1
    }

    /// When the next publish after those due at `now` falls due.
    pub fn next(&self, now: Instant) -> Instant {
        let k = self.due(now) as f64;
        self.start + Duration::from_secs_f64(k / self.rate)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::proto::Parsed;

    #[test]
    fn publishes_as_lines_and_frames() {
        let p = Payloads::new(40);
        let mut publisher = Publisher {
            id: 3,
            sent: 0,
            acked: 0,
        };
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        let mut bufs = Bufs {
            out: &mut out,
            scratch: &mut scratch,
        };
        publisher.write_next(false, &p, 77, &mut bufs);
        assert_eq!(out.len(), 10 + 40 + 1);
        assert!(out.starts_with(b"PUB bench 0003.0000000000.00000000000077"));
        assert_eq!(out.last(), Some(&b'\n'));
        out.clear();
        let mut bufs = Bufs {
            out: &mut out,
            scratch: &mut scratch,
        };
        publisher.write_next(true, &p, 78, &mut bufs);
        let Ok(Parsed::Complete { value, consumed }) = frame::parse_frame(&out) else {
            panic!("not a frame");
        };
        assert_eq!(consumed, out.len());
        let mut text = value.payload.to_vec();
        frame::apply_mask(&mut text, value.header.mask.unwrap(), 0);
        assert!(text.starts_with(b"PUB bench 0003.0000000001.00000000000078"));
        assert_eq!(publisher.outstanding(), 2);
        let mut t = Tally {
            outstanding: 2,
            ..Tally::default()
        };
        publisher.on_reply(Reply::Ok, &mut t).unwrap();
        assert_eq!((publisher.acked, t.acked, t.outstanding), (1, 1, 1));
        assert!(
            publisher
                .on_reply(Reply::Err(b"slow down"), &mut t)
                .is_err()
        );
        assert!(publisher.on_reply(Reply::Dropped(1), &mut t).is_err());
        publisher.on_reply(Reply::Ok, &mut t).unwrap();
        assert!(publisher.on_reply(Reply::Ok, &mut t).is_err());
        let mut sub = Vec::new();
        write_sub(false, &mut sub);
        assert_eq!(sub, b"SUB bench\n");
    }

    #[test]
    fn pacing() {
        let t0 = Instant::now();
        let pace = Pace::new(t0, 1000.0);
        assert_eq!(pace.due(t0), 1);
        assert_eq!(pace.due(t0 + Duration::from_micros(2500)), 3);
        assert_eq!(
            pace.next(t0 + Duration::from_micros(2500)),
            t0 + Duration::from_millis(3)
        );
    }
}
