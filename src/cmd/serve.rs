//! `sockloop serve`: bind the listeners, print the banner, run the loop, report.

use super::serve_banner::print_banner;
use super::serve_processes::{
    broker, passed_listeners, passed_sockets, restart, worker_args, workers,
};
use super::{exit, parse_secs, size};
use crate::log::{self, Level};
use crate::plural;
use crate::proto::ws::deflate::{self, params::ServerPolicy};
use crate::runtime::activation::{self, Inherited};
use crate::runtime::handover::{self, Handover, Role};
use crate::runtime::workers::Supervisor;
use crate::runtime::{BindOptions, Config, Endpoint, Limits, ListenSpec, Server};
use crate::service::web::WebConfig;
use crate::service::{Service, Settings};
use std::net::SocketAddr;
use std::time::Duration;

const ABOUT: &str = "\
usage: sockloop serve [options]

Serves every listener from one thread. With no -l, starts a built-in set on
127.0.0.1 (see the banner). Listening on all interfaces is always explicit.

listener syntax (-l, repeatable):
  tcp://HOST:PORT=SERVICE   e.g. tcp://127.0.0.1:1234=echo, tcp://:0=cmd (port 0: any free port)
  udp://HOST:PORT=SERVICE   e.g. udp://[::1]:7=echo
  unix:PATH=SERVICE         e.g. unix:/tmp/sockloop.sock=cmd
  http://HOST:PORT          HTTP + WebSocket: / test page, /ws echo, /cmd, /random, /chat,
                            /pubsub, /stats
  fd:NAME=SERVICE           a socket passed by systemd (LISTEN_FDS; NAME from
                            FileDescriptorName=, or its number: fd:3); passed sockets
                            no -l names are served by the service they are named after
  HOST empty → 127.0.0.1; * → 0.0.0.0 (all IPv4); [::] → all IPv6; =SERVICE omitted → echo
  an IPv6 address with a port is always in brackets: tcp://[::1]:7000, not tcp://::1:7000

services:
  echo     byte-exact echo; a line that is exactly STOP closes that connection
  daytime  sends the time (RFC 3339) and closes; on UDP answers each datagram
  counter  answers each line with 'Client number: K' (streams only)
  random   answers each line with a number in 1..=1000, or MIN..=MAX for 'MIN MAX'
  cmd      line protocol: HELP, ECHO, TIME, TIMESTAMP, RANDOM, RANDOMS, COUNT, ADD,
           SUB, STATS, STOP/QUIT — one reply line per request
  web      HTTP/1.1 and WebSocket (RFC 6455), the service of http:// listeners
  chat     chat rooms for people: /nick NAME, /join ROOM, /who, /rooms, /me, /help;
           other lines are said to the room (streams; WebSocket at /chat)
  pubsub   SUB topic, UNSUB topic, PUB topic payload -> subscribers get
           'MSG topic payload' (streams; WebSocket at /pubsub)

SIZE: bytes, or with k/KiB (1024 bytes), M/MiB (1024 KiB), G/GiB: 4k, 64MiB.

UDP replies are never more than 3x their request on the wire (RFC 9000 8.1); a
larger answer is refused with 'ERR reply too big for UDP ... use TCP port N'.
Datagrams from the port of a datagram service (7, 9, 13, 19, 37, 53, 123, ... and
our own UDP ports) are dropped unanswered, so no loop can start. Both are counted
in STATS.

SIGINT/SIGTERM stop gracefully (a second one exits at once). SIGUSR2 starts the
binary again (from the path it was started from) with the listening sockets, and
once the new process is ready this one stops accepting, drains and exits: a restart
that refuses nobody. With --workers, send signals to the supervisor.
exit codes: 0 ok, 1 cannot listen / runtime error, 2 bad command line";

