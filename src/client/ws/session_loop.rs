//! The ws client's readiness loop: the socket, standard input and the signal pipe in
//! one poller, the session core fed with what the socket gives, its frames queued
//! for the socket, and the timers as the wait's timeout.

use super::WsOptions;
use super::handler::{ClientHandler, mask_key};
use super::timers::{CLOSE_WAIT, Timers};
use crate::client::input::{Input, STDIN_KEY};
use crate::client::lines::{Lines, without_ending};
use crate::client::queue::Outgoing;
use crate::client::{ClientError, read_now};
use crate::proto::ws::deflate::Agreed;
use crate::proto::ws::deflate::send::{self, Compression};
use crate::proto::ws::frame::Opcode;
use crate::proto::ws::session::{self, Role, Session};
use crate::runtime::poll::{self, Events, Interest, Ready, Registration};
use crate::runtime::signals::{SIGNAL_KEY, SignalPipe};
use crate::trace;
use crate::trace::Layer;
use polling::Poller;

use crate::runtime::transport::Stream;
use std::ops::ControlFlow::{self, Break, Continue};
use std::time::Instant;

const SOCKET: usize = 1;
/// Stop reading stdin while this much is waiting to be sent.
const MAX_QUEUED: usize = 1024 * 1024;

pub(super) struct Loop {
    sock: Stream,
    socket: Registration,
    poller: Poller,
    signals: SignalPipe,
    input: Input,
    session: Session,
    handler: ClientHandler,
    /// Frames waiting for the socket to take them.
    to_sock: Outgoing,
    /// Input not yet ended by a newline.
    lines: Lines,
    timers: Timers,
    opts: WsOptions,
}

impl Loop {
    pub fn new(
        sock: Stream,
        opts: WsOptions,
        deflate: Option<Agreed>,
    ) -> Result<Loop, ClientError> {
        sock.prepare().map_err(ClientError::poller)?;
        let poller = Poller::new().map_err(ClientError::poller)?;
        let socket = Registration::add(&poller, &sock, SOCKET, Interest::READ)
            .map_err(ClientError::poller)?;
        let signals = SignalPipe::watch(&poller).map_err(ClientError::poller)?;
        let input = if opts.echo {
            Input::closed()
        } else {
            Input::open(&poller)
        };
        let limits = session::Limits {
            max_message: opts.max_message,
        };
        let mut session = Session::new(Role::Client, limits);
        session.set_trace(trace::on(Layer::Ws));
        if let Some(agreed) = deflate {
            session.enable_deflate(agreed.receive_context_takeover);
        }
        Ok(Loop {
            sock,
            socket,
            poller,
            signals,
            input,
            session,
            handler: ClientHandler::new(&opts, deflate),
            to_sock: Outgoing::default(),
            lines: Lines::default(),
            timers: Timers::new(&opts, Instant::now()),
            opts,
        })
    }

    /// Runs the session; `leftover` is what came after the handshake response.
    pub fn run(mut self, mut leftover: Vec<u8>) -> Result<(), ClientError> {
        if !leftover.is_empty() {
            // A server that talks first sends its messages with the 101: shown now,
            // not after the next event.
            self.feed(&mut leftover)?;
            self.handler.out.flush();
        }
        let mut events = Events::new();
        let mut buf = vec![0u8; 64 * 1024];
        while self.turn(&mut events, &mut buf)?.is_continue() {}
        Ok(())
    }

