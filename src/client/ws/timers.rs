//! The ws client's deadlines: the ping interval, the idle reminders, the linger after
//! the end of input and the wait for the server's Close. Every method is given `now`,
//! so the rules here are the loop's, not the clock's.

use super::WsOptions;
use crate::runtime::poll;
use std::time::{Duration, Instant};

/// How long we wait for the server's Close after sending ours.
pub(super) const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// The most time `linger` may add after the end of input, however chatty the server.
const LINGER_CAP: Duration = Duration::from_secs(5);

pub(super) struct Timers {
    /// We sent Close: give up waiting for the server's by then.
    close_wait: Option<Instant>,
    /// When input ended (and everything was sent).
    eof_at: Option<Instant>,
    /// Send Close at this time unless more data arrives first.
    linger_until: Option<Instant>,
    next_ping: Option<Instant>,
    next_reminder: Option<Instant>,
    /// Reminders since the last input.
    reminders: u32,
    ping_every: Option<Duration>,
    remind_every: Option<Duration>,
    linger: Duration,
}

impl Timers {
    pub fn new(opts: &WsOptions, now: Instant) -> Timers {
        // `--echo` reads no input, so there is nothing to remind anyone of.
        let remind_every = opts.idle_prompt.filter(|_| !opts.echo);
        Timers {
            close_wait: None,
            eof_at: None,
            linger_until: None,
            next_ping: opts.ping_interval.map(|d| now + d),
            next_reminder: remind_every.map(|d| now + d),
            reminders: 0,
            ping_every: opts.ping_interval,
            remind_every,
            linger: opts.linger,
        }
    }

    /// The next deadline, for the poll timeout.
    pub fn next(&self) -> Option<Instant> {
        poll::earliest([
            self.close_wait,
            self.next_ping,
            self.next_reminder,
            self.linger_until,
        ])
    }

    pub fn input_ended(&self) -> bool {
        self.eof_at.is_some()
    }

    /// End of input and everything sent: give the server a quiet moment to answer
    /// what we sent (a server may stop sending once our Close arrives), then say
    /// goodbye.
    pub fn end_of_input(&mut self, now: Instant) {
        self.eof_at = Some(now);
        self.linger_until = Some(now + self.linger);
    }

    /// Data arrived while lingering after the end of input: wait for quiet again (but
    /// never past the cap).
    pub fn data_arrived(&mut self, now: Instant) {
        if let (Some(_), Some(eof)) = (self.linger_until, self.eof_at) {
            self.linger_until = Some((now + self.linger).min(eof + LINGER_CAP));
        }
    }

    /// Input came: the reminders start over.
    pub fn input_arrived(&mut self, now: Instant) {
        if let Some(every) = self.remind_every {
            self.next_reminder = Some(now + every);
            self.reminders = 0;
        }
    }

    /// We sent Close: wait this long for the server's.
    pub fn close_sent(&mut self, now: Instant) {
        self.close_wait = Some(now + CLOSE_WAIT);
        self.stop_periodic();
    }

    /// No more pings or reminders once a Close has been sent (by us, or by the session
    /// in answer to the server's): a past deadline that nothing acts on would make
    /// every wait return at once.
    pub fn stop_periodic(&mut self) {
        self.next_ping = None;
        self.next_reminder = None;
    }

    /// Both Closes exchanged: the server should now close TCP; don't wait long.
    pub fn closed(&mut self, now: Instant) {
        if self.close_wait.is_none() {
            self.close_sent(now);
        }
    }

    /// True once, when the linger after the end of input is over.
    pub fn linger_over(&mut self, now: Instant) -> bool {
        let over = self.linger_until.is_some_and(|d| d <= now);
        if over {
            self.linger_until = None;
        }
        over
    }

    pub fn close_wait_over(&self, now: Instant) -> bool {
        self.close_wait.is_some_and(|d| d <= now)
    }

    /// True when a ping is due (and the next one is scheduled).
    pub fn ping_due(&mut self, now: Instant) -> bool {
        due(&mut self.next_ping, self.ping_every, now)
    }

    /// The number of this reminder when one is due.
    pub fn reminder_due(&mut self, now: Instant) -> Option<u32> {
        due(&mut self.next_reminder, self.remind_every, now).then(|| {
            self.reminders += 1;
            self.reminders
        })
    }
}

/// A periodic deadline: true when `next` has come, and then it moves on by `every`.
fn due(next: &mut Option<Instant>, every: Option<Duration>, now: Instant) -> bool {
    match (*next, every) {
        (Some(at), Some(every)) if at <= now => {
            *next = Some(now + every);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(ping: Option<u64>, remind: Option<u64>, linger_ms: u64) -> WsOptions {
        WsOptions {
            deflate: false,
            url: "ws://x/".into(),
            binary: false,
            raw: false,
            echo: false,
            verbose: false,
            headers: Vec::new(),
            origin: None,
            protocols: Vec::new(),
            ping_interval: ping.map(Duration::from_secs),
            idle_prompt: remind.map(Duration::from_secs),
            idle_max: 5,
            max_message: 1 << 20,
            connect_timeout: Duration::from_secs(1),
            tls: Default::default(),
            linger: Duration::from_millis(linger_ms),
        }
    }

    #[test]
    fn pings_and_reminders_repeat_until_close() {
        let t0 = Instant::now();
        let mut t = Timers::new(&options(Some(1), Some(4), 0), t0);
        let s = Duration::from_secs;
        assert_eq!(t.next(), Some(t0 + s(1)));
        assert!(!t.ping_due(t0));
        assert!(t.ping_due(t0 + s(1)));
        assert_eq!(t.reminder_due(t0 + s(4)), Some(1));
        assert_eq!(t.reminder_due(t0 + s(8)), Some(2));
        t.input_arrived(t0 + s(9));
        assert_eq!(t.reminder_due(t0 + s(13)), Some(1));
        t.close_sent(t0 + s(14));
        assert_eq!(t.next(), Some(t0 + s(16)), "only the close wait is left");
        assert!(!t.ping_due(t0 + s(20)));
        assert!(t.close_wait_over(t0 + s(16)));
    }

    #[test]
    fn linger_is_extended_by_data_up_to_the_cap() {
        let t0 = Instant::now();
        let mut t = Timers::new(&options(None, None, 500), t0);
        let ms = Duration::from_millis;
        t.end_of_input(t0);
        assert!(t.input_ended());
        t.data_arrived(t0 + ms(400));
        assert!(!t.linger_over(t0 + ms(800)));
        t.data_arrived(t0 + ms(4900));
        assert_eq!(t.next(), Some(t0 + LINGER_CAP));
        assert!(t.linger_over(t0 + LINGER_CAP));
        assert!(!t.linger_over(t0 + LINGER_CAP), "once");
        t.closed(t0 + ms(5100));
        t.closed(t0 + ms(6000));
        assert_eq!(
            t.next(),
            Some(t0 + ms(5100) + CLOSE_WAIT),
            "the first close wait counts"
        );
    }
}
