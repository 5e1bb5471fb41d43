//! The exchange over UDP: the rounds of queries, the replies matched to them, the
//! retry and the give-up, and the socket's errors.

use super::{Exchange, Layer, Output, Queued, State, Transport, UDP_TRIES};
use crate::client::dns::error::{QueryError, secs};
use crate::client::dns::trace_dns::{Mismatch, trace_message, trace_query};
use crate::proto::dns::{self, Message};
use std::io;
use std::time::Instant;

impl Exchange {
    /// Sends every query still waiting on UDP: the first try, or the retry.
    pub(super) fn send_udp(&mut self, now: Instant) {
        self.udp_tries += 1;
        self.udp_deadline = now + self.timeout;
        let again = self.udp_tries > 1;
        for (query, q) in self.queries.iter().enumerate() {
            if !matches!(q.state, State::Udp) {
                continue;
            }
            self.queue.push(Output::Note(format!(
                "asking {} over UDP: {} {}{}",
                self.server,
                q.question.qtype,
                q.question.name,
                if again { " (again)" } else { "" }
            )));
            if (self.traced)(Layer::Dns) {
                let attempt = again.then_some((self.udp_tries, UDP_TRIES));
                let line = trace_query(q, Transport::Udp, attempt);
                self.queue.push(Output::Trace(Layer::Dns, line));
            }
            let datagram = q.wire.clone();
            self.queue.push(Output::SendUdp { query, datagram });
        }
        // A refused send is about the socket (an ICMP error from an earlier datagram),
        // not about that query: it is dealt with once the whole round is out.
        self.queue.0.push_back(Queued::EndOfUdpRound);
    }

    pub(super) fn udp_send_failed(&mut self, query: usize, error: io::Error) {
        let server = self.server;
        match error.kind() {
            // A datagram the kernel would not queue is like one lost: the retry or the
            // timeout deals with it.
            io::ErrorKind::WouldBlock => {}
            io::ErrorKind::ConnectionRefused => self.udp_round_refused = true,
            _ => {
                if let Some(q) = self.queries.get_mut(query) {
                    q.state = State::Failed(QueryError::Io(server, "send to", error));
                }
            }
        }
    }

    pub(super) fn udp_receive_failed(&mut self, e: io::Error) {
        if e.kind() == io::ErrorKind::ConnectionRefused {
            return self.udp_refused();
        }
        let server = self.server;
        for q in &mut self.queries {
            if matches!(q.state, State::Udp) {
                let e = io::Error::new(e.kind(), e.to_string());
                q.state = State::Failed(QueryError::Io(server, "receive from", e));
            }
        }
    }

    pub(super) fn udp_refused(&mut self) {
        let server = self.server;
        trace_line!(
            self,
            Layer::Udp,
            "udp > ICMP port unreachable (ECONNREFUSED): nothing listens on {server}"
        );
        for q in &mut self.queries {
            if matches!(q.state, State::Udp) {
                q.state = State::Failed(QueryError::Refused(server, Transport::Udp));
            }
        }
    }

    pub(super) fn give_up_udp(&mut self) {
        let (server, timeout, tries) = (self.server, self.timeout, self.udp_tries);
        for q in &mut self.queries {
            if !matches!(q.state, State::Udp) {
                continue;
            }
            trace_line!(
                self,
                Layer::Dns,
                "dns timeout: no answer to {} {} after {tries} tries of {}; giving up{}",
                q.question.qtype,
                q.question.name,
                secs(timeout),
                if q.malformed.is_some() {
                    " (reporting the malformed answer)"
                } else {
                    ""
                }
            );
            q.state = State::Failed(match q.malformed {
                Some(e) => QueryError::Malformed(server, e),
                None => QueryError::Timeout {
                    server,
                    transport: Transport::Udp,
                    timeout,
                    tries,
                },
            });
        }
    }

