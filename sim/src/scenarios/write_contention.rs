//! `write-contention`: many concurrent writers while another connection keeps taking
//! the database's write lock.
//!
//! 200 writer tasks each make kv and ds writes with a seeded think time of 0–20 ms
//! between them, each write with a 5 s deadline.
//! Meanwhile an "adversary" connection (like fazt's analytics flush, a writer outside
//! the queue) takes the write lock every 40 ms and holds it for 10 ms of virtual time.
//! The engine's writer then meets real SQLITE_BUSY from SQLite. Under `hardened` it waits
//! with backoff on the virtual clock and no caller sees BUSY; under `no-busy-wait` the
//! writes in flight fail, and each failure's cause names the lock holder from the trace.
//!
//! Checked after the run: every acknowledged write is in the database file.

use std::rc::Rc;
use std::time::Duration;

use fazt_chaos::durability::acknowledged_writes_lost;
use fazt_chaos::{Op, OpKind, Outcome};
use fazt_engine::storage::StorageError;
use serde_json::json;

use crate::profile::Profile;
use crate::run::storage::{self, adversary_held_lock, Attempt, Finished, LockHolder, World};
use crate::run::Run;
use crate::trace::Trace;

pub const SUMMARY: &str =
    "200 concurrent writers while another connection holds the write lock 10 ms in every 40 ms";

/// The app the writers write to.
const APP: &str = "contention";

/// Sizes of the workload.
#[derive(Clone, Debug)]
pub struct Options {
    pub writers: usize,
    pub writes_per_writer: usize,
    /// Longest pause between two writes of one writer (uniform, from the run's Rng).
    pub think_max: Duration,
    pub request_budget: Duration,
    pub lock_every: Duration,
    pub lock_hold: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            writers: 200,
            writes_per_writer: 6,
            think_max: Duration::from_millis(20),
            request_budget: Duration::from_secs(5),
            lock_every: Duration::from_millis(40),
            lock_hold: Duration::from_millis(10),
        }
    }
}

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let options = options.clone();
    let finished = storage::run(profile, seed, move |world| async move {
        let adversary = LockHolder::start(&world, options.lock_every, options.lock_hold);
        let mut writers = Vec::new();
        for writer in 0..options.writers {
            writers.push(tokio::task::spawn_local(write_back_to_back(
                writer,
                world.clone(),
                options.clone(),
            )));
        }
        let mut outcomes = Vec::new();
        for writer in writers {
            outcomes.extend(writer.await.expect("a writer ends"));
        }
        adversary.stop().await;
        outcomes
    });
    let mut report = finished.report("write-contention", profile, seed);
    report.violations = check_acknowledged_writes_present(&finished);
    finished.count_failures(&mut report, |error, outcome| {
        root_cause(error, outcome, &finished.trace)
    });
    finished.into_run(report)
}

/// One writer: kv and ds writes with think times, each with its own deadline.
async fn write_back_to_back(writer: usize, world: Rc<World>, options: Options) -> Vec<Attempt> {
    let clock = world.env.clock.as_ref();
    let think = world.env.rng.split(&format!("writer-{writer}"));
    let mut outcomes = Vec::new();
    for n in 0..options.writes_per_writer {
        clock.sleep(think.duration_up_to(options.think_max)).await;
        let key = format!("w{writer:03}-{n}");
        let scope = world
            .storage
            .scope(APP, clock.deadline_in(options.request_budget));
        let outcome = if n % 2 == 0 {
            let value = json!({"writer": writer, "n": n});
            let write = scope.kv_set(&key, &value, None);
            world.attempt(key.clone(), write).await
        } else {
            let document = json!({"id": key, "writer": writer, "session": format!("s{writer}")});
            let write = scope.ds_insert("items", &document);
            world.attempt(key.clone(), write).await
        };
        outcomes.push(outcome);
    }
    outcomes
}

/// The cause of a failed write, from the trace: for SQLITE_BUSY, who held the write
/// lock while the write was in flight.
fn root_cause(error: &StorageError, outcome: &Attempt, trace: &Trace) -> String {
    let StorageError::Busy { .. } = error else {
        return error.kind().to_owned();
    };
    if adversary_held_lock(trace, outcome.started_us, outcome.ended_us) {
        "sqlite-busy (write lock held by adversary)".to_owned()
    } else {
        "sqlite-busy (lock holder not in trace)".to_owned()
    }
}

/// Invariant: every acknowledged write is in the database file, checked by the
/// history checker every run shares ([`acknowledged_writes_lost`]); each write
/// creates its own key, so the key being stored is the write having taken effect.
fn check_acknowledged_writes_present(finished: &Finished) -> Vec<String> {
    let history: Vec<Op> = finished
        .outcomes
        .iter()
        .map(|o| Op {
            request: o.label.clone(),
            client: "workload".to_owned(),
            register: o.label.clone(),
            kind: OpKind::Insert(o.label.clone()),
            invoked_us: o.started_us,
            completed_us: o.ended_us,
            outcome: if o.error.is_none() {
                Outcome::Ok
            } else {
                Outcome::Unknown
            },
        })
        .collect();
    let keys = history.iter().map(|op| op.register.as_str());
    let stored = match finished.keys_stored(APP, keys) {
        Ok(stored) => stored,
        Err(error) => return vec![format!("cannot reopen the database: {error}")],
    };
    acknowledged_writes_lost(&history, &stored)
        .into_iter()
        .map(|op| {
            format!(
                "acknowledged write {} is missing from the database",
                op.request
            )
        })
        .collect()
}
