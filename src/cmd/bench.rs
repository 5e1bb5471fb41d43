//! `sockloop bench ws|tcp|udp|idle|fanout TARGET` — the load generator (see
//! `crate::bench`).

use super::fail;
use super::{exit, parse_secs};
use crate::bench::{self, Mode, Options};
use crate::client::ClientError;
use std::time::Duration;

const ABOUT: &str = "\
usage: sockloop bench ws URL [options]          WebSocket echo, closed loop
       sockloop bench tcp HOST:PORT [options]   TCP line echo (SIZE-1 printable bytes + '\\n')
       sockloop bench udp HOST:PORT [options]   UDP datagram echo, loss counted
       sockloop bench idle URL [options]        open, echo once, hold and close many WebSockets
       sockloop bench fanout URL [options]      pubsub: N subscribers of one topic, P publishers

A load generator in one thread and one readiness loop. Each connection keeps DEPTH
messages in flight and sends the next one as each echo comes back; every echo is
checked byte for byte. The report: messages/s, MB/s (payload, one direction, 10^6
bytes), latency p50/p90/p99/p99.9/max, errors, and the generator's own CPU use (at
90% of one core or more it says it was saturated: then it, not the server, may be
the limit). UDP: a datagram unanswered within --loss-timeout is counted lost and
replaced. Progress goes to standard error, the report to standard output (--json:
one JSON object). Ctrl-C ends the run early and still reports.

fanout (URL ws://HOST:PORT/pubsub, or tcp://HOST:PORT for a =pubsub line listener):
--subscribers connections send 'SUB bench' and wait for OK, then --publishers
connections publish --size-byte payloads on it, each with at most --depth (default
16) unanswered, or paced at --rate per second. Each payload carries its publisher,
a sequence number and its send time; subscribers check every delivery, that each
publisher's sequence only goes up, and that gaps match the server's DROPPED notices.
The report: deliveries/s (over all subscribers), publishes/s, delivery latency,
drops, errors, and with --server-pid the server's CPU per delivery. --count counts
publishes. sockloop's server limits publishes per connection and connections per
address: start it with --publish-rate 0 (and --max-conns-per-ip 0 beyond 128).

examples:
  sockloop serve -q -l http://127.0.0.1:8080 -l tcp://127.0.0.1:1234=echo -l udp://127.0.0.1:1234=echo
  sockloop bench ws ws://127.0.0.1:8080/ws -c 50 -d 16 -t 10
  sockloop bench ws ws://127.0.0.1:8080/ws -c 10 -s 16k -d 4 --binary
  sockloop bench ws ws://127.0.0.1:8080/ws -c 1 -n 20000         exactly 20,000 round trips
  sockloop bench tcp 127.0.0.1:1234 -c 50 -d 16
  sockloop bench udp 127.0.0.1:1234 -c 10
  sockloop bench idle ws://127.0.0.1:8080/ws -c 10000 --hold 30 --server-pid PID
  sockloop serve -q -l http://127.0.0.1:8080 -l tcp://127.0.0.1:1235=pubsub --publish-rate 0 \\
        --max-conns-per-ip 0
  sockloop bench fanout ws://127.0.0.1:8080/pubsub --subscribers 1000 --publishers 1 -t 5
  sockloop bench fanout tcp://127.0.0.1:1240 --subscribers 10 -n 200 --rate 1000

exit codes: 0 ok, 1 errors in the run (a wrong echo, a failed or dropped
connection) or nothing measured, 2 bad command line";

/// The options, in the order the help lists them: (short, long, help, value name;
/// no value name for a flag).
const OPTIONS: &[(&str, &str, &str, &str)] = &[
    (
        "c",
        "conns",
        "connections (udp: sockets) (default 50; udp 10; idle 1000)",
        "N",
    ),
    (
        "s",
        "size",
        "bytes per message: payload, line with its newline, or datagram (default 64; \
         k/KiB = 1024, M/MiB = 1024 KiB)",
        "SIZE",
    ),
    (
        "d",
        "depth",
        "messages in flight per connection (default 1; fanout: unanswered publishes \
         per publisher, default 16)",
        "D",
    ),
    (
        "t",
        "duration",
        "seconds to measure (default 10; with --count, the most it may take: 300)",
        "SECS",
    ),
    (
        "n",
        "count",
        "stop after exactly N echoed messages in all (fanout: N publishes)",
        "N",
    ),
    (
        "",
        "subscribers",
        "fanout: connections subscribed to the topic (default 100)",
        "N",
    ),
    (
        "",
        "publishers",
        "fanout: connections publishing on it (default 1, at most 1000)",
        "P",
    ),
    (
        "",
        "rate",
        "fanout: publishes per second per publisher (default: closed loop)",
        "R",
    ),
    (
        "",
        "binary",
        "ws/idle: binary messages of pseudo-random bytes (default: text)",
        "",
    ),
    (
        "",
        "deflate",
        "ws/idle: offer permessage-deflate; ws: messages compressed, echoes checked compressed (the server must accept it: serve --ws-deflate)",
        "",
    ),
    (
        "",
        "hold",
        "idle: seconds to hold the connections (default 10)",
        "SECS",
    ),
    (
        "",
        "batch",
        "connections opening at the same time (default 256; 64 for wss://, below \
         serve's --max-tls-handshakes)",
        "N",
    ),
    (
        "w",
        "timeout",
        "connect and handshake timeout, and idle's echo timeout (default 10)",
        "SECS",
    ),
    (
        "",
        "loss-timeout",
        "udp: a datagram unanswered this long is lost and replaced (default 0.2)",
        "SECS",
    ),
    (
        "",
        "server-pid",
        "report this process's CPU use (and for idle, its memory per connection)",
        "PID",
    ),
    (
        "",
        "ca",
        "wss: trust the CA certificates in FILE (PEM) instead of the system's",
        "FILE",
    ),
    (
        "",
        "insecure",
        "wss: do not check the server's certificate",
        "",
    ),
    ("", "json", "print the report as one JSON object", ""),
    ("q", "quiet", "no progress lines", ""),
    ("h", "help", "show this help", ""),
];

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    for &(short, long, help, value) in OPTIONS {
        if value.is_empty() {
            o.optflag(short, long, help);
        } else {
            o.optopt(short, long, help, value);
        }
    }
    o
}

