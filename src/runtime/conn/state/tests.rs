//! The connection state machine driven by hand: bytes, verdicts and time in,
//! decisions out — no sockets, no clock.

use super::*;

const MAX: usize = 1000;

fn policy(idle_secs: Option<u64>) -> Policy {
    Policy {
        max_output: MAX,
        idle_timeout: idle_secs.map(Duration::from_secs),
    }
}

fn at(ms: u64) -> Millis {
    Millis::START.after(Duration::from_millis(ms))
}

#[test]
fn an_open_connection_reads_and_arms_its_idle_timeout() {
    let p = policy(Some(5));
    let mut s = ConnState::new(at(0), Registration::assumed(Interest::READ));
    let settled = s.settle(0, at(0), &p, None);
    assert_eq!(settled.interest, Interest::READ);
    assert_eq!(settled.arm, Some(at(5000)));
    assert_eq!(
        (settled.close, settled.send_fin, settled.paused),
        (false, false, None)
    );
    assert_eq!(s.reading(), Reading::Serve);
    // The same deadline again is not armed twice; an earlier service deadline is.
    assert_eq!(s.settle(0, at(10), &p, None).arm, None);
    assert_eq!(s.settle(0, at(10), &p, Some(at(300))).arm, Some(at(300)));
}

#[test]
fn backpressure_pauses_at_the_cap_and_resumes_at_a_quarter() {
    let p = policy(None);
    let mut s = ConnState::new(at(0), Registration::assumed(Interest::READ));
    let on = s.settle(MAX, at(1), &p, None);
    assert_eq!(on.paused, Some(true));
    assert_eq!(on.interest, Interest::WRITE);
    // Between the marks nothing changes.
    let between = s.settle(MAX / 2, at(2), &p, None);
    assert_eq!((between.paused, between.interest), (None, Interest::WRITE));
    let off = s.settle(MAX / 4, at(3), &p, None);
    assert_eq!((off.paused, off.interest), (Some(false), Interest::BOTH));
    assert_eq!(s.settle(0, at(4), &p, None).interest, Interest::READ);
}

#[test]
fn a_backlog_stops_reading_until_output_drains_and_survives_other_steps() {
    let p = policy(None);
    let mut s = ConnState::new(at(0), Registration::assumed(Interest::READ));
    assert!(!s.served(Next::Backlog));
    // Not read from, but woken by writability to serve the backlog.
    assert_eq!(s.settle(MAX / 2, at(1), &p, None).interest, Interest::WRITE);
    assert_eq!(s.settle(0, at(1), &p, None).interest, Interest::WRITE);
    assert!(!s.backlog_ready(MAX / 2, &p));
    assert!(s.backlog_ready(MAX / 4, &p));
    // A timer or a ping in between does not forget the waiting input...
    assert!(!s.answered(Next::Continue));
    assert!(s.backlog_ready(0, &p));
    // ...serving it does.
    assert!(!s.served(Next::Continue));
    assert!(!s.backlog_ready(0, &p));
    assert_eq!(s.settle(0, at(2), &p, None).interest, Interest::READ);
}

#[test]
fn close_flushes_then_sends_fin_then_drains_for_a_fixed_time() {
    let p = policy(Some(60));
    let mut s = ConnState::new(at(0), Registration::assumed(Interest::READ));
    assert!(
        s.served(Next::Close),
        "stopped serving: drop unserved input"
    );
    assert_eq!(s.phase(), Phase::Flushing);
    assert_eq!(s.reading(), Reading::Skip);
    // Output still queued: write only, under the flush deadline.
    let flushing = s.settle(10, at(100), &p, None);
    assert_eq!(
        (flushing.send_fin, flushing.interest),
        (false, Interest::WRITE)
    );
    assert_eq!(flushing.arm, Some(at(10_000)));
    // All sent: FIN, then read (and discard) until the peer's FIN.
    let drained = s.settle(0, at(200), &p, None);
    assert!(drained.send_fin);
    assert_eq!(drained.interest, Interest::READ);
    assert_eq!(s.phase(), Phase::Draining);
    assert_eq!(s.reading(), Reading::Discard);
    // Input while draining is not activity: the drain ends 2 s after the FIN.
    s.on_input(at(1500));
    s.on_output(5, at(1500));
    assert_eq!(s.last_active(), at(200));
    assert_eq!(s.on_peer_fin(), PeerFin::Close);
}

