//! `deferred-upgrade` (§4.9): read-then-write updates while another connection takes
//! the write lock 10 ms in every 40 ms.
//!
//! `ds.update` reads the matching documents, then writes them. In a DEFERRED
//! transaction the read starts first; the write must then upgrade the transaction, and
//! SQLite answers SQLITE_BUSY at once when another connection holds the lock, without
//! calling the busy handler (so neither a busy timeout nor the engine's backoff, which
//! stands where that handler would be, can wait it out). `hardened` begins IMMEDIATE:
//! the lock is taken before the read, where waiting is possible. Each failure's cause
//! comes from the engine's trace (`busy at upgrade` versus a plain lock wait).
//!
//! Checked after the run: every document's counter equals its acknowledged updates.

use std::time::Duration;

use fazt_engine::env::Deadline;
use fazt_engine::storage::{Db, StorageError};
use serde_json::json;

use fazt_engine::events::Event as EngineEvent;

use crate::profile::Profile;
use crate::run::storage::{self, last_event, Attempt, Finished, LockHolder};
use crate::run::Run;

pub const SUMMARY: &str =
    "40 writers updating documents (read, then write) while another connection holds the lock 10 ms in every 40 ms";

/// Sizes of the workload.
#[derive(Clone, Debug)]
pub struct Options {
    pub writers: usize,
    pub updates_per_writer: usize,
    pub documents: usize,
    pub think_max: Duration,
    pub lock_every: Duration,
    pub lock_hold: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            writers: 40,
            updates_per_writer: 5,
            documents: 20,
            think_max: Duration::from_millis(20),
            lock_every: Duration::from_millis(40),
            lock_hold: Duration::from_millis(10),
        }
    }
}

const APP: &str = "upgrade";

fn document_id(n: usize) -> String {
    format!("d{n:02}")
}

pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let options = options.clone();
    let documents = options.documents;
    let finished = storage::run(profile, seed, move |world| async move {
        let setup = world.storage.scope(APP, Deadline::NONE);
        for n in 0..options.documents {
            let document = json!({"id": document_id(n), "n": 0});
            setup
                .ds_insert("items", &document)
                .await
                .expect("setup insert");
        }
        let adversary = LockHolder::start(&world, options.lock_every, options.lock_hold);
        let writers: Vec<_> = (0..options.writers)
            .map(|writer| {
                let (world, options) = (world.clone(), options.clone());
                tokio::task::spawn_local(async move {
                    let think = world.env.rng.split(&format!("writer-{writer}"));
                    let mut outcomes = Vec::new();
                    for n in 0..options.updates_per_writer {
                        world.sleep(think.duration_up_to(options.think_max)).await;
                        let id = document_id((writer + n) % options.documents);
                        let scope = world
                            .storage
                            .scope(APP, world.env.clock.deadline_in(Duration::from_secs(5)));
                        let (query, changes) = (json!({"id": id}), json!({"$inc": {"n": 1}}));
                        let update = scope.ds_update("items", &query, &changes);
                        outcomes.push(world.attempt(format!("update {id}"), update).await);
                    }
                    outcomes
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for writer in writers {
            outcomes.extend(writer.await.expect("a writer ends"));
        }
        adversary.stop().await;
        outcomes
    });
    let mut report = finished.report("deferred-upgrade", profile, seed);
    report.violations = check_counters(&finished, documents);
    finished.count_failures(&mut report, |error, outcome| {
        root_cause(error, outcome, &finished)
    });
    finished.into_run(report)
}

/// For SQLITE_BUSY: whether it met the upgrade of a DEFERRED transaction or a lock wait.
fn root_cause(error: &StorageError, outcome: &Attempt, finished: &Finished) -> String {
    if !matches!(error, StorageError::Busy { .. }) {
        return error.kind().to_owned();
    }
    let (start, end) = (outcome.started_us, outcome.ended_us);
    if last_event(
        &finished.trace,
        |e| matches!(e, EngineEvent::BusyAtUpgrade { .. }),
        start,
        end,
    )
    .is_some()
    {
        return "sqlite-busy at a DEFERRED transaction's upgrade (read, then write: no busy handler)"
            .to_owned();
    }
    "sqlite-busy waiting for the write lock".to_owned()
}

/// Invariant: each document's counter equals its acknowledged updates (a failed update
/// changed nothing).
fn check_counters(finished: &Finished, documents: usize) -> Vec<String> {
    let db = match Db::open(&finished.db_path()) {
        Ok(db) => db,
        Err(error) => return vec![format!("cannot reopen the database: {error}")],
    };
    (0..documents)
        .filter_map(|n| {
            let id = document_id(n);
            let acknowledged = finished
                .outcomes
                .iter()
                .filter(|o| o.error.is_none() && o.label == format!("update {id}"))
                .count() as i64;
            let stored: i64 = db
                .conn()
                .query_row(
                    "SELECT json_extract(data, '$.n') FROM app_docs WHERE app_id = ?1 AND id = ?2",
                    [APP, id.as_str()],
                    |row| row.get(0),
                )
                .unwrap_or(-1);
            (stored != acknowledged).then(|| {
                format!("document {id}: counter {stored}, {acknowledged} updates acknowledged")
            })
        })
        .collect()
}
