//! Fault schedules drawn where the requests are and as big as the budgets: within the
//! span of the workload they go with, with slow statements, holds and CPU slowdowns up
//! to past the request deadline, crashes landing between a group's apply and its
//! commit, power losses, and disk faults (failed reads, writes and syncs, a full disk,
//! slow syncs). Drawn together with the workload (one proptest value), so the shrinker
//! works over both.

use std::time::Duration;

use fazt_chaos::{Action, DiskFault, Fault, Schedule};
use fazt_engine::failpoints;
use fazt_engine::server::default_app_max;
use fazt_engine::storage::{BusyPolicy, QueueAdmission, WritePath};
use proptest::prelude::*;

use crate::env::CostModel;
use crate::profile::Profile;
use crate::workload::Workload;

/// Virtual time one request takes, unfaulted, for a workload's span: a fixture request
/// is about 5 ms of simulated CPU and network; 20 ms leaves room for queueing behind
/// other clients. Faults are drawn over the span so that they meet requests.
pub const REQUEST_MS: u64 = 20;

/// The largest fault, as a multiple of the request budget (in percent): past the
/// deadline, so that writes are still committing when it passes and executions time
/// out.
pub const MAGNITUDE_MAX_PERCENT: u64 = 150;

/// The release search's largest fault (percent of the budget): twice the request
/// deadline, so that a slow statement or a hold outlasts a request and the next one
/// queued behind it.
pub const RELEASE_MAGNITUDE_MAX_PERCENT: u64 = 300;

/// A disk fault fires on at most this many disk operations: a few failed reads, writes
/// or syncs in a row, as a flaky disk gives, against the handful of operations a
/// group's commit makes (more only repeats the same failure).
pub const DISK_TIMES_MAX: u32 = 4;

/// The longest downtime after a crash or a power loss, in ms: the restart is what
/// matters (recovery, lost unsynced writes), not how long clients wait for it.
pub const DOWN_MS_MAX: u64 = 50;

/// A fault the engine claims to absorb is at most this share of the request budget
/// (in percent): a tenth leaves the request its other nine tenths, and several requests
/// queued behind the same hold still finish.
pub const ABSORBED_PERCENT: u64 = 10;

/// The virtual time `workload` spans: its longest client's think times and requests.
pub fn span_ms(workload: &Workload) -> u64 {
    workload
        .clients
        .iter()
        .map(|steps| {
            steps
                .iter()
                .map(|step| step.think_ms + REQUEST_MS)
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0)
        .max(1)
}

/// The scale of a profile's faults, read from its configuration.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// The request budget.
    pub budget_ms: u64,
    /// An execution's budget: the request's, cut to the runtime's timeout. A storage
    /// call's deadline is at most this long after its execution took its VM.
    pub execution_ms: u64,
    /// Simulated cost of one JavaScript tick (a CPU slowdown is drawn in ticks).
    pub js_tick_us: u64,
    /// BUSY answers the writer retries past before giving up (1 under fail-fast).
    pub busy_attempts: u32,
    /// The write queue's `batch_max` when the queue admits writes by its estimate of
    /// the groups ahead (`QueueAdmission::Estimate`); `None` for another rule or no
    /// queue.
    pub estimate_batch_max: Option<usize>,
    /// The execution slots one app may hold at once (the server's admission gate at its
    /// default share; the simulator runs one worker, so the slots are its VM pool's, and
    /// sets no `app_concurrency`): a client more waits
    /// at the gate, and is refused `Overloaded` after its wait.
    pub app_slots: usize,
}

impl Scale {
    pub fn of(profile: &Profile) -> Scale {
        let busy_attempts = match &profile.config.storage.policy.busy {
            BusyPolicy::Backoff { attempts, .. } => *attempts,
            BusyPolicy::Doubling { retries, .. } => retries + 1,
            BusyPolicy::FailFast => 1,
        };
        let policy = &profile.config.storage.policy;
        let estimate_batch_max = match (&policy.write_path, policy.admission) {
            (WritePath::GroupCommit { batch_max, .. }, QueueAdmission::Estimate) => {
                Some((*batch_max).max(1))
            }
            _ => None,
        };
        Scale {
            budget_ms: millis(profile.config.request_timeout),
            execution_ms: millis(
                profile
                    .config
                    .request_timeout
                    .min(profile.config.runtime.timeout),
            ),
            js_tick_us: u64::try_from(CostModel::default().js_tick.as_micros())
                .unwrap_or(1)
                .max(1),
            busy_attempts,
            estimate_batch_max,
            app_slots: default_app_max(profile.config.runtime.pool_size),
        }
    }

