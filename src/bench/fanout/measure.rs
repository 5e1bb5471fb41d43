//! The measured part of a fanout run: publish through the window, drain, close; then
//! the accounts every subscriber and publisher must balance, and the report.

use super::{CLOSE_WAIT, DRAIN, Engine, Stage};
use crate::bench::fanout::conn::{Phase, Role};
use crate::bench::fanout::publisher::Pace;
use crate::bench::progress::Progress;
use crate::bench::waiter::Waiter;
use crate::bench::window::Window;
use crate::bench::{Errors, FanoutFigures, Report};
use crate::runtime::poll;
use std::time::Instant;

impl Engine<'_> {
    /// The loop: measure, drain, close; then the report.
    pub(super) fn measure(
        mut self,
        waiter: &mut Waiter,
        progress: &mut Progress,
    ) -> Result<Report, String> {
        let window = Window::open(self.opts, progress);
        self.sending = true;
        self.pace = self.opts.rate.map(|r| Pace::new(window.start(), r));
        self.publish_all(window.start());
        let mut next_pace = self.pace.map(|p| p.next(window.start()));
        let mut stage = Stage::Measuring;
        loop {
            let now = Instant::now();
            stage = self.advance(stage, now, &window, waiter.interrupted(), progress);
            let wake = match stage {
                Stage::Measuring => {
                    let (done, errors) = (self.tally.deliveries, self.errors.count);
                    progress.tick(now, done, errors, None, &self.tally.hist);
                    let wake = window.end().min(progress.next_tick());
                    next_pace.map_or(wake, |at| wake.min(at))
                }
                Stage::Draining { until } | Stage::Closing { until } => until,
                Stage::Over => break,
            };
            self.turn(waiter, wake)?;
            if let (Some(pace), Some(at)) = (self.pace, next_pace) {
                let now = Instant::now();
                if now >= at && self.sending {
                    self.publish_all(now);
                    next_pace = Some(pace.next(now));
                }
            }
        }
        Ok(self.finish(waiter.interrupted()))
    }

    /// Every publisher sends what it may now.
    fn publish_all(&mut self, now: Instant) {
        for i in self.opts.subscribers..self.conns.len() {
            self.publish_more(i, now);
            self.flush(i);
        }
    }

    /// The stage after `stage` at `now`; one turn may pass through several.
    fn advance(
        &mut self,
        mut stage: Stage,
        now: Instant,
        window: &Window,
        interrupted: bool,
        progress: &mut Progress,
    ) -> Stage {
        let count_done = self.opts.count.is_some() && self.budget == 0 && self.settled();
        let nobody = self.live_subs == 0 || self.live_pubs == 0;
        if stage == Stage::Measuring && (now >= window.end() || count_done || interrupted || nobody)
        {
            let measured = window.close(now, self.tally.deliveries);
            self.measured = Some((measured, self.tally.acked));
            self.sending = false;
            progress.finish();
            stage = Stage::Draining { until: now + DRAIN };
        }
        if let Stage::Draining { until } = stage
            && (self.settled() || now >= until || interrupted)
        {
            self.start_closing();
            stage = Stage::Closing {
                until: now + CLOSE_WAIT,
            };
        }
        if let Stage::Closing { until } = stage
            && (!self.conns.iter().any(|c| c.live()) || now >= until)
        {
            stage = Stage::Over;
        }
        stage
    }

    /// Every publish sent has been answered, and delivered or announced dropped to
    /// every subscriber still running.
    fn settled(&self) -> bool {
        self.tally.outstanding == 0
            && self.tally.accounted >= self.live_subs as u64 * self.tally.acked
    }

    /// The accounts, what did not close in time, and the report.
    fn finish(mut self, interrupted: bool) -> Report {
        let mut errors = std::mem::take(&mut self.errors);
        if !interrupted {
            self.count_tails();
            self.check_accounts(&mut errors);
        }
        for c in self.conns.iter_mut().filter(|c| c.live()) {
            self.unclean += 1;
            poll::remove(self.poller, &c.sock);
            c.phase = Phase::Dead;
        }
        let opts = self.opts;
        let (measured, publishes) = self.measured.take().unwrap_or_default();
        let secs = measured.elapsed.as_secs_f64();
        if measured.messages == 0 && errors.count == 0 && !interrupted {
            errors.add(|| format!("no delivery arrived in {secs:.1} s"));
        }
        if let Some(n) = opts
            .count
            .filter(|&n| publishes < n && !interrupted && errors.count == 0)
        {
            errors.add(|| format!("only {publishes} of the {n} publishes within {secs:.1} s"));
        }
        let figures = FanoutFigures {
            subscribers: opts.subscribers,
            publishers: opts.publishers,
            rate: opts.rate,
            publishes,
            dropped: self.tally.dropped,
            gaps: self.tally.gaps,
        };
        Report {
            unclean_closes: self.unclean,
            fanout: Some(figures),
            ..measured.report(opts, &self.tally.hist, errors, interrupted)
        }
    }

    /// Adds to each subscriber's gaps what each publisher published after the last
    /// delivery it saw from it: what only a DROPPED notice can show.
    fn count_tails(&mut self) {
        let acked: Vec<u64> = self
            .conns
            .iter()
            .filter_map(|c| match &c.role {
                Role::Pub(p) => Some(p.acked),
                Role::Sub(_) => None,
            })
            .collect();
        for c in self.conns.iter_mut().filter(|c| c.phase != Phase::Dead) {
            if let Role::Sub(s) = &mut c.role {
                self.tally.gaps += s.count_tails(&acked);
            }
        }
    }

    /// After the drain, every subscriber still running has had every answered
    /// publish delivered or announced dropped, and every publisher has its answers.
    fn check_accounts(&self, errors: &mut Errors) {
        let acked = self.tally.acked;
        for (i, c) in self.conns.iter().enumerate() {
            if c.phase == Phase::Dead {
                continue;
            }
            match &c.role {
                Role::Sub(s) if s.accounted() != acked || s.gaps != s.dropped => errors.add(|| {
                    format!(
                        "subscriber {i}: of {acked} publishes, {} were delivered and {} announced \
                         dropped, but {} are missing from the sequences{}",
                        s.received,
                        s.dropped,
                        s.gaps,
                        match s.accounted() < acked {
                            true => format!(" ({} s after the window)", DRAIN.as_secs()),
                            false => String::new(),
                        }
                    )
                }),
                Role::Pub(p) if p.outstanding() > 0 => errors.add(|| {
                    format!(
                        "publisher {}: {} publishes never answered within {} s",
                        p.id,
                        p.outstanding(),
                        DRAIN.as_secs()
                    )
                }),
                _ => {}
            }
        }
    }
}
