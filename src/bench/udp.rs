//! `bench udp`: datagram round trips, loss counted. Each of N connected UDP sockets
//! keeps `depth` datagrams in flight; a datagram not answered within the loss
//! timeout counts as lost and is replaced, so the window never stalls.
//!
//! Every datagram carries its slot and sequence number as 16 hex digits, then
//! printable filler and a '\n' (so a line-oriented UDP service echoes it whole). An
//! answer is matched to its slot; one for a sequence already given up on is "late".
//! Sending stamps those 16 bytes into one reused buffer: nothing is allocated per
//! datagram.

use super::pattern::{Pattern, pattern};
use super::progress::{self, Progress};
use super::stats::Histogram;
use super::waiter::Waiter;
use super::window::{Measured, Window};
use super::{Errors, Options, Report};
use crate::runtime::poll::{self, Interest, Registration};
use polling::Poller;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Bytes of the slot and sequence number at the start of each datagram.
pub const ID_LEN: usize = 16;
/// Datagrams read per socket per wakeup, so one busy socket cannot starve the rest.
const RECV_BATCH: usize = 64;

#[derive(Clone, Copy, Default)]
struct Slot {
    seq: u32,
    sent_at: u64,
    live: bool,
}

struct Client {
    sock: UdpSocket,
    slots: Box<[Slot]>,
}

/// Writes `slot` and `seq` as 16 lowercase hex digits.
pub fn stamp(buf: &mut [u8], slot: u32, seq: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v = (u64::from(slot) << 32) | u64::from(seq);
    for (i, b) in buf.iter_mut().take(ID_LEN).enumerate() {
        *b = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
}

/// Reads what [`stamp`] wrote.
pub fn read_stamp(buf: &[u8]) -> Option<(u32, u32)> {
    let id = buf.get(..ID_LEN)?;
    let mut v = 0u64;
    for &b in id {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(((v >> 32) as u32, v as u32))
}

struct Run<'a> {
    opts: &'a Options,
    clients: Vec<Client>,
    template: Vec<u8>,
    sbuf: Vec<u8>,
    rbuf: Vec<u8>,
    hist: Histogram,
    base: Instant,
    budget: u64,
    sending: bool,
    done: u64,
    lost: u64,
    late: u64,
    errors: Errors,
    /// Set when the window closes.
    measured: Option<Measured>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Measuring,
    /// Sending has stopped; what is in flight has the loss timeout to come back.
    Draining {
        until: Instant,
    },
    Over,
}

pub fn run(opts: &Options, addr: SocketAddr) -> Result<Report, String> {
    super::sys::check_nofile(opts.conns as u64 + 32)?;
    if opts.size < ID_LEN + 1 {
        return Err(format!("udp datagrams need at least {} bytes", ID_LEN + 1));
    }
    let (poller, mut waiter) = Waiter::new()?;
    let clients = open_sockets(opts, addr, &poller)?;
    let mut progress = Progress::new(opts);
    progress.line(&format!(
        "{} to {addr}; running {}",
        progress::count_of(opts.conns, "UDP socket", "UDP sockets"),
        progress::plan(opts, "round trips"),
    ));
    let template = pattern(opts.size, 0, Pattern::Line);
    let r = Run {
        opts,
        clients,
        sbuf: template.clone(),
        template,
        rbuf: vec![0u8; 64 * 1024],
        hist: Histogram::new(),
        base: Instant::now(),
        budget: opts.count.unwrap_or(u64::MAX),
        sending: true,
        done: 0,
        lost: 0,
        late: 0,
        errors: Errors::default(),
        measured: None,
    };
    r.measure(&poller, &mut waiter, &mut progress, addr)
}

/// One connected, non-blocking UDP socket per `--conns`, registered under its index.
fn open_sockets(opts: &Options, addr: SocketAddr, poller: &Poller) -> Result<Vec<Client>, String> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let open = || -> io::Result<UdpSocket> {
        let sock = UdpSocket::bind(local)?;
        sock.connect(addr)?;
        sock.set_nonblocking(true)?;
        Ok(sock)
    };
    let mut clients = Vec::with_capacity(opts.conns);
    for i in 0..opts.conns {
        let sock = open().map_err(|e| format!("udp socket for {addr}: {e}"))?;
        Registration::add(poller, &sock, i, Interest::READ).map_err(|e| format!("poller: {e}"))?;
        clients.push(Client {
            sock,
            slots: vec![Slot::default(); opts.depth].into_boxed_slice(),
        });
    }
    Ok(clients)
}

