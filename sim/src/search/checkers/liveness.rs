//! Liveness after the faults heal: once every fault of the schedule has ended, the
//! server serves again within [`RECOVERY_PROBES`] probes [`PROBE_PERCENT`] of a budget
//! apart.
//!
//! Verifies: a probe client, added to the workload, starting when the last fault has
//! ended and the workload's own requests are done, gets a success by its last probe.
//! Does not verify: how fast the server recovered within that time, nor that it served
//! every app (the probe reads one kv key of the registers app).

use fazt_chaos::{Action, Outcome, Schedule, Violation};

use crate::profile::Profile;
use crate::run::property::Evidence;
use crate::search::faults::{span_ms, Scale};
use crate::workload::{Operation, Space, Step, Verb, Workload};

/// Probes the liveness client sends: a failpoint armed but not yet fired when the
/// faults "heal" fires on one of the first, up to two times per fault drawn.
pub const RECOVERY_PROBES: usize = 10;

/// Time between two probes, as a share of the budget (in percent): ten probes a
/// twentieth of a budget apart give the server half a budget to recover.
pub const PROBE_PERCENT: u64 = 5;

/// When every fault of `schedule` has ended, at the latest (ms), for a workload
/// spanning `span_ms`: an armed failpoint fires when a request first reaches it (within
/// the span), and the faults' effects may follow one another.
pub fn healed_ms(schedule: &Schedule, scale: &Scale, span_ms: u64) -> u64 {
    let last = schedule
        .faults
        .iter()
        .map(|fault| fault.at_ms)
        .max()
        .unwrap_or(0);
    last.max(span_ms)
        + schedule
            .faults
            .iter()
            .map(|fault| match &fault.action {
                Action::Failpoint {
                    argument,
                    times,
                    point,
                } if point.as_str() == fazt_engine::failpoints::RUNTIME_SLOW_CPU => {
                    argument.unwrap_or(0) * u64::from(*times) * scale.js_tick_us / 1000
                }
                Action::Failpoint {
                    argument, times, ..
                } => argument.unwrap_or(0) * u64::from(*times),
                Action::Hold { ms } | Action::Partition { ms } | Action::LockHeld { ms } => *ms,
                Action::Latency { for_ms, .. } => *for_ms,
                Action::Crash { down_ms } | Action::PowerLoss { down_ms } => *down_ms,
                // An armed disk fault strikes when a request next touches the disk.
                Action::Disk { .. } => 0,
            })
            .sum::<u64>()
}

/// `workload` with the probe client last.
pub fn with_probe(workload: &Workload, schedule: &Schedule, profile: &Profile) -> Workload {
    let scale = Scale::of(profile);
    let start = healed_ms(schedule, &scale, span_ms(workload));
    let interval = scale.budget_ms * PROBE_PERCENT / 100;
    let probe = |n: usize| Step {
        think_ms: if n == 0 { start } else { interval },
        op: Operation {
            space: Space::Kv,
            verb: Verb::Get,
            key: "a".into(),
            app: None,
        },
    };
    let mut probed = workload.clone();
    probed
        .clients
        .push((0..RECOVERY_PROBES).map(probe).collect());
    probed
}

/// The probe client is the last; its last probe must have succeeded.
pub fn check(evidence: &Evidence) -> Vec<Violation> {
    let Some(last) = evidence
        .answers
        .iter()
        .map(|a| a.op.client.as_str())
        .max_by_key(|c| client_index(c))
    else {
        return Vec::new();
    };
    let probes: Vec<_> = evidence
        .answers
        .iter()
        .filter(|a| a.op.client == last)
        .collect();
    match probes.last() {
        Some(probe) if probe.op.outcome != Outcome::Ok => vec![Violation {
            invariant: "not-live",
            detail: format!(
                "{} probes after the faults healed, the server still failed ({})",
                probes.len(),
                probe.kind.as_deref().unwrap_or("?")
            ),
            involved: vec![probe.op.request.clone()],
        }],
        _ => Vec::new(),
    }
}

fn client_index(client: &str) -> usize {
    client
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
