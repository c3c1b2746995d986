//! `power-loss`: the machine loses power twice during a write-only workload on
//! registers of their own, and the server restarts on what the simulated disk kept.
//!
//! Under `--durability full` every acknowledged write must survive; under `normal` the
//! writes not yet synced are lost and the report counts them (cause `lost at power
//! loss: not synced`). Either way `PRAGMA integrity_check` passes and the database
//! opens. Four clients make 25 writes each (kv, ds or s3, each to a key of its own,
//! so every acknowledged write is its register's last and must be in the final
//! database; think times up to 20 ms); two power losses fall in the first 600 virtual
//! ms, each down for 5–50 ms. A `--schedule FILE` replaces them.

use fazt_chaos::Action;
use fazt_engine::env::Rng;

use crate::profile::Profile;
use crate::run::property;
use crate::run::Run;
use crate::scenarios::crash_restart::outages;
use crate::scenarios::Sizes;
use crate::workload::{Operation, Space, Step, Verb, Workload};

pub const SUMMARY: &str =
    "the machine loses power twice during a write-only workload; what survives depends on --durability";

/// Clients writing at once.
const CLIENTS: usize = 4;
/// Power losses drawn for a run.
const POWER_LOSSES: usize = 2;

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, sizes: &Sizes) -> Run {
    let rng = Rng::seeded(seed).split("power-loss");
    let steps = sizes
        .requests
        .map_or(25, |n| (n as usize).div_ceil(CLIENTS));
    let workload = own_registers(&rng.split("workload"), steps);
    let schedule = sizes.schedule.clone().unwrap_or_else(|| {
        outages(&rng.split("power"), POWER_LOSSES, |down_ms| {
            Action::PowerLoss { down_ms }
        })
    });
    let mut run = property::run(profile, seed, &workload, &schedule);
    run.report.scenario = "power-loss".into();
    let unexplained = property::unexplained_failures(&run.report, &["power loss at"]);
    run.report.violations.extend(unexplained);
    run
}

/// Each client writes `steps` registers of its own (`c<client>-<n>`), in a space
/// drawn from `rng`, after think times up to 20 ms.
fn own_registers(rng: &Rng, steps: usize) -> Workload {
    let spaces = [Space::Kv, Space::Ds, Space::S3];
    Workload {
        clients: (0..CLIENTS)
            .map(|client| {
                (0..steps)
                    .map(|n| Step {
                        think_ms: rng.below(21),
                        op: Operation {
                            space: spaces[rng.below(3) as usize],
                            verb: Verb::Put,
                            key: format!("c{client}-{n}"),
                            app: None,
                        },
                    })
                    .collect()
            })
            .collect(),
    }
}
