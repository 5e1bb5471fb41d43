//! The `udp` client: each line of standard input is one datagram, each reply datagram
//! is printed. UDP has no connection, so silence is the only sign that nobody is
//! there: after `--timeout` without a reply the client says so plainly. The socket is
//! connected, so an ICMP "port unreachable" comes back as ECONNREFUSED and is reported
//! as what it is.

use super::ClientError;
use super::input::{Input, STDIN_KEY};
use super::lines::Lines;
use super::output::Output;
use crate::runtime::poll::{self, Events, Interest, Registration};
use crate::runtime::transport::would_block;
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
pub fn run(sock: UdpSocket, mut opts: UdpOptions) -> Result<(), ClientError> {
    sock.set_nonblocking(true)
        .map_err(|e| ClientError::io("socket", e))?;
    let poller = Poller::new().map_err(ClientError::poller)?;
    Registration::add(&poller, &sock, SOCKET, Interest::READ).map_err(ClientError::poller)?;
    let first = opts.send.take();
    let input = match first {
        Some(_) => Input::closed(),
        None => Input::open(&poller),
    };
    if trace::any() {
        trace::set_context(format_args!("udp {}", opts.peer));
    }
    let mut client = Client {
        poller,
        input,
        lines: Lines::default(),
        input_ended: false,
        state: State {
            sock,
            opts,
            waiting: 0,
            deadline: None,
            unanswered: 0,
            stop_sent: false,
            out: Output::default(),
        },
    };
    if let Some(first) = first {
        client.state.send(&first)?;
    }
    client.state.show_prompt();
    client.run()
}

struct Client {
    poller: Poller,
    input: Input,
    /// Standard input not yet sent.
    lines: Lines,
    input_ended: bool,
    state: State,
}

impl Client {
    fn run(mut self) -> Result<(), ClientError> {
        let mut events = Events::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            let state = &mut self.state;
            if !self.input.open && state.waiting == 0 && (self.lines.is_empty() || state.stop_sent)
            {
                state.out.flush();
                return state.result();
            }
            // One request in flight at a time when prompting, like the classic client.
            let want_stdin = self.input.open && !(state.opts.prompt && state.waiting > 0);
            self.input
                .want(&self.poller, want_stdin)
                .map_err(ClientError::poller)?;
            let timeout = self
                .input
                .wait_limit(want_stdin, state.deadline, Instant::now());
            poll::wait(&self.poller, &mut events, timeout).map_err(ClientError::poller)?;
            let mut stdin_ready = self.input.ready_now(want_stdin);
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
                state.out.line(b"Exiting UDP client!");
                state.out.flush();
                return state.result();
            }
            if stdin_ready && self.input.open {
                self.read_stdin(&mut buf);
            }
            self.send_lines()?;
        }
    }

    fn read_stdin(&mut self, buf: &mut [u8]) {
        match self.input.read(buf).unwrap_or(0) {
            0 => {
                self.input.close(&self.poller);
                self.input_ended = true;
            }
            n => self.lines.push(&buf[..n]),
        }
    }

    /// Sends what is ready: every complete line, or in prompt mode one at a time (the
    /// next when the previous got its reply or timed out). A last line without a
    /// newline is still a datagram.
    fn send_lines(&mut self) -> Result<(), ClientError> {
        let state = &mut self.state;
        while !state.stop_sent && (!state.opts.prompt || state.waiting == 0) {
            let Some(line) = self.lines.next_line(self.input_ended) else {
                break;
            };
            if state.opts.prompt && line.trim_ascii() == b"STOP" {
                state.stop_sent = true;
                self.input.close(&self.poller);
            }
            state.send(line)?;
        }
        Ok(())
    }
}

/// The datagrams sent, their replies and what is shown of them.
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
                Ok(n) => self.reply(&buf[..n]),
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(self.failure(e)),
            }
        }
        self.out.flush();
        Ok(())
    }

    fn reply(&mut self, data: &[u8]) {
        trace!(
            Layer::Udp,
            "datagram from {}: {} bytes {}",
            self.opts.peer,
            data.len(),
            Preview(data)
        );
        if self.opts.prompt {
            self.out
                .labelled(b"Reply: ", data.strip_suffix(b"\n").unwrap_or(data));
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
            self.out.prompt();
        }
    }

    fn result(&self) -> Result<(), ClientError> {
        match self.unanswered {
            0 => Ok(()),
            n => Err(ClientError::Failed(format!(
                "{} to {} got no reply",
                crate::plural::count(n, "datagram"),
                self.opts.peer
            ))),
        }
    }
}
