//! `queue-admission` (§4.8): a burst of concurrent writes, each from a request with
//! 2.5 s of its budget left, arriving while another connection holds the write lock
//! for 20 ms (a checkpoint, a competing writer), so that the queue builds up.
//!
//! fazt 0.10.10 refused a write unless the time left ≥ writes waiting × 30 ms + 500 ms,
//! so with 2.5 s left only ~66 writes may wait in a queue of 1000, however fast it
//! drains. Under `hardened` admission compares the time left with the observed group
//! time × the groups ahead: the whole burst is admitted and commits in milliseconds.
//! The writes arrive within 10 ms (seeded). Each refusal's cause is read from the
//! engine's `write refused` event.

use std::time::Duration;

use serde_json::json;

use crate::profile::Profile;
use crate::run::storage::{self, last_event, Attempt};
use crate::run::Run;
use fazt_engine::events::Event as EngineEvent;

pub const SUMMARY: &str =
    "a burst of 300 writes with 2.5 s of budget left each, while the lock is held 20 ms (fazt's admission rule)";

/// Sizes of the workload.
#[derive(Clone, Debug)]
pub struct Options {
    pub writes: usize,
    /// Budget left to each write (a request halfway through a 5 s runtime timeout).
    pub budget_left: Duration,
    pub arrivals_within: Duration,
    /// How long another connection holds the write lock as the burst starts.
    pub lock_hold: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            writes: 300,
            budget_left: Duration::from_millis(2500),
            arrivals_within: Duration::from_millis(10),
            lock_hold: Duration::from_millis(20),
        }
    }
}

pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let options = options.clone();
    let finished = storage::run(profile, seed, move |world| async move {
        let adversary = tokio::task::spawn_local({
            let world = world.clone();
            async move { world.hold_lock(options.lock_hold).await }
        });
        let arrivals = world.env.rng.split("arrivals");
        let writes: Vec<_> = (0..options.writes)
            .map(|n| {
                let world = world.clone();
                let arrival = arrivals.duration_up_to(options.arrivals_within);
                tokio::task::spawn_local(async move {
                    world.sleep(arrival).await;
                    let deadline = world.env.clock.deadline_in(options.budget_left);
                    let scope = world.storage.scope("burst", deadline);
                    let key = format!("k{n:04}");
                    world
                        .attempt(key.clone(), scope.kv_set(&key, &json!(n), None))
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for write in writes {
            outcomes.push(write.await.expect("a write task ends"));
        }
        adversary
            .await
            .expect("the adversary ends")
            .expect("the adversary's lock");
        outcomes
    });
    let mut report = finished.report("queue-admission", profile, seed);
    let last_commit_us = finished
        .outcomes
        .iter()
        .filter(|o| o.error.is_none())
        .map(|o| o.ended_us)
        .max()
        .unwrap_or(0);
    report
        .details
        .insert("last_commit_ms".into(), last_commit_us / 1000);
    // The shortest queue any write was refused at (the rule's threshold, seen).
    let refused_at = finished
        .trace
        .events
        .iter()
        .filter_map(|e| match e.engine()? {
            EngineEvent::WriteRefused { waiting, .. } => u64::try_from(*waiting).ok(),
            _ => None,
        })
        .min();
    if let Some(waiting) = refused_at {
        report.details.insert("refused_min_queued".into(), waiting);
    }
    finished.count_failures(&mut report, |error, outcome| {
        root_cause(error, outcome, &finished)
    });
    finished.into_run(report)
}

/// For a refusal: the engine's refusal event, from the trace.
fn root_cause(
    error: &fazt_engine::storage::StorageError,
    outcome: &Attempt,
    finished: &storage::Finished,
) -> String {
    if error.kind() != "InsufficientBudget" {
        return error.kind().to_owned();
    }
    match last_event(
        &finished.trace,
        |e| matches!(e, EngineEvent::WriteRefused { .. }),
        outcome.started_us,
        outcome.ended_us,
    ) {
        Some(_) => {
            "admission refused: the time asked for the writes queued ahead exceeds the time left"
                .to_owned()
        }
        None => "admission refused (no refusal event in the trace)".to_owned(),
    }
}
