//! Fast refusal: a request the engine refuses for want of budget or capacity is told so
//! early, while the client can still retry elsewhere, not after waiting out its budget.
//!
//! Verifies: every answer of a refusal kind ([`REFUSALS`]) came within
//! [`FAST_REFUSAL_PERCENT`] of the budget from its sending, network faults aside (a
//! held or slowed link delays every answer). Does not verify: that the engine refuses
//! every write it could not finish (a write let in that then ran out of time is told
//! outcome-unknown or deadline-exceeded; the history checker judges what it wrote).

use fazt_chaos::{Outcome, Violation};

use crate::property::Evidence;
use crate::search::faults::Scale;

/// The error kinds that say "refused up front, nothing was done".
pub const REFUSALS: &[&str] = &["InsufficientBudget", "Overloaded"];

/// A refusal is fast when it takes at most this share of the budget (in percent): a
/// refusal decided at arrival takes a few ms; a tenth of the budget allows for the
/// admission gate's own bounded wait.
pub const FAST_REFUSAL_PERCENT: u64 = 10;

pub fn check(scale: &Scale, evidence: &Evidence) -> Vec<Violation> {
    let limit_us = scale.budget_ms * 1000 * FAST_REFUSAL_PERCENT / 100;
    let network = crate::search::events::network_faulted(evidence.trace);
    evidence
        .answers
        .iter()
        .filter(|answer| answer.op.outcome == Outcome::Failed)
        .filter(|answer| REFUSALS.contains(&answer.kind.as_deref().unwrap_or("")))
        .filter(|answer| answer.op.completed_us - answer.op.invoked_us > limit_us)
        .filter(|answer| {
            !network
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
