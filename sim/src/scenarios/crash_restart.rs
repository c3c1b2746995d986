//! `crash-restart`: the server crashes at seeded points of a write-heavy workload and
//! restarts on the same database file. Nothing acknowledged may be lost, nothing
//! reported as definitely failed may land, and `PRAGMA integrity_check` must pass.
//!
//! Four clients make 25 register operations each (80% writes over kv, ds and s3, think
//! times up to 20 ms); three crashes fall in the first 600 virtual ms, each down for
//! 5–50 ms. A `--schedule FILE` replaces the drawn crashes.

use fazt_chaos::{Action, Fault, Schedule};
use fazt_engine::env::Rng;

use crate::profile::Profile;
use crate::run::property;
use crate::run::Run;
use crate::scenarios::Sizes;
use crate::workload::Workload;

pub const SUMMARY: &str =
    "the server crashes 3 times during a write-heavy register workload and restarts on the same file";

/// The registers the clients share.
const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "k4", "k5"];

/// `count` outages (a crash, a power loss: `outage(down_ms)`) drawn from `rng`, each
/// in the first 600 virtual ms (past the first 20, once the apps are deployed) and
/// down for 5–50 ms.
pub fn outages(rng: &Rng, count: usize, outage: fn(u64) -> Action) -> Schedule {
    let mut schedule = Schedule {
        faults: (0..count)
            .map(|_| Fault {
                at_ms: 20 + rng.below(580),
                action: outage(5 + rng.below(46)),
            })
            .collect(),
    };
    schedule.sort();
    schedule
}

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, sizes: &Sizes) -> Run {
    let rng = Rng::seeded(seed).split("crash-restart");
    let steps = sizes.requests.map_or(25, |n| (n as usize).div_ceil(4));
    let workload = Workload::seeded(&rng.split("workload"), 4, steps, KEYS, 80, 20);
    let schedule = sizes.schedule.clone().unwrap_or_else(|| {
        outages(&rng.split("crashes"), 3, |down_ms| Action::Crash {
            down_ms,
        })
    });
    let mut run = property::run(profile, seed, &workload, &schedule);
    run.report.scenario = "crash-restart".into();
    let unexplained = property::unexplained_failures(&run.report, &["server crash at"]);
    run.report.violations.extend(unexplained);
    let restarts = run
        .trace
        .events
        .iter()
        .filter(|e| {
            e.what
                == crate::trace::What::FaultEnded {
                    end: crate::trace::FaultEnd::ServerRestarted,
                }
        })
        .count();
    run.report
        .details
        .insert("restarts".into(), restarts as u64);
    run
}
