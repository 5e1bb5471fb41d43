//! `GET /metrics` (Prometheus text format 0.0.4) and `GET /health`, for monitoring
//! and for balancers: the loop counts per listener, close codes and turn times here;
//! the rest comes from the counters `STATS` reports.
//!
//! Names follow Prometheus' conventions: a `sockloop_` prefix, base units (bytes,
//! seconds), `_total` on counters, labels for what varies (`transport`, `service`,
//! `address`; `reason`; `code`).

use super::{Service, Shared};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// What one listener has taken.
#[derive(Clone, Debug)]
pub struct ListenerCounts {
    pub transport: &'static str,
    pub address: String,
    pub service: Service,
    /// Connections accepted (TCP, Unix), datagrams received (UDP).
    pub accepted: u64,
    pub open: u64,
}

/// Upper bounds of the turn-time histogram, in microseconds.
const TURN_BOUNDS_US: [u64; 8] = [10, 50, 100, 500, 1_000, 5_000, 20_000, 100_000];

/// How long the loop's turns took (from the end of the wait to the next wait).
#[derive(Clone, Debug, Default)]
pub struct TurnTimes {
    pub count: u64,
    sum_us: u64,
    /// Turns at most each bound (not cumulative; summed when written).
    buckets: [u64; TURN_BOUNDS_US.len()],
}