/// The built-in listeners of a plain `sockloop serve`.
fn default_listeners() -> Vec<ListenSpec> {
    let tcp = |port, service| ListenSpec {
        endpoint: Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], port))),
        service,
        tls: false,
    };
    let udp = |port, service| ListenSpec {
        endpoint: Endpoint::Udp(SocketAddr::from(([127, 0, 0, 1], port))),
        service,
        tls: false,
    };
    vec![
        tcp(8080, Service::Web),
        tcp(1234, Service::Echo),
        tcp(1235, Service::Cmd),
        tcp(1236, Service::Daytime),
        tcp(1237, Service::Counter),
        tcp(1238, Service::Random),
        #[cfg(feature = "pubsub")]
        tcp(1239, Service::Chat),
        #[cfg(feature = "pubsub")]
        tcp(1240, Service::PubSub),
        udp(1234, Service::Echo),
        udp(1235, Service::Cmd),
        udp(1236, Service::Daytime),
        udp(1238, Service::Random),
        ListenSpec {
            endpoint: Endpoint::Unix(std::env::temp_dir().join("sockloop.sock")),
            service: Service::Cmd,
            tls: false,
        },
    ]
}

/// Below this a single large reply would be refused: the budget must hold a few
/// connections' worth of a read buffer.
const MIN_MEMORY: usize = 1 << 20;

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optmulti("l", "listen", "add a listener (see above)", "SPEC");
    o.optopt(
        "",
        "max-line",
        "longest request line (default 1024)",
        "SIZE",
    );
    o.optopt(
        "",
        "idle-timeout",
        "close connections quiet this long (default 120; 0 = never)",
        "SECS",
    );
    o.optopt(
        "",
        "max-conns",
        "most open connections; more are refused politely (default 10000)",
        "N",
    );
    o.optopt(
        "",
        "max-conns-per-ip",
        "most open connections from one address (an IPv6 /64; Unix clients are not \
         counted); more are refused politely; 0 = no limit (default 128: it takes 79 \
         addresses to fill 10000)",
        "N",
    );
    o.optopt(
        "",
        "max-output",
        "queued output per connection before reading pauses (default 256k)",
        "SIZE",
    );
    o.optopt(
        "",
        "publish-rate",
        "chat lines and publishes per second per connection, in bursts of as many; \
         more are refused (default 100; 0 = no limit)",
        "N",
    );
    o.optopt("", "backlog", "listen backlog (default 1024)", "N");
    o.optflag(
        "",
        "reuse-port",
        "set SO_REUSEPORT (several servers on one port)",
    );
    o.optflag(
        "",
        "dual-stack",
        "let IPv6 listeners accept IPv4 too (clears IPV6_V6ONLY)",
    );
    o.optopt(
        "",
        "unix-mode",
        "permissions of Unix socket files, octal (e.g. 660)",
        "MODE",
    );
    o.optmulti(
        "",
        "allow-origin",
        "WebSocket origins allowed (repeatable; default any)",
        "ORIGIN",
    );
    o.optmulti(
        "",
        "protocol",
        "WebSocket subprotocol to accept (repeatable)",
        "NAME",
    );
    o.optopt(
        "",
        "max-message",
        "largest WebSocket message (default 1M)",
        "SIZE",
    );
    o.optopt(
        "",
        "max-memory",
        "budget for all that is buffered for peers: messages, lines, output (default 64M)",
        "SIZE",
    );
    o.optopt(
        "",
        "handshake-timeout",
        "time allowed for a TLS handshake, and for an HTTP request head (default 10)",
        "SECS",
    );
    o.optopt(
        "",
        "ws-ping-interval",
        "ping WebSockets quiet this long (default off)",
        "SECS",
    );
    o.optflag(
        "",
        "ws-deflate",
        "accept permessage-deflate from WebSocket clients (default off: it costs CPU)",
    );
    o.optflag(
        "",
        "ws-deflate-context",
        "--ws-deflate with context takeover: smaller messages, up to 420 KiB per connection",
    );
    o.optopt(
        "",
        "tls-cert",
        "certificate chain for tls:// and https:// listeners (PEM); SIGHUP reloads it",
        "FILE",
    );
    o.optopt("", "tls-key", "the certificate's private key (PEM)", "FILE");
    o.optflag(
        "",
        "tls-self-signed",
        "make a certificate for localhost and 127.0.0.1 at start (the banner says where)",
    );
    o.optopt(
        "",
        "max-tls-handshakes",
        "TLS handshakes under way at once; more TLS connections are closed (default 128)",
        "N",
    );
    o.optopt(
        "",
        "inetd",
        "serve the one connection on standard input with SERVICE, then exit (inetd \
         nowait, systemd Accept=yes); no banner, errors-only log unless -v",
        "SERVICE",
    );
    o.optopt(
        "",
        "broker",
        "share chat rooms and pub/sub topics with other sockloops through Redis \
         pub/sub (redis://HOST:PORT; channels sockloop:chat:ROOM, sockloop:pubsub:TOPIC)",
        "URL",
    );
    o.optopt(
        "",
        "workers",
        "run N single-threaded worker processes (auto: one per core) under a supervisor; \
         TCP and UDP listeners are bound N times with SO_REUSEPORT; limits are per worker",
        "N",
    );
    o.optflag("v", "verbose", "log every connection opened and closed");
    o.optflag("q", "quiet", "log errors only");
    o.optflag("h", "help", "show this help");
    crate::trace::add_options(&mut o);
    o
}

