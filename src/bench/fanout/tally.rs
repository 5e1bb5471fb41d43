//! The run's running totals, kept apart from the connections so that a connection's
//! reply handler can update them while the connection itself is borrowed.

use crate::bench::stats::Histogram;

#[derive(Debug, Default)]
pub struct Tally {
    /// Delivery latency: receive time − the send time the payload carries.
    pub hist: Histogram,
    /// Subscribers whose SUB was answered.
    pub subscribed: usize,
    pub deliveries: u64,
    /// The sum of the `DROPPED N` notices.
    pub dropped: u64,
    /// Deliveries seen missing from the publishers' sequences.
    pub gaps: u64,
    /// Deliveries plus drops, over the subscribers still running.
    pub accounted: u64,
    /// Publishes sent, and those the server answered with OK.
    pub sent: u64,
    pub acked: u64,
    /// Publishes sent and not answered yet, over the publishers still running.
    pub outstanding: u64,
}