impl TurnTimes {
    pub fn record(&mut self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        if let Some(i) = TURN_BOUNDS_US.iter().position(|&b| us <= b) {
            self.buckets[i] += 1;
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// By listener index.
    pub listeners: Vec<ListenerCounts>,
    /// WebSocket close codes, received from peers and sent by us (1005 for a Close
    /// without a code).
    pub closes_received: BTreeMap<u16, u64>,
    pub closes_sent: BTreeMap<u16, u64>,
    pub turns: TurnTimes,
    /// The server is shutting down: `/health` says 503 so balancers move on.
    pub draining: bool,
    /// `--broker`: its URL, and how it goes.
    pub broker_url: Option<String>,
    pub broker: super::broker::Counts,
}

impl Metrics {
    pub fn close_received(&mut self, code: Option<u16>) {
        *self
            .closes_received
            .entry(code.unwrap_or(1005))
            .or_default() += 1;
    }

    pub fn close_sent(&mut self, code: u16) {
        *self.closes_sent.entry(code).or_default() += 1;
    }
}

/// `GET /health`: status and body.
pub fn health(shared: &Shared) -> (u16, &'static str) {
    match shared.metrics.draining {
        true => (503, "draining: shutting down\n"),
        false => (200, "ok\n"),
    }
}

/// The whole `/metrics` page.
pub fn write(shared: &Shared) -> String {
    let mut out = String::with_capacity(4096);
    let m = &shared.metrics;
    let stats = shared.stats();
    gauge(
        &mut out,
        "uptime_seconds",
        "Seconds since the server started.",
        stats.uptime_secs,
    );
    per_listener(&mut out, m);
    let counters: [(&str, &str, u64); 5] = [
        (
            "received_bytes_total",
            "Bytes read from peers.",
            stats.bytes_in,
        ),
        (
            "sent_bytes_total",
            "Bytes written to peers.",
            stats.bytes_out,
        ),
        (
            "requests_total",
            "Lines, datagrams and WebSocket messages answered.",
            stats.requests,
        ),
        (
            "published_total",
            "Chat lines and publishes fanned out.",
            stats.published,
        ),
        (
            "delivered_total",
            "Fan-out deliveries queued for recipients.",
            stats.delivered,
        ),
    ];
    for (name, help, v) in counters {
        counter(&mut out, name, help, v);
    }
    labelled(
        &mut out,
        "refused_total",
        "counter",
        "Connections and messages refused, by limit.",
        "reason",
        &[
            ("max_conns", stats.refused_max_conns),
            ("per_ip", stats.refused_per_ip),
            ("memory_full", stats.refused_memory),
            ("memory_growth", stats.memory_refused),
            ("tls_handshakes", stats.refused_tls_handshakes),
            ("publish_rate", stats.publish_throttled),
            ("fanout_queue_full", stats.fanout_dropped),
            ("udp_reply_too_big", stats.udp_too_big),
            ("udp_reflection", stats.udp_dropped),
        ],
    );
    gauge(
        &mut out,
        "tls_handshakes_in_flight",
        "TLS handshakes under way.",
        stats.tls_handshakes,
    );
    gauge(
        &mut out,
        "memory_limit_bytes",
        "The --max-memory budget.",
        stats.memory_limit,
    );
    gauge(
        &mut out,
        "memory_used_bytes",
        "Bytes buffered for peers now.",
        stats.memory_used,
    );
    gauge(
        &mut out,
        "memory_peak_bytes",
        "The most ever buffered for peers.",
        stats.memory_peak,
    );
    close_codes(&mut out, m);
    turns(&mut out, &m.turns);
    if m.broker_url.is_some() {
        broker(&mut out, &m.broker);
    }
    out
}

/// `--broker`: whether Redis is there, and what went through it.
fn broker(out: &mut String, b: &super::broker::Counts) {
    gauge(
        out,
        "broker_up",
        "1 while both Redis connections are up.",
        u64::from(b.up),
    );
    gauge(
        out,
        "broker_subscriptions",
        "Redis channels subscribed: rooms and topics with members here.",
        b.subscriptions,
    );
    let counters: [(&str, &str, u64); 4] = [
        (
            "broker_connects_total",
            "Times the broker connections came up.",
            b.connects,
        ),
        ("broker_sent_total", "Messages published to Redis.", b.sent),
        (
            "broker_received_total",
            "Messages from other processes delivered here.",
            b.received,
        ),
        (
            "broker_unsent_total",
            "Messages said here while Redis was away: not heard elsewhere.",
            b.unsent,
        ),
    ];
    for (name, help, v) in counters {
        counter(out, name, help, v);
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP sockloop_{name} {help}\n# TYPE sockloop_{name} {kind}"
    );
}

fn gauge(out: &mut String, name: &str, help: &str, v: u64) {
    head(out, name, "gauge", help);
    let _ = writeln!(out, "sockloop_{name} {v}");
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    head(out, name, "counter", help);
    let _ = writeln!(out, "sockloop_{name} {v}");
}

fn labelled(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    label: &str,
    values: &[(&str, u64)],
) {
    head(out, name, kind, help);
    for (value, v) in values {
        let _ = writeln!(out, "sockloop_{name}{{{label}=\"{value}\"}} {v}");
    }
}

fn per_listener(out: &mut String, m: &Metrics) {
    let labels = |l: &ListenerCounts| {
        format!(
            "transport=\"{}\",service=\"{}\",address=\"{}\"",
            l.transport,
            l.service,
            escape(&l.address)
        )
    };
    head(
        out,
        "connections_open",
        "gauge",
        "Open connections, by listener.",
    );
    for l in m.listeners.iter().filter(|l| l.transport != "udp") {
        let _ = writeln!(out, "sockloop_connections_open{{{}}} {}", labels(l), l.open);
    }
    head(
        out,
        "accepted_total",
        "counter",
        "Connections accepted (datagrams received, on UDP), by listener.",
    );
    for l in &m.listeners {
        let _ = writeln!(
            out,
            "sockloop_accepted_total{{{}}} {}",
            labels(l),
            l.accepted
        );
    }
}

fn close_codes(out: &mut String, m: &Metrics) {
    head(
        out,
        "websocket_closes_total",
        "counter",
        "WebSocket Close frames, by direction and code.",
    );
    for (direction, codes) in [("received", &m.closes_received), ("sent", &m.closes_sent)] {
        for (code, n) in codes {
            let _ = writeln!(
                out,
                "sockloop_websocket_closes_total{{direction=\"{direction}\",code=\"{code}\"}} {n}"
            );
        }
    }
}

fn turns(out: &mut String, t: &TurnTimes) {
    head(
        out,
        "loop_turn_seconds",
        "histogram",
        "Time the loop spent on each turn, from the end of one wait to the next.",
    );
    let mut below = 0;
    for (bound, n) in TURN_BOUNDS_US.iter().zip(t.buckets) {
        below += n;
        let secs = *bound as f64 / 1e6;
        let _ = writeln!(
            out,
            "sockloop_loop_turn_seconds_bucket{{le=\"{secs}\"}} {below}"
        );
    }
    let _ = writeln!(
        out,
        "sockloop_loop_turn_seconds_bucket{{le=\"+Inf\"}} {}",
        t.count
    );
    let _ = writeln!(
        out,
        "sockloop_loop_turn_seconds_sum {}",
        t.sum_us as f64 / 1e6
    );
    let _ = writeln!(out, "sockloop_loop_turn_seconds_count {}", t.count);
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_family_and_counts_turns() {
        let mut shared = Shared::seeded(1024, 1);
        shared.metrics.listeners.push(ListenerCounts {
            transport: "unix",
            address: "/tmp/a \"b\".sock".into(),
            service: Service::Cmd,
            accepted: 3,
            open: 1,
        });
        shared.metrics.close_received(None);
        shared.metrics.close_sent(1001);
        for us in [5, 60, 2_000_000] {
            shared.metrics.turns.record(Duration::from_micros(us));
        }
        let page = write(&shared);
        assert!(page.contains(
            "sockloop_connections_open{transport=\"unix\",service=\"cmd\",address=\"/tmp/a \\\"b\\\".sock\"} 1"
        ));
        assert!(
            page.contains(
                "sockloop_websocket_closes_total{direction=\"received\",code=\"1005\"} 1"
            )
        );
        assert!(
            page.contains("sockloop_websocket_closes_total{direction=\"sent\",code=\"1001\"} 1")
        );
        assert!(page.contains("sockloop_loop_turn_seconds_bucket{le=\"0.00001\"} 1"));
        assert!(page.contains("sockloop_loop_turn_seconds_bucket{le=\"0.0001\"} 2"));
        assert!(page.contains("sockloop_loop_turn_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(page.contains("sockloop_refused_total{reason=\"per_ip\"} 0"));
        assert_eq!(health(&shared).0, 200);
        shared.metrics.draining = true;
        assert_eq!(health(&shared).0, 503);
    }
}
