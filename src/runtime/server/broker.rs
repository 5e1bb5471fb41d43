//! The Redis connections of `--broker` (service/broker.rs has what travels on
//! them): two more sockets in the loop, connected without blocking it, and
//! reconnected with a back-off when Redis goes away.
//!
//! - the subscriber connection says `SUBSCRIBE`/`UNSUBSCRIBE` as rooms and topics
//!   appear and go away here, and reads `message` pushes, delivered to the local
//!   members like a local publish (but not published again);
//! - the publisher connection says `PUBLISH channel envelope` for everything said
//!   here, and reads the replies (each the number of processes that heard it).
//!
//! While Redis is away, what is said here still reaches the members here; what other
//! processes say is not heard, and what is said here does not reach them (counted as
//! `unsent` in /metrics). Nothing is queued for later: a chat line is news, and a
//! pub/sub message Redis never had is gone for every subscriber alike.

use super::Server;
use crate::client::connect::{finish_connect, start_connect};
use crate::clock::Millis;
use crate::proto::Parsed;
use crate::proto::resp::{self, SubscriberEvent};
use crate::runtime::poll::{self, Interest, Registration};
use crate::runtime::timers::Timer;
use crate::service::broker::{self, Subscriptions};
use crate::service::fanout::{HubKind, Publish};
use crate::{debug, error, info};
use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Poller keys of the two connections, below the hand-over channel's.
pub const SUBSCRIBER_KEY: usize = super::upgrade::CHANNEL_KEY - 1;
pub const PUBLISHER_KEY: usize = SUBSCRIBER_KEY - 1;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Output for Redis beyond this (it is not reading) is dropped and counted.
const MAX_OUTPUT: usize = 1 << 20;

/// Where Redis is.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    pub url: String,
    pub addr: SocketAddr,
}

#[derive(Default)]
struct Side {
    stream: Option<TcpStream>,
    connected: bool,
    registration: Option<Registration>,
    input: Vec<u8>,
    output: Vec<u8>,
}

pub struct Broker {
    config: BrokerConfig,
    /// This process, as envelopes name it.
    origin: u64,
    subscriber: Side,
    publisher: Side,
    subscriptions: Subscriptions,
    /// The hubs' change counters when the subscriptions were last brought up to date.
    seen: Option<(u64, u64)>,
    backoff: Duration,
    retrying: bool,
    /// Logged once per outage, not once per attempt.
    told_down: bool,
}

impl Broker {
    pub fn new(config: BrokerConfig, origin: u64) -> Broker {
        Broker {
            config,
            origin,
            subscriber: Side::default(),
            publisher: Side::default(),
            subscriptions: Subscriptions::default(),
            seen: None,
            backoff: FIRST_BACKOFF,
            retrying: false,
            told_down: false,
        }
    }

    fn up(&self) -> bool {
        self.subscriber.connected && self.publisher.connected
    }
}

impl Server {
    /// Starts both connections (at start, and at each retry).
    pub(super) fn broker_connect(&mut self) {
        let Some(b) = self.broker.as_mut() else {
            return;
        };
        b.retrying = false;
        for (key, side) in [
            (SUBSCRIBER_KEY, &mut b.subscriber),
            (PUBLISHER_KEY, &mut b.publisher),
        ] {
            if side.stream.is_some() {
                continue;
            }
            match start_connect(b.config.addr) {
                Ok(stream) => {
                    match Registration::add(&self.poller, &stream, key, Interest::WRITE) {
                        Ok(r) => side.registration = Some(r),
                        Err(e) => error!("broker: cannot watch the connection: {e}"),
                    }
                    side.stream = Some(stream);
                }
                Err(e) => {
                    debug!("broker {}: {e}", b.config.url);
                }
            }
        }
        if b.subscriber.stream.is_none() || b.publisher.stream.is_none() {
            self.broker_down("cannot connect");
        }
    }

    /// A broker socket is ready.
    pub(super) fn on_broker(&mut self, key: usize) {
        let Some(b) = self.broker.as_mut() else {
            return;
        };
        let side = match key {
            SUBSCRIBER_KEY => &mut b.subscriber,
            _ => &mut b.publisher,
        };
        let Some(stream) = &side.stream else { return };
        if !side.connected {
            match finish_connect(stream) {
                Ok(true) => side.connected = true,
                Ok(false) => return,
                Err(e) => return self.broker_down(&e.to_string()),
            }
            if b.up() {
                b.backoff = FIRST_BACKOFF;
                b.told_down = false;
                self.shared.metrics.broker.up = true;
                self.shared.metrics.broker.connects += 1;
                info!("broker {}: connected", b.config.url);
                b.seen = None; // subscribe to everything anew
            }
        }
        if let Err(why) = self.broker_read(key) {
            return self.broker_down(&why);
        }
        self.broker_sync();
    }

