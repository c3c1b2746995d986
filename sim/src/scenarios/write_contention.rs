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

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fazt_engine::env::{Clock, Env, Instant};
use fazt_engine::storage::{Db, Storage, StorageError};
use serde_json::json;

use crate::env::sim_env;
use crate::harness;
use crate::profile::Profile;
use crate::report::{wall_clock_ms_since, wall_clock_start, Report};
use crate::scenarios::Run;
use crate::trace::{Said, Trace, What};

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

/// What the client host observed: outcomes, trace, virtual time, writer counters.
type Observed = (Vec<Outcome>, Trace, u64, BTreeMap<String, u64>);

/// What one write came to.
struct Outcome {
    key: String,
    started_us: u64,
    latency_us: u64,
    error: Option<StorageError>,
}

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let wall = wall_clock_start();
    let dir = tempfile::tempdir().expect("a temp dir for the database");
    let path = dir.path().join("fazt.db");
    let result: Rc<RefCell<Option<Observed>>> = Rc::default();

    let mut sim = harness::build(seed);
    let (out, config, options) = (
        result.clone(),
        profile.config.storage.clone(),
        options.clone(),
    );
    sim.client("writers", async move {
        let env = sim_env(seed);
        let clock = env.clock.clone();
        let origin = clock.now();
        let trace = Rc::new(RefCell::new(Trace::default()));
        let storage = Storage::open(&path, env.clone(), config).await?;
        let done = Arc::new(AtomicBool::new(false));
        let adversary = tokio::task::spawn_local(hold_the_lock(
            path.clone(),
            clock.clone(),
            origin,
            options.clone(),
            trace.clone(),
            done.clone(),
        ));
        let mut writers = Vec::new();
        for writer in 0..options.writers {
            writers.push(tokio::task::spawn_local(write_back_to_back(
                writer,
                storage.clone(),
                env.clone(),
                origin,
                options.clone(),
                trace.clone(),
            )));
        }
        let mut outcomes = Vec::new();
        for writer in writers {
            outcomes.extend(writer.await?);
        }
        let virtual_ms = micros_since(clock.as_ref(), origin) / 1000;
        done.store(true, Ordering::Relaxed);
        adversary.await??;
        let stats = storage.stats();
        storage.shutdown().await;
        let details = BTreeMap::from([
            ("groups_committed".to_owned(), stats.groups_committed),
            ("writes_committed".to_owned(), stats.writes_committed),
            ("writer_busy".to_owned(), stats.writer_busy),
        ]);
        let trace = trace.borrow().clone();
        *out.borrow_mut() = Some((outcomes, trace, virtual_ms, details));
        Ok(())
    });
    sim.run().expect("the simulation runs to completion");

    let (outcomes, trace, virtual_ms, details) =
        result.borrow_mut().take().expect("the client reported");
    let violations = check_acknowledged_writes_present(&dir.path().join("fazt.db"), &outcomes);
    let latencies: Vec<u64> = outcomes.iter().map(|o| o.latency_us).collect();
    let mut report = Report::new(
        "write-contention",
        profile,
        seed,
        &trace,
        &latencies,
        virtual_ms,
    );
    report.details = details;
    report.violations = violations;
    for outcome in &outcomes {
        let failure = outcome
            .error
            .as_ref()
            .map(|error| (error.kind(), root_cause(error, outcome, &trace)));
        report.count(failure);
    }
    report.wall_ms = wall_clock_ms_since(wall);
    Run { report, trace }
}

fn micros_since(clock: &dyn Clock, origin: Instant) -> u64 {
    u64::try_from(clock.now().saturating_duration_since(origin).as_micros()).unwrap_or(u64::MAX)
}