/// Largest message: larger ones measure memory bandwidth, not sockets.
const MAX_SIZE: usize = 16 << 20;
/// fanout: publisher ids have four digits in the payload.
const MAX_PUBLISHERS: usize = bench::fanout::payload::MAX_PUBLISHERS;

/// The command line → options; `Ok(None)`: help was asked for.
pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let o = options();
    let Some(m) = super::parse_options(&o, args, ABOUT)? else {
        return Ok(None);
    };
    let (mode, target) = mode_and_target(&m.free)?;
    check_applies(&m, mode)?;
    let subscribers = number(&m, "subscribers", 100, 1_000_000)? as usize;
    let publishers = number(&m, "publishers", 1, MAX_PUBLISHERS as u64)? as usize;
    let default_conns = match mode {
        Mode::Ws | Mode::Tcp => 50,
        Mode::Udp => 10,
        Mode::Idle => 1000,
        Mode::Fanout => (subscribers + publishers) as u64,
    };
    let default_depth = if mode == Mode::Fanout { 16 } else { 1 };
    let size = size(&m, mode)?;
    let count = match m.opt_str("n") {
        None => None,
        Some(_) => Some(number(&m, "count", 0, u64::MAX)?),
    };
    let duration = if count.is_some() && !m.opt_present("t") {
        Duration::from_secs(300)
    } else {
        secs(&m, "duration", 10.0)?
    };
    let server_pid = server_pid(&m)?;
    // Each TLS handshake costs the server a key exchange and a signature, and
    // sockloop serves 128 at a time by default: more in flight would be refused.
    let default_batch = if target.starts_with("wss://") {
        64
    } else {
        256
    };
    Ok(Some(Options {
        mode,
        target,
        conns: number(&m, "conns", default_conns, 1_000_000)? as usize,
        size,
        depth: number(&m, "depth", default_depth, 65_536)? as usize,
        duration,
        count,
        binary: m.opt_present("binary"),
        deflate: m.opt_present("deflate"),
        hold: secs(&m, "hold", 10.0)?,
        batch: number(&m, "batch", default_batch, 100_000)? as usize,
        connect_timeout: secs(&m, "timeout", 10.0)?,
        loss_timeout: secs(&m, "loss-timeout", 0.2)?,
        json: m.opt_present("json"),
        quiet: m.opt_present("q"),
        server_pid,
        tls: crate::client::tls::from_matches(&m),
        subscribers,
        publishers,
        rate: rate(&m)?,
    }))
}

