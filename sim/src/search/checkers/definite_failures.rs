//! Definite failures: a write whose group rolled back before `COMMIT`, nothing of it
//! written, is told so: its caller's request is a definite failure (`effects: none`),
//! not outcome-unknown. Outcome-unknown is never false, so the history checker accepts
//! it; but a client told it may have written must reconcile a write that cannot have
//! happened, where the engine knew.
//!
//! Verifies, per server lifetime: every member of a group the `storage-before-commit`
//! fault rolled back ([`events::rolled_back_before_commit`]: the group's members known,
//! not yet answered when the fault fired), whose execution queued no other write and
//! whose answer came before its deadline could have passed (its request's arrival plus
//! the execution budget, a lower bound of that deadline), was not answered
//! outcome-unknown. Does not verify: groups that failed without an event in the trace
//! (a failed `BEGIN`, a `COMMIT` the disk refused), writes of executions with more than
//! one write (an earlier write's outcome decides their answer too), writes answered
//! at or past their deadline's lower bound (a caller's timer may then say
//! outcome-unknown first, truthfully), nor requests left unanswered (a dropped
//! connection).

use fazt_chaos::{Outcome, Violation};

use crate::run::property::Evidence;
use crate::search::events;
use crate::search::faults::Scale;

/// The kind the client gives a request it got no answer to.
const NO_ANSWER: &str = "NoAnswer";

pub fn check(scale: &Scale, evidence: &Evidence) -> Vec<Violation> {
    let budget_us = scale.execution_ms * 1000;
    let mut violations = Vec::new();
    for lifetime in events::lifetimes(evidence.trace) {
        let requests = events::requests(lifetime);
        let writes = events::writes_queued(lifetime);
        for write in events::rolled_back_before_commit(lifetime) {
            let (Some(answered_us), Some(&request)) =
                (write.answered_us, requests.get(&write.execution))
            else {
                continue;
            };
            let Some((_, arrived_us)) = events::answered(lifetime, request) else {
                continue;
            };
            if writes.get(&write.execution) != Some(&1) || answered_us >= arrived_us + budget_us {
                continue;
            }
            let told_unknown = evidence.answers.iter().any(|a| {
                a.op.request == request
                    && a.op.outcome == Outcome::Unknown
                    && a.kind.as_deref() != Some(NO_ANSWER)
            });
            if told_unknown {
                violations.push(Violation {
                    invariant: "rolled-back-write-told-unknown",
                    detail: format!(
                        "request {request} was told its outcome is unknown, but its write's group rolled back before COMMIT ({} ms before its deadline could pass): nothing was written",
                        (arrived_us + budget_us - answered_us) / 1000
                    ),
                    involved: vec![request.to_owned()],
                });
            }
        }
    }
    violations
}
