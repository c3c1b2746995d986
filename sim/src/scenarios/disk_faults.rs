//! `disk-faults`: the simulated disk fails reads, writes, syncs and locks, fills up
//! and stalls its syncs during a register workload. Every failure must reach its client
//! as a clear error whose effects are right (the invariants: nothing acknowledged
//! lost, nothing reported failed landed, linearizable registers, `PRAGMA
//! integrity_check`), and the server keeps serving reads while its writes fail.
//!
//! Four clients make 25 register operations each (50% writes, think times up to
//! 20 ms). At a seeded time the disk fills up for the next 40 writes that would grow a
//! file; each other disk fault ([`DiskFault::ALL`]) fires 1–5 times from a seeded time
//! in the first 600 virtual ms. A `--schedule FILE` replaces them.

use fazt_chaos::{Action, DiskFault, Fault, Schedule};
use fazt_engine::env::Rng;

use crate::profile::Profile;
use crate::run::property;
use crate::run::Run;
use crate::scenarios::Sizes;
use crate::trace::{Said, What};
use crate::workload::{Verb, Workload};

pub const SUMMARY: &str =
    "the disk fails reads, writes, syncs and locks, fills up and stalls during a register workload";

/// The registers the clients share.
const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "k4", "k5"];

/// Writes refused while the disk is full: enough that a stretch of the run writes
/// nothing while reads go on.
const FULL_WRITES: u32 = 40;

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, sizes: &Sizes) -> Run {
    let rng = Rng::seeded(seed).split("disk-faults");
    let steps = sizes.requests.map_or(25, |n| (n as usize).div_ceil(4));
    let workload = Workload::seeded(&rng.split("workload"), 4, steps, KEYS, 50, 20);
    let schedule = sizes.schedule.clone().unwrap_or_else(|| {
        let drawn = rng.split("faults");
        let mut schedule = Schedule {
            faults: DiskFault::ALL
                .iter()
                .map(|fault| Fault {
                    at_ms: 20 + drawn.below(580),
                    action: Action::Disk {
                        disk: *fault,
                        times: match fault {
                            DiskFault::Full => FULL_WRITES,
                            _ => 1 + drawn.below(5) as u32,
                        },
                    },
                })
                .collect(),
        };
        schedule.sort();
        schedule
    });
    let mut run = property::run(profile, seed, &workload, &schedule);
    run.report.scenario = "disk-faults".into();
    let served = reads_served_while_writes_fail(&run, &workload);
    run.report
        .details
        .insert("reads_ok_while_writes_fail".into(), served);
    run
}

/// Reads answered Ok between the first and the last write that failed: the server
/// kept serving reads while its disk refused writes.
fn reads_served_while_writes_fail(run: &Run, workload: &Workload) -> u64 {
    let verb = |request: &str| -> Option<Verb> {
        let (client, n) = request.strip_prefix('c')?.split_once('-')?;
        let step = workload
            .clients
            .get(client.parse::<usize>().ok()?)?
            .get(n.parse::<usize>().ok()?)?;
        Some(step.op.verb)
    };
    let answers: Vec<(u64, Verb, bool)> = run
        .trace
        .events
        .iter()
        .filter_map(|event| {
            let What::Note {
                text: Said::Answered {
                    request, failure, ..
                },
                ..
            } = &event.what
            else {
                return None;
            };
            Some((event.at_us, verb(request)?, failure.is_none()))
        })
        .collect();
    let failed_writes: Vec<u64> = answers
        .iter()
        .filter(|(_, verb, ok)| *verb != Verb::Get && !ok)
        .map(|(at, _, _)| *at)
        .collect();
    let (Some(first), Some(last)) = (failed_writes.first(), failed_writes.last()) else {
        return 0;
    };
    answers
        .iter()
        .filter(|(at, verb, ok)| *verb == Verb::Get && *ok && (*first..=*last).contains(at))
        .count() as u64
}
