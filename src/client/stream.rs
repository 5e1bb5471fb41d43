//! The `tcp` and `unix` clients: full duplex like `nc`, in one poll loop.
//!
//! Standard input goes to the socket and the socket goes to standard output, both at
//! once. When stdin ends, our side of the connection is shut (FIN) and the client
//! keeps printing until the server closes. `--prompt` gives the classic examples'
//! interactive style; `-e` sends one message and prints the answer.

use super::input::{Input, STDIN_KEY};
use super::lines::{Lines, without_ending};
use super::output::Output;
use super::queue::Outgoing;
use super::{ClientError, read_now};
use crate::proto::line::StopDetector;
use crate::runtime::poll::{self, Events, Interest, Ready, Registration};
use crate::runtime::transport::Stream;
use crate::trace;
use crate::trace::Layer;
use polling::Poller;
use std::ops::ControlFlow::{self, Break, Continue};
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const SOCKET: usize = 1;
/// Stop reading stdin while this much is waiting to be sent (backpressure).
const MAX_QUEUED: usize = 256 * 1024;

pub struct StreamOptions {
    /// One-shot: send this instead of reading stdin.
    pub send: Option<Vec<u8>>,
    /// Classic interactive style: `>> ` prompts, `->: ` before replies, STOP exits.
    pub prompt: bool,
    /// Once we have nothing more to send, stop after this long without data.
    pub silence: Option<Duration>,
    pub verbose: bool,
    /// What we are connected to, for messages.
    pub peer: String,
    /// Said when `--prompt` mode exits (the classic clients' words): on stdout after
    /// STOP, as they do; on stderr when the server closed first.
    pub exit_words: &'static str,
}

/// Runs the loop until the server closes (Ok), the silence timeout passes (Ok) or
/// the connection fails.
pub fn run(sock: Stream, opts: StreamOptions) -> Result<(), ClientError> {
    Client::new(sock, opts)?.run()
}

struct Client {
    sock: Stream,
    socket: Registration,
    poller: Poller,
    input: Input,
    to_sock: Outgoing,
    prompt: Option<Prompt>,
    out: Output,
    /// Where the socket and stdin are read into, one at a time.
    buf: Vec<u8>,
    write_shut: bool,
    /// When the server last sent something (or our FIN went out).
    last_data: Instant,
    opts: StreamOptions,
}

impl Client {
    fn new(sock: Stream, opts: StreamOptions) -> Result<Client, ClientError> {
        sock.prepare().map_err(|e| ClientError::io("socket", e))?;
        let poller = Poller::new().map_err(ClientError::poller)?;
        let socket = Registration::add(&poller, &sock, SOCKET, Interest::READ)
            .map_err(ClientError::poller)?;
        let mut to_sock = Outgoing::default();
        let input = match &opts.send {
            Some(message) => {
                to_sock.push(message);
                Input::closed()
            }
            None => Input::open(&poller),
        };
        let mut out = Output::default();
        let prompt = opts.prompt.then(Prompt::default);
        if prompt.is_some() {
            out.prompt();
            out.flush();
        }
        Ok(Client {
            sock,
            socket,
            poller,
            input,
            to_sock,
            prompt,
            out,
            buf: vec![0u8; 64 * 1024],
            write_shut: false,
            last_data: Instant::now(),
            opts,
        })
    }

    fn run(mut self) -> Result<(), ClientError> {
        self.trace_start();
        let mut events = Events::new();
        loop {
            self.half_close_when_done();
            let want_stdin = self.input.open && self.to_sock.len() < MAX_QUEUED;
            self.watch(want_stdin)?;
            if self.wait(&mut events, want_stdin)?.is_break() {
                return Ok(());
            }
            let mut stdin_ready = self.input.ready_now(want_stdin);
            for ev in events.iter() {
                match ev.key {
                    SOCKET if self.on_socket(ev)?.is_break() => return Ok(()),
                    STDIN_KEY => stdin_ready = true,
                    _ => {}
                }
            }
            if stdin_ready && self.input.open {
                self.on_stdin()?;
            }
        }
    }

    fn trace_start(&self) {
        if trace::any() {
            trace::set_context(format_args!("{}", self.opts.peer));
            trace!(
                Layer::Loop,
                "connected, fd={}; stdin {}",
                self.sock.as_fd().as_raw_fd(),
                if self.input.is_polled() {
                    "watched by the poller"
                } else {
                    "read directly (a file, or not read)"
                }
            );
        }
    }

    /// Nothing more to send: tell the server with a FIN, then wait for its answer.
    fn half_close_when_done(&mut self) {
        let all_sent = self.to_sock.is_empty() && !self.sock.has_unsent();
        if !self.input.open && all_sent && !self.write_shut {
            trace!(
                Layer::Loop,
                "input done: shutdown(write) sends FIN; waiting for the server to close"
            );
            self.sock.shutdown_write();
            self.write_shut = true;
            self.last_data = Instant::now();
        }
    }

    fn watch(&mut self, want_stdin: bool) -> Result<(), ClientError> {
        let writing = self
            .sock
            .interest(Interest::new(true, !self.to_sock.is_empty()));
        self.socket
            .set(&self.poller, &self.sock, SOCKET, writing)
            .map_err(ClientError::poller)?;
        self.input
            .want(&self.poller, want_stdin)
            .map_err(ClientError::poller)
    }

