//! The look-up's `--trace=dns` lines: queries, answers with their flags and records,
//! and why an answer was not ours. Only called, or only formatting, when the layer is on;
//! the exchange queues the lines and the shell writes them.

use super::error::Transport;
use super::exchange::{Query, State};
use crate::proto::dns::{self, Flags, Message};
use std::fmt;

/// The header flags that are set, each after a space, as dig names them:
/// ` qr aa rd ra`; the opcode only when it is not a standard query.
pub(super) struct FlagNames(pub(super) Flags);

impl fmt::Display for FlagNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fl = self.0;
        if fl.opcode != dns::Opcode::QUERY {
            write!(f, " opcode={}", fl.opcode.0)?;
        }
        for (on, name) in [
            (fl.qr, "qr"),
            (fl.aa, "aa"),
            (fl.tc, "tc"),
            (fl.rd, "rd"),
            (fl.ra, "ra"),
            (fl.z, "z"),
            (fl.ad, "ad"),
            (fl.cd, "cd"),
        ] {
            if on {
                write!(f, " {name}")?;
            }
        }
        Ok(())
    }
}

/// `dns < query id=4242 rd AAAA www.example.test. (UDP)`, the flags as they are in the
/// bytes sent; `attempt` is `(try, of)` for a retry.
pub(super) fn trace_query(q: &Query, transport: Transport, attempt: Option<(u32, u32)>) -> String {
    let flags = q
        .wire
        .get(2..4)
        .and_then(|b| b.first_chunk::<2>())
        .map_or(Flags::query(true), |b| {
            Flags::from_bits(u16::from_be_bytes(*b))
        });
    let attempt = match attempt {
        Some((n, of)) => format!(", try {n} of {of}"),
        None => String::new(),
    };
    format!(
        "dns < query id={}{} {} {} ({transport}{attempt})",
        q.id,
        FlagNames(flags),
        q.question.qtype,
        q.question.name
    )
}

/// The header line of a message received, then every record of every section in
/// zone-file form: the answers first, the other sections under a `;; section` line;
/// each line goes to `line`.
pub(super) fn trace_message(
    msg: &Message,
    transport: Transport,
    line: &mut dyn FnMut(fmt::Arguments<'_>),
) {
    let h = msg.header;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    line(format_args!(
        "dns > {} id={}{} {}: {} question{}, {} answer{}, {} authority, {} additional \
         ({transport})",
        if h.flags.qr { "response" } else { "query" },
        h.id,
        FlagNames(h.flags),
        msg.rcode(),
        msg.questions.len(),
        plural(msg.questions.len()),
        msg.answers.len(),
        plural(msg.answers.len()),
        msg.authorities.len(),
        msg.additionals.len(),
    ));
    for r in &msg.answers {
        line(format_args!("dns >   {r}"));
    }
    for (label, section) in [
        ("authority", &msg.authorities),
        ("additional", &msg.additionals),
    ] {
        if !section.is_empty() {
            line(format_args!("dns >   ;; {label}"));
        }
        for r in section {
            line(format_args!("dns >   {r}"));
        }
    }
}

/// Why a well-formed message answers none of the queries waiting on `transport`.
pub(super) struct Mismatch<'a>(
    pub(super) &'a Message,
    pub(super) &'a [Query],
    pub(super) Transport,
);

impl fmt::Display for Mismatch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Mismatch(msg, queries, transport) = *self;
        let id = msg.header.id;
        if !msg.header.flags.qr {
            return write!(f, "id={id} is not a response (QR bit clear)");
        }
        let Some(q) = queries.iter().find(|q| q.id == id) else {
            return write!(
                f,
                "id={id} is none of our queries (a stray or late datagram)"
            );
        };
        let state = match (&q.state, transport) {
            (State::Udp, Transport::Udp) | (State::Tcp, Transport::Tcp) => None,
            (State::Udp, Transport::Tcp) => Some("is still waiting on UDP"),
            (State::Tcp, Transport::Udp) => Some("is now asked over TCP"),
            (State::Answered(..), _) => Some("was already answered"),
            (State::Failed(_), _) => Some("has already failed"),
        };
        if let Some(state) = state {
            return write!(f, "id={id}: that query {state}");
        }
        match msg.questions.as_slice() {
            [one] => write!(
                f,
                "id={id} is ours, but it answers {} {} {} instead of {} {} {}",
                one.qclass,
                one.qtype,
                one.name,
                q.question.qclass,
                q.question.qtype,
                q.question.name
            ),
            many => write!(
                f,
                "id={id} is ours, but it has {} questions instead of one",
                many.len()
            ),
        }
    }
}
