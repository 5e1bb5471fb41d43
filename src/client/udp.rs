//! The `udp` client: each line of standard input is one datagram, each reply datagram
//! is printed. UDP has no connection, so silence is the only sign that nobody is
//! there: after `--timeout` without a reply the client says so plainly. The socket is
//! connected, so an ICMP "port unreachable" comes back as ECONNREFUSED and is reported
//! as what it is.

use super::ClientError;
use super::input::{Input, STDIN_KEY};
use super::stream::Output;
use crate::runtime::poll::{self, Events, Interest, Registration};
use crate::trace;
use crate::trace::{Layer, Preview};
use polling::Poller;
use std::io;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const SOCKET: usize = 1;

pub struct UdpOptions {
    /// One-shot: send this datagram instead of reading stdin.
    pub send: Option<Vec<u8>>,
    /// Classic interactive style: `>> ` prompt, `Reply: ` before replies, STOP exits.
    pub prompt: bool,
    /// How long to wait for a reply.
    pub timeout: Duration,
    pub verbose: bool,
    pub peer: String,
}

/// Runs until stdin ends and every datagram sent has had its reply or its timeout.
/// Fails (exit 1) if any datagram went unanswered.
pub fn run(sock: UdpSocket, opts: UdpOptions) -> Result<(), ClientError> {
    let io_err = |e| ClientError::io("poller", e);
    sock.set_nonblocking(true)
        .map_err(|e| ClientError::io("socket", e))?;
    let poller = Poller::new().map_err(io_err)?;
    Registration::add(&poller, &sock, SOCKET, Interest::READ).map_err(io_err)?;
    let mut input = match opts.send {
        Some(_) => Input::closed(),
        None => Input::open(&poller),
    };
    if trace::any() {
        trace::set_context(format_args!("udp {}", opts.peer));
    }
    let mut state = State {
        sock,
        opts,
        waiting: 0,
        deadline: None,
        unanswered: 0,
        stop_sent: false,
        out: Output::default(),
    };
    if let Some(first) = state.opts.send.clone() {
        state.send(&first)?;
    }
    state.show_prompt();
    let mut events = Events::new();
    let mut buf = vec![0u8; 65_536];
    let mut partial: Vec<u8> = Vec::new();
    let mut input_ended = false;
    loop {
        if !input.open && state.waiting == 0 && (partial.is_empty() || state.stop_sent) {
            state.out.flush();
            return state.result();
        }
        // One request in flight at a time when prompting, like the classic client.
        let want_stdin = input.open && !(state.opts.prompt && state.waiting > 0);
        input.want(&poller, want_stdin).map_err(io_err)?;
        let timeout = if input.ready_now(want_stdin) {
            Some(Duration::ZERO)
        } else {
            poll::timeout_until(state.deadline, Instant::now())
        };
        poll::wait(&poller, &mut events, timeout).map_err(io_err)?;
        let mut stdin_ready = input.ready_now(want_stdin);
        for ev in events.iter() {
            match ev.key {
                SOCKET => state.receive(&mut buf)?,
                STDIN_KEY => stdin_ready = true,
                _ => {}
            }
        }
        if state.deadline.is_some_and(|d| d <= Instant::now()) {
            state.timed_out();
        }
        if state.stop_sent && state.waiting == 0 {
            state.out.line("Exiting UDP client!");
            state.out.flush();
            return state.result();
        }
        if stdin_ready && input.open {
            let n = input.read(&mut buf).unwrap_or(0);
            if n == 0 {
                input.close(&poller);
                input_ended = true;
            } else {
                partial.extend_from_slice(&buf[..n]);
            }
        }
        // Send what is ready: every complete line, or in prompt mode one at a time
        // (the next when the previous got its reply or timed out).
        while !state.stop_sent && (!state.opts.prompt || state.waiting == 0) {
            let line: Vec<u8> = match partial.iter().position(|&b| b == b'\n') {
                Some(end) => partial.drain(..=end).collect(),
                // A last line without a newline is still a datagram.
                None if input_ended && !partial.is_empty() => std::mem::take(&mut partial),
                None => break,
            };
            if state.opts.prompt && line.trim_ascii() == b"STOP" {
                state.stop_sent = true;
                input.close(&poller);
            }
            state.send(&line)?;
        }
    }
}

struct State {
    sock: UdpSocket,
    opts: UdpOptions,
    /// Datagrams sent whose reply has not come yet.
    waiting: u64,
    /// When the oldest wait runs out.
    deadline: Option<Instant>,
    unanswered: u64,
    stop_sent: bool,
    out: Output,
}

impl State {
    fn send(&mut self, datagram: &[u8]) -> Result<(), ClientError> {
        match self.sock.send(datagram) {
            Ok(n) => trace!(
                Layer::Udp,
                "datagram to {}: {n} bytes {}",
                self.opts.peer,
                Preview(datagram)
            ),
            Err(e) => return Err(self.failure(e)),
        }
        self.waiting += 1;
        self.deadline = Some(Instant::now() + self.opts.timeout);
        Ok(())
    }

    /// Takes every datagram that has arrived.
    fn receive(&mut self, buf: &mut [u8]) -> Result<(), ClientError> {
        loop {
            match self.sock.recv(buf) {
                Ok(n) => {
                    let data = &buf[..n];
                    trace!(
                        Layer::Udp,
                        "datagram from {}: {n} bytes {}",
                        self.opts.peer,
                        Preview(data)
                    );
                    if self.opts.prompt {
                        let text = data.strip_suffix(b"\n").unwrap_or(data);
                        self.out.raw(b"Reply: ");
                        self.out.raw(text);
                        self.out.raw(b"\n");
                    } else {
                        self.out.raw(data);
                        if !data.ends_with(b"\n") {
                            self.out.raw(b"\n");
                        }
                    }
                    self.waiting = self.waiting.saturating_sub(1);
                    if self.waiting == 0 {
                        self.deadline = None;
                        if !self.stop_sent {
                            self.show_prompt_into();
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.failure(e)),
            }
        }
        self.out.flush();
        Ok(())
    }

    fn timed_out(&mut self) {
        self.out.flush();
        eprintln!(
            "sockloop: no reply from {} within {} s — is a UDP server listening?",
            self.opts.peer,
            self.opts.timeout.as_secs_f64()
        );
        self.unanswered += self.waiting;
        self.waiting = 0;
        self.deadline = None;
        if !self.stop_sent {
            self.show_prompt();
        }
    }

    fn failure(&self, e: io::Error) -> ClientError {
        if e.kind() == io::ErrorKind::ConnectionRefused {
            ClientError::Failed(format!(
                "{} answered with ICMP port unreachable — no UDP server is listening there",
                self.opts.peer
            ))
        } else {
            ClientError::Failed(format!("udp {}: {e}", self.opts.peer))
        }
    }

    fn show_prompt(&mut self) {
        self.show_prompt_into();
        self.out.flush();
    }

    fn show_prompt_into(&mut self) {
        if self.opts.prompt {
            self.out.raw(b">> ");
        }
    }

    fn result(&self) -> Result<(), ClientError> {
        match self.unanswered {
            0 => Ok(()),
            n => Err(ClientError::Failed(format!(
                "{n} datagram(s) to {} got no reply",
                self.opts.peer
            ))),
        }
    }
}
