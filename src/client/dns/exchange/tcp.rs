//! The exchange over TCP, for the queries whose UDP answer was truncated: one
//! connection, opened when the first is, each query framed with its 2-byte length
//! (RFC 1035 §4.2.2), the answers taken from the byte stream frame by frame, and the
//! connection closed once no query waits on it.

use super::{Exchange, Layer, Output, Query, State, Tcp, Transport};
use crate::client::dns::error::QueryError;
use crate::client::dns::trace_dns::{Mismatch, trace_message, trace_query};
use crate::proto::Parsed;
use crate::proto::dns;
use std::io;
use std::time::Instant;

impl Exchange {
    /// Asks query `i` over TCP, opening the connection first if there is none.
    pub(super) fn ask_over_tcp(&mut self, i: usize, now: Instant) {
        match &mut self.tcp {
            Some(Tcp {
                unsent: Some(unsent),
                ..
            }) => unsent.push(i),
            Some(_) => self.write_tcp(i),
            None => {
                self.note(format!("connecting to {} over TCP", self.server));
                self.queue.push(Output::ConnectTcp);
                self.tcp = Some(Tcp {
                    unsent: Some(vec![i]),
                    input: Vec::new(),
                    deadline: now + self.timeout,
                });
            }
        }
    }

    fn write_tcp(&mut self, i: usize) {
        let Some(q) = self.queries.get(i) else { return };
        if (self.traced)(Layer::Dns) {
            let line = trace_query(q, Transport::Tcp, None);
            self.queue.push(Output::Trace(Layer::Dns, line));
        }
        let mut framed = Vec::with_capacity(2 + q.wire.len());
        // A query is far below 65535 bytes, so framing cannot fail.
        let _ = dns::frame_tcp(&q.wire, &mut framed);
        self.queue.push(Output::WriteTcp(framed));
    }

    pub(super) fn tcp_opened(&mut self) {
        let Some(unsent) = self.tcp.as_mut().and_then(|t| t.unsent.take()) else {
            return;
        };
        for i in unsent {
            if self
                .queries
                .get(i)
                .is_some_and(|q| matches!(q.state, State::Tcp))
            {
                self.write_tcp(i);
            }
        }
    }

    pub(super) fn tcp_open_failed(&mut self, what: &'static str, error: io::Error) {
        let server = self.server;
        let e = if error.kind() == io::ErrorKind::ConnectionRefused {
            QueryError::Refused(server, Transport::Tcp)
        } else {
            QueryError::Io(server, what, error)
        };
        // Nothing was opened, so the shell has nothing to close.
        self.tcp = None;
        self.fail_tcp(|_| e.duplicate());
    }

    pub(super) fn tcp_failed(&mut self, e: io::Error) {
        let server = self.server;
        if e.kind() == io::ErrorKind::ConnectionRefused {
            self.fail_tcp(|_| QueryError::Refused(server, Transport::Tcp));
        } else {
            let text = e.to_string();
            let kind = e.kind();
            self.fail_tcp(|_| {
                QueryError::Io(
                    server,
                    "talk over TCP to",
                    io::Error::new(kind, text.clone()),
                )
            });
        }
    }

    /// Fails every query waiting on TCP and closes the connection.
    pub(super) fn fail_tcp(&mut self, mut error: impl FnMut(&Query) -> QueryError) {
        for q in &mut self.queries {
            if matches!(q.state, State::Tcp) {
                q.state = State::Failed(error(q));
            }
        }
        self.finish_tcp();
    }

    fn finish_tcp(&mut self) {
        if self.tcp.take().is_some() {
            self.queue.push(Output::CloseTcp);
        }
    }

    pub(super) fn close_idle_tcp(&mut self) {
        if self.tcp.is_some() && !self.queries.iter().any(|q| matches!(q.state, State::Tcp)) {
            self.finish_tcp();
        }
    }

    pub(super) fn tcp_received(&mut self, bytes: &[u8]) {
        let Some(tcp) = &mut self.tcp else { return };
        tcp.input.extend_from_slice(bytes);
        // Every whole frame: an answer to one of the queries waiting on TCP.
        loop {
            let Some(tcp) = &mut self.tcp else { return };
            let (frame, consumed) = match dns::parse_tcp_frame(&tcp.input) {
                Parsed::Complete { value, consumed } => (value.to_vec(), consumed),
                Parsed::Incomplete => break,
            };
            tcp.input.drain(..consumed);
            self.tcp_frame(&frame);
        }
    }

    fn tcp_frame(&mut self, frame: &[u8]) {
        let server = self.server;
        let waiting_tcp = |q: &&mut Query| matches!(q.state, State::Tcp);
        match dns::parse(frame) {
            Ok(msg) => {
                if (self.traced)(Layer::Dns) {
                    let queue = &mut self.queue;
                    trace_message(&msg, Transport::Tcp, &mut |line| {
                        queue.push(Output::Trace(Layer::Dns, line.to_string()));
                    });
                    if !self.queries.iter().any(|q| {
                        matches!(q.state, State::Tcp) && msg.is_response_to(q.id, &q.question)
                    }) {
                        trace_line!(
                            self,
                            Layer::Dns,
                            "dns ignored: {}",
                            Mismatch(&msg, &self.queries, Transport::Tcp)
                        );
                    }
                }
                if let Some(q) = self
                    .queries
                    .iter_mut()
                    .filter(waiting_tcp)
                    .find(|q| msg.is_response_to(q.id, &q.question))
                {
                    q.state = State::Answered(msg, Transport::Tcp);
                }
            }
            Err(e) => {
                trace_line!(
                    self,
                    Layer::Dns,
                    "dns > malformed message of {} bytes over TCP: {e}",
                    frame.len()
                );
                let id = frame.first_chunk::<2>().map(|b| u16::from_be_bytes(*b));
                if let Some(q) = self
                    .queries
                    .iter_mut()
                    .filter(waiting_tcp)
                    .find(|q| Some(q.id) == id)
                {
                    q.state = State::Failed(QueryError::Malformed(server, e));
                }
            }
        }
    }
}