/// `--rate`: publishes per second, above 0.
fn rate(m: &getopts::Matches) -> Result<Option<f64>, String> {
    let Some(v) = m.opt_str("rate") else {
        return Ok(None);
    };
    v.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0 && *r <= 1e7)
        .map(Some)
        .ok_or_else(|| format!("--rate '{v}' is not a number of publishes per second (up to 10^7)"))
}

/// The two positional arguments: what to run, and against what.
fn mode_and_target(free: &[String]) -> Result<(Mode, String), String> {
    let (mode, target) = match free {
        [mode, target] => (mode.as_str(), target.clone()),
        [] => return Err("missing what to run: ws, tcp, udp, idle or fanout".into()),
        [_] => return Err("missing the target (ws://HOST:PORT/PATH or HOST:PORT)".into()),
        [_, _, extra, ..] => return Err(format!("unexpected argument '{extra}'")),
    };
    let mode = match mode {
        "ws" => Mode::Ws,
        "tcp" => Mode::Tcp,
        "udp" => Mode::Udp,
        "idle" => Mode::Idle,
        "fanout" => Mode::Fanout,
        other => {
            return Err(format!(
                "unknown benchmark '{other}': use ws, tcp, udp, idle or fanout"
            ));
        }
    };
    match mode {
        Mode::Fanout if target.starts_with("tcp://") => {
            let hostport = target.trim_start_matches("tcp://");
            if hostport.contains('/') {
                return Err(format!("'{target}' is not tcp://HOST:PORT"));
            }
            crate::client::connect::target(hostport).map_err(|e| e.to_string())?;
        }
        Mode::Ws | Mode::Idle | Mode::Fanout => {
            crate::client::ws::parse_url(&target).map_err(|e| e.to_string())?;
        }
        Mode::Tcp | Mode::Udp => {
            if target.contains("://") {
                return Err(format!("'{target}' is not HOST:PORT (e.g. 127.0.0.1:1234)"));
            }
            crate::client::connect::target(&target).map_err(|e| e.to_string())?;
        }
    }
    Ok((mode, target))
}

/// An option given to a mode it means nothing to is a mistake worth saying.
fn check_applies(m: &getopts::Matches, mode: Mode) -> Result<(), String> {
    const MEASURED: &[Mode] = &[Mode::Ws, Mode::Tcp, Mode::Udp, Mode::Fanout];
    const CONNS: &[Mode] = &[Mode::Ws, Mode::Tcp, Mode::Udp, Mode::Idle];
    let only: [(&str, &[Mode]); 11] = [
        ("binary", &[Mode::Ws, Mode::Idle]),
        ("hold", &[Mode::Idle]),
        ("deflate", &[Mode::Ws, Mode::Idle]),
        ("loss-timeout", &[Mode::Udp]),
        ("count", MEASURED),
        ("depth", MEASURED),
        ("duration", MEASURED),
        ("conns", CONNS),
        ("subscribers", &[Mode::Fanout]),
        ("publishers", &[Mode::Fanout]),
        ("rate", &[Mode::Fanout]),
    ];
    for (flag, modes) in only {
        if m.opt_present(flag) && !modes.contains(&mode) {
            return Err(format!(
                "--{flag} does not apply to 'bench {}'",
                mode.name()
            ));
        }
    }
    Ok(())
}

