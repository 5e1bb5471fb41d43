//! sockloop: one binary, one thread, one readiness loop.
//!
//! Layers, and the only direction they depend on each other:
//! `cmd` (subcommands) → `runtime` (the loop) / `client` (client loops) → `service`
//! (what endpoints do) → `proto` (pure protocol cores).
#![deny(unsafe_code)]

pub mod bench;
pub mod client;
pub mod clock;
pub mod cmd;
pub mod hostport;
pub mod log;
pub mod plural;
pub mod proto;
pub mod runtime;
pub mod service;
#[cfg(feature = "tls")]
pub mod tls;
pub mod trace;
