//! The state services share across the whole server, and the [`Env`] the `cmd`
//! protocol is answered from: the real clock, a fast random generator and the counters.

use crate::clock::Millis;
use crate::proto::command::{Env, Stats};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Server-wide counters and resources the services read and update.
pub struct Shared {
    pub started: Instant,
    /// The loop's clock at the current turn (read once per turn, after the wait).
    pub now: Millis,
    pub rng: SmallRng,
    /// Connections accepted since start (the `COUNT` / counter service number).
    pub conns_total: u64,
    pub conns_active: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Lines, datagrams and messages answered.
    pub requests: u64,
    /// Connections refused at `--max-conns`.
    pub refused_max_conns: u64,
    /// Connections refused at `--max-conns-per-ip`.
    pub refused_per_ip: u64,
    /// TLS handshakes under way, and connections refused at `--max-tls-handshakes`.
    pub tls_handshakes: u64,
    pub refused_tls_handshakes: u64,
    /// Datagrams answered with an `ERR` because their reply broke the UDP rules.
    pub udp_too_big: u64,
    /// Datagrams dropped unanswered: from a service's port (a reflection loop).
    pub udp_dropped: u64,
    /// `--max-line`.
    pub max_line: usize,
    /// Settings of the web service.
    pub web: super::web::WebConfig,
    pub memory: super::memory::MemoryBudget,
    /// The loop's one compressor for permessage-deflate, made at first use: every
    /// message is compressed on its own, so all connections share it.
    pub deflater: Option<Box<crate::proto::ws::deflate::Deflater>>,
    /// Chat rooms and their people; pub/sub topics and their subscribers.
    pub chat: super::chat::Chat,
    pub pubsub: super::hub::Hub,
    /// What the step being served said to rooms and topics, for the loop to fan out.
    pub outbox: Vec<super::fanout::Publish>,
    /// The connection being served, as the hubs name it.
    pub serving: super::hub::Member,
    /// `--publish-rate`: chat lines and publishes per second per connection (0: no
    /// limit).
    pub publish_rate: u32,
    /// The rate buckets of connections that have published.
    pub rates: std::collections::HashMap<super::hub::Member, super::fanout::Bucket>,
    pub fanout: FanoutCounts,
    /// What `/metrics` reports beyond the counters above.
    pub metrics: super::metrics::Metrics,
    /// Payloads the step being served sends from the read buffer (large echoes).
    pub lend: super::lend::Lend,
}

/// What fan-out did since start, for `STATS`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FanoutCounts {
    pub published: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub throttled: u64,
}

impl Shared {
    pub fn new(settings: super::Settings) -> Self {
        Self {
            started: Instant::now(),
            now: Millis::START,
            // Seeded from the OS once; the numbers are for games and tests, not secrets.
            rng: rand::make_rng(),
            conns_total: 0,
            conns_active: 0,
            bytes_in: 0,
            bytes_out: 0,
            requests: 0,
            refused_max_conns: 0,
            refused_per_ip: 0,
            tls_handshakes: 0,
            refused_tls_handshakes: 0,
            udp_too_big: 0,
            udp_dropped: 0,
            max_line: settings.max_line,
            web: settings.web,
            memory: super::memory::MemoryBudget::new(settings.max_memory),
            deflater: None,
            chat: super::chat::Chat::new(settings.hub),
            pubsub: super::hub::Hub::new(settings.hub),
            outbox: Vec::new(),
            serving: 0,
            publish_rate: settings.publish_rate,
            rates: Default::default(),
            fanout: FanoutCounts::default(),
            metrics: Default::default(),
            lend: Default::default(),
        }
    }

    /// A deterministic generator, for tests.
    pub fn seeded(max_line: usize, seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            ..Self::new(super::Settings {
                max_line,
                ..super::Settings::default()
            })
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            uptime_secs: self.started.elapsed().as_secs(),
            conns_active: self.conns_active,
            conns_total: self.conns_total,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            requests: self.requests,
            refused_max_conns: self.refused_max_conns,
            refused_per_ip: self.refused_per_ip,
            tls_handshakes: self.tls_handshakes,
            refused_tls_handshakes: self.refused_tls_handshakes,
            udp_too_big: self.udp_too_big,
            udp_dropped: self.udp_dropped,
            memory_limit: self.memory.limit() as u64,
            memory_used: self.memory.used() as u64,
            memory_peak: self.memory.peak() as u64,
            memory_refused: self.memory.refused(),
            refused_memory: self.memory.refused_conns(),
            published: self.fanout.published,
            delivered: self.fanout.delivered,
            fanout_dropped: self.fanout.dropped,
            publish_throttled: self.fanout.throttled,
            pid: std::process::id(),
        }
    }
}

/// [`Env`] over the real clock and the shared state.
pub struct ServerEnv<'a> {
    shared: &'a mut Shared,
}

impl<'a> ServerEnv<'a> {
    pub fn new(shared: &'a mut Shared) -> Self {
        Self { shared }
    }
}

impl Env for ServerEnv<'_> {
    fn unix_time(&mut self) -> i64 {
        unix_now()
    }

    fn random(&mut self, min: i64, max: i64) -> i64 {
        self.shared.rng.random_range(min..=max)
    }

    fn client_number(&mut self) -> u64 {
        self.shared.conns_total
    }

    fn stats(&mut self) -> Stats {
        self.shared.stats()
    }
}

/// Current Unix time in whole seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
