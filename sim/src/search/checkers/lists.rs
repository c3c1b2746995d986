//! Prefix lists: `kv.list(p)` and `s3.list(p)` return keys that start with `p`, taken
//! literally (`_`, `%` and `'` are characters, not wildcards or quotes), of the caller's
//! app only.
//!
//! Verifies: every key a successful list returned starts with its prefix, and was
//! written by some request of the same app (keys are shared by two apps). Does not
//! verify: that a list returned every key it should (that needs the interleaving of
//! concurrent writes, which the register history decides for single keys only).

use std::collections::BTreeSet;

use fazt_chaos::{Outcome, Violation};

use crate::run::property::Evidence;
use crate::workload::{Space, Verb};

pub fn check(evidence: &Evidence) -> Vec<Violation> {
    // (app, space, key) of every write sent, whatever its outcome.
    let written: BTreeSet<(&str, Space, &str)> = evidence
        .answers
        .iter()
        .filter(|a| a.operation.writes())
        .map(|a| {
            (
                a.operation.app(),
                a.operation.space,
                a.operation.key.as_str(),
            )
        })
        .collect();
    let mut violations = Vec::new();
    for answer in evidence
        .answers
        .iter()
        .filter(|a| a.operation.verb == Verb::List && a.op.outcome == Outcome::Ok)
    {
        let (app, space, prefix) = (
            answer.operation.app(),
            answer.operation.space,
            answer.operation.key.as_str(),
        );
        let keys = answer.body["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for key in keys.iter().filter_map(|k| k.as_str()) {
            let why = if !key.starts_with(prefix) {
                "does not start with the prefix"
            } else if !written.contains(&(app, space, key)) {
                "was never written in this app"
            } else {
                continue;
            };
            violations.push(Violation {
                invariant: "list-out-of-bounds",
                detail: format!(
                    "request {} listed {prefix:?} in {app} and got {key:?}, which {why}",
                    answer.op.request
                ),
                involved: vec![answer.op.request.clone()],
            });
        }
    }
    violations
}