/// What the command line asks for: a server, and how many workers (None: this
/// process serves).
struct Parsed {
    config: Config,
    workers: Option<u32>,
}

fn parse(args: &[String]) -> Result<Option<Parsed>, String> {
    let opts = options();
    let Some(m) = super::parse_options(&opts, args, ABOUT)? else {
        return Ok(None);
    };
    if let Some(extra) = m.free.first() {
        return Err(format!(
            "unexpected argument '{extra}' (listeners go after -l){}",
            super::bare_trace_note(&m)
        ));
    }
    let texts = m.opt_strs("l");
    let mut listeners = Vec::new();
    for spec in &texts {
        listeners.push(spec.parse::<ListenSpec>()?);
    }
    no_clashes(&texts, &listeners, m.opt_present("dual-stack"))?;
    let inetd = inetd_service(&m, &listeners)?;
    let handover = match inetd {
        Some(_) => None,
        None => handover::from_env()?,
    };
    let inherited = match (inetd, &handover) {
        // Under inetd, descriptors past 2 are not ours to take.
        (Some(_), _) => Vec::new(),
        (None, Some(h)) => passed_sockets(h),
        (None, None) => activation::from_env()?,
    };
    let listeners = match &handover {
        // A worker or a new binary serves what it was handed, whatever -l said.
        Some(h) => passed_listeners(h),
        None => with_inherited(listeners, &inherited)?,
    };
    let workers = workers(&m, inetd.is_some(), handover.is_some())?;
    let listeners = match listeners.is_empty() && inetd.is_none() {
        true => default_listeners(),
        false => listeners,
    };
    crate::trace::from_matches(&m)?;
    if let Some(Handover {
        role: Role::Worker(n),
        ..
    }) = &handover
    {
        log::set_name(format!("sockloop worker {n}"));
    }
    if m.opt_present("q") || (inetd.is_some() && !m.opt_present("v")) {
        // Under inetd standard error may be the connection too.
        log::set_level(Level::Error);
    } else if m.opt_present("v") {
        log::set_level(Level::Debug);
    }
    #[cfg(not(feature = "tls"))]
    super::serve_tls::certificate(&m, listeners.iter().any(|l| l.tls))?;
    if workers.is_some() && m.opt_present("tls-self-signed") {
        return Err(
            "--workers with --tls-self-signed: each worker would make its own \
                    certificate; make one and give it with --tls-cert and --tls-key"
                .into(),
        );
    }
    let config = Config {
        #[cfg(feature = "tls")]
        tls: super::serve_tls::certificate(&m, listeners.iter().any(|l| l.tls))?,
        listeners,
        bind: bind_options(&m)?,
        limits: limits(&m)?,
        services: services(&m)?,
        inherited,
        inetd,
        handover,
        restart: restart(args, inetd.is_some()),
        broker: broker(&m)?,
    };
    Ok(Some(Parsed { config, workers }))
}

/// `--inetd SERVICE`: a stream service, and no listeners beside it.
fn inetd_service(
    m: &getopts::Matches,
    listeners: &[ListenSpec],
) -> Result<Option<Service>, String> {
    let Some(name) = m.opt_str("inetd") else {
        return Ok(None);
    };
    if !listeners.is_empty() {
        return Err("--inetd serves the connection on standard input: no -l with it".into());
    }
    let service =
        Service::from_name(&name).ok_or_else(|| format!("--inetd {name}: unknown service"))?;
    Ok(Some(service))
}

