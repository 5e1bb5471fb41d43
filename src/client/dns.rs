//! DNS look-ups for `sockloop lookup`: asks one server a few questions at once and
//! waits for their answers.
//!
//! ```text
//!   every question → a query with a fresh random id, all sent at once on one connected
//!                    UDP socket (an ICMP port unreachable comes back as ECONNREFUSED),
//!                    answers told apart by id and question; stray datagrams ignored
//!   each UDP query  → wait the timeout, send once more, then give up
//!   an answer with TC set → asked again over TCP (non-blocking connect, 2-byte length
//!                    framing, RFC 1035 §4.2.2) in the same loop, while the other
//!                    queries may still be waiting on UDP
//! ```
//!
//! Split the sans-I/O way: `exchange` is the resolver logic as a state machine (ids
//! matched to questions, retries, deadlines, the switch to TCP, the errors), with no
//! socket, clock or printing; `shell` owns the sockets, the poller, the clock and
//! stderr, and drives it. The messages are built and parsed by `proto::dns`. With
//! `--trace=dns` every query sent and every message received is shown, record by record
//! in zone-file form, along with why a datagram was ignored, the retries, the timeouts
//! and the switch to TCP; `--trace=udp` adds the datagrams and `--trace=loop` the TCP
//! connection's connect, reads and writes.

use crate::proto::dns::{Class, Name, Question, RType};
use crate::trace;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod error;
mod exchange;
mod shell;
mod trace_dns;

pub use error::{QueryError, Transport};
pub use exchange::{Event, Exchange, Outcome, Output};

/// Asks `server` the questions, all at once, and gives back their outcomes in the
/// order of `questions`. With `verbose`, says on stderr what it does; the error is for
/// a socket that could not even be set up.
pub fn ask(
    server: SocketAddr,
    timeout: Duration,
    verbose: bool,
    questions: &[Question],
) -> Result<Vec<Outcome>, QueryError> {
    let shell = shell::Shell::open(server, verbose)?;
    let queries = fresh_ids(questions.len(), rand::random::<u16>)
        .into_iter()
        .zip(questions.iter().cloned())
        .collect();
    let mut exchange = Exchange::new(server, timeout, queries, trace::on, Instant::now());
    shell.run(&mut exchange);
    Ok(exchange.outcomes())
}

/// `n` query ids from `draw`, all different: a clash moves up to the next free one.
fn fresh_ids(n: usize, mut draw: impl FnMut() -> u16) -> Vec<u16> {
    let mut ids: Vec<u16> = Vec::with_capacity(n);
    for _ in 0..n {
        let mut id = draw();
        while ids.contains(&id) {
            id = id.wrapping_add(1);
        }
        ids.push(id);
    }
    ids
}

/// A question of class IN.
pub fn question(name: Name, qtype: RType) -> Question {
    Question {
        name,
        qtype,
        qclass: Class::IN,
    }
}

#[cfg(test)]
mod tests;