impl Run<'_> {
    /// The loop: measure, let the last answers come back (or be lost); then the report.
    fn measure(
        mut self,
        poller: &Poller,
        waiter: &mut Waiter,
        progress: &mut Progress,
        addr: SocketAddr,
    ) -> Result<Report, String> {
        let window = Window::open(self.opts, progress);
        self.base = window.start();
        self.send_first();
        let scan_every = (self.opts.loss_timeout / 4).max(Duration::from_millis(1));
        let mut next_scan = window.start() + scan_every;
        let mut stage = Stage::Measuring;
        loop {
            let now = Instant::now();
            stage = self.advance(stage, now, &window, waiter.interrupted(), progress);
            if stage == Stage::Over {
                break;
            }
            if now >= next_scan {
                self.expire(now);
                next_scan = now + scan_every;
            }
            let wake = match stage {
                Stage::Draining { until } => until,
                _ => {
                    let (done, errors) = (self.done, self.errors.count);
                    progress.tick(now, done, errors, Some(self.lost), &self.hist);
                    window.end().min(progress.next_tick())
                }
            };
            for ev in waiter.wait(poller, wake.min(next_scan))? {
                if ev.readable {
                    self.receive(ev.key);
                }
            }
        }
        for c in &self.clients {
            poll::remove(poller, &c.sock);
        }
        Ok(self.finish(waiter.interrupted(), addr))
    }

    /// Every slot's first datagram (fewer if `--count` runs out).
    fn send_first(&mut self) {
        for c in 0..self.clients.len() {
            for s in 0..self.opts.depth {
                if self.budget > 0 {
                    self.budget -= 1;
                    self.send(c, s, 0);
                }
            }
        }
    }

    /// The stage after `stage` at `now`.
    fn advance(
        &mut self,
        mut stage: Stage,
        now: Instant,
        window: &Window,
        interrupted: bool,
        progress: &mut Progress,
    ) -> Stage {
        if stage == Stage::Measuring && (window.over(now, self.done) || interrupted) {
            self.measured = Some(window.close(now, self.done));
            self.sending = false;
            progress.finish();
            stage = Stage::Draining {
                until: now + self.opts.loss_timeout,
            };
        }
        if let Stage::Draining { until } = stage
            && (self.in_flight() == 0 || now >= until || interrupted)
        {
            // Whatever is still out was not answered in time.
            self.lost += self.in_flight();
            stage = Stage::Over;
        }
        stage
    }

    fn finish(mut self, interrupted: bool, addr: SocketAddr) -> Report {
        let opts = self.opts;
        // The loop only ends after the window has closed.
        let measured = self.measured.take().unwrap_or_default();
        let mut errors = self.errors;
        measured.check_count(opts, "round trips completed", &mut errors, interrupted);
        if measured.messages == 0 && errors.first.is_none() {
            errors.add(|| {
                format!("no datagram came back — is a UDP echo server listening on {addr}?")
            });
        }
        Report {
            lost: self.lost,
            late: self.late,
            ..measured.report(opts, &self.hist, errors, interrupted)
        }
    }

    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn in_flight(&self) -> u64 {
        self.clients
            .iter()
            .flat_map(|c| c.slots.iter())
            .filter(|s| s.live)
            .count() as u64
    }

    /// Sends the next datagram of slot `s` of client `c`.
    fn send(&mut self, c: usize, s: usize, now_ns: u64) {
        let Some(client) = self.clients.get_mut(c) else {
            return;
        };
        let Some(slot) = client.slots.get_mut(s) else {
            return;
        };
        slot.seq = slot.seq.wrapping_add(1);
        slot.sent_at = now_ns;
        slot.live = true;
        stamp(&mut self.sbuf, s as u32, slot.seq);
        match client.sock.send(&self.sbuf) {
            Ok(_) => {}
            // A full socket buffer drops the datagram, like the network could: the
            // loss timeout will notice and replace it.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.raw_os_error() == Some(105) => {} // ENOBUFS: same
            Err(e) => self.error(c, &e),
        }
    }

    fn error(&mut self, c: usize, e: &io::Error) {
        self.errors.add(|| match e.kind() {
            io::ErrorKind::ConnectionRefused => {
                "connection refused (ICMP port unreachable) — is a UDP server listening?".into()
            }
            _ => format!("socket {c}: {e}"),
        });
    }

    /// Reads up to a batch of answers on client `c`.
    fn receive(&mut self, c: usize) {
        for _ in 0..RECV_BATCH {
            let Some(client) = self.clients.get(c) else {
                return;
            };
            let n = match client.sock.recv(&mut self.rbuf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error(c, &e);
                    return;
                }
            };
            let now_ns = self.now_ns();
            let data = self.rbuf.get(..n).unwrap_or_default();
            let good =
                n == self.template.len() && data.get(ID_LEN..) == self.template.get(ID_LEN..);
            let id = if good { read_stamp(data) } else { None };
            let Some((s, seq)) = id else {
                let e =
                    io::Error::other(format!("an answer of {n} bytes is not the datagram sent"));
                self.error(c, &e);
                continue;
            };
            let s = s as usize;
            let slot = self.clients.get_mut(c).and_then(|cl| cl.slots.get_mut(s));
            match slot {
                Some(slot) if slot.live && slot.seq == seq => {
                    slot.live = false;
                    self.hist.record_ns(now_ns.saturating_sub(slot.sent_at));
                    self.done += 1;
                    if self.sending && self.budget > 0 {
                        self.budget -= 1;
                        self.send(c, s, now_ns);
                    }
                }
                // An answer to a datagram already counted lost (and replaced).
                Some(slot) if seq.wrapping_sub(slot.seq) > u32::MAX / 2 || !slot.live => {
                    self.late += 1;
                }
                _ => {
                    let e = io::Error::other("an answer to a datagram never sent");
                    self.error(c, &e);
                }
            }
        }
    }

    /// Counts datagrams unanswered for the loss timeout as lost, and replaces them.
    fn expire(&mut self, now: Instant) {
        let now_ns = now.saturating_duration_since(self.base).as_nanos() as u64;
        let limit = self.opts.loss_timeout.as_nanos() as u64;
        for c in 0..self.clients.len() {
            for s in 0..self.opts.depth {
                let expired = self
                    .clients
                    .get(c)
                    .and_then(|cl| cl.slots.get(s))
                    .is_some_and(|slot| slot.live && now_ns.saturating_sub(slot.sent_at) > limit);
                if !expired {
                    continue;
                }
                self.lost += 1;
                if self.sending {
                    // The lost one never completes, so its replacement is free.
                    self.send(c, s, now_ns);
                } else if let Some(slot) =
                    self.clients.get_mut(c).and_then(|cl| cl.slots.get_mut(s))
                {
                    slot.live = false;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let mut buf = pattern(64, 0, Pattern::Line);
        for (slot, seq) in [(0, 0), (1, 2), (u32::MAX, u32::MAX), (0xabc, 0x1234_5678)] {
            stamp(&mut buf, slot, seq);
            assert!(buf[..ID_LEN].iter().all(u8::is_ascii_hexdigit));
            assert_eq!(read_stamp(&buf), Some((slot, seq)));
        }
        assert_eq!(read_stamp(b"0123456789abcdeZ"), None);
        assert_eq!(read_stamp(b"short"), None);
    }
}