/// The listeners with the passed sockets resolved: each `-l fd:NAME=SERVICE` becomes
/// one listener per passed socket of that name (systemd may pass several under one
/// name: `ListenStream=80` and `ListenStream=[::]:80`), and a passed socket no `-l`
/// names is served by the service its name names (`FileDescriptorName=web`).
fn with_inherited(
    listeners: Vec<ListenSpec>,
    inherited: &[Inherited],
) -> Result<Vec<ListenSpec>, String> {
    let mut out = Vec::new();
    let mut taken = Vec::new();
    for spec in listeners {
        let Endpoint::Fd(what) = &spec.endpoint else {
            out.push(spec);
            continue;
        };
        let first = activation::find(inherited, what)?;
        let same: Vec<&Inherited> = inherited
            .iter()
            .filter(|s| s.fd == first.fd || (s.name == *what && first.name == *what))
            .collect();
        for s in same {
            taken.push(s.fd);
            out.push(ListenSpec {
                endpoint: Endpoint::Fd(s.fd.to_string()),
                ..spec.clone()
            });
        }
    }
    for s in inherited.iter().filter(|s| !taken.contains(&s.fd)) {
        let service = Service::from_name(&s.name).ok_or_else(|| {
            format!(
                "the passed socket {} (fd {}) has no service: name it after one \
                 (FileDescriptorName=web) or serve it with -l fd:{}=SERVICE",
                s.name, s.fd, s.name
            )
        })?;
        out.push(ListenSpec {
            endpoint: Endpoint::Fd(s.fd.to_string()),
            service,
            tls: false,
        });
    }
    Ok(out)
}

/// Two `-l` that would take the same socket are the command line's mistake, said
/// with both as they were written, before anything is bound (binding would blame
/// "another sockloop").
fn no_clashes(texts: &[String], listeners: &[ListenSpec], dual_stack: bool) -> Result<(), String> {
    for (i, a) in listeners.iter().enumerate() {
        for (j, b) in listeners.iter().enumerate().skip(i + 1) {
            if let Some(what) = crate::runtime::spec::clash(&a.endpoint, &b.endpoint, dual_stack) {
                return Err(format!(
                    "-l {} and -l {} both listen on {what}; give each listener an address of its own",
                    texts[i], texts[j]
                ));
            }
        }
    }
    Ok(())
}

/// `--NAME N`, a positive whole number, or `default` without the option.
fn number(m: &getopts::Matches, name: &str, default: usize) -> Result<usize, String> {
    match m.opt_str(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("--{name} '{v}' is not a positive whole number")),
    }
}

/// `--NAME N`, a whole number where 0 turns the limit off, or `default` without it.
fn count(m: &getopts::Matches, name: &str, default: usize) -> Result<usize, String> {
    match m.opt_str(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| format!("--{name} '{v}' is not a whole number (0 = no limit)")),
    }
}

/// `--NAME SECS` (0 is off), or `default` without the option.
fn seconds(
    m: &getopts::Matches,
    name: &str,
    default: Option<Duration>,
) -> Result<Option<Duration>, String> {
    match m.opt_str(name) {
        None => Ok(default),
        Some(v) => parse_secs(&v, &format!("--{name}")),
    }
}

fn limits(m: &getopts::Matches) -> Result<Limits, String> {
    let defaults = Limits::default();
    Ok(Limits {
        idle_timeout: seconds(m, "idle-timeout", defaults.idle_timeout)?,
        max_conns: number(m, "max-conns", defaults.max_conns)?,
        max_conns_per_ip: count(m, "max-conns-per-ip", defaults.max_conns_per_ip)?,
        max_output: size::option(m, "max-output", defaults.max_output, 1)?,
        max_tls_handshakes: number(m, "max-tls-handshakes", defaults.max_tls_handshakes)?,
    })
}

fn bind_options(m: &getopts::Matches) -> Result<BindOptions, String> {
    let unix_mode = match m.opt_str("unix-mode") {
        None => None,
        Some(v) => Some(
            u32::from_str_radix(&v, 8)
                .ok()
                .filter(|&m| m <= 0o777)
                .ok_or_else(|| format!("--unix-mode '{v}' is not an octal mode like 660"))?,
        ),
    };
    Ok(BindOptions {
        reuse_port: m.opt_present("reuse-port"),
        v6_only: !m.opt_present("dual-stack"),
        backlog: i32::try_from(number(m, "backlog", 1024)?).unwrap_or(i32::MAX),
        unix_mode,
    })
}