/// `--NAME`, a whole number from 1 to `max`, or `default`.
fn number(m: &getopts::Matches, name: &str, default: u64, max: u64) -> Result<u64, String> {
    match m.opt_str(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|&n| (1..=max).contains(&n))
            .ok_or_else(|| format!("--{name} '{v}' is not a whole number from 1 to {max}")),
    }
}

/// `--NAME`, a number of seconds above 0, or `default`.
fn secs(m: &getopts::Matches, name: &str, default: f64) -> Result<Duration, String> {
    match m.opt_str(name) {
        None => Ok(Duration::from_secs_f64(default)),
        Some(v) => parse_secs(&v, &format!("--{name}"))?
            .ok_or_else(|| format!("--{name} must be more than 0")),
    }
}

/// `--size`, within what the mode can carry.
fn size(m: &getopts::Matches, mode: Mode) -> Result<usize, String> {
    let size = match m.opt_str("s") {
        None => 64,
        Some(v) => match super::size::parse("--size", &v).map_err(|e| e.to_string())? {
            s if s <= MAX_SIZE => s,
            _ => return Err(format!("--size '{v}' is more than the most, 16M")),
        },
    };
    let min_size = match mode {
        Mode::Ws | Mode::Idle => 0,
        Mode::Fanout => bench::fanout::payload::HEADER_LEN,
        Mode::Tcp => 1,
        Mode::Udp => bench::udp::ID_LEN + 1,
    };
    if size < min_size {
        return Err(format!(
            "--size {size} is too small for {}: at least {min_size}",
            mode.name()
        ));
    }
    Ok(size)
}

fn server_pid(m: &getopts::Matches) -> Result<Option<u32>, String> {
    let Some(v) = m.opt_str("server-pid") else {
        return Ok(None);
    };
    let pid = v
        .parse::<u32>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("--server-pid '{v}' is not a process id"))?;
    // The figures come from /proc/PID: a process that is not there would leave them
    // out without a word. Where there is no /proc at all, nothing can be checked
    // (and the report says the figures are missing).
    let proc_fs = std::path::Path::new("/proc/self").exists();
    if proc_fs && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(format!(
            "--server-pid {pid}: no such process (is the server running?)"
        ));
    }
    Ok(Some(pid))
}

