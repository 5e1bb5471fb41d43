//! The `tcp` and `unix` clients: full duplex like `nc`, in one poll loop.
//!
//! Standard input goes to the socket and the socket goes to standard output, both at
//! once. When stdin ends, our side of the connection is shut (FIN) and the client
//! keeps printing until the server closes. `--prompt` gives the classic examples'
//! interactive style; `-e` sends one message and prints the answer.

use super::ClientError;
use super::input::{Input, STDIN_KEY};
use crate::proto::line::StopDetector;
use crate::runtime::poll::{self, Events, Interest, Registration};
use crate::runtime::transport::Stream;
use crate::trace;
use crate::trace::Layer;
use polling::Poller;
use std::io::{self, Write};
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
    /// Printed when `--prompt` mode exits after STOP (the classic clients' words).
    pub exit_words: &'static str,
}

/// Runs the loop until the server closes (Ok), the silence timeout passes (Ok) or
/// the connection fails.
pub fn run(mut sock: Stream, opts: StreamOptions) -> Result<(), ClientError> {
    let io_err = |e| ClientError::io("poller", e);
    set_nonblocking(&sock).map_err(|e| ClientError::io("socket", e))?;
    let poller = Poller::new().map_err(io_err)?;
    let mut to_sock: Vec<u8> = opts.send.clone().unwrap_or_default();
    let mut socket = Registration::add(&poller, &sock, SOCKET, Interest::READ).map_err(io_err)?;
    let mut input = match opts.send {
        Some(_) => Input::closed(),
        None => Input::open(&poller),
    };
    let mut prompt = opts.prompt.then(Prompt::default);
    if let Some(p) = &prompt {
        p.show();
    }
    let mut out = Output::default();
    let mut events = Events::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut write_shut = false;
    let mut last_data = Instant::now();
    if trace::any() {
        trace::set_context(format_args!("{}", opts.peer));
        trace!(
            Layer::Loop,
            "connected, fd={}; stdin {}",
            sock.as_fd().as_raw_fd(),
            if input.is_polled() {
                "watched by the poller"
            } else {
                "read directly (a file, or not read)"
            }
        );
    }
    loop {
        // Nothing more to send: tell the server with a FIN, then wait for its answer.
        if !input.open && to_sock.is_empty() && !write_shut {
            trace!(
                Layer::Loop,
                "input done: shutdown(write) sends FIN; waiting for the server to close"
            );
            sock.shutdown_write();
            write_shut = true;
            last_data = Instant::now();
        }
        let want_stdin = input.open && to_sock.len() < MAX_QUEUED;
        socket
            .set(
                &poller,
                &sock,
                SOCKET,
                Interest::new(true, !to_sock.is_empty()),
            )
            .map_err(io_err)?;
        input.want(&poller, want_stdin).map_err(io_err)?;
        let now = Instant::now();
        // Once we have nothing more to send, the server's silence ends the client.
        let quiet_until = opts.silence.filter(|_| !input.open).map(|d| last_data + d);
        if quiet_until.is_some_and(|at| at <= now) {
            out.flush();
            return Ok(());
        }
        let timeout = if input.ready_now(want_stdin) {
            Some(Duration::ZERO)
        } else {
            poll::timeout_until(quiet_until, now)
        };
        poll::wait(&poller, &mut events, timeout).map_err(io_err)?;
        let mut stdin_ready = input.ready_now(want_stdin);
        for ev in events.iter() {
            match ev.key {
                SOCKET => {
                    if ev.writable {
                        flush(&mut sock, &mut to_sock, &opts.peer)?;
                    }
                    if ev.readable {
                        let Some(n) = read(&mut sock, &mut buf, &opts.peer)? else {
                            continue;
                        };
                        trace!(
                            Layer::Loop,
                            "socket read {n} bytes{}",
                            if n == 0 { ": the server sent FIN" } else { "" }
                        );
                        if n == 0 {
                            if let Some(p) = &mut prompt {
                                p.finish(&mut out);
                                if p.stop_sent {
                                    out.line(opts.exit_words);
                                }
                            }
                            out.flush();
                            if opts.verbose {
                                eprintln!("sockloop: {} closed the connection", opts.peer);
                            }
                            poll::remove(&poller, &sock);
                            input.close(&poller);
                            return Ok(());
                        }
                        last_data = Instant::now();
                        let data = &buf[..n];
                        match &mut prompt {
                            None => out.raw(data),
                            Some(p) => {
                                if p.replies(data, &mut out) && p.stop_sent {
                                    out.line(opts.exit_words);
                                    out.flush();
                                    return Ok(());
                                }
                            }
                        }
                        out.flush();
                    }
                }
                STDIN_KEY => stdin_ready = true,
                _ => {}
            }
        }
        if stdin_ready && input.open {
            let n = input.read(&mut buf).unwrap_or(0);
            trace!(
                Layer::Loop,
                "stdin read {n} bytes{}",
                if n == 0 { ": end of input" } else { "" }
            );
            if n == 0 {
                input.close(&poller);
                if opts.verbose {
                    eprintln!(
                        "sockloop: end of input; half-closing (FIN) and waiting for the server"
                    );
                }
                continue;
            }
            let mut data = &buf[..n];
            if let Some(p) = &mut prompt {
                // The classic clients stop after STOP: send up to it, read no more.
                if let Some(end) = p.stop.scan(data) {
                    data = &data[..end];
                    p.stop_sent = true;
                    input.close(&poller);
                }
            }
            to_sock.extend_from_slice(data);
            flush(&mut sock, &mut to_sock, &opts.peer)?;
        }
    }
}

