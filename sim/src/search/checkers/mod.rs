//! Promise-level checkers, one per file, each saying in its header what it verifies and
//! what it does not. They read a run's [`Evidence`]: what each client was told, the
//! engine's trace (through [`super::events`]) and the final database.

pub mod admission;
pub mod availability;
pub mod busy_answers;
pub mod busy_locks;
pub mod definite_failures;
pub mod determinism;
pub mod fast_refusal;
pub mod ledger;
pub mod lists;
pub mod liveness;
pub mod metrics;
pub mod pairs;
pub mod probes;
pub mod truthful_failures;
pub mod vm_hygiene;
pub mod write_names;

use std::collections::BTreeMap;

use fazt_chaos::{Schedule, Violation};

use super::faults::Scale;
use crate::profile::Profile;
use crate::run::property::{Answer, Evidence};

/// Whether `answer` failed with one of `kinds`: its error kind, or the cause under it
/// (a storage error reaches the client as kind `StorageError`, cause the storage's).
pub fn failed_with(answer: &Answer, kinds: &[&str]) -> bool {
    let cause = answer.body["cause"].as_str();
    [answer.kind.as_deref(), cause]
        .into_iter()
        .flatten()
        .any(|kind| kinds.contains(&kind))
}

/// Every checker of one run; the final rows' hash goes into `details` (the determinism
/// checker compares it between two runs of the same case).
pub fn all(
    profile: &Profile,
    schedule: &Schedule,
    evidence: &Evidence,
    details: &mut BTreeMap<String, u64>,
) -> Vec<Violation> {
    let scale = Scale::of(profile);
    details.insert(
        determinism::ROWS_HASH.into(),
        determinism::rows_hash(evidence.db),
    );
    let mut violations = Vec::new();
    violations.extend(availability::check(&scale, schedule, evidence));
    violations.extend(fast_refusal::check(&scale, evidence));
    violations.extend(vm_hygiene::check(evidence));
    violations.extend(liveness::check(evidence));
    violations.extend(lists::check(evidence));
    violations.extend(ledger::check(evidence));
    violations.extend(pairs::check(evidence));
    violations.extend(probes::check(evidence));
    violations.extend(truthful_failures::check(evidence));
    violations.extend(metrics::check(profile, evidence));
    violations.extend(write_names::check(evidence));
    violations.extend(definite_failures::check(&scale, evidence));
    violations.extend(admission::check(&scale, evidence));
    violations.extend(busy_locks::check(profile, evidence));
    violations.extend(busy_answers::check(evidence));
    violations
}