/// One writer: kv and ds writes with think times, each with its own deadline.
async fn write_back_to_back(
    writer: usize,
    storage: Storage,
    env: Env,
    origin: Instant,
    options: Options,
    trace: Rc<RefCell<Trace>>,
) -> Vec<Outcome> {
    let clock = env.clock.as_ref();
    let think = env.rng.split(&format!("writer-{writer}"));
    let mut outcomes = Vec::new();
    for n in 0..options.writes_per_writer {
        clock.sleep(think.duration_up_to(options.think_max)).await;
        let key = format!("w{writer:03}-{n}");
        let scope = storage.scope(APP, clock.deadline_in(options.request_budget));
        let started_us = micros_since(clock, origin);
        let result = if n % 2 == 0 {
            scope
                .kv_set(&key, &json!({"writer": writer, "n": n}), None)
                .await
        } else {
            let document = json!({"id": key, "writer": writer, "session": format!("s{writer}")});
            scope.ds_insert("items", &document).await.map(drop)
        };
        let ended_us = micros_since(clock, origin);
        let attempted = Said::attempted(key.clone(), started_us, &result);
        trace
            .borrow_mut()
            .note(ended_us, format!("writer-{writer}"), attempted);
        outcomes.push(Outcome {
            key,
            started_us,
            latency_us: ended_us - started_us,
            error: result.err(),
        });
    }
    outcomes
}

/// The adversary: a second connection that takes the write lock periodically.
async fn hold_the_lock(
    path: std::path::PathBuf,
    clock: Arc<dyn Clock>,
    origin: Instant,
    options: Options,
    trace: Rc<RefCell<Trace>>,
    done: Arc<AtomicBool>,
) -> Result<(), StorageError> {
    let db = Db::open(&path)?;
    while !done.load(Ordering::Relaxed) {
        clock.sleep(options.lock_every - options.lock_hold).await;
        if db.conn().execute_batch("BEGIN IMMEDIATE").is_err() {
            continue; // the engine's writer holds it now; try next round
        }
        trace.borrow_mut().record(
            micros_since(clock.as_ref(), origin),
            What::AdversaryLock { taken: true },
        );
        db.conn().execute(
            "INSERT INTO app_kv (app_id, key, value, created_at, updated_at)
             VALUES ('adversary', 'tick', '0', 0, 0)
             ON CONFLICT (app_id, key) DO UPDATE SET updated_at = updated_at + 1",
            [],
        )?;
        clock.sleep(options.lock_hold).await;
        db.conn().execute_batch("COMMIT")?;
        trace.borrow_mut().record(
            micros_since(clock.as_ref(), origin),
            What::AdversaryLock { taken: false },
        );
    }
    Ok(())
}

/// The cause of a failed write, from the trace: for SQLITE_BUSY, who held the write
/// lock while the write was in flight.
fn root_cause(error: &StorageError, outcome: &Outcome, trace: &Trace) -> String {
    let StorageError::Busy { .. } = error else {
        return error.kind().to_owned();
    };
    let (start, end) = (outcome.started_us, outcome.started_us + outcome.latency_us);
    let mut taken_at = None;
    for event in &trace.events {
        match event.what {
            What::AdversaryLock { taken: true } => taken_at = Some(event.at_us),
            What::AdversaryLock { taken: false } => {
                if taken_at.is_some_and(|taken| taken <= end && event.at_us >= start) {
                    return "sqlite-busy (write lock held by adversary)".to_owned();
                }
                taken_at = None;
            }
            _ => {}
        }
    }
    if taken_at.is_some_and(|taken| taken <= end) {
        return "sqlite-busy (write lock held by adversary)".to_owned();
    }
    "sqlite-busy (lock holder not in trace)".to_owned()
}

/// Invariant: every acknowledged write is in the database file.
fn check_acknowledged_writes_present(path: &std::path::Path, outcomes: &[Outcome]) -> Vec<String> {
    let db = match Db::open(path) {
        Ok(db) => db,
        Err(error) => return vec![format!("cannot reopen the database: {error}")],
    };
    let present = |key: &str| -> bool {
        let kv: bool = db
            .conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM app_kv WHERE app_id = ?1 AND key = ?2)",
                [APP, key],
                |row| row.get(0),
            )
            .unwrap_or(false);
        let doc: bool = db
            .conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM app_docs WHERE app_id = ?1 AND id = ?2)",
                [APP, key],
                |row| row.get(0),
            )
            .unwrap_or(false);
        kv || doc
    };
    outcomes
        .iter()
        .filter(|o| o.error.is_none() && !present(&o.key))
        .map(|o| format!("acknowledged write {} is missing from the database", o.key))
        .collect()
}