pub fn main(args: &[String]) -> i32 {
    let opts = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => return exit::OK,
        Err(e) => return fail("bench", &ClientError::Usage(e)),
    };
    match bench::run(&opts) {
        Ok(report) => {
            if opts.json {
                println!("{}", report.json());
            } else {
                print!("{}", report.human());
            }
            if report.ok() { exit::OK } else { exit::FAILURE }
        }
        Err(e) => fail("bench", &e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Options, String> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args).map(|o| o.unwrap())
    }

    #[test]
    fn defaults_per_mode() {
        let o = p("ws ws://127.0.0.1:8080/ws").unwrap();
        assert_eq!(o.mode, Mode::Ws);
        assert_eq!((o.conns, o.size, o.depth), (50, 64, 1));
        assert_eq!(o.duration, Duration::from_secs(10));
        assert_eq!(o.count, None);
        assert!(!o.binary && !o.json && !o.quiet);
        assert_eq!(o.batch, 256);
        assert_eq!(p("udp 127.0.0.1:1234").unwrap().conns, 10);
        let idle = p("idle ws://127.0.0.1:8080/ws").unwrap();
        assert_eq!((idle.conns, idle.hold), (1000, Duration::from_secs(10)));
        assert_eq!(p("tcp 127.0.0.1:1").unwrap().mode, Mode::Tcp);
    }

    #[test]
    fn options_anywhere_and_sizes() {
        let o =
            p("ws --conns 10 ws://127.0.0.1:1/ws -s 16k -d 4 --binary -t 0.5 --json -q").unwrap();
        assert_eq!((o.conns, o.size, o.depth), (10, 16384, 4));
        assert_eq!(o.duration, Duration::from_millis(500));
        assert!(o.binary && o.json && o.quiet);
        assert_eq!(p("ws ws://h:1/ -s 16KiB").unwrap().size, 16384);
        assert_eq!(p("ws ws://h:1/ -s 1M").unwrap().size, 1 << 20);
        assert!(p("ws ws://h:1/ -s x").is_err());
        assert!(p("ws ws://h:1/ -s 16m").is_ok());
        assert!(p("ws ws://h:1/ -s 17m").is_err());
        assert!(p("udp h:1 -s 16").is_err());
        assert!(p("udp h:1 -s 17").is_ok());
        assert!(p("tcp h:1 -s 0").is_err());
    }

    #[test]
    fn count_bounds_the_time() {
        let o = p("ws ws://127.0.0.1:1/ws -n 20000 -c 1").unwrap();
        assert_eq!(o.count, Some(20000));
        assert_eq!(o.duration, Duration::from_secs(300));
        let o = p("ws ws://127.0.0.1:1/ws -n 5 -t 2").unwrap();
        assert_eq!(o.duration, Duration::from_secs(2));
        assert!(p("ws ws://127.0.0.1:1/ws -n 0").is_err());
    }

    #[test]
    fn fanout() {
        let o = p("fanout ws://127.0.0.1:8080/pubsub").unwrap();
        assert_eq!(o.mode, Mode::Fanout);
        assert_eq!((o.subscribers, o.publishers, o.conns), (100, 1, 101));
        assert_eq!((o.size, o.depth, o.rate, o.count), (64, 16, None, None));
        let o = p(
            "fanout tcp://127.0.0.1:1 --subscribers 10 --publishers 3 -n 200 --rate 2.5 \
                   -d 4 -s 30 --json --server-pid 1",
        )
        .unwrap();
        assert_eq!((o.subscribers, o.publishers, o.conns), (10, 3, 13));
        assert_eq!(
            (o.size, o.depth, o.rate, o.count),
            (30, 4, Some(2.5), Some(200))
        );
        assert_eq!(o.duration, Duration::from_secs(300));
        assert_eq!(o.target, "tcp://127.0.0.1:1");
        assert!(o.json);
        assert!(p("fanout wss://localhost:1/pubsub --insecure").is_ok());
        for bad in [
            "fanout 127.0.0.1:1",
            "fanout tcp://127.0.0.1:1/pubsub",
            "fanout http://127.0.0.1:1/pubsub",
            "fanout ws://h:1/ -s 29",
            "fanout ws://h:1/ -c 5",
            "fanout ws://h:1/ --binary",
            "fanout ws://h:1/ --hold 1",
            "fanout ws://h:1/ --subscribers 0",
            "fanout ws://h:1/ --publishers 1001",
            "fanout ws://h:1/ --rate 0",
            "fanout ws://h:1/ --rate fast",
            "fanout ws://h:1/ --rate inf",
            "ws ws://h:1/ --subscribers 3",
            "tcp h:1 --publishers 3",
            "idle ws://h:1/ --rate 3",
        ] {
            assert!(p(bad).is_err(), "accepted: {bad:?}");
        }
    }

    #[test]
    fn bad_command_lines() {
        for bad in [
            "",
            "ws",
            "nope 127.0.0.1:1",
            "ws 127.0.0.1:1",
            "ws http://127.0.0.1:1/",
            "tcp ws://127.0.0.1:1/",
            "tcp localhost",
            "ws ws://h:1/ extra",
            "ws ws://h:1/ -c 0",
            "ws ws://h:1/ -c many",
            "ws ws://h:1/ -t 0",
            "ws ws://h:1/ --hold 3",
            "tcp h:1 --binary",
            "idle ws://h:1/ -d 4",
            "idle ws://h:1/ -n 4",
            "ws ws://h:1/ --loss-timeout 1",
            "udp h:1 --server-pid x",
            "ws ws://h:1/ --frobnicate",
        ] {
            assert!(p(bad).is_err(), "accepted: {bad:?}");
        }
        // A process that exists: this one.
        let me = std::process::id();
        assert_eq!(
            p(&format!("udp h:1 --loss-timeout 0.05 --server-pid {me}")).unwrap(),
            Options {
                loss_timeout: Duration::from_millis(50),
                server_pid: Some(me),
                ..p("udp h:1").unwrap()
            }
        );
    }
}