    pub(super) fn udp_received(&mut self, datagram: &[u8], now: Instant) {
        match dns::parse(datagram) {
            Ok(msg) => self.udp_message(msg, now),
            Err(e) => self.udp_malformed(datagram, e, now),
        }
    }

    fn udp_message(&mut self, msg: Message, now: Instant) {
        let server = self.server;
        if (self.traced)(Layer::Dns) {
            let queue = &mut self.queue;
            trace_message(&msg, Transport::Udp, &mut |line| {
                queue.push(Output::Trace(Layer::Dns, line.to_string()));
            });
        }
        let found = self
            .queries
            .iter()
            .position(|q| matches!(q.state, State::Udp) && msg.is_response_to(q.id, &q.question));
        let Some((i, q)) = found.and_then(|i| Some((i, self.queries.get_mut(i)?))) else {
            trace_line!(
                self,
                Layer::Dns,
                "dns ignored: {}",
                Mismatch(&msg, &self.queries, Transport::Udp)
            );
            self.note(format!(
                "ignored a datagram that answers none of our questions (id {:#06x})",
                msg.header.id
            ));
            return;
        };
        if !msg.header.flags.tc {
            q.state = State::Answered(msg, Transport::Udp);
            return;
        }
        q.state = State::Tcp;
        let what = format!("{} {}", q.question.qtype, q.question.name);
        trace_line!(
            self,
            Layer::Dns,
            "dns truncated (TC): the answer did not fit in a datagram; \
             asking {what} again over TCP"
        );
        self.note(format!(
            "{what}: the answer from {server} over UDP was truncated (TC); \
             asking again over TCP"
        ));
        self.ask_over_tcp(i, now);
    }

    /// A datagram that does not parse: ours if its header says so.
    fn udp_malformed(&mut self, datagram: &[u8], e: dns::DnsError, now: Instant) {
        trace_line!(
            self,
            Layer::Dns,
            "dns > malformed message of {} bytes: {e}",
            datagram.len()
        );
        let header = datagram.first_chunk::<4>().map(|h| {
            (
                u16::from_be_bytes([h[0], h[1]]),
                dns::Flags::from_bits(u16::from_be_bytes([h[2], h[3]])),
            )
        });
        let Some((id, flags)) = header else {
            trace_line!(
                self,
                Layer::Dns,
                "dns ignored: {} bytes are too few for a DNS header",
                datagram.len()
            );
            return;
        };
        let found = self
            .queries
            .iter()
            .position(|q| matches!(q.state, State::Udp) && q.id == id && flags.qr);
        let Some(i) = found else {
            trace_line!(
                self,
                Layer::Dns,
                "dns ignored: {}",
                if flags.qr {
                    format!("id={id} is not a query of ours waiting on UDP")
                } else {
                    "not a response (QR bit clear)".into()
                }
            );
            return;
        };
        self.malformed_answer(i, flags.tc, e, now);
    }

    /// A malformed answer to query `i`: asked again over TCP if it was cut short (TC),
    /// else kept in case nothing better comes.
    fn malformed_answer(&mut self, i: usize, tc: bool, e: dns::DnsError, now: Instant) {
        let server = self.server;
        let Some(q) = self.queries.get_mut(i) else {
            return;
        };
        let id = q.id;
        if tc {
            // Cut short without care for record boundaries: TCP will tell.
            q.state = State::Tcp;
            trace_line!(
                self,
                Layer::Dns,
                "dns truncated (TC) and cut mid-record: asking {} {} again over TCP",
                q.question.qtype,
                q.question.name
            );
            self.ask_over_tcp(i, now);
        } else {
            trace_line!(
                self,
                Layer::Dns,
                "dns id={id} answers {} {} but is malformed: kept in case nothing \
                 better comes; still waiting",
                q.question.qtype,
                q.question.name
            );
            q.malformed = Some(e);
            self.note(format!(
                "a malformed answer from {server} ({e}); still waiting"
            ));
        }
    }
}