fn services(m: &getopts::Matches) -> Result<Settings, String> {
    let defaults = WebConfig::default();
    let handshake_timeout = seconds(m, "handshake-timeout", Some(defaults.handshake_timeout))?
        .ok_or("--handshake-timeout must be more than 0")?;
    let web = WebConfig {
        allow_origins: m.opt_strs("allow-origin"),
        protocols: m.opt_strs("protocol"),
        max_message: size::option(m, "max-message", defaults.max_message, 1)?,
        handshake_timeout,
        ping_interval: seconds(m, "ws-ping-interval", None)?,
        deflate: ws_deflate(m)?,
        ..defaults
    };
    let max_memory = size::option(m, "max-memory", Settings::default().max_memory, MIN_MEMORY)?;
    let publish_rate = count(m, "publish-rate", Settings::default().publish_rate as usize)?;
    Ok(Settings {
        max_line: size::option(m, "max-line", Settings::default().max_line, 1)?,
        max_memory,
        web,
        publish_rate: u32::try_from(publish_rate).map_err(|_| "--publish-rate is too large")?,
        hub: Default::default(),
    })
}

/// `--ws-deflate`: every message compressed on its own (no context takeover), so
/// that nothing is held for an idle connection. `--ws-deflate-context`: both sides
/// keep their history, each connection its own inflater and deflater.
fn ws_deflate(m: &getopts::Matches) -> Result<Option<ServerPolicy>, String> {
    let context_takeover = m.opt_present("ws-deflate-context");
    if !m.opt_present("ws-deflate") && !context_takeover {
        return Ok(None);
    }
    if !deflate::AVAILABLE {
        return Err("--ws-deflate: this sockloop was built without the `deflate` feature".into());
    }
    Ok(Some(ServerPolicy { context_takeover }))
}

pub fn main(args: &[String]) -> i32 {
    let Parsed { config, workers } = match parse(args) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return exit::OK,
        Err(e) => return super::usage_error("serve", &e),
    };
    if let Some(count) = workers {
        return supervise(config, count);
    }
    let worker = matches!(
        config.handover,
        Some(Handover {
            role: Role::Worker(_),
            ..
        })
    );
    let server = match Server::bind(config) {
        Ok(server) => server,
        Err(e) => {
            crate::error!("{e}");
            return exit::FAILURE;
        }
    };
    if !server.serves_stdin() && !worker {
        // (Under --inetd standard output is the connection; a worker's supervisor
        // printed the banner.)
        #[cfg(feature = "tls")]
        let tls = server.tls();
        #[cfg(not(feature = "tls"))]
        let tls = None;
        print_banner(server.listeners(), tls, "");
    }
    report(server.run())
}

/// `--workers N`: the supervisor binds, prints the banner and runs the workers.
fn supervise(config: Config, count: u32) -> i32 {
    let Some(restart) = config.restart.as_ref().map(worker_args) else {
        crate::error!("--workers: cannot find this program's own path to start workers");
        return exit::FAILURE;
    };
    let supervisor = match Supervisor::bind(config, count, restart) {
        Ok(s) => s,
        Err(e) => {
            crate::error!("{e}");
            return exit::FAILURE;
        }
    };
    #[cfg(feature = "tls")]
    let tls = supervisor.tls();
    #[cfg(not(feature = "tls"))]
    let tls = None;
    let processes = format!(", {count} worker processes");
    print_banner(supervisor.listeners(), tls, &processes);
    report(supervisor.run())
}

fn report(ran: std::io::Result<crate::runtime::Summary>) -> i32 {
    match ran {
        Ok(summary) => {
            crate::info!(
                "served {}, {} active at exit",
                plural::count(summary.served, "client"),
                summary.active_at_exit
            );
            if summary.forced {
                exit::INTERRUPTED
            } else {
                exit::OK
            }
        }
        Err(e) => {
            crate::error!("the loop failed: {e}");
            exit::FAILURE
        }
    }
}
