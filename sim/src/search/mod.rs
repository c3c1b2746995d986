//! The property search as a library: broad workloads ([`workload`]), faults drawn
//! within a workload's span at the scale of the budgets ([`faults`]), promise-level
//! checkers ([`checkers`]) and the engine's coverage marks ([`coverage`]).
//!
//! `cargo test -p fazt-sim --test properties` drives it with proptest; `fazt-sim test`
//! (issue 21) is to call the same pieces on a user's app.

pub mod checkers;
pub mod coverage;
pub mod events;
pub mod faults;
pub mod workload;

use fazt_chaos::Schedule;

use crate::profile::Profile;
use crate::run::property;
use crate::run::Run;
use crate::workload::Workload;

/// Runs `workload` with `schedule` under `profile` (a liveness probe appended) and
/// checks the history's invariants and every checker of [`checkers::all`]; counts the
/// coverage marks its trace records.
pub fn run(profile: &Profile, seed: u64, workload: &Workload, schedule: &Schedule) -> Run {
    let probed = checkers::liveness::with_probe(workload, schedule, profile);
    let checks = |evidence: &property::Evidence, details: &mut _| {
        checkers::all(profile, schedule, evidence, details)
    };
    let run = property::run_checked(profile, seed, &probed, schedule, &checks);
    coverage::mark_from_trace(&run.trace);
    run
}
