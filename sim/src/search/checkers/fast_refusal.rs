//! Fast refusal: a request the engine refuses for want of budget or capacity is told so
//! early, while the client can still retry elsewhere, not after waiting out its budget.
//!
//! Verifies: every answer of a refusal kind ([`REFUSALS`]) came within
//! [`FAST_REFUSAL_PERCENT`] of the budget from its sending, network faults, CPU
//! slowdowns and slow accepts aside (a held or slowed link, a stalled CPU or accept
//! loop, delays every answer); and that a write is refused up front when
//! the engine knows it cannot finish in time: when the group the writer is running has
//! already run longer than the write's whole remaining budget (the trace bounds that
//! budget from above: the execution's VM checkout plus the execution budget). Does not
//! verify: that the engine refuses every write it could not finish (a write let in
//! that then ran out of time is told outcome-unknown or deadline-exceeded; the history
//! checker judges what it wrote), nor writes queued behind a group that met
//! SQLITE_BUSY or failed without an event (see [`events::queued_behind_groups`]).

use fazt_chaos::{Outcome, Violation};

use super::failed_with;
use crate::env::TIMER_RESOLUTION;
use crate::run::property::Evidence;
use crate::search::events;
use crate::search::faults::Scale;

/// The error kinds that say "refused up front, nothing was done".
pub const REFUSALS: &[&str] = &["InsufficientBudget", "Overloaded"];

/// A refusal is fast when it takes at most this share of the budget (in percent): a
/// refusal decided at arrival takes a few ms; a tenth of the budget allows for the
/// admission gate's own bounded wait.
pub const FAST_REFUSAL_PERCENT: u64 = 10;

pub fn check(scale: &Scale, evidence: &Evidence) -> Vec<Violation> {
    let mut violations = slow_refusals(scale, evidence);
    violations.extend(refused_too_late(scale, evidence));
    violations
}

/// Writes queued behind a running group that had outlasted their remaining budget.
fn refused_too_late(scale: &Scale, evidence: &Evidence) -> Vec<Violation> {
    // The trace's times are the timer's: the engine's own may be a tick apart.
    let slack_us = TIMER_RESOLUTION.as_micros() as u64;
    let budget_us = scale.execution_ms * 1000;
    events::lifetimes(evidence.trace)
        .into_iter()
        .flat_map(events::queued_behind_groups)
        .filter(|q| {
            let elapsed = q.call_us - q.group_started_us;
            let remaining_max = (q.checkout_us + budget_us).saturating_sub(q.call_us);
            elapsed > remaining_max + slack_us
        })
        .map(|q| Violation {
            invariant: "refused-too-late",
            detail: format!(
                "execution {} queued a write {} ms into a running group, with at most {} ms of its budget left: the engine knew it could not finish",
                q.execution,
                (q.call_us - q.group_started_us) / 1000,
                (q.checkout_us + budget_us).saturating_sub(q.call_us) / 1000
            ),
            involved: Vec::new(),
        })
        .collect()
}

/// Refusals answered late.
fn slow_refusals(scale: &Scale, evidence: &Evidence) -> Vec<Violation> {
    let limit_us = scale.budget_ms * 1000 * FAST_REFUSAL_PERCENT / 100;
    let mut stalled = events::network_faulted(evidence.trace);
    stalled.extend(events::server_stalled(evidence.trace, scale.js_tick_us));
    evidence
        .answers
        .iter()
        .filter(|answer| answer.op.outcome == Outcome::Failed)
        .filter(|answer| failed_with(answer, REFUSALS))
        .filter(|answer| answer.op.completed_us - answer.op.invoked_us > limit_us)
        .filter(|answer| {
            !stalled
                .iter()
                .any(|&(from, to)| from < answer.op.completed_us && answer.op.invoked_us < to)
        })
        .map(|answer| Violation {
            invariant: "slow-refusal",
            detail: format!(
                "request {} was refused ({}) {} ms after it was sent, over {} ms",
                answer.op.request,
                answer.kind.as_deref().unwrap_or("?"),
                (answer.op.completed_us - answer.op.invoked_us) / 1000,
                limit_us / 1000
            ),
            involved: vec![answer.op.request.clone()],
        })
        .collect()
}
