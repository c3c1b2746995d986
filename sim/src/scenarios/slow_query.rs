//! `slow-query`: a statement holds the write lock past every request's deadline
//! (the `storage-slow-statement` failpoint, armed for a hold longer than the profile's
//! request budget), while clients keep writing and reading.
//!
//! Under `hardened` no request outlives its budget, writes caught committing are
//! reported as outcome-unknown and queued ones as definite failures that never land:
//! no invariant breaks. A profile whose storage lets a caller give up on a write that
//! then commits shows ghost writes, named by the `failed-write-landed` invariant.

use std::time::Duration;

use fazt_chaos::{Action, Fault, Schedule};
use fazt_engine::failpoints;

use crate::profile::Profile;
use crate::property;
use crate::scenarios::{Run, Sizes};
use crate::workload::Workload;

pub const SUMMARY: &str =
    "a statement holds the write lock past every request's deadline while clients write";

/// How much longer than the request budget the statement holds the lock.
pub const HOLD_BEYOND_BUDGET: Duration = Duration::from_secs(2);

/// When the slow statement starts.
const SLOW_AT_MS: u64 = 30;

const KEYS: &[&str] = &["k0", "k1", "k2", "k3"];

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, sizes: &Sizes) -> Run {
    let rng = fazt_engine::env::Rng::seeded(seed).split("slow-query");
    let steps = sizes.requests.map_or(10, |n| (n as usize).div_ceil(3));
    let workload = Workload::seeded(&rng, 3, steps, KEYS, 70, 15);
    let hold = profile.config.request_timeout + HOLD_BEYOND_BUDGET;
    let schedule = sizes.schedule.clone().unwrap_or_else(|| Schedule {
        faults: vec![Fault {
            at_ms: SLOW_AT_MS,
            action: Action::Failpoint {
                point: failpoints::STORAGE_SLOW_STATEMENT.to_owned(),
                times: 1,
                argument: Some(u64::try_from(hold.as_millis()).unwrap_or(u64::MAX)),
            },
        }],
    });
    let mut run = property::run(profile, seed, &workload, &schedule);
    run.report.scenario = "slow-query".into();
    let budget_ms = u64::try_from(profile.config.request_timeout.as_millis()).unwrap_or(u64::MAX);
    run.report.details.insert("budget_ms".into(), budget_ms);
    let slow = run
        .trace
        .events
        .iter()
        .filter(|e| e.actor == "fazt::fault" && e.what.contains(failpoints::STORAGE_SLOW_STATEMENT))
        .count();
    run.report
        .details
        .insert("slow_statements".into(), slow as u64);
    run
}
