//! The options of `sockloop serve` about processes: `--workers`, `--broker`, how
//! SIGUSR2 starts the binary again, and the listeners a hand-over passed.

use crate::runtime::activation::Inherited;
use crate::runtime::handover::Handover;
use crate::runtime::server::{BrokerConfig, Restart};
use crate::runtime::{Endpoint, ListenSpec};

/// `--broker redis://HOST:PORT`: the address, looked up once, at start.
pub fn broker(m: &getopts::Matches) -> Result<Option<BrokerConfig>, String> {
    let Some(url) = m.opt_str("broker") else {
        return Ok(None);
    };
    if !cfg!(feature = "pubsub") {
        return Err("--broker: this sockloop was built without the `pubsub` feature".into());
    }
    let target = url.strip_prefix("redis://").ok_or_else(|| {
        format!("--broker {url:?}: give it as redis://HOST:PORT (e.g. redis://127.0.0.1:6379)")
    })?;
    let target = target.strip_suffix('/').unwrap_or(target);
    let with_port = match target.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() && !target.ends_with(']') => {
            target.to_string()
        }
        _ => format!("{target}:6379"),
    };
    use std::net::ToSocketAddrs;
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("--broker {url}: {e}"))?
        .next()
        .ok_or_else(|| format!("--broker {url}: the name has no address"))?;
    Ok(Some(BrokerConfig { url, addr }))
}

/// `--workers N|auto`: not with --inetd, and never in a worker.
pub fn workers(
    m: &getopts::Matches,
    inetd: bool,
    handed_over: bool,
) -> Result<Option<u32>, String> {
    let Some(text) = m.opt_str("workers") else {
        return Ok(None);
    };
    if inetd {
        return Err("--workers and --inetd: inetd starts a process per connection itself".into());
    }
    let count = match text.as_str() {
        "auto" => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        n => n
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1024).contains(n))
            .ok_or_else(|| format!("--workers '{n}' is not auto or a number from 1 to 1024"))?,
    };
    // (A worker's command line has no --workers; a new binary started by a
    // supervisor's SIGUSR2 is a worker.)
    Ok((!handed_over).then_some(count))
}

/// How SIGUSR2 starts this server again: the binary at the path it was started
/// from (a new build installed there is what starts), with the same arguments.
pub fn restart(args: &[String], inetd: bool) -> Option<Restart> {
    if inetd {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let mut all = vec!["serve".to_string()];
    all.extend(args.iter().cloned());
    Some(Restart { exe, args: all })
}

/// A worker's command line: ours without `--workers`.
pub fn worker_args(restart: &Restart) -> Restart {
    let mut args = Vec::new();
    let mut skip = false;
    for a in &restart.args {
        if skip {
            skip = false;
        } else if a == "--workers" {
            skip = true;
        } else if !a.starts_with("--workers=") {
            args.push(a.clone());
        }
    }
    Restart {
        exe: restart.exe.clone(),
        args,
    }
}

/// The sockets a supervisor or an old binary handed us, named by their numbers.
pub fn passed_sockets(h: &Handover) -> Vec<Inherited> {
    h.listeners
        .iter()
        .map(|p| Inherited {
            fd: p.fd,
            name: p.fd.to_string(),
        })
        .collect()
}

pub fn passed_listeners(h: &Handover) -> Vec<ListenSpec> {
    h.listeners
        .iter()
        .map(|p| ListenSpec {
            endpoint: Endpoint::Fd(p.fd.to_string()),
            service: p.service,
            tls: p.tls,
        })
        .collect()
}
