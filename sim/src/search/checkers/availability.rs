//! Availability: under a schedule whose faults the engine claims to absorb (BUSY fewer
//! times than the writer's attempts, delays adding up to a small share of the budget:
//! [`Scale::absorbs`]), no request fails.
//!
//! Verifies: every request of such a run succeeded, or failed for its own sake (a 409
//! over an existing id), or was refused at connect before the server, which then
//! served, had read its first request. Does not verify: anything under a schedule with
//! a fault the engine does not claim to absorb (a crash, a partition, an I/O error, a
//! long hold); there a failure may be right, and the other checkers judge it. Nor how
//! long the server took to start: it listens once its apps are deployed, and a BUSY at
//! start-up retries those writes while clients already send (the CI search's first
//! stop after the release search's sixth finding: one BUSY at 0 ms, a request at 0 ms
//! refused); a server that never serves is still a violation. Nor a run with more
//! clients than one app's execution slots ([`Scale::app_slots`]): a client more waits
//! at the admission gate, and a delay the engine absorbs within the request budget may
//! outlast the gate's wait (500 ms), which sheds load (`Overloaded`, a 503 to retry)
//! rather than failing to absorb the fault (the CI search at 800 cases: a 506 ms slow
//! statement under a burst of 16 clients).

use std::collections::BTreeSet;

use fazt_chaos::{Outcome, Schedule, Violation};

use super::failed_with;
use crate::run::property::{Answer, Evidence, NOT_CONNECTED};
use crate::search::events;
use crate::search::faults::Scale;

/// The failures a request may meet for its own sake, not the engine's: an insert over
/// an existing id, a ledger bump over an entry whose count is not a number.
const OWN_FAULTS: &[&str] = &["HTTP 409", "DuplicateId", "InvalidArgument"];

pub fn check(scale: &Scale, schedule: &Schedule, evidence: &Evidence) -> Vec<Violation> {
    let clients: BTreeSet<&str> = evidence
        .answers
        .iter()
        .map(|a| a.op.client.as_str())
        .collect();
    if !scale.absorbs(schedule) || clients.len() > scale.app_slots {
        return Vec::new();
    }
    let serving_from = events::first_request_read(evidence.trace);
    evidence
        .answers
        .iter()
        .filter(|answer| answer.op.outcome != Outcome::Ok && !failed_with(answer, OWN_FAULTS))
        .filter(|answer| !refused_while_starting(answer, serving_from))
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

/// Whether `answer` was a connection refused before the server first read a request
/// (`serving_from`), on the client's clock, which trails the engine's: such a refusal
/// is recorded no later than it happened.
fn refused_while_starting(answer: &Answer, serving_from: Option<u64>) -> bool {
    answer.kind.as_deref() == Some(NOT_CONNECTED)
        && serving_from.is_some_and(|from| answer.op.completed_us < from)
}
