//! The one wait every loop of the generator makes: a poll that lasts until the
//! loop's next deadline, with Ctrl-C handled on the way so that no loop has to
//! recognise the signal pipe's events among its sockets'.
//!
//! The first Ctrl-C (or SIGTERM) ends the measurement early and still reports; a
//! second one exits at once, for a server that no longer answers.

use crate::runtime::poll::{self, Events, Ready};
use crate::runtime::signals::{SIGNAL_KEY, SignalPipe};
use polling::Poller;
use std::time::Instant;

pub struct Waiter {
    events: Events,
    /// `None` where the handlers could not be installed: the run still works, and
    /// Ctrl-C then ends it the default way.
    signals: Option<SignalPipe>,
    interrupted: bool,
}

impl Waiter {
    /// A poller with the signal pipe in it from the start, and its waiter.
    pub fn new() -> Result<(Poller, Waiter), String> {
        let poller = Poller::new().map_err(|e| format!("poller: {e}"))?;
        let waiter = Waiter {
            events: Events::new(),
            signals: SignalPipe::watch(&poller).ok(),
            interrupted: false,
        };
        Ok((poller, waiter))
    }

    /// Ctrl-C asked the run to end.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Waits until a socket is ready or `deadline` passes (a signal ends it early too)
    /// and gives the sockets' readiness, the signal pipe's taken out.
    pub fn wait(
        &mut self,
        poller: &Poller,
        deadline: Instant,
    ) -> Result<impl Iterator<Item = Ready> + '_, String> {
        let timeout = poll::timeout_until(Some(deadline), Instant::now());
        poll::wait(poller, &mut self.events, timeout).map_err(|e| format!("poller: {e}"))?;
        if self.events.iter().any(|ev| ev.key == SIGNAL_KEY) {
            self.on_signal();
        }
        Ok(self.events.iter().filter(|ev| ev.key != SIGNAL_KEY))
    }

    fn on_signal(&mut self) {
        let Some(s) = &mut self.signals else {
            return;
        };
        if s.drain() > 0 {
            if self.interrupted {
                eprintln!("\nsockloop bench: interrupted again; exiting without a report");
                std::process::exit(130);
            }
            self.interrupted = true;
        }
    }
}
