//! Truthful failures: a request told it definitely failed (`effects: none`) wrote
//! nothing. The history checker sees a broken promise only when the write stays
//! visible (not overwritten, not a delete of nothing, not a bump of an empty group);
//! this checker reads the write path's trace instead, so a ghost write is caught
//! whatever it wrote.
//!
//! Verifies, per server lifetime: no request whose write was answered while the group
//! that had claimed it was still running ([`events::answered_mid_group`]: its deadline
//! passed mid-commit), that group then committing all its writes or failing to confirm
//! its commit, was told it definitely failed (hardened tells such a caller its outcome
//! is unknown; fazt 0.10.10 tells it failed, a ghost write). Does not verify: writes
//! of a group some of whose writes failed (the one answered may be one of those), of a
//! group whose members the trace leaves uncertain (started after SQLITE_BUSY while
//! writes waited: the busy group's retry or, the writer having given it up, a new
//! group; or with a background write among them), nor of an execution with more than
//! one write in flight (an execution's calls are sequential, so there is none); the
//! history checker judges what was written.

use fazt_chaos::{Outcome, Violation};

use crate::run::property::Evidence;
use crate::search::events;

pub fn check(evidence: &Evidence) -> Vec<Violation> {
    let mut violations = Vec::new();
    for lifetime in events::lifetimes(evidence.trace) {
        let requests = events::requests(lifetime);
        for execution in events::answered_mid_group(lifetime) {
            let Some(&request) = requests.get(&execution) else {
                continue;
            };
            let told_failed = evidence
                .answers
                .iter()
                .any(|a| a.op.request == request && a.op.outcome == Outcome::Failed);
            if told_failed {
                violations.push(Violation {
                    invariant: "failed-write-committed",
                    detail: format!(
                        "request {request} was told it definitely failed while its write was committing in a group that then committed"
                    ),
                    involved: vec![request.to_owned()],
                });
            }
        }
    }
    violations
}
