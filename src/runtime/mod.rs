//! The readiness loop and everything it owns: the poller, listeners (socket2),
//! connections in a slab, timers, the signal pipe. Nothing protocol-specific lives
//! here; services in `crate::service` decide what bytes mean.

pub mod activation;
pub mod conn;
pub mod handover;
pub mod listener;
pub mod poll;
pub mod server;
pub mod signals;
pub mod slab;
pub mod spec;
pub mod timers;
pub mod transport;
pub mod workers;

pub use listener::BindOptions;
pub use server::{Config, Limits, Server, Summary};
pub use spec::{Endpoint, ListenSpec};
