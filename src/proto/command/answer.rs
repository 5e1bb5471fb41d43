//! Answering a parsed request: the reply line's text for each command, from the clock,
//! the random source and the counters the server provides through [`Env`]. `TIME` is an
//! RFC 3339 §5.6 `date-time` in UTC.

use std::io::Write;

use super::{CommandError, Request, parse, write_error};

/// The one-line answer to `HELP`.
pub const HELP: &str = "commands: HELP | ECHO <text> | TIME | TIMESTAMP | RANDOM [MIN MAX] \
     | RANDOMS N [MIN MAX] | COUNT | ADD A B | SUB A B | STATS | STOP | QUIT";

/// Numbers a `STATS` reply (and the HTTP `/stats` page) reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub uptime_secs: u64,
    pub conns_active: u64,
    pub conns_total: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub requests: u64,
    pub refused_max_conns: u64,
    pub refused_per_ip: u64,
    /// TLS handshakes under way; connections refused at `--max-tls-handshakes`.
    pub tls_handshakes: u64,
    pub refused_tls_handshakes: u64,
    pub udp_too_big: u64,
    pub udp_dropped: u64,
    /// The memory budget (`--max-memory`), what is held now and the most ever held.
    pub memory_limit: u64,
    pub memory_used: u64,
    pub memory_peak: u64,
    /// Buffers refused growth (WebSocket 1013s, connections shed) and new connections
    /// turned away because the budget was full.
    pub memory_refused: u64,
    pub refused_memory: u64,
    /// Chat lines and publishes fanned out, their deliveries, the deliveries dropped
    /// for slow subscribers, and the publishes refused at `--publish-rate`.
    pub published: u64,
    pub delivered: u64,
    pub fanout_dropped: u64,
    pub publish_throttled: u64,
    /// The process that answered (one of several with `--workers`).
    pub pid: u32,
}

/// Writes `stats` as space-separated `key=value` pairs (no newline).
pub fn write_stats(stats: &Stats, out: &mut Vec<u8>) {
    let _ = write!(
        out,
        "uptime={} conns_active={} conns_total={} bytes_in={} bytes_out={} requests={} \
         refused_max_conns={} refused_per_ip={} tls_handshakes={} refused_tls_handshakes={} \
         udp_too_big={} udp_dropped={} \
         memory_limit={} memory_used={} memory_peak={} memory_refused={} refused_memory={} \
         published={} delivered={} fanout_dropped={} publish_throttled={} pid={}",
        stats.uptime_secs,
        stats.conns_active,
        stats.conns_total,
        stats.bytes_in,
        stats.bytes_out,
        stats.requests,
        stats.refused_max_conns,
        stats.refused_per_ip,
        stats.tls_handshakes,
        stats.refused_tls_handshakes,
        stats.udp_too_big,
        stats.udp_dropped,
        stats.memory_limit,
        stats.memory_used,
        stats.memory_peak,
        stats.memory_refused,
        stats.refused_memory,
        stats.published,
        stats.delivered,
        stats.fanout_dropped,
        stats.publish_throttled,
        stats.pid
    );
}

/// What the server provides to answer requests: time, randomness and counters.
pub trait Env {
    /// Current Unix time in seconds.
    fn unix_time(&mut self) -> i64;
    /// A uniformly drawn integer in `min..=max` (the caller guarantees `min <= max`).
    fn random(&mut self, min: i64, max: i64) -> i64;
    /// Connections accepted so far, this one included.
    fn client_number(&mut self) -> u64;
    fn stats(&mut self) -> Stats;
}

/// Whether the connection goes on after the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    Continue,
    Close,
}

/// Parses and answers one request line: appends exactly one line (ending in `\n`) to
/// `out` and says whether the connection goes on.
pub fn respond(line: &[u8], env: &mut impl Env, out: &mut Vec<u8>) -> After {
    let after = match parse(line) {
        Ok(request) => answer(&request, env, out),
        Err(err) => {
            write_error(&err, out);
            After::Continue
        }
    };
    out.push(b'\n');
    after
}

/// Writes the reply to a parsed request (no newline).
pub fn answer(request: &Request<'_>, env: &mut impl Env, out: &mut Vec<u8>) -> After {
    match *request {
        Request::Help => out.extend_from_slice(HELP.as_bytes()),
        Request::Echo(text) => out.extend_from_slice(text),
        Request::Time => {
            let mut s = String::with_capacity(20);
            crate::proto::rfc3339::write_utc(&mut s, env.unix_time());
            out.extend_from_slice(s.as_bytes());
        }
        Request::Timestamp => {
            let _ = write!(out, "{}", env.unix_time());
        }
        Request::Random { min, max } => {
            let _ = write!(out, "{}", env.random(min, max));
        }
        Request::Randoms { count, min, max } => {
            for i in 0..count {
                if i > 0 {
                    out.push(b' ');
                }
                let _ = write!(out, "{}", env.random(min, max));
            }
        }
        Request::Count => {
            let _ = write!(out, "Client number: {}", env.client_number());
        }
        Request::Add(a, b) => match a.checked_add(b) {
            Some(r) => {
                let _ = write!(out, "{r}");
            }
            None => write_error(&CommandError::Overflow { op: '+', a, b }, out),
        },
        Request::Sub(a, b) => match a.checked_sub(b) {
            Some(r) => {
                let _ = write!(out, "{r}");
            }
            None => write_error(&CommandError::Overflow { op: '-', a, b }, out),
        },
        Request::Stats => write_stats(&env.stats(), out),
        Request::Quit => {
            out.extend_from_slice(b"BYE");
            return After::Close;
        }
    }
    After::Continue
}
