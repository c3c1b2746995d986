//! Availability: under a schedule whose faults the engine claims to absorb (BUSY fewer
//! times than the writer's attempts, delays adding up to a small share of the budget:
//! [`Scale::absorbs`]), no request fails.
//!
//! Verifies: every request of such a run succeeded, or failed for its own sake (a 409
//! over an existing id). Does not verify: anything under a schedule with a fault the
//! engine does not claim to absorb (a crash, a partition, an I/O error, a long hold);
//! there a failure may be right, and the other checkers judge it.

use fazt_chaos::{Outcome, Schedule, Violation};

use super::failed_with;
use crate::run::property::Evidence;
use crate::search::faults::Scale;

/// The failures a request may meet for its own sake, not the engine's: an insert over
/// an existing id, a ledger bump over an entry whose count is not a number.
const OWN_FAULTS: &[&str] = &["HTTP 409", "DuplicateId", "InvalidArgument"];

pub fn check(scale: &Scale, schedule: &Schedule, evidence: &Evidence) -> Vec<Violation> {
    if !scale.absorbs(schedule) {
        return Vec::new();
    }
    evidence
        .answers
        .iter()
        .filter(|answer| answer.op.outcome != Outcome::Ok && !failed_with(answer, OWN_FAULTS))
        .map(|answer| Violation {
            invariant: "unavailable",
            detail: format!(
                "request {} failed ({}) under faults the engine claims to absorb: {}",
                answer.op.request,
                answer.kind.as_deref().unwrap_or("?"),
                schedule
                    .faults
                    .iter()
                    .map(|f| f.action.describe())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            involved: vec![answer.op.request.clone()],
        })
        .collect()
}
