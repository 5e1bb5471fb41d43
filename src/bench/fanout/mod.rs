//! `bench fanout`: one topic, many subscribers, a few publishers — the cost of
//! delivering one message to many connections.
//!
//! N subscriber connections each send `SUB bench` and wait for `OK`; then P
//! publisher connections publish `--size`-byte payloads on the topic, each keeping at
//! most `--depth` publishes unanswered (closed loop) or paced at `--rate` per second.
//! Every payload carries its publisher, its sequence number and its send time
//! (`payload.rs`); every subscriber checks that each publisher's sequence only goes
//! up, that any gap is covered by `DROPPED N` notices, and records the delivery
//! latency. After the measured window the publishes still in flight are answered
//! and delivered (the drain), every subscriber must then have accounted for every
//! publish — delivered or announced dropped — and all connections close cleanly
//! (WebSocket Close 1000, or a FIN).
//!
//! Over WebSocket (`ws://HOST:PORT/pubsub`) each request and reply is one text
//! message; over tcp (`tcp://HOST:PORT`) one line. One thread and one readiness loop,
//! like the other modes; the hot path allocates nothing (payloads are stamped into a
//! template, replies are read in the loop's read buffer).

mod conn;
mod measure;
pub mod payload;
mod publisher;
mod reply;
mod rx;
mod subscriber;
mod tally;

use super::open::{self, OpenResult, Target};
use super::progress::{Progress, count_of, plan};
use super::waiter::Waiter;
use super::window::Measured;
use super::{Errors, Options, Report};
use crate::runtime::poll;
use conn::{Conn, Phase, Role};
use payload::Payloads;
use polling::Poller;
use publisher::{Pace, Publisher};
use rx::Rx;
use std::time::{Duration, Instant};
use subscriber::{Subscriber, TOPIC};
use tally::Tally;

/// After the window, how long the publishes in flight may take to be answered and
/// delivered (or announced dropped) everywhere.
const DRAIN: Duration = Duration::from_secs(5);
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How often the subscribing phase says how far it got.
const STATUS_EVERY: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Measuring,
    Draining { until: Instant },
    Closing { until: Instant },
    Over,
}

struct Engine<'a> {
    opts: &'a Options,
    poller: &'a Poller,
    ws: bool,
    conns: Vec<Conn>,
    payloads: Payloads,
    tally: Tally,
    rbuf: Vec<u8>,
    /// A publish is assembled here before it is framed.
    scratch: Vec<u8>,
    /// Where payload send times count from.
    base: Instant,
    pace: Option<Pace>,
    /// Publishes that may still be sent (`--count`), or u64::MAX.
    budget: u64,
    sending: bool,
    live_subs: usize,
    live_pubs: usize,
    errors: Errors,
    unclean: u64,
    /// Set when the window closes: what it measured, and the publishes it answered.
    measured: Option<(Measured, u64)>,
}

/// Runs `bench fanout` against `target` (`opts.conns` is subscribers + publishers).
pub fn run(opts: &Options, target: Target) -> Result<Report, String> {
    super::sys::check_nofile(opts.conns as u64 + 32)?;
    let (poller, mut waiter) = Waiter::new()?;
    let mut progress = Progress::new(opts);
    let opened = open::open_every(opts, &poller, &mut waiter, &target, &mut progress)?;
    let open_ms = opened.elapsed.as_secs_f64() * 1000.0;
    let mut engine = Engine::new(opts, &poller, target.ws.is_some(), opened);
    let subscribed = engine.subscribe(&mut waiter, &mut progress);
    let subscribe_ms = match subscribed {
        Ok(d) => d.as_secs_f64() * 1000.0,
        Err(e) => {
            engine.abandon();
            progress.finish();
            return Err(e);
        }
    };
    progress.line(&format!(
        "{} and {} open in {open_ms:.0} ms, subscribed to '{TOPIC}' in {subscribe_ms:.0} ms; running {}",
        count_of(opts.subscribers, "subscriber", "subscribers"),
        count_of(opts.publishers, "publisher", "publishers"),
        plan(opts, "publishes"),
    ));
    engine.measure(&mut waiter, &mut progress)
}

impl<'a> Engine<'a> {
    fn new(opts: &'a Options, poller: &'a Poller, ws: bool, opened: OpenResult) -> Self {
        let mut engine = Engine {
            opts,
            poller,
            ws,
            conns: Vec::with_capacity(opts.conns),
            payloads: Payloads::new(opts.size),
            tally: Tally::default(),
            rbuf: vec![0u8; 256 * 1024],
            scratch: Vec::new(),
            base: Instant::now(),
            pace: None,
            budget: opts.count.unwrap_or(u64::MAX),
            sending: false,
            live_subs: opts.subscribers,
            live_pubs: opts.publishers,
            errors: Errors::default(),
            unclean: 0,
            measured: None,
        };
        let mut leftovers = Vec::new();
        for (i, c) in opened.conns.into_iter().flatten().enumerate() {
            let role = match i.checked_sub(opts.subscribers) {
                None => Role::Sub(Subscriber::new(opts.publishers)),
                Some(id) => Role::Pub(Publisher {
                    id,
                    sent: 0,
                    acked: 0,
                }),
            };
            let rx = Rx::new(ws, rx::max_line(opts.size));
            leftovers.push(c.leftover);
            engine
                .conns
                .push(Conn::new(c.sock, c.registration, rx, role));
        }
        // Bytes right behind the handshake response: a reply before any request is an
        // error like any other.
        for (i, mut leftover) in leftovers.into_iter().enumerate() {
            if !leftover.is_empty() {
                engine.process(i, &mut leftover, Instant::now());
            }
        }
        engine
    }

    fn now_ns(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.base).as_nanos() as u64
    }

    /// Every subscriber subscribes; returns once all have their OK.
    fn subscribe(
        &mut self,
        waiter: &mut Waiter,
        progress: &mut Progress,
    ) -> Result<Duration, String> {
        let start = Instant::now();
        for i in 0..self.opts.subscribers {
            if let Some(c) = self.conns.get_mut(i) {
                publisher::write_sub(self.ws, &mut c.out);
            }
            self.flush(i);
        }
        let deadline = start + self.opts.connect_timeout;
        while self.tally.subscribed < self.opts.subscribers {
            if let Some(e) = &self.errors.first {
                return Err(e.clone());
            }
            if waiter.interrupted() {
                return Err("interrupted while subscribing".into());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "{} of {} subscribers had the OK to 'SUB {TOPIC}' within {:.1} s",
                    self.tally.subscribed,
                    self.opts.subscribers,
                    self.opts.connect_timeout.as_secs_f64()
                ));
            }
            let (done, all) = (self.tally.subscribed, self.opts.subscribers);
            progress.status(|| format!("subscribing: {done}/{all} OK"));
            self.turn(waiter, deadline.min(now + STATUS_EVERY))?;
        }
        Ok(start.elapsed())
    }

    /// One wait and the readiness it reported.
    fn turn(&mut self, waiter: &mut Waiter, wake: Instant) -> Result<(), String> {
        for ev in waiter.wait(self.poller, wake)? {
            if ev.writable {
                self.flush(ev.key);
            }
            if ev.readable {
                self.read(ev.key);
            }
        }
        Ok(())
    }

    /// Takes every connection out of the poller (the run failed before measuring).
    fn abandon(&mut self) {
        for c in self.conns.iter_mut().filter(|c| c.live()) {
            poll::remove(self.poller, &c.sock);
            c.phase = Phase::Dead;
        }
    }
}