    /// Waits for the socket or stdin; `Break` once the server's silence, after we have
    /// sent everything, ends the client.
    fn wait(
        &mut self,
        events: &mut Events,
        want_stdin: bool,
    ) -> Result<ControlFlow<()>, ClientError> {
        let now = Instant::now();
        let quiet_until = self
            .opts
            .silence
            .filter(|_| !self.input.open)
            .map(|d| self.last_data + d);
        if quiet_until.is_some_and(|at| at <= now) {
            self.out.flush();
            return Ok(Break(()));
        }
        let timeout = self.input.wait_limit(want_stdin, quiet_until, now);
        poll::wait(&self.poller, events, timeout).map_err(ClientError::poller)?;
        Ok(Continue(()))
    }

    /// `Break` when the session is over: the server closed, or answered our STOP.
    fn on_socket(&mut self, ev: Ready) -> Result<ControlFlow<()>, ClientError> {
        if ev.writable {
            self.flush()?;
        }
        if !ev.readable {
            return Ok(Continue(()));
        }
        let Some(n) = read_now(self.sock.read(&mut self.buf), &self.opts.peer)? else {
            return Ok(Continue(()));
        };
        trace!(
            Layer::Loop,
            "socket read {n} bytes{}",
            if n == 0 { ": the server sent FIN" } else { "" }
        );
        if n == 0 {
            self.closed_by_server();
            return Ok(Break(()));
        }
        self.last_data = Instant::now();
        Ok(self.show(n))
    }

    /// Prints the `n` bytes the server sent; `Break` once the answer to STOP is shown.
    fn show(&mut self, n: usize) -> ControlFlow<()> {
        let data = &self.buf[..n];
        match &mut self.prompt {
            None => self.out.raw(data),
            Some(p) => {
                p.replies.push(data);
                if p.show_replies(&mut self.out, false) && p.stop_sent {
                    self.out.line(self.opts.exit_words.as_bytes());
                    self.out.flush();
                    return Break(());
                }
            }
        }
        self.out.flush();
        Continue(())
    }

    /// The server sent FIN: show what is left and let go of the descriptors.
    fn closed_by_server(&mut self) {
        let mut said = false;
        if let Some(p) = &mut self.prompt {
            let printed = p.show_replies(&mut self.out, true);
            if p.stop_sent {
                self.out.line(self.opts.exit_words.as_bytes());
            } else {
                // The server ended the session, not STOP: end the line of the last
                // `>> ` (the shell's prompt comes next), and say why we are leaving
                // on stderr, so stdout stays what the server sent.
                if !printed {
                    self.out.raw(b"\n");
                }
                self.out.flush();
                eprintln!(
                    "sockloop: {} closed the connection; {}",
                    self.opts.peer, self.opts.exit_words
                );
                said = true;
            }
        }
        self.out.flush();
        if self.opts.verbose && !said {
            eprintln!("sockloop: {} closed the connection", self.opts.peer);
        }
        poll::remove(&self.poller, &self.sock);
        self.input.close(&self.poller);
    }

    fn on_stdin(&mut self) -> Result<(), ClientError> {
        let n = self.input.read(&mut self.buf).unwrap_or(0);
        trace!(
            Layer::Loop,
            "stdin read {n} bytes{}",
            if n == 0 { ": end of input" } else { "" }
        );
        if n == 0 {
            self.input.close(&self.poller);
            if self.opts.verbose {
                eprintln!("sockloop: end of input; half-closing (FIN) and waiting for the server");
            }
            return Ok(());
        }
        let mut data = &self.buf[..n];
        if let Some(p) = &mut self.prompt {
            // The classic clients stop after STOP: send up to it, read no more.
            if let Some(end) = p.stop.scan(data) {
                data = &data[..end];
                p.stop_sent = true;
                self.input.close(&self.poller);
            }
        }
        self.to_sock.push(data);
        self.flush()
    }

    fn flush(&mut self) -> Result<(), ClientError> {
        let sock = &mut self.sock;
        let unsent = sock.flush_unsent();
        unsent
            .and_then(|()| {
                self.to_sock.flush(|pending| {
                    let n = sock.write(pending)?;
                    trace!(Layer::Loop, "socket write {n} of {} bytes", pending.len());
                    Ok(n)
                })
            })
            .map_err(|e| {
                ClientError::Failed(format!(
                    "cannot send to {}: {e} (the server closed the connection?)",
                    self.opts.peer
                ))
            })
    }
}

/// The classic interactive style: `>> ` before input, `->: ` before each reply line.
#[derive(Default)]
struct Prompt {
    /// The server's answer, not yet shown.
    replies: Lines,
    stop: StopDetector,
    stop_sent: bool,
}

impl Prompt {
    /// Prints the complete reply lines (once the server has `ended`, an unterminated
    /// last one too), then, while the session goes on, the prompt for more; true if
    /// there was at least one.
    fn show_replies(&mut self, out: &mut Output, ended: bool) -> bool {
        let mut printed = false;
        while let Some(line) = self.replies.next_line(ended) {
            out.labelled(b"->: ", without_ending(line));
            printed = true;
        }
        if printed && !self.stop_sent && !ended {
            out.prompt();
        }
        printed
    }
}
