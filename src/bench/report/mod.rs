//! What a run measured, and the figures derived from it; `human.rs` and `json.rs` write
//! it out. Every mode fills the same `Report`, so the two writers (and the scripts
//! reading them) see one shape whatever was run.

mod human;
mod json;

use super::stats::Summary;
use super::{Mode, Options, sys};
use std::time::Duration;

/// Memory figures of `bench idle`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IdleFigures {
    pub opened: u64,
    pub failed: u64,
    pub open_secs: f64,
    /// Connections held (opened and echoed).
    pub held: u64,
    /// Held connections the server closed during the hold.
    pub dropped: u64,
    pub hold_secs: f64,
    pub closed_clean: u64,
    pub server_rss_before: Option<u64>,
    pub server_rss_held: Option<u64>,
    pub client_rss_before: Option<u64>,
    pub client_rss_held: Option<u64>,
}

impl IdleFigures {
    /// Server memory per held connection, in bytes.
    pub fn server_bytes_per_conn(&self) -> Option<f64> {
        per_conn(self.server_rss_before, self.server_rss_held, self.held)
    }

    pub fn client_bytes_per_conn(&self) -> Option<f64> {
        per_conn(self.client_rss_before, self.client_rss_held, self.held)
    }
}

fn per_conn(before: Option<u64>, held: Option<u64>, n: u64) -> Option<f64> {
    match (before, held) {
        (Some(b), Some(h)) if n > 0 => Some((h as f64 - b as f64) / n as f64),
        _ => None,
    }
}

/// What `bench fanout` measures besides the deliveries (`Report::messages`, counted
/// over all subscribers) and their latency.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FanoutFigures {
    pub subscribers: usize,
    pub publishers: usize,
    /// `--rate`, per publisher; `None`: closed loop.
    pub rate: Option<f64>,
    /// Publishes answered with OK within the window.
    pub publishes: u64,
    /// The sum of the `DROPPED N` notices, and the deliveries missing from the
    /// publishers' sequences (gaps, and at the end what each publisher published
    /// after the last delivery seen from it); a run without errors has them agree.
    pub dropped: u64,
    pub gaps: u64,
}

/// What a run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub mode: Mode,
    pub target: String,
    pub conns: usize,
    pub size: usize,
    pub depth: usize,
    pub binary: bool,
    /// The measured window.
    pub elapsed: Duration,
    /// Echoes completed and checked within the window.
    pub messages: u64,
    pub latency: Summary,
    /// Wrong echoes, failed connections, unexpected closes.
    pub errors: u64,
    pub first_error: Option<String>,
    /// udp: datagrams not answered within the loss timeout; answers that came later.
    pub lost: u64,
    pub late: u64,
    /// Connections whose closing handshake did not finish cleanly.
    pub unclean_closes: u64,
    /// Our CPU use over the window, % of one core.
    pub cpu_pct: Option<f64>,
    pub server_pid: Option<u32>,
    pub server_cpu_pct: Option<f64>,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
    pub idle: Option<IdleFigures>,
    pub fanout: Option<FanoutFigures>,
}

impl Report {
    pub fn new(opts: &Options) -> Report {
        Report {
            mode: opts.mode,
            target: opts.target.clone(),
            conns: opts.conns,
            size: opts.size,
            depth: opts.depth,
            binary: opts.binary,
            elapsed: Duration::ZERO,
            messages: 0,
            latency: Summary::default(),
            errors: 0,
            first_error: None,
            lost: 0,
            late: 0,
            unclean_closes: 0,
            cpu_pct: None,
            server_pid: opts.server_pid,
            server_cpu_pct: None,
            interrupted: false,
            idle: None,
            fanout: None,
        }
    }

    /// fanout: publishes answered per second.
    pub fn publishes_per_s(&self) -> Option<f64> {
        let f = self.fanout.as_ref()?;
        let s = self.elapsed.as_secs_f64();
        Some(if s > 0.0 { f.publishes as f64 / s } else { 0.0 })
    }

