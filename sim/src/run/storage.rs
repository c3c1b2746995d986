//! Running storage-level workloads: one simulated host running the engine's
//! storage under a profile with the engine's trace events captured, a second connection
//! that takes the write lock (a writer outside the engine), and the outcome of every
//! operation on one virtual timeline.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use fazt_engine::env::{Env, Instant, Rng};
use fazt_engine::storage::{Db, Storage, StorageError};

use crate::capture::Capture;
use crate::disk::SimDisk;
use crate::env::{sim_env_on, CostModel};
use crate::profile::Profile;
use crate::report::{wall_clock_ms_since, wall_clock_start, Latency, LatencyClock, Report};
use crate::run::harness;
use crate::run::Run;
use crate::trace::{Said, Trace, What};
use fazt_engine::events::Event as EngineEvent;

/// The storage under test and the run's clock and trace.
pub struct World {
    pub env: Env,
    pub storage: Storage,
    /// The database as a SQLite URI on the run's simulated disk, for connections of
    /// the scenario's own.
    pub path: PathBuf,
    capture: Capture,
    origin: Instant,
}

/// What one operation came to.
pub struct Attempt {
    pub label: String,
    pub started_us: u64,
    pub ended_us: u64,
    pub error: Option<StorageError>,
}

impl Attempt {
    pub fn latency_us(&self) -> u64 {
        self.ended_us - self.started_us
    }
}

/// What a run left: outcomes, trace, virtual time, storage counters, the database.
pub struct Finished {
    pub outcomes: Vec<Attempt>,
    pub trace: Trace,
    pub virtual_ms: u64,
    pub details: BTreeMap<String, u64>,
    /// The simulated disk holding the database until the scenario has checked it.
    disk: SimDisk,
    /// When the run started in real time, for the report's wall time.
    wall_started: std::time::Instant,
}

impl Finished {
    /// The database as a SQLite URI on the run's simulated disk.
    pub fn db_path(&self) -> PathBuf {
        self.disk.uri(DB_FILE)
    }

    /// `scenario`'s report over this run's outcomes: their latencies, the run's trace
    /// and details. Failures are the caller's to count ([`Finished::count_failures`]).
    pub fn report(&self, scenario: &str, profile: &Profile, seed: u64) -> Report {
        let latencies: Vec<u64> = self.outcomes.iter().map(Attempt::latency_us).collect();
        self.report_with_latencies(scenario, profile, seed, &latencies)
    }

    /// As [`Finished::report`], for a scenario whose requests are not this run's
    /// storage outcomes (clients over HTTP).
    pub fn report_with_latencies(
        &self,
        scenario: &str,
        profile: &Profile,
        seed: u64,
        latencies_us: &[u64],
    ) -> Report {
        let mut report = Report::new(
            scenario,
            profile,
            seed,
            &self.trace,
            Latency::from_micros(latencies_us, LatencyClock::EngineVirtualUs),
            self.virtual_ms,
        );
        report.details = self.details.clone();
        report
    }

    /// Counts every outcome in `report`, a failure with its error kind and the cause
    /// `cause` gives it.
    pub fn count_failures(
        &self,
        report: &mut Report,
        mut cause: impl FnMut(&StorageError, &Attempt) -> String,
    ) {
        for outcome in &self.outcomes {
            let failure = outcome
                .error
                .as_ref()
                .map(|error| (error.kind(), cause(error, outcome)));
            report.count(failure);
        }
    }

    /// Which of `keys` the database holds in `app`, each as a register for
    /// [`fazt_chaos::durability::acknowledged_writes_lost`]: a key names a kv entry or a
    /// document id, and its register's final value is the key itself when either is
    /// stored (absent otherwise). For workloads whose writes each create their own key.
    pub fn keys_stored<'k>(
        &self,
        app: &str,
        keys: impl Iterator<Item = &'k str>,
    ) -> Result<BTreeMap<String, Option<String>>, StorageError> {
        let db = Db::open(&self.db_path())?;
        let mut stored = BTreeMap::new();
        for key in keys {
            let present: bool = db.conn().query_row(
                "SELECT EXISTS (SELECT 1 FROM app_kv WHERE app_id = ?1 AND key = ?2)
                     OR EXISTS (SELECT 1 FROM app_docs WHERE app_id = ?1 AND id = ?2)",
                [app, key],
                |row| row.get(0),
            )?;
            stored.insert(key.to_owned(), present.then(|| key.to_owned()));
        }
        Ok(stored)
    }

    /// The run, with `report` and the real time it took.
    pub fn into_run(self, mut report: Report) -> Run {
        report.wall_ms = wall_clock_ms_since(self.wall_started);
        Run {
            report,
            trace: self.trace,
        }
    }
}

impl World {
    /// Virtual µs since the run started (the trace's timeline).
    pub fn now_us(&self) -> u64 {
        let since = self.env.clock.now().saturating_duration_since(self.origin);
        u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
    }

    pub fn record(&self, what: What) {
        self.capture.record_at(self.now_us(), what);
    }

    /// Records a note of `actor` now.
    pub fn note(&self, actor: &str, text: impl Into<String>) {
        self.capture.note_at(self.now_us(), actor, text.into());
    }

    pub async fn sleep(&self, duration: Duration) {
        self.env.clock.sleep(duration).await;
    }

