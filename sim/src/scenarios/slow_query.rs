//! `slow-query`: a statement holds the write lock past every request's deadline
//! (the `storage-slow-statement` failpoint, armed for a hold longer than the profile's
//! request budget), while clients keep writing and reading.
//!
//! Under `hardened` no request outlives its budget, writes caught committing are
//! reported as outcome-unknown and queued ones as definite failures that never land:
//! no invariant breaks. A profile whose storage lets a caller give up on a write that
//! then commits (`fazt-0.10.10`, `mech-ghost-writes`) shows ghost writes, named by the
//! `failed-write-landed` invariant; one whose storage ignores deadlines
//! (`mech-deadline-ignored`, `fazt-0.10.5`) lets requests outlive their budget.
//!
//! Every write creates a register of its own and reads pick among the registers written
//! before, so a write that lands after the hold stays in the final database for the
//! checker to find; with shared registers a later write would overwrite the evidence.

use std::time::Duration;

use fazt_chaos::{Action, Fault, Schedule};
use fazt_engine::env::Rng;
use fazt_engine::failpoints;

use crate::profile::Profile;
use crate::run::property;
use crate::run::Run;
use crate::scenarios::Sizes;
use crate::workload::{Verb, Workload};

pub const SUMMARY: &str =
    "a statement holds the write lock past every request's deadline while clients write";

/// How much longer than the request budget the statement holds the lock.
pub const HOLD_BEYOND_BUDGET: Duration = Duration::from_secs(2);

/// When the slow statement starts.
const SLOW_AT_MS: u64 = 30;

const KEYS: &[&str] = &["k0", "k1", "k2", "k3"];

/// `workload` with every write turned into a put of a register of its own
/// (`w<client>-<step>`) and, for every read, one of the registers written by an earlier
/// step of any client (or `KEYS[0]` when there is none yet).
fn fresh_write_keys(mut workload: Workload, rng: &Rng) -> Workload {
    let steps = workload.clients.iter().map(Vec::len).max().unwrap_or(0);
    let mut written: Vec<String> = Vec::new();
    for n in 0..steps {
        let mut this_step = Vec::new();
        for (client, ops) in workload.clients.iter_mut().enumerate() {
            let Some(step) = ops.get_mut(n) else { continue };
            if step.op.writes() {
                step.op.verb = Verb::Put;
                step.op.key = format!("w{client}-{n}");
                this_step.push(step.op.key.clone());
            } else if !written.is_empty() {
                step.op.key = written[rng.below(written.len() as u64) as usize].clone();
            }
        }
        written.extend(this_step);
    }
    workload
}

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, sizes: &Sizes) -> Run {
    let rng = Rng::seeded(seed).split("slow-query");
    let steps = sizes.requests.map_or(10, |n| (n as usize).div_ceil(3));
    let workload = fresh_write_keys(Workload::seeded(&rng, 3, steps, KEYS, 70, 15), &rng);
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
        .filter(|e| {
            matches!(
                e.engine(),
                Some(fazt_engine::events::Event::Fault { point, .. })
                    if *point == failpoints::STORAGE_SLOW_STATEMENT
            )
        })
        .count();
    run.report
        .details
        .insert("slow_statements".into(), slow as u64);
    run
}