    pub fn msgs_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.messages as f64 / s
        } else {
            0.0
        }
    }

    /// Payload megabytes (10^6) per second, one direction.
    pub fn mb_per_s(&self) -> f64 {
        self.msgs_per_s() * self.size as f64 / 1e6
    }

    /// CPU time per echoed message, in ns, given a CPU use in % of one core. Where
    /// neither side saturates its core (wakeup latency bound, as in many VMs), this
    /// is the figure that compares implementations.
    pub fn cpu_ns_per_msg(&self, pct: Option<f64>) -> Option<f64> {
        let rate = self.msgs_per_s();
        pct.filter(|_| rate > 0.0 && self.idle.is_none())
            .map(|p| p / 100.0 / rate * 1e9)
    }

    pub fn saturated(&self) -> bool {
        self.cpu_pct.is_some_and(|c| c >= sys::SATURATED_PCT)
    }

    /// Whether the run went as it should: no errors, and something was measured.
    pub fn ok(&self) -> bool {
        match &self.idle {
            Some(i) => self.errors == 0 && i.failed == 0 && i.dropped == 0 && i.held > 0,
            None => self.errors == 0 && self.messages > 0,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            mode: Mode::Ws,
            target: "ws://127.0.0.1:1/ws".into(),
            conns: 2,
            size: 100,
            depth: 1,
            duration: Duration::from_secs(1),
            count: None,
            binary: false,
            deflate: false,
            hold: Duration::from_secs(1),
            batch: 10,
            connect_timeout: Duration::from_secs(1),
            loss_timeout: Duration::from_millis(200),
            json: false,
            quiet: true,
            server_pid: None,
            tls: Default::default(),
            subscribers: 0,
            publishers: 0,
            rate: None,
        }
    }

    fn base(mode: Mode, target: &str, conns: usize) -> Report {
        Report {
            conns,
            ..Report::new(&Options {
                mode,
                target: target.into(),
                ..opts()
            })
        }
    }

    /// Everything a closed-loop report can say, at once.
    fn ws_everything() -> Report {
        Report {
            depth: 16,
            elapsed: Duration::from_millis(3001),
            messages: 123_456_789,
            latency: Summary {
                count: 123_456_789,
                p50: 87.0,
                p90: 120.5,
                p99: 1250.0,
                p999: 2_500_000.0,
                max: 3_000_000.0,
                mean: 99.25,
            },
            cpu_pct: Some(97.5),
            server_pid: Some(4242),
            server_cpu_pct: Some(64.25),
            first_error: Some("a \"quoted\"\nthing\\ \u{1} ok".into()),
            errors: 2,
            unclean_closes: 3,
            interrupted: true,
            ..base(Mode::Ws, "ws://127.0.0.1:8080/ws", 10)
        }
    }

    fn idle_everything() -> Report {
        Report {
            messages: 1990,
            elapsed: Duration::from_secs(1),
            server_pid: Some(77),
            server_cpu_pct: Some(3.0),
            cpu_pct: Some(40.0),
            idle: Some(IdleFigures {
                opened: 2000,
                failed: 0,
                open_secs: 0.4567,
                held: 1990,
                dropped: 10,
                hold_secs: 1.0004,
                closed_clean: 1990,
                server_rss_before: Some(10 << 20),
                server_rss_held: Some(14 << 20),
                client_rss_before: Some(2 << 20),
                client_rss_held: None,
            }),
            ..base(Mode::Idle, "ws://127.0.0.1:8080/ws", 2000)
        }
    }

    fn fanout_everything() -> Report {
        Report {
            size: 64,
            depth: 16,
            elapsed: Duration::from_secs(2),
            messages: 2_000_000,
            latency: Summary {
                count: 2_000_000,
                p50: 150.0,
                p90: 400.0,
                p99: 900.0,
                p999: 1500.0,
                max: 2100.0,
                mean: 210.5,
            },
            cpu_pct: Some(55.0),
            server_pid: Some(99),
            server_cpu_pct: Some(80.0),
            fanout: Some(FanoutFigures {
                subscribers: 1000,
                publishers: 1,
                rate: None,
                publishes: 2000,
                dropped: 12,
                gaps: 10,
            }),
            ..base(Mode::Fanout, "ws://127.0.0.1:8080/pubsub", 1001)
        }
    }

    /// Reports covering every branch of the writers: the golden texts below were
    /// produced by the writers as they were before `report/` existed, so a change to
    /// the output shows up here before a script that parses it breaks.
    fn golden_reports() -> Vec<(&'static str, Report)> {
        let second = Duration::from_secs(1);
        let binary = Report {
            binary: true,
            size: 16384,
            elapsed: second,
            messages: 1000,
            cpu_pct: Some(12.0),
            ..base(Mode::Ws, "ws://h:1/", 1)
        };
        let tcp = Report {
            elapsed: Duration::from_millis(500),
            messages: 100,
            ..base(Mode::Tcp, "127.0.0.1:1234", 1)
        };
        let udp = Report {
            elapsed: 3 * second,
            messages: 30_000,
            lost: 7,
            late: 2,
            cpu_pct: Some(50.0),
            server_pid: Some(1),
            ..base(Mode::Udp, "127.0.0.1:1234", 1)
        };
        let idle_no_pid = Report {
            idle: Some(IdleFigures::default()),
            ..base(Mode::Idle, "ws://h:1/", 1)
        };
        vec![
            ("ws", ws_everything()),
            ("ws binary", binary),
            ("tcp", tcp),
            ("udp", udp),
            ("udp empty", base(Mode::Udp, "[::1]:9", 4)),
            ("idle", idle_everything()),
            ("idle without pid", idle_no_pid),
            ("fanout", fanout_everything()),
        ]
    }

    /// (report, its JSON, its human text), as the writers in bench/mod.rs wrote them
    /// before they moved here.
    const GOLDEN: &[(&str, &str, &str)] = &[
        (
            "ws",
            "{\"mode\":\"ws\",\"target\":\"ws://127.0.0.1:8080/ws\",\"conns\":10,\"size\":100,\"depth\":16,\"binary\":false,\"elapsed_s\":3.001000,\"messages\":123456789,\"msgs_per_s\":41138550.1,\"mb_per_s\":4113.855,\"latency_us\":{\"p50\":87.0,\"p90\":120.5,\"p99\":1250.0,\"p999\":2500000.0,\"max\":3000000.0,\"mean\":99.2},\"errors\":2,\"first_error\":\"a \\\"quoted\\\"\\nthing\\\\ \\u0001 ok\",\"lost\":0,\"late\":0,\"unclean_closes\":3,\"cpu_pct\":97.500,\"cpu_ns_per_msg\":23.700,\"saturated\":true,\"server_pid\":4242,\"server_cpu_pct\":64.250,\"server_cpu_ns_per_msg\":15.618,\"interrupted\":true,\"ok\":false,\"idle\":null,\"fanout\":null}",
            "sockloop bench ws ws://127.0.0.1:8080/ws: 10 connections × depth 16, 100 B text messages (interrupted)\n  messages   123,456,789 in 3.00 s: 41,138,550 msg/s, 4113.86 MB/s each way\n  latency    p50 87 µs  p90 120 µs  p99 1.25 ms  p99.9 2.50 s  max 3.00 s  mean 99 µs\n  errors     2 (first: a \"quoted\"\nthing\\ \u{1} ok); 3 closed uncleanly\n  generator  cpu 98% of one core — SATURATED: the generator may be the limit, so these figures are a lower bound for the server\n  server     cpu 64% of one core (pid 4242), 16 ns of CPU per message\n",
        ),
        (
            "ws binary",
            "{\"mode\":\"ws\",\"target\":\"ws://h:1/\",\"conns\":1,\"size\":16384,\"depth\":1,\"binary\":true,\"elapsed_s\":1.000000,\"messages\":1000,\"msgs_per_s\":1000.0,\"mb_per_s\":16.384,\"latency_us\":{\"p50\":0.0,\"p90\":0.0,\"p99\":0.0,\"p999\":0.0,\"max\":0.0,\"mean\":0.0},\"errors\":0,\"first_error\":null,\"lost\":0,\"late\":0,\"unclean_closes\":0,\"cpu_pct\":12.000,\"cpu_ns_per_msg\":120000.000,\"saturated\":false,\"server_pid\":null,\"server_cpu_pct\":null,\"server_cpu_ns_per_msg\":null,\"interrupted\":false,\"ok\":true,\"idle\":null,\"fanout\":null}",
            "sockloop bench ws ws://h:1/: 1 connection × depth 1, 16384 B binary messages\n  messages   1,000 in 1.00 s: 1,000 msg/s, 16.38 MB/s each way\n  latency    p50 0 µs  p90 0 µs  p99 0 µs  p99.9 0 µs  max 0 µs  mean 0 µs\n  errors     0\n  generator  cpu 12% of one core\n",
        ),
        (
            "tcp",
            "{\"mode\":\"tcp\",\"target\":\"127.0.0.1:1234\",\"conns\":1,\"size\":100,\"depth\":1,\"binary\":false,\"elapsed_s\":0.500000,\"messages\":100,\"msgs_per_s\":200.0,\"mb_per_s\":0.020,\"latency_us\":{\"p50\":0.0,\"p90\":0.0,\"p99\":0.0,\"p999\":0.0,\"max\":0.0,\"mean\":0.0},\"errors\":0,\"first_error\":null,\"lost\":0,\"late\":0,\"unclean_closes\":0,\"cpu_pct\":null,\"cpu_ns_per_msg\":null,\"saturated\":false,\"server_pid\":null,\"server_cpu_pct\":null,\"server_cpu_ns_per_msg\":null,\"interrupted\":false,\"ok\":true,\"idle\":null,\"fanout\":null}",
            "sockloop bench tcp 127.0.0.1:1234: 1 connection × depth 1, 100 B lines\n  messages   100 in 0.50 s: 200 msg/s, 0.02 MB/s each way\n  latency    p50 0 µs  p90 0 µs  p99 0 µs  p99.9 0 µs  max 0 µs  mean 0 µs\n  errors     0\n",
        ),
        (
            "udp",
            "{\"mode\":\"udp\",\"target\":\"127.0.0.1:1234\",\"conns\":1,\"size\":100,\"depth\":1,\"binary\":false,\"elapsed_s\":3.000000,\"messages\":30000,\"msgs_per_s\":10000.0,\"mb_per_s\":1.000,\"latency_us\":{\"p50\":0.0,\"p90\":0.0,\"p99\":0.0,\"p999\":0.0,\"max\":0.0,\"mean\":0.0},\"errors\":0,\"first_error\":null,\"lost\":7,\"late\":2,\"unclean_closes\":0,\"cpu_pct\":50.000,\"cpu_ns_per_msg\":50000.000,\"saturated\":false,\"server_pid\":1,\"server_cpu_pct\":null,\"server_cpu_ns_per_msg\":null,\"interrupted\":false,\"ok\":true,\"idle\":null,\"fanout\":null}",
            "sockloop bench udp 127.0.0.1:1234: 1 socket × depth 1, 100 B datagrams\n  messages   30,000 in 3.00 s: 10,000 msg/s, 1.00 MB/s each way\n  latency    p50 0 µs  p90 0 µs  p99 0 µs  p99.9 0 µs  max 0 µs  mean 0 µs\n  loss       7 lost (0.023 %), 2 late\n  errors     0\n  generator  cpu 50% of one core\n",
        ),
        (
            "udp empty",
            "{\"mode\":\"udp\",\"target\":\"[::1]:9\",\"conns\":4,\"size\":100,\"depth\":1,\"binary\":false,\"elapsed_s\":0.000000,\"messages\":0,\"msgs_per_s\":0.0,\"mb_per_s\":0.000,\"latency_us\":{\"p50\":0.0,\"p90\":0.0,\"p99\":0.0,\"p999\":0.0,\"max\":0.0,\"mean\":0.0},\"errors\":0,\"first_error\":null,\"lost\":0,\"late\":0,\"unclean_closes\":0,\"cpu_pct\":null,\"cpu_ns_per_msg\":null,\"saturated\":false,\"server_pid\":null,\"server_cpu_pct\":null,\"server_cpu_ns_per_msg\":null,\"interrupted\":false,\"ok\":false,\"idle\":null,\"fanout\":null}",
            "sockloop bench udp [::1]:9: 4 sockets × depth 1, 100 B datagrams\n  messages   0 in 0.00 s: 0 msg/s, 0.00 MB/s each way\n  latency    p50 0 µs  p90 0 µs  p99 0 µs  p99.9 0 µs  max 0 µs  mean 0 µs\n  loss       0 lost (0.000 %), 0 late\n  errors     0\n",
        ),
        (
            "idle",
            "{\"mode\":\"idle\",\"target\":\"ws://127.0.0.1:8080/ws\",\"conns\":2000,\"size\":100,\"depth\":1,\"binary\":false,\"elapsed_s\":1.000000,\"messages\":1990,\"msgs_per_s\":1990.0,\"mb_per_s\":0.199,\"latency_us\":{\"p50\":0.0,\"p90\":0.0,\"p99\":0.0,\"p999\":0.0,\"max\":0.0,\"mean\":0.0},\"errors\":0,\"first_error\":null,\"lost\":0,\"late\":0,\"unclean_closes\":0,\"cpu_pct\":40.000,\"cpu_ns_per_msg\":null,\"saturated\":false,\"server_pid\":77,\"server_cpu_pct\":3.000,\"server_cpu_ns_per_msg\":null,\"interrupted\":false,\"ok\":false,\"idle\":{\"opened\":2000,\"failed\":0,\"open_s\":0.457,\"held\":1990,\"dropped\":10,\"hold_s\":1.000,\"closed_clean\":1990,\"server_rss_before\":10485760,\"server_rss_held\":14680064,\"server_bytes_per_conn\":2107.690,\"client_rss_before\":2097152,\"client_rss_held\":null,\"client_bytes_per_conn\":null},\"fanout\":null}",
            "sockloop bench idle ws://127.0.0.1:8080/ws: 2000 connections, one 100 B echo each\n  opened     2,000 in 0.46 s (4379/s), 0 failed\n  held       1,990 for 1.0 s, 10 dropped by the server; 1,990 closed cleanly\n  server rss 10.0 MiB → 14.0 MiB: 2108 bytes per connection\n  our rss    unknown\n  echo       p50 0 µs  p99 0 µs  max 0 µs\n  errors     0\n  generator  cpu 40% of one core\n  server     cpu 3% of one core (pid 77)\n",
        ),
        (
            "idle without pid",
            "{\"mode\":\"idle\",\"target\":\"ws://h:1/\",\"conns\":1,\"size\":100,\"depth\":1,\"binary\":false,\"elapsed_s\":0.000000,\"messages\":0,\"msgs_per_s\":0.0,\"mb_per_s\":0.000,\"latency_us\":{\"p50\":0.0,\"p90\":0.0,\"p99\":0.0,\"p999\":0.0,\"max\":0.0,\"mean\":0.0},\"errors\":0,\"first_error\":null,\"lost\":0,\"late\":0,\"unclean_closes\":0,\"cpu_pct\":null,\"cpu_ns_per_msg\":null,\"saturated\":false,\"server_pid\":null,\"server_cpu_pct\":null,\"server_cpu_ns_per_msg\":null,\"interrupted\":false,\"ok\":false,\"idle\":{\"opened\":0,\"failed\":0,\"open_s\":0.000,\"held\":0,\"dropped\":0,\"hold_s\":0.000,\"closed_clean\":0,\"server_rss_before\":null,\"server_rss_held\":null,\"server_bytes_per_conn\":null,\"client_rss_before\":null,\"client_rss_held\":null,\"client_bytes_per_conn\":null},\"fanout\":null}",
            "sockloop bench idle ws://h:1/: 1 connection, one 100 B echo each\n  opened     0 in 0.00 s (0/s), 0 failed\n  held       0 for 0.0 s, 0 dropped by the server; 0 closed cleanly\n  our rss    unknown\n  echo       p50 0 µs  p99 0 µs  max 0 µs\n  errors     0\n",
        ),
        (
            "fanout",
            "{\"mode\":\"fanout\",\"target\":\"ws://127.0.0.1:8080/pubsub\",\"conns\":1001,\"size\":64,\"depth\":16,\"binary\":false,\"elapsed_s\":2.000000,\"messages\":2000000,\"msgs_per_s\":1000000.0,\"mb_per_s\":64.000,\"latency_us\":{\"p50\":150.0,\"p90\":400.0,\"p99\":900.0,\"p999\":1500.0,\"max\":2100.0,\"mean\":210.5},\"errors\":0,\"first_error\":null,\"lost\":0,\"late\":0,\"unclean_closes\":0,\"cpu_pct\":55.000,\"cpu_ns_per_msg\":550.000,\"saturated\":false,\"server_pid\":99,\"server_cpu_pct\":80.000,\"server_cpu_ns_per_msg\":800.000,\"interrupted\":false,\"ok\":true,\"idle\":null,\"fanout\":{\"subscribers\":1000,\"publishers\":1,\"rate\":null,\"publishes\":2000,\"publishes_per_s\":1000.0,\"deliveries\":2000000,\"deliveries_per_s\":1000000.0,\"dropped\":12,\"gaps\":10,\"server_cpu_ns_per_delivery\":800.000}}",
            "sockloop bench fanout ws://127.0.0.1:8080/pubsub: 1000 subscribers, 1 publisher × depth 16, 64 B payloads\n  deliveries 2,000,000 in 2.00 s: 1,000,000/s over all subscribers\n  publishes  2,000 answered: 1,000/s\n  latency    p50 150 µs  p90 400 µs  p99 900 µs  p99.9 1.50 ms  max 2.10 ms  mean 210 µs\n  drops      12 announced (DROPPED), 10 missing from the sequences\n  errors     0\n  generator  cpu 55% of one core\n  server     cpu 80% of one core (pid 99), 800 ns of CPU per delivery\n",
        ),
    ];

    #[test]
    fn both_writers_match_the_golden_texts() {
        let reports = golden_reports();
        assert_eq!(reports.len(), GOLDEN.len());
        for ((name, report), (golden, json, human)) in reports.iter().zip(GOLDEN) {
            assert_eq!(name, golden);
            assert_eq!(report.json(), *json, "{name}");
            assert_eq!(report.human(), *human, "{name}");
        }
    }

    #[test]
    fn report_rates_and_json() {
        let mut r = Report::new(&opts());
        r.elapsed = Duration::from_secs(2);
        r.messages = 1000;
        r.cpu_pct = Some(95.0);
        r.first_error = Some("a \"quoted\"\nthing".into());
        assert_eq!(r.msgs_per_s(), 500.0);
        assert_eq!(r.mb_per_s(), 0.05);
        assert!(r.saturated());
        assert!(r.ok());
        let j = r.json();
        assert!(j.starts_with("{\"mode\":\"ws\""));
        assert!(j.contains("\"msgs_per_s\":500.0"));
        assert!(j.contains("\"first_error\":\"a \\\"quoted\\\"\\nthing\""));
        assert!(j.contains("\"saturated\":true"));
        // 95 % of a core for 500 msg/s: 1.9 ms each.
        assert!(j.contains("\"cpu_ns_per_msg\":1900000.000"));
        assert!(j.ends_with("\"idle\":null,\"fanout\":null}"));
        assert!(r.human().contains("SATURATED"));
        r.errors = 1;
        assert!(!r.ok());
    }

    #[test]
    fn idle_per_connection() {
        let i = IdleFigures {
            held: 1000,
            server_rss_before: Some(1_000_000),
            server_rss_held: Some(3_000_000),
            ..IdleFigures::default()
        };
        assert_eq!(i.server_bytes_per_conn(), Some(2000.0));
        assert_eq!(i.client_bytes_per_conn(), None);
    }
}