    /// The budget's `percent`, in ms (at least 2, so a range below it is never empty).
    fn share_ms(&self, percent: u64) -> u64 {
        (self.budget_ms * percent / 100).max(2)
    }

    /// CPU ticks costing `ms`.
    fn ticks(&self, ms: u64) -> u64 {
        ms * 1000 / self.js_tick_us
    }

    /// Whether the engine claims to absorb every fault of `schedule` together: BUSY
    /// fewer times in all than the writer's attempts, and slow statements, stalls, holds
    /// and CPU slowdowns adding up to a small share of the budget. No request may fail
    /// under such a schedule.
    pub fn absorbs(&self, schedule: &Schedule) -> bool {
        let (mut busy, mut delay_ms) = (0u64, 0u64);
        for fault in &schedule.faults {
            match &fault.action {
                Action::Failpoint {
                    point,
                    times,
                    argument,
                } => {
                    let total = argument.unwrap_or(0) * u64::from(*times);
                    match point.as_str() {
                        failpoints::STORAGE_BUSY => busy += u64::from(*times),
                        failpoints::STORAGE_SLOW_STATEMENT | failpoints::SERVER_SLOW_ACCEPT => {
                            delay_ms += total
                        }
                        failpoints::RUNTIME_SLOW_CPU => delay_ms += total * self.js_tick_us / 1000,
                        _ => return false,
                    }
                }
                Action::Hold { ms } | Action::Latency { ms, .. } => delay_ms += ms,
                // A held lock is retried with a jittered backoff, which may give up
                // before any hold ends: not claimed.
                Action::Partition { .. }
                | Action::LockHeld { .. }
                | Action::Crash { .. }
                | Action::PowerLoss { .. }
                | Action::Disk { .. } => return false,
            }
        }
        busy < u64::from(self.busy_attempts) && delay_ms <= self.share_ms(ABSORBED_PERCENT)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn failpoint(point: &'static str, times: u32, argument: Option<u64>) -> Action {
    Action::Failpoint {
        point: point.to_owned(),
        times,
        argument,
    }
}

/// One fault at the budgets' scale, up to `magnitude_percent` of the budget: a list, as
/// a crash between apply and commit is two (a slow statement, and a crash while it
/// holds the transaction open).
fn faults(span_ms: u64, scale: Scale, magnitude_percent: u64) -> impl Strategy<Value = Vec<Fault>> {
    let big = scale.share_ms(magnitude_percent);
    let ticks = scale.ticks(big).max(2);
    let at = 0..span_ms;
    let one = prop_oneof![
        3 => (proptest::sample::select(&[
            failpoints::STORAGE_BEFORE_BEGIN,
            failpoints::STORAGE_BEFORE_COMMIT,
            failpoints::STORAGE_COMMIT_ERROR,
            failpoints::STORAGE_IO_ERROR,
            failpoints::RUNTIME_BEFORE_EXECUTE,
            failpoints::SERVER_DROP_CONNECTION,
        ][..]), 1u32..3).prop_map(|(point, times)| failpoint(point, times, None)),
        2 => (1..=scale.busy_attempts + 1).prop_map(|times| failpoint(failpoints::STORAGE_BUSY, times, None)),
        3 => (1..big).prop_map(|ms| failpoint(failpoints::STORAGE_SLOW_STATEMENT, 1, Some(ms))),
        2 => (1..ticks).prop_map(|n| failpoint(failpoints::RUNTIME_SLOW_CPU, 1, Some(n))),
        1 => (1..big).prop_map(|ms| failpoint(failpoints::SERVER_SLOW_ACCEPT, 1, Some(ms))),
        1 => (1..big).prop_map(|ms| Action::Hold { ms }),
        1 => (1..big).prop_map(|ms| Action::LockHeld { ms }),
        1 => (1..big / 4).prop_map(|ms| Action::Partition { ms }),
        1 => (1..DOWN_MS_MAX).prop_map(|down_ms| Action::Crash { down_ms }),
        1 => (1..DOWN_MS_MAX).prop_map(|down_ms| Action::PowerLoss { down_ms }),
        2 => (proptest::sample::select(&DiskFault::ALL[..]), 1..=DISK_TIMES_MAX)
            .prop_map(|(disk, times)| Action::Disk { disk, times }),
        // Drawn once more on its own: a write lock refused reaches `BEGIN` only when
        // no checkpoint's lock takes it first, the one way a `BEGIN` fails otherwise
        // than BUSY (`busy_locks`, the `begin-failed` mark).
        1 => (1..=DISK_TIMES_MAX).prop_map(|times| Action::Disk { disk: DiskFault::LockError, times }),
    ];
    prop_oneof![
        8 => (at.clone(), one).prop_map(|(at_ms, action)| vec![Fault { at_ms, action }]),
        1 => (at, 2..big, 1..DOWN_MS_MAX).prop_map(|(at_ms, hold, down_ms)| vec![
            Fault { at_ms, action: failpoint(failpoints::STORAGE_SLOW_STATEMENT, 1, Some(hold)) },
            Fault { at_ms: at_ms + REQUEST_MS + hold / 2, action: Action::Crash { down_ms } },
        ]),
    ]
}

/// Schedules of up to `faults_max` faults within `span_ms`, at `scale`, each up to
/// [`MAGNITUDE_MAX_PERCENT`] of the budget; at most one crash or power loss per run (a
/// restart is then simple to read in a trace).
pub fn in_span(span_ms: u64, scale: Scale, faults_max: usize) -> impl Strategy<Value = Schedule> {
    in_span_up_to(span_ms, scale, faults_max, MAGNITUDE_MAX_PERCENT)
}

/// [`in_span`] with faults up to `magnitude_percent` of the budget (the release search
/// draws them up to [`RELEASE_MAGNITUDE_MAX_PERCENT`]).
pub fn in_span_up_to(
    span_ms: u64,
    scale: Scale,
    faults_max: usize,
    magnitude_percent: u64,
) -> impl Strategy<Value = Schedule> {
    proptest::collection::vec(faults(span_ms, scale, magnitude_percent), 0..=faults_max)
        .prop_map(schedule)
}

/// Schedules of up to `faults_max` faults within `span_ms` that the engine claims to
/// absorb ([`Scale::absorbs`]): the availability checker holds every request to them.
pub fn absorbable(
    span_ms: u64,
    scale: Scale,
    faults_max: usize,
) -> impl Strategy<Value = Schedule> {
    let n = faults_max.max(1) as u64;
    let small = scale.share_ms(ABSORBED_PERCENT) / n;
    let busy = (u64::from(scale.busy_attempts).saturating_sub(1) / n).max(1) as u32;
    let action = prop_oneof![
        (1..=busy).prop_map(|times| failpoint(failpoints::STORAGE_BUSY, times, None)),
        (1..small).prop_map(|ms| failpoint(failpoints::STORAGE_SLOW_STATEMENT, 1, Some(ms))),
        (1..scale.ticks(small).max(2)).prop_map(|n| failpoint(
            failpoints::RUNTIME_SLOW_CPU,
            1,
            Some(n)
        )),
        (1..small).prop_map(|ms| Action::Hold { ms }),
    ];
    let fault = (0..span_ms, action).prop_map(|(at_ms, action)| vec![Fault { at_ms, action }]);
    proptest::collection::vec(fault, 0..=faults_max).prop_map(schedule)
}

/// The slow groups of the deep-queue search, as a share of the execution budget (in
/// percent): from a tenth, which a few groups' worth of queued writes fit in, to most
/// of it, after which the estimate refuses all but a short queue.
pub const SLOW_GROUP_PERCENT: std::ops::Range<u64> = 10..90;

/// Schedules of 1–`faults_max` slow statements in the first quarter of `span_ms`, each
/// holding a group open for [`SLOW_GROUP_PERCENT`] of the execution budget: a burst's
/// clients are all writing then (it is over in a few ms unless held), so the writes
/// behind a slow group queue up, the next slow group comes while they drain, and the
/// estimate of a group's time rises and decays as the groups after it commit. No other
/// fault, so that the trace gives every group's time (see
/// [`super::events::queue_steps`]).
pub fn slow_groups(
    span_ms: u64,
    scale: Scale,
    faults_max: usize,
) -> impl Strategy<Value = Schedule> {
    let ms = scale.execution_ms * SLOW_GROUP_PERCENT.start / 100
        ..scale.execution_ms * SLOW_GROUP_PERCENT.end / 100;
    let fault = (0..(span_ms / 4).max(1), ms).prop_map(|(at_ms, ms)| {
        vec![Fault {
            at_ms,
            action: failpoint(failpoints::STORAGE_SLOW_STATEMENT, 1, Some(ms)),
        }]
    });
    proptest::collection::vec(fault, 1..=faults_max).prop_map(schedule)
}

fn schedule(faults: Vec<Vec<Fault>>) -> Schedule {
    let mut crashed = false;
    let mut schedule = Schedule {
        faults: faults
            .into_iter()
            .filter(|group| {
                let crashes = group
                    .iter()
                    .any(|f| matches!(f.action, Action::Crash { .. } | Action::PowerLoss { .. }));
                !crashes || !std::mem::replace(&mut crashed, true)
            })
            .flatten()
            .collect(),
    };
    schedule.sort();
    schedule
}