    /// One wait and what follows from it; `Break` once the session is over.
    fn turn(
        &mut self,
        events: &mut Events,
        buf: &mut [u8],
    ) -> Result<ControlFlow<()>, ClientError> {
        if self.everything_sent() && !self.timers.input_ended() {
            self.timers.end_of_input(Instant::now());
        }
        self.watch()?;
        let timeout = self
            .input
            .wait_limit(self.wants_stdin(), self.timers.next(), Instant::now());
        poll::wait(&self.poller, events, timeout).map_err(ClientError::poller)?;
        let mut stdin_ready = self.input.ready_now(self.wants_stdin());
        for ev in events.iter() {
            match ev.key {
                SOCKET if self.on_socket(ev, buf)?.is_break() => return Ok(Break(())),
                STDIN_KEY => stdin_ready = true,
                SIGNAL_KEY if self.signals.drain() > 0 => self.on_signal()?,
                _ => {}
            }
        }
        if stdin_ready && self.wants_stdin() {
            self.read_stdin(buf)?;
        }
        if self.on_timers()?.is_break() {
            return Ok(Break(()));
        }
        if self.session.is_closed() && self.to_sock.is_empty() {
            self.timers.closed(Instant::now());
        }
        self.handler.out.flush();
        Ok(Continue(()))
    }

    /// Input is over and all of it is on its way, with our Close not sent yet.
    fn everything_sent(&self) -> bool {
        !self.input.open
            && self.lines.is_empty()
            && self.to_sock.is_empty()
            && !self.session.close_sent()
            && !self.opts.echo
    }

    fn wants_stdin(&self) -> bool {
        self.input.open && !self.session.close_sent() && self.to_sock.len() < MAX_QUEUED
    }

    fn watch(&mut self) -> Result<(), ClientError> {
        let writing = self
            .sock
            .interest(Interest::new(true, !self.to_sock.is_empty()));
        self.socket
            .set(&self.poller, &self.sock, SOCKET, writing)
            .map_err(ClientError::poller)?;
        let wanted = self.wants_stdin();
        self.input
            .want(&self.poller, wanted)
            .map_err(ClientError::poller)
    }

    fn on_socket(&mut self, ev: Ready, buf: &mut [u8]) -> Result<ControlFlow<()>, ClientError> {
        if ev.writable {
            self.flush()?;
        }
        if ev.readable {
            let read = self.sock.read(buf);
            if read.is_err() && self.handler.closes.theirs().is_some() {
                // The server's Close has arrived, so the session is over: a server that
                // closes TCP before our answering Close reaches it gets a reset from its
                // kernel, and that reset is how this connection ends, not a failure.
                return self.finish().map(|()| Break(()));
            }
            match read_now(read, &self.opts.url)? {
                Some(0) => return self.finish().map(|()| Break(())),
                Some(n) => {
                    self.feed(&mut buf[..n])?;
                    self.timers.data_arrived(Instant::now());
                }
                None => {}
            }
        }
        Ok(Continue(()))
    }

    /// Ctrl-C: close at once; a second one does not wait for the server.
    fn on_signal(&mut self) -> Result<(), ClientError> {
        if self.session.close_sent() {
            self.handler.out.flush();
            eprintln!("sockloop: interrupted again; exiting without waiting");
            return Err(ClientError::Interrupted);
        }
        if self.opts.verbose {
            eprintln!("sockloop: interrupted; sending close 1000");
        }
        self.input.close(&self.poller);
        self.lines.clear();
        self.close(1000, "");
        Ok(())
    }

    /// Acts on the timers that are due; `Break` once the session is over.
    fn on_timers(&mut self) -> Result<ControlFlow<()>, ClientError> {
        let now = Instant::now();
        if self.timers.linger_over(now) {
            self.close(1000, "");
        }
        if self.timers.close_wait_over(now) {
            return self.close_wait_over().map(|()| Break(()));
        }
        if self.session.close_sent() {
            self.timers.stop_periodic();
        }
        if self.timers.ping_due(now) {
            queue_frames(&mut self.to_sock, |q| {
                self.session.send_ping(b"sockloop", q, &mut self.handler);
            });
            self.flush()?;
        }
        if let Some(n) = self.timers.reminder_due(now) {
            eprintln!("Please give me input! {n}");
            if n >= self.opts.idle_max {
                let reminders = crate::plural::count(n.into(), "reminder");
                eprintln!("sockloop: no input after {reminders}; closing");
                self.input.close(&self.poller);
                self.close(1000, "");
            }
        }
        Ok(Continue(()))
    }

