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

/// One case in this many (by its seed) runs with its runtime's pool pre-warmed
/// (`RuntimeConfig::prewarm`: every VM created at start, as fazt's pool was), so that
/// the option is searched too and its promise checked ([`checkers::metrics`]); the
/// others run the profile as it is.
pub const PREWARM_ONE_IN: u64 = 8;

/// Runs `workload` with `schedule` under `profile` (a liveness probe appended; its pool
/// pre-warmed for one seed in [`PREWARM_ONE_IN`]) and checks the history's invariants
/// and every checker of [`checkers::all`]; counts the coverage marks its trace records.
pub fn run(profile: &Profile, seed: u64, workload: &Workload, schedule: &Schedule) -> Run {
    let mut profile = profile.clone();
    profile.config.runtime.prewarm |= seed % PREWARM_ONE_IN == 0;
    let profile = &profile;
    let probed = checkers::liveness::with_probe(workload, schedule, profile);
    let checks = |evidence: &property::Evidence, details: &mut _| {
        checkers::all(profile, schedule, evidence, details)
    };
    let run = property::run_checked(profile, seed, &probed, schedule, &checks);
    coverage::mark_from_trace(&run.trace);
    run
}
