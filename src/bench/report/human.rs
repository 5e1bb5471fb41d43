//! The report for people: a heading, then one labelled line per figure, the label
//! padded to one column so that runs pasted one under another line up.

use super::{FanoutFigures, IdleFigures, Mode, Report};
use crate::bench::stats::{human_us, thousands};
use crate::bench::sys;
use std::fmt::Write as _;

impl Report {
    /// The summary for people.
    pub fn human(&self) -> String {
        let mut s = String::new();
        match (&self.idle, &self.fanout) {
            (Some(i), _) => {
                self.heading(&mut s);
                self.idle_lines(&mut s, i);
            }
            (None, Some(f)) => self.fanout_lines(&mut s, f),
            (None, None) => {
                self.heading(&mut s);
                self.rate_lines(&mut s);
            }
        }
        self.error_line(&mut s);
        self.cpu_lines(&mut s);
        s
    }

    /// "sockloop bench ws URL: 10 connections × depth 16, 64 B text messages".
    fn heading(&self, s: &mut String) {
        let what = match self.mode {
            Mode::Ws => format!(
                "{} B {} messages",
                self.size,
                if self.binary { "binary" } else { "text" }
            ),
            Mode::Tcp => format!("{} B lines", self.size),
            Mode::Udp => format!("{} B datagrams", self.size),
            Mode::Idle => format!("one {} B echo each", self.size),
            Mode::Fanout => format!("{} B payloads", self.size),
        };
        let conns = match (self.mode, self.conns) {
            (Mode::Udp, 1) => "socket",
            (Mode::Udp, _) => "sockets",
            (_, 1) => "connection",
            _ => "connections",
        };
        let depth = match self.mode {
            Mode::Idle => String::new(),
            _ => format!(" × depth {}", self.depth),
        };
        let interrupted = if self.interrupted {
            " (interrupted)"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "sockloop bench {} {}: {} {conns}{depth}, {what}{interrupted}",
            self.mode.name(),
            self.target,
            self.conns,
        );
    }

    /// Throughput, latency and (udp) loss of a closed-loop run.
    fn rate_lines(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "  messages   {} in {:.2} s: {} msg/s, {:.2} MB/s each way",
            thousands(self.messages),
            self.elapsed.as_secs_f64(),
            thousands(self.msgs_per_s().round() as u64),
            self.mb_per_s()
        );
        self.latency_line(s);
        if self.mode == Mode::Udp {
            let _ = writeln!(
                s,
                "  loss       {} lost ({:.3} %), {} late",
                self.lost,
                100.0 * self.lost as f64 / (self.messages + self.lost).max(1) as f64,
                self.late
            );
        }
    }

    fn latency_line(&self, s: &mut String) {
        let l = &self.latency;
        let _ = writeln!(
            s,
            "  latency    p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}",
            human_us(l.p50),
            human_us(l.p90),
            human_us(l.p99),
            human_us(l.p999),
            human_us(l.max),
            human_us(l.mean)
        );
    }

    /// `bench fanout`: its heading, deliveries, publishes, latency and drops.
    fn fanout_lines(&self, s: &mut String, f: &FanoutFigures) {
        let pace = match f.rate {
            Some(r) => format!(" at {r} publishes/s each"),
            None => format!(" × depth {}", self.depth),
        };
        let _ = writeln!(
            s,
            "sockloop bench fanout {}: {} subscribers, {} publisher{}{pace}, {} B payloads{}",
            self.target,
            f.subscribers,
            f.publishers,
            if f.publishers == 1 { "" } else { "s" },
            self.size,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            },
        );
        let _ = writeln!(
            s,
            "  deliveries {} in {:.2} s: {}/s over all subscribers",
            thousands(self.messages),
            self.elapsed.as_secs_f64(),
            thousands(self.msgs_per_s().round() as u64),
        );
        let per_s = self.publishes_per_s().unwrap_or(0.0);
        let _ = writeln!(
            s,
            "  publishes  {} answered: {}/s",
            thousands(f.publishes),
            thousands(per_s.round() as u64)
        );
        self.latency_line(s);
        let _ = writeln!(
            s,
            "  drops      {} announced (DROPPED), {} missing from the sequences",
            thousands(f.dropped),
            thousands(f.gaps)
        );
    }

    /// Opening, holding and memory figures of `bench idle`.
    fn idle_lines(&self, s: &mut String, i: &IdleFigures) {
        let _ = writeln!(
            s,
            "  opened     {} in {:.2} s ({:.0}/s), {} failed",
            thousands(i.opened),
            i.open_secs,
            i.opened as f64 / i.open_secs.max(1e-9),
            i.failed
        );
        let _ = writeln!(
            s,
            "  held       {} for {:.1} s, {} dropped by the server; {} closed cleanly",
            thousands(i.held),
            i.hold_secs,
            i.dropped,
            thousands(i.closed_clean)
        );
        if self.server_pid.is_some() {
            let server = memory(
                i.server_rss_before,
                i.server_rss_held,
                i.server_bytes_per_conn(),
            );
            let _ = writeln!(s, "  server rss {server}");
        }
        let ours = memory(
            i.client_rss_before,
            i.client_rss_held,
            i.client_bytes_per_conn(),
        );
        let _ = writeln!(s, "  our rss    {ours}");
        let l = &self.latency;
        let _ = writeln!(
            s,
            "  echo       p50 {}  p99 {}  max {}",
            human_us(l.p50),
            human_us(l.p99),
            human_us(l.max)
        );
    }

    fn error_line(&self, s: &mut String) {
        let _ = write!(s, "  errors     {}", self.errors);
        if let Some(e) = &self.first_error {
            let _ = write!(s, " (first: {e})");
        }
        if self.unclean_closes > 0 {
            let _ = write!(s, "; {} closed uncleanly", self.unclean_closes);
        }
        s.push('\n');
    }

    /// Our CPU use (and whether it was the limit), and the server's if watched.
    fn cpu_lines(&self, s: &mut String) {
        match self.cpu_pct {
            Some(c) if c >= sys::SATURATED_PCT => {
                let _ = writeln!(
                    s,
                    "  generator  cpu {c:.0}% of one core — SATURATED: the generator may be the \
                     limit, so these figures are a lower bound for the server"
                );
            }
            Some(c) => {
                let _ = writeln!(s, "  generator  cpu {c:.0}% of one core");
            }
            None => {}
        }
        if let (Some(pid), Some(c)) = (self.server_pid, self.server_cpu_pct) {
            let unit = if self.fanout.is_some() {
                "delivery"
            } else {
                "message"
            };
            let per = self.cpu_ns_per_msg(Some(c)).map_or(String::new(), |ns| {
                format!(", {ns:.0} ns of CPU per {unit}")
            });
            let _ = writeln!(s, "  server     cpu {c:.0}% of one core (pid {pid}){per}");
        }
    }
}

/// "10.0 MiB → 14.0 MiB: 2108 bytes per connection", or "unknown".
fn memory(before: Option<u64>, held: Option<u64>, per_conn: Option<f64>) -> String {
    match (before, held, per_conn) {
        (Some(b), Some(h), Some(p)) => format!(
            "{:.1} MiB → {:.1} MiB: {:.0} bytes per connection",
            b as f64 / 1048576.0,
            h as f64 / 1048576.0,
            p
        ),
        _ => "unknown".into(),
    }
}