    /// Runs `operation`, timing it and recording `label ok` or `label failed KIND`.
    pub async fn attempt<T>(
        &self,
        label: String,
        operation: impl Future<Output = Result<T, StorageError>>,
    ) -> Attempt {
        let started_us = self.now_us();
        let result = operation.await;
        let ended_us = self.now_us();
        let attempted = Said::attempted(label.clone(), started_us, &result);
        self.capture.note_at(ended_us, "workload", attempted);
        Attempt {
            label,
            started_us,
            ended_us,
            error: result.err(),
        }
    }

    /// Takes the write lock on a connection of its own for `hold` (waiting for the
    /// engine's writer to let go first), recording `lock taken` / `lock released`.
    pub async fn hold_lock(&self, hold: Duration) -> Result<(), StorageError> {
        let db = Db::open(&self.path)?;
        while db.conn().execute_batch("BEGIN IMMEDIATE").is_err() {
            self.sleep(Duration::from_millis(1)).await;
        }
        self.record(What::AdversaryLock { taken: true });
        self.sleep(hold).await;
        db.conn().execute_batch("COMMIT")?;
        self.record(What::AdversaryLock { taken: false });
        Ok(())
    }
}

/// An adversary taking the write lock periodically, until [`LockHolder::stop`].
pub struct LockHolder {
    done: Rc<std::cell::Cell<bool>>,
    task: tokio::task::JoinHandle<Result<(), StorageError>>,
}

impl LockHolder {
    /// Starts an adversary that, every `every`, takes the lock and holds it for `hold`.
    pub fn start(world: &Rc<World>, every: Duration, hold: Duration) -> LockHolder {
        let done = Rc::new(std::cell::Cell::new(false));
        let (world, stop) = (world.clone(), done.clone());
        let task = tokio::task::spawn_local(async move {
            while !stop.get() {
                world.sleep(every.saturating_sub(hold)).await;
                world.hold_lock(hold).await?;
            }
            Ok(())
        });
        LockHolder { done, task }
    }

    /// Lets the current round finish, then ends the adversary.
    pub async fn stop(self) {
        self.done.set(true);
        self.task
            .await
            .expect("the adversary ends")
            .expect("the adversary's lock");
    }
}

/// What the host hands back: outcomes, virtual ms, storage counters.
type HostLeft = (Vec<Attempt>, u64, BTreeMap<String, u64>);

/// The database file's name on a run's disk.
const DB_FILE: &str = "fazt.db";

/// Runs `workload` against storage opened with `profile`'s storage configuration on
/// its disk, in a simulation seeded with `seed`; shuts the storage down after it.
pub fn run<F, Fut>(profile: &Profile, seed: u64, workload: F) -> Finished
where
    F: FnOnce(Rc<World>) -> Fut + 'static,
    Fut: Future<Output = Vec<Attempt>> + 'static,
{
    let wall_started = wall_clock_start();
    let config = profile.config.storage.clone();
    let disk = SimDisk::new(profile.disk.clone(), Rng::seeded(seed).split("disk"));
    let capture = Capture::default();
    let result: Rc<RefCell<Option<HostLeft>>> = Rc::default();
    let mut sim = harness::build(seed);
    let (out, host_capture, host_disk) = (result.clone(), capture.clone(), disk.clone());
    sim.client("storage", async move {
        let env = host_capture.attach(sim_env_on(
            seed,
            CostModel::default(),
            Some(host_disk.clone()),
        ));
        let origin = env.clock.now();
        let storage = Storage::open(&host_disk.path(DB_FILE), env.clone(), config).await?;
        let world = Rc::new(World {
            env,
            storage: storage.clone(),
            path: host_disk.uri(DB_FILE),
            capture: host_capture,
            origin,
        });
        let outcomes = workload(world.clone()).await;
        let virtual_ms = world.now_us() / 1000;
        let stats = storage.stats();
        storage.shutdown().await;
        let details = BTreeMap::from([
            ("groups_committed".to_owned(), stats.groups_committed),
            ("writes_committed".to_owned(), stats.writes_committed),
            ("writer_busy".to_owned(), stats.writer_busy),
        ]);
        *out.borrow_mut() = Some((outcomes, virtual_ms, details));
        Ok(())
    });
    sim.run().expect("the simulation runs to completion");
    let (outcomes, virtual_ms, details) = result.borrow_mut().take().expect("the workload ended");
    Finished {
        outcomes,
        trace: capture.trace(),
        virtual_ms,
        details,
        disk,
        wall_started,
    }
}

/// Whether the lock holder outside the engine ([`LockHolder`], [`World::hold_lock`])
/// held the write lock at some time from `since_us` to `until_us`, from its
/// `AdversaryLock` events in `trace`.
pub fn adversary_held_lock(trace: &Trace, since_us: u64, until_us: u64) -> bool {
    let mut taken_at = None;
    for event in &trace.events {
        match event.what {
            What::AdversaryLock { taken: true } => taken_at = Some(event.at_us),
            What::AdversaryLock { taken: false } => {
                if taken_at.is_some_and(|taken| taken <= until_us && event.at_us >= since_us) {
                    return true;
                }
                taken_at = None;
            }
            _ => {}
        }
    }
    taken_at.is_some_and(|taken| taken <= until_us)
}

/// The last engine event before `at_us` (inclusive) and from `since_us` on that is
/// `wanted`.
pub fn last_event(
    trace: &Trace,
    wanted: impl Fn(&EngineEvent) -> bool,
    since_us: u64,
    at_us: u64,
) -> Option<&EngineEvent> {
    trace
        .events
        .iter()
        .rev()
        .filter(|e| e.at_us >= since_us && e.at_us <= at_us)
        .filter_map(crate::trace::Event::engine)
        .find(|event| wanted(event))
}
