//! The cells of the one-mechanism scenarios (`fazt-reference.md` §4.3, §4.5, §4.6,
//! §4.8, §4.9): each fails under the profile that has the mechanism, with the cause
//! the trace names, and passes under `hardened`.

use super::{no_failures, no_violations, Cell};
use crate::report::Report;

/// Every failure has error kind `kind` and a cause containing `cause`; at least one.
fn all_failures_are(report: &Report, kind: &str, cause: &str) -> Result<(), String> {
    if report.failed == 0 {
        return Err("nothing failed: the mechanism did not show".into());
    }
    if report.errors.keys().any(|k| k != kind) {
        return Err(format!("failures other than {kind}: {:?}", report.errors));
    }
    if report.causes.keys().any(|c| !c.contains(cause)) {
        return Err(format!("a cause other than {cause:?}: {:?}", report.causes));
    }
    Ok(())
}

pub(super) fn detail(report: &Report, name: &str) -> u64 {
    report.details.get(name).copied().unwrap_or(0)
}

pub(super) fn cells(seed: u64) -> Vec<Cell> {
    let cell = |scenario, profile, expectation, check| {
        Cell::new(scenario, profile, seed, expectation, check)
    };
    vec![
        cell(
            "busy-timeout-one-conn",
            "hardened",
            "0 failures, at any connection age",
            no_failures,
        ),
        cell(
            "busy-timeout-one-conn",
            "mech-busy-timeout-one-conn",
            "BUSY only after the 5-minute lifetime replaced connection 0",
            |r| {
                no_violations(r)?;
                all_failures_are(r, "Busy", "replaced past its lifetime")?;
                match detail(r, "failed_early") {
                    0 => Ok(()),
                    n => Err(format!(
                        "{n} failures while connection 0 had its busy_timeout"
                    )),
                }
            },
        ),
        cell(
            "busy-timeout-one-conn",
            "fazt-0.10.6",
            "BUSY in both phases, on connections without the pragma",
            |r| {
                no_violations(r)?;
                all_failures_are(r, "Busy", "sqlite-busy on connection")?;
                if detail(r, "failed_early") == 0 || detail(r, "failed_late") == 0 {
                    return Err(format!("expected failures in both phases: {:?}", r.details));
                }
                Ok(())
            },
        ),
        cell(
            "deferred-upgrade",
            "hardened",
            "0 failures (IMMEDIATE waits for the lock)",
            no_failures,
        ),
        cell(
            "deferred-upgrade",
            "mech-deferred-upgrade",
            "BUSY at once, each at a DEFERRED upgrade",
            |r| {
                no_violations(r)?;
                all_failures_are(r, "Busy", "DEFERRED transaction's upgrade")
            },
        ),
        cell(
            "queue-admission",
            "hardened",
            "0 failures: the burst drains in ms",
            no_failures,
        ),
        cell(
            "queue-admission",
            "mech-queue-admission",
            "refusals once ~67 writes queue (30 ms x queued + 500 ms > 2.5 s)",
            |r| {
                no_violations(r)?;
                all_failures_are(r, "InsufficientBudget", "admission refused")?;
                match detail(r, "refused_min_queued") {
                    60..=70 => Ok(()),
                    n => Err(format!("first refusal at {n} queued, not the rule's ~67")),
                }
            },
        ),
        cell(
            "timeout-hierarchy",
            "hardened",
            "0 failures: quick retryable BUSY, retries land",
            no_failures,
        ),
        cell(
            "timeout-hierarchy",
            "mech-timeout-hierarchy",
            "TimeoutError after the lock wait took the whole budget",
            |r| {
                no_violations(r)?;
                all_failures_are(r, "TimeoutError", "lock wait took the whole")
            },
        ),
        cell(
            "ghost-writes",
            "hardened",
            "no ghost write (late commits outcome-unknown, hopeless writes refused up front)",
            |r| {
                no_violations(r)?;
                // A write queued behind a group already past its budget is refused
                // before it starts (definite, checked untouched by the invariant).
                let allowed = ["OutcomeUnknown", "InsufficientBudget"];
                if r.errors.keys().any(|k| !allowed.contains(&k.as_str())) {
                    return Err(format!(
                        "failures other than OutcomeUnknown or InsufficientBudget: {:?}",
                        r.errors
                    ));
                }
                if r.failed == 0 {
                    return Err("no write outlived its caller: the workload did not bite".into());
                }
                Ok(())
            },
        ),
        cell(
            "ghost-writes",
            "mech-ghost-writes",
            "writes told DeadlineExceeded that landed",
            |r| {
                // Writes refused up front (behind a group past their budget) are not
                // the mechanism: every other failure is a ghost write.
                let refused = r.errors.get("InsufficientBudget").copied().unwrap_or(0);
                let mut told_failed = r.clone();
                told_failed.errors.remove("InsufficientBudget");
                told_failed
                    .causes
                    .retain(|cause, _| !cause.contains("InsufficientBudget"));
                all_failures_are(&told_failed, "DeadlineExceeded", "ghost write")?;
                match r.violations.len() as u64 {
                    n if n + refused == r.failed => Ok(()),
                    n => Err(format!(
                        "{n} ghost writes among {} failures",
                        r.failed - refused
                    )),
                }
            },
        ),
    ]
}