fn set_nonblocking(sock: &Stream) -> io::Result<()> {
    match sock {
        Stream::Tcp(s) => s.set_nonblocking(true),
        Stream::Unix(s) => s.set_nonblocking(true),
    }
}

/// One read: `Some(0)` is the server's FIN, `None` a wake-up with nothing to read.
fn read(sock: &mut Stream, buf: &mut [u8], peer: &str) -> Result<Option<usize>, ClientError> {
    match sock.read(buf) {
        Ok(n) => Ok(Some(n)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(ClientError::Failed(format!(
            "connection to {peer} failed: {e}"
        ))),
    }
}

fn flush(sock: &mut Stream, queue: &mut Vec<u8>, peer: &str) -> Result<(), ClientError> {
    while !queue.is_empty() {
        match sock.write(queue) {
            Ok(n) => {
                trace!(Layer::Loop, "socket write {n} of {} bytes", queue.len());
                queue.drain(..n);
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock) => return Ok(()),
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted) => {}
            Err(e) => {
                return Err(ClientError::Failed(format!(
                    "cannot send to {peer}: {e} (the server closed the connection?)"
                )));
            }
        }
    }
    Ok(())
}

/// Standard output, buffered per loop turn. A closed stdout (`| head`) is not an
/// error worth a message: output just stops.
#[derive(Default)]
pub struct Output {
    buf: Vec<u8>,
}

impl Output {
    pub fn raw(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn line(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
        self.buf.push(b'\n');
    }

    pub fn flush(&mut self) {
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(&self.buf);
        let _ = stdout.flush();
        self.buf.clear();
    }
}

/// The classic interactive style: `>> ` before input, `->: ` before each reply line.
#[derive(Default)]
struct Prompt {
    partial: Vec<u8>,
    stop: StopDetector,
    stop_sent: bool,
}

impl Prompt {
    fn show(&self) {
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(b">> ");
        let _ = stdout.flush();
    }

    /// Prints the complete reply lines in `data`; true if there was at least one.
    fn replies(&mut self, data: &[u8], out: &mut Output) -> bool {
        self.partial.extend_from_slice(data);
        let mut printed = false;
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            out.raw(b"->: ");
            out.raw(text);
            out.raw(b"\n");
            printed = true;
        }
        if printed && !self.stop_sent {
            out.raw(b">> ");
        }
        printed
    }

    /// The server closed: show an unterminated last reply too.
    fn finish(&mut self, out: &mut Output) {
        if !self.partial.is_empty() {
            self.partial.push(b'\n');
            let rest = std::mem::take(&mut self.partial);
            self.replies(&rest, out);
        }
    }
}
