//! The report as one JSON object, for scripts (`benches/compare.sh` reads its fields
//! with `sed`, `tests/bench_cli.rs` by key), and the small writer it is built with.
//!
//! The writer exists so that quoting, commas and `null` are decided in one place
//! instead of in every format string; it knows only what the report needs: one
//! object of strings, integers, fixed-point numbers, booleans, nulls and nested
//! objects. Field order is the order of the calls, and scripts depend on it staying
//! put (they take the first `"p50":`, say), so new fields go at the end.

use super::{FanoutFigures, IdleFigures, Report};
use crate::bench::stats::Summary;
use std::fmt::Write as _;

/// Writes one JSON object into `out`, its fields written by `fill`.
pub fn object(out: &mut String, fill: impl FnOnce(&mut Object<'_>)) {
    out.push('{');
    fill(&mut Object { out, empty: true });
    out.push('}');
}

/// The fields of an object being written.
pub struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl Object<'_> {
    /// Starts the field `key`; keys are our own identifiers, never escaped.
    fn key(&mut self, key: &str) -> &mut String {
        debug_assert!(
            !key.contains(['"', '\\']),
            "a key that needs escaping: {key}"
        );
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        let _ = write!(self.out, "\"{key}\":");
        self.out
    }

    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        let out = self.key(key);
        string(out, value);
        self
    }

    pub fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    pub fn uint(&mut self, key: &str, value: u64) -> &mut Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    pub fn opt_uint(&mut self, key: &str, value: Option<u64>) -> &mut Self {
        match value {
            Some(v) => self.uint(key, v),
            None => self.null(key),
        }
    }

    /// A number with `decimals` digits after the point. JSON has no NaN or infinity,
    /// so those are written as `null`, like a figure that could not be measured.
    pub fn num(&mut self, key: &str, value: f64, decimals: usize) -> &mut Self {
        self.opt_num(key, Some(value), decimals)
    }

    pub fn opt_num(&mut self, key: &str, value: Option<f64>, decimals: usize) -> &mut Self {
        let out = self.key(key);
        match value.filter(|v| v.is_finite()) {
            Some(v) => {
                let _ = write!(out, "{v:.decimals$}");
            }
            None => out.push_str("null"),
        }
        self
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key).push_str("null");
        self
    }

    /// A nested object, its fields written by `fill`.
    pub fn object(&mut self, key: &str, fill: impl FnOnce(&mut Object<'_>)) -> &mut Self {
        object(self.key(key), fill);
        self
    }
}

/// `text` as a JSON string: quotes, backslashes and control characters escaped
/// (RFC 8259 §7); everything else, non-ASCII included, as it is.
fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Report {
    /// One JSON object, for scripts.
    pub fn json(&self) -> String {
        let mut s = String::with_capacity(1024);
        object(&mut s, |o| {
            self.json_run(o);
            o.object("latency_us", |o| latency(o, &self.latency));
            self.json_outcome(o);
            match &self.idle {
                Some(i) => o.object("idle", |o| idle(o, i)),
                None => o.null("idle"),
            };
            match &self.fanout {
                Some(f) => o.object("fanout", |o| self.json_fanout(o, f)),
                None => o.null("fanout"),
            };
        });
        s
    }

    /// What was run and how fast it went.
    fn json_run(&self, o: &mut Object<'_>) {
        o.str("mode", self.mode.name())
            .str("target", &self.target)
            .uint("conns", self.conns as u64)
            .uint("size", self.size as u64)
            .uint("depth", self.depth as u64)
            .bool("binary", self.binary)
            .num("elapsed_s", self.elapsed.as_secs_f64(), 6)
            .uint("messages", self.messages)
            .num("msgs_per_s", self.msgs_per_s(), 1)
            .num("mb_per_s", self.mb_per_s(), 3);
    }

    /// Errors, losses, CPU and the verdict.
    fn json_outcome(&self, o: &mut Object<'_>) {
        o.uint("errors", self.errors)
            .opt_str("first_error", self.first_error.as_deref())
            .uint("lost", self.lost)
            .uint("late", self.late)
            .uint("unclean_closes", self.unclean_closes)
            .opt_num("cpu_pct", self.cpu_pct, 3)
            .opt_num("cpu_ns_per_msg", self.cpu_ns_per_msg(self.cpu_pct), 3)
            .bool("saturated", self.saturated())
            .opt_uint("server_pid", self.server_pid.map(u64::from))
            .opt_num("server_cpu_pct", self.server_cpu_pct, 3)
            .opt_num(
                "server_cpu_ns_per_msg",
                self.cpu_ns_per_msg(self.server_cpu_pct),
                3,
            )
            .bool("interrupted", self.interrupted)
            .bool("ok", self.ok());
    }
}

impl Report {
    /// `bench fanout`'s own figures; deliveries are `messages` again, under their name.
    fn json_fanout(&self, o: &mut Object<'_>, f: &FanoutFigures) {
        o.uint("subscribers", f.subscribers as u64)
            .uint("publishers", f.publishers as u64)
            .opt_num("rate", f.rate, 3)
            .uint("publishes", f.publishes)
            .opt_num("publishes_per_s", self.publishes_per_s(), 1)
            .uint("deliveries", self.messages)
            .num("deliveries_per_s", self.msgs_per_s(), 1)
            .uint("dropped", f.dropped)
            .uint("gaps", f.gaps)
            .opt_num(
                "server_cpu_ns_per_delivery",
                self.cpu_ns_per_msg(self.server_cpu_pct),
                3,
            );
    }
}

fn latency(o: &mut Object<'_>, l: &Summary) {
    o.num("p50", l.p50, 1)
        .num("p90", l.p90, 1)
        .num("p99", l.p99, 1)
        .num("p999", l.p999, 1)
        .num("max", l.max, 1)
        .num("mean", l.mean, 1);
}

fn idle(o: &mut Object<'_>, i: &IdleFigures) {
    o.uint("opened", i.opened)
        .uint("failed", i.failed)
        .num("open_s", i.open_secs, 3)
        .uint("held", i.held)
        .uint("dropped", i.dropped)
        .num("hold_s", i.hold_secs, 3)
        .uint("closed_clean", i.closed_clean)
        .opt_uint("server_rss_before", i.server_rss_before)
        .opt_uint("server_rss_held", i.server_rss_held)
        .opt_num("server_bytes_per_conn", i.server_bytes_per_conn(), 3)
        .opt_uint("client_rss_before", i.client_rss_before)
        .opt_uint("client_rss_held", i.client_rss_held)
        .opt_num("client_bytes_per_conn", i.client_bytes_per_conn(), 3);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn written(fill: impl FnOnce(&mut Object<'_>)) -> String {
        let mut s = String::new();
        object(&mut s, fill);
        s
    }

    #[test]
    fn writer() {
        assert_eq!(written(|_| {}), "{}");
        let s = written(|o| {
            o.str("s", "a\"b\\c\nd\u{7}é")
                .opt_str("none", None)
                .uint("n", 7)
                .opt_uint("m", Some(8))
                .num("x", 1.25, 1)
                .num("nan", f64::NAN, 3)
                .opt_num("inf", Some(f64::INFINITY), 3)
                .bool("t", true)
                .object("o", |o| {
                    o.uint("a", 1);
                })
                .object("e", |_| {});
        });
        assert_eq!(
            s,
            r#"{"s":"a\"b\\c\nd\u0007é","none":null,"n":7,"m":8,"x":1.2,"nan":null,"inf":null,"t":true,"o":{"a":1},"e":{}}"#
        );
    }
}