#[test]
fn a_peer_that_finished_first_is_closed_once_the_replies_are_sent() {
    let p = policy(None);
    let mut s = ConnState::new(at(0), Registration::assumed(Interest::READ));
    assert_eq!(s.on_peer_fin(), PeerFin::Finish);
    s.served(Next::Close);
    assert!(!s.settle(5, at(1), &p, None).close);
    let done = s.settle(0, at(2), &p, None);
    assert!(done.close);
    assert!(!done.send_fin);
}

#[test]
fn activity_moves_the_idle_deadline_and_a_late_entry_rechecks() {
    let p = policy(Some(1));
    let mut s = ConnState::new(at(0), Registration::assumed(Interest::READ));
    let first = s.settle(0, at(0), &p, None).arm;
    assert_eq!(first, Some(at(1000)));
    s.on_input(at(600));
    // The entry for 1000 fires: nothing is due, the new deadline (1600) is armed then.
    assert_eq!(s.on_timer(at(1000), at(1000), &p, None), Due::Recheck);
    assert_eq!(s.settle(0, at(1000), &p, None).arm, Some(at(1600)));
    // An entry that is not the current one is stale.
    assert_eq!(s.on_timer(at(1000), at(1700), &p, None), Due::Stale);
    assert_eq!(
        s.on_timer(at(1600), at(1700), &p, None),
        Due::Idle(Duration::from_secs(1))
    );
    // The goodbye gets its own flush time from the moment the idle timeout fired.
    assert_eq!(s.last_active(), at(1700));
}

#[test]
fn the_service_deadline_comes_first_and_closing_deadlines_give_up() {
    let p = policy(Some(60));
    let mut s = ConnState::new(at(0), Registration::assumed(Interest::READ));
    let arm = s.settle(0, at(0), &p, Some(at(50))).arm;
    assert_eq!(arm, Some(at(50)));
    assert_eq!(s.on_timer(at(50), at(50), &p, Some(at(50))), Due::Session);

    let mut flushing = ConnState::new(at(0), Registration::assumed(Interest::READ));
    flushing.served(Next::Close);
    let arm = flushing.settle(1, at(0), &p, None).arm.unwrap();
    assert_eq!(
        flushing.on_timer(arm, arm, &p, None),
        Due::Close("peer stopped reading")
    );

    let mut draining = ConnState::new(at(0), Registration::assumed(Interest::READ));
    draining.served(Next::Close);
    let arm = draining.settle(0, at(0), &p, None).arm.unwrap();
    assert_eq!(arm, at(2000));
    assert_eq!(
        draining.on_timer(arm, arm, &p, None),
        Due::Close("the peer did not send its FIN within the drain time")
    );
}

#[test]
fn without_an_idle_timeout_an_open_connection_has_no_timer() {
    let p = policy(None);
    let mut s = ConnState::new(at(0), Registration::assumed(Interest::READ));
    assert_eq!(s.settle(0, at(0), &p, None).arm, None);
}

#[test]
fn shutdown_asks_only_open_connections() {
    let mut open = ConnState::new(at(0), Registration::assumed(Interest::READ));
    assert!(open.on_shutdown(at(7)));
    assert_eq!(open.last_active(), at(7));
    let mut flushing = ConnState::new(at(0), Registration::assumed(Interest::READ));
    flushing.served(Next::Close);
    assert!(!flushing.on_shutdown(at(7)));
}

#[test]
fn the_output_budget_leaves_room_to_progress() {
    let p = policy(None);
    assert_eq!(output_budget(0, &p), 16 * 1024);
    let big = Policy {
        max_output: 256 * 1024,
        idle_timeout: None,
    };
    assert_eq!(output_budget(56 * 1024, &big), 200 * 1024);
    assert_eq!(output_budget(300 * 1024, &big), 16 * 1024);
}