    fn close_wait_over(&mut self) -> Result<(), ClientError> {
        if self.handler.closes.theirs().is_some() {
            // Both Closes exchanged; the server just did not close TCP: we do.
            return self.finish();
        }
        self.handler.out.flush();
        Err(ClientError::Failed(format!(
            "{} did not answer our close within {} s",
            self.opts.url,
            CLOSE_WAIT.as_secs()
        )))
    }

    /// Sends our Close (once) and starts waiting for the server's.
    fn close(&mut self, code: u16, reason: &str) {
        if !self.session.close_sent() {
            self.handler.closes.sent(Some(code), reason);
            queue_frames(&mut self.to_sock, |q| {
                self.session.send_close(code, reason, q, &mut self.handler);
            });
            self.timers.close_sent(Instant::now());
            let _ = self.flush();
        }
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> Result<(), ClientError> {
        let n = self.input.read(buf).unwrap_or(0);
        self.timers.input_arrived(Instant::now());
        let ended = n == 0;
        if ended {
            self.input.close(&self.poller);
        } else {
            self.lines.push(&buf[..n]);
        }
        while let Some(line) = self.lines.next_line(ended) {
            let compression = self.handler.compression();
            send_line(&mut self.to_sock, self.opts.binary, line, compression);
        }
        self.flush()
    }

    fn feed(&mut self, data: &mut [u8]) -> Result<(), ClientError> {
        trace!(Layer::Loop, "socket read {} bytes", data.len());
        let fed = queue_frames(&mut self.to_sock, |q| {
            self.session.feed(data, q, &mut self.handler)
        });
        self.flush()?;
        if let Err(e) = fed {
            self.handler.out.flush();
            return Err(ClientError::Failed(format!(
                "{} broke the WebSocket protocol: {} (sent close {})",
                self.opts.url, e.reason, e.code
            )));
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ClientError> {
        let sock = &mut self.sock;
        let flushed = sock
            .flush_unsent()
            .and_then(|()| self.to_sock.flush(|pending| sock.write(pending)));
        match flushed {
            Ok(()) => Ok(()),
            // After the server's Close it may close TCP before our answer arrives; the
            // answer is then undeliverable and unneeded. The read side sees the end.
            Err(_) if self.handler.closes.theirs().is_some() => {
                self.to_sock.clear();
                Ok(())
            }
            Err(e) => Err(ClientError::Failed(format!(
                "cannot send to {}: {e}",
                self.opts.url
            ))),
        }
    }

    /// The server closed TCP (or we stopped waiting): report how the session ended.
    fn finish(&mut self) -> Result<(), ClientError> {
        self.handler.out.flush();
        poll::remove(&self.poller, &self.sock);
        self.handler.outcome(&self.opts.url)
    }
}

/// One line of input becomes one message (without its line ending).
fn send_line(
    to_sock: &mut Outgoing,
    binary: bool,
    line: &[u8],
    compression: Option<Compression<'_>>,
) {
    let line = without_ending(line);
    let opcode = if binary {
        Opcode::Binary
    } else if std::str::from_utf8(line).is_ok() {
        Opcode::Text
    } else {
        eprintln!(
            "sockloop: a line is not valid UTF-8, so it cannot be a text message; not sent (use --binary)"
        );
        return;
    };
    queue_frames(to_sock, |q| {
        send::write_message(q, opcode, line, Some(mask_key()), compression);
    });
}

/// Lets `encode` append frames to the queue, and traces them (whole frames: they
/// were just written).
fn queue_frames<R>(to_sock: &mut Outgoing, encode: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let (result, added) = to_sock.append(encode);
    if trace::on(Layer::Ws) {
        trace::sent_frames(added);
    }
    result
}