    /// Reads what Redis sent on one connection and acts on it.
    fn broker_read(&mut self, key: usize) -> Result<(), String> {
        let Some(b) = self.broker.as_mut() else {
            return Ok(());
        };
        let side = match key {
            SUBSCRIBER_KEY => &mut b.subscriber,
            _ => &mut b.publisher,
        };
        let Some(mut stream) = side.stream.as_ref() else {
            return Ok(());
        };
        loop {
            match stream.read(&mut self.read_buf) {
                Ok(0) => return Err("Redis closed the connection".into()),
                Ok(n) => side.input.extend_from_slice(&self.read_buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let limits = resp::Limits::default();
        let mut used = 0;
        let mut heard = Vec::new();
        loop {
            let rest = side.input.get(used..).unwrap_or_default();
            match resp::parse(rest, &limits).map_err(|e| format!("from Redis: {e}"))? {
                Parsed::Incomplete => break,
                Parsed::Complete { value, consumed } => {
                    used += consumed;
                    if key == PUBLISHER_KEY {
                        if let resp::Value::Error(e) = value {
                            error!(
                                "broker: Redis refused a publish: {}",
                                String::from_utf8_lossy(e)
                            );
                        }
                        continue;
                    }
                    match resp::subscriber_event(&value) {
                        Some(SubscriberEvent::Message { channel, payload }) => {
                            if let Some(p) = broker::open(b.origin, channel, payload) {
                                heard.push(p);
                            }
                        }
                        Some(SubscriberEvent::Error(e)) => {
                            return Err(format!("Redis: {}", String::from_utf8_lossy(e)));
                        }
                        Some(_) => {}
                        None => debug!("broker: unexpected reply {value:?}"),
                    }
                }
            }
        }
        side.input.drain(..used);
        self.shared.metrics.broker.received += heard.len() as u64;
        for publish in heard {
            self.fan_out(&publish);
        }
        Ok(())
    }

    /// After local publishes are fanned out: the same, to Redis.
    pub(super) fn broker_publish(&mut self, publish: &Publish) {
        let Some(b) = self.broker.as_mut() else {
            return;
        };
        let counts = &mut self.shared.metrics.broker;
        if !b.up() || b.publisher.output.len() > MAX_OUTPUT {
            counts.unsent += 1;
            return;
        }
        let channel = broker::channel(publish.hub, &publish.topic);
        let envelope = broker::envelope(b.origin, &publish.body);
        resp::write_command(
            &mut b.publisher.output,
            &[b"PUBLISH", channel.as_bytes(), &envelope],
        );
        counts.sent += 1;
    }

    /// Once per turn: subscriptions brought up to date if rooms or topics came or
    /// went, and what is queued for Redis written.
    pub(super) fn broker_sync(&mut self) {
        let Some(b) = self.broker.as_mut() else {
            return;
        };
        if !b.up() {
            return;
        }
        let now = (
            self.shared.chat.rooms().changes(),
            self.shared.pubsub.changes(),
        );
        if b.seen != Some(now) {
            b.seen = Some(now);
            let mut wanted = BTreeSet::new();
            for room in self.shared.chat.rooms().names() {
                wanted.insert(broker::channel(HubKind::Chat, room));
            }
            for topic in self.shared.pubsub.names() {
                wanted.insert(broker::channel(HubKind::PubSub, topic));
            }
            let (add, drop) = b.subscriptions.update(wanted);
            for (verb, names) in [(&b"SUBSCRIBE"[..], add), (b"UNSUBSCRIBE", drop)] {
                if names.is_empty() {
                    continue;
                }
                let mut args: Vec<&[u8]> = vec![verb];
                args.extend(names.iter().map(|n| n.as_bytes()));
                resp::write_command(&mut b.subscriber.output, &args);
            }
            self.shared.metrics.broker.subscriptions = b.subscriptions.len() as u64;
        }
        let failed = flush(&mut b.subscriber, &self.poller, SUBSCRIBER_KEY)
            .and_then(|()| flush(&mut b.publisher, &self.poller, PUBLISHER_KEY));
        if let Err(e) = failed {
            self.broker_down(&e.to_string());
        }
    }

    /// Either connection failed: drop both and try again after the back-off.
    fn broker_down(&mut self, why: &str) {
        let stopping = self.shutting_down();
        let Some(b) = self.broker.as_mut() else {
            return;
        };
        for side in [&mut b.subscriber, &mut b.publisher] {
            if let Some(stream) = side.stream.take() {
                poll::remove(&self.poller, &stream);
            }
            *side = Side::default();
        }
        b.subscriptions.forget();
        self.shared.metrics.broker.up = false;
        self.shared.metrics.broker.subscriptions = 0;
        if b.retrying || stopping {
            return;
        }
        if !b.told_down {
            b.told_down = true;
            error!(
                "broker {}: {why}; rooms and topics are this process's alone until it is back \
                 (retrying, up to every {} s)",
                b.config.url,
                MAX_BACKOFF.as_secs()
            );
        }
        b.retrying = true;
        let at = self.shared.now.after(b.backoff);
        b.backoff = (b.backoff * 2).min(MAX_BACKOFF);
        self.timers.push(at, Timer::BrokerRetry);
    }

    pub(super) fn on_broker_retry(&mut self, _at: Millis) {
        if !self.shutting_down() {
            self.broker_connect();
        }
    }
}

/// Writes what the kernel takes; watches for writability while more is queued.
fn flush(side: &mut Side, poller: &polling::Poller, key: usize) -> io::Result<()> {
    let Some(mut stream) = side.stream.as_ref() else {
        return Ok(());
    };
    if !side.connected {
        return Ok(());
    }
    while !side.output.is_empty() {
        match stream.write(&side.output) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                side.output.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let wanted = Interest::new(true, !side.output.is_empty());
    if let Some(r) = side.registration.as_mut() {
        r.set(poller, &stream, key, wanted)?;
    }
    Ok(())
}
