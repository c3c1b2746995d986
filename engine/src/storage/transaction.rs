//! One write transaction, the same on both write paths: the queue's group commit
//! (`writer.rs`) and fazt's legacy pool of connections (`direct_writes.rs`).
//!
//! An [`attempt`] begins the transaction, applies a [`Unit`] (a group of writes, or one
//! write), and commits, with the storage failpoints where the real faults would strike
//! and its split into executor jobs; the [`BusyLadder`] decides what a SQLITE_BUSY leads
//! to: SQLite's busy handler on a connection that has a busy timeout, then the
//! engine's backoff, then giving up. The two paths' legacy differences are the values
//! of a [`Policy`], not copies of this code.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::busy_timeout::{ConnectionBusyTimeout, SqliteBusyWait};
use super::connection::Db;
use super::error::{commit_never_logged, injected_io_error, is_busy, StorageError};
use super::policy::{BeginMode, BusyPolicy};
use super::retry::Backoff;
use crate::coverage::{self, Mark};
use crate::env::{run_blocking, Deadline, Env, Rng};
use crate::events::{micros, Event, Recorder};
use crate::failpoints;

/// Whether the storage failpoints act on a transaction's writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faults {
    Armed,
    Ignored,
}

impl Faults {
    fn fired(self, recorder: &Recorder, point: &'static str) -> bool {
        self == Faults::Armed && failpoints::fired(recorder, point)
    }

    fn fired_with_ms(self, recorder: &Recorder, point: &'static str) -> Option<Duration> {
        match self {
            Faults::Armed => failpoints::fired_with_ms(recorder, point),
            Faults::Ignored => None,
        }
    }
}

/// What a failed `COMMIT` means to the callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitFailure {
    /// The queue: a `COMMIT` that failed after it may have reached the disk leaves its
    /// writes' outcome unknown; one that failed inside the transaction (SQLITE_BUSY) is
    /// a definite failure.
    OutcomeUnknown,
    /// fazt's direct path has no outcome-unknown: any failed `COMMIT` is a plain error,
    /// and a SQLITE_BUSY there is retried like any other.
    Plain,
}

/// How a path runs its transactions.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub begin: BeginMode,
    pub faults: Faults,
    pub commit_failure: CommitFailure,
}

/// What applying a unit inside the open transaction came to.
pub enum Applied<O> {
    /// Applied; the transaction is open, holding the write lock.
    Open(O),
    /// SQLITE_BUSY before anything was written; the transaction was rolled back.
    /// `lock_wait`: SQLite would have called its busy handler.
    Busy { lock_wait: bool },
    /// Failed and rolled back.
    Failed(StorageError),
}

/// How one attempt ended.
pub enum Ended<O> {
    Committed(O),
    /// SQLITE_BUSY before anything was written; rolled back, may be retried.
    Busy {
        lock_wait: bool,
    },
    /// Rolled back: nothing was written.
    Failed(StorageError),
    /// `COMMIT` failed in a way that leaves its outcome unknown.
    Unknown(StorageError),
}

/// What one transaction carries: the queue's group, or one direct write.
pub trait Unit: Send + 'static {
    type Output: Send + 'static;

    /// Applies the writes inside the open transaction (on the executor); rolls back
    /// itself when it answers anything but [`Applied::Open`].
    fn apply(&mut self, db: &mut Db, recorder: &Recorder) -> Applied<Self::Output>;

    /// Traced before the transaction's first job runs: in simulation a job runs as it
    /// is submitted, so a trace shows who held the write lock when another met BUSY.
    fn started(&self) -> Event;

    /// Traced before the commit job, when the path reports it.
    fn committing(&self) -> Option<Event>;

    /// Traced when an attempt met SQLITE_BUSY.
    fn busy(&self, attempt: u32, conn: usize, busy_timeout_ms: u64, lock_wait: bool) -> Event;
}

/// Runs one attempt of `unit`'s transaction on `db`: the failpoints before `BEGIN`,
/// `BEGIN`, the writes, a slow statement's hold, `COMMIT`.
pub async fn attempt<U: Unit>(
    env: &Env,
    db: &Arc<Mutex<Db>>,
    unit: U,
    policy: Policy,
) -> (U, Ended<U::Output>) {
    let recorder = &env.recorder;
    if policy
        .faults
        .fired(recorder, failpoints::STORAGE_BEFORE_BEGIN)
    {
        let error = StorageError::RolledBack("injected fault before BEGIN".into());
        return (unit, Ended::Failed(error));
    }
    let slow = policy
        .faults
        .fired_with_ms(recorder, failpoints::STORAGE_SLOW_STATEMENT);
    recorder.emit(unit.started());
    let (unit, ended) = job(env, db, unit, policy, Phase::Apply).await;
    match ended {
        Ended::Committed(Step::Open(output)) => {
            // A slow statement: the transaction stays open, holding the write lock,
            // while virtual time passes; then it commits.
            if let Some(hold) = slow {
                env.clock.sleep(hold).await;
            }
            if let Some(event) = unit.committing() {
                recorder.emit(event);
            }
            let (unit, ended) = job(env, db, unit, policy, Phase::Commit(output)).await;
            (unit, ended.map(Step::into_done))
        }
        other => (unit, other.map(Step::into_done)),
    }
}

/// Which part of the transaction a job runs. A transaction is always two jobs: where
/// time passes only after a job (the simulator's executor), the cost of applying the
/// writes passes between them with the write lock held, so a writer outside the queue
/// meets this one as it would on a real machine; the real executor, where it passes
/// during the job, pays a thread hand-off per transaction for the engine not asking
/// which one it runs on.
enum Phase<O> {
    /// BEGIN and the writes, leaving the transaction open.
    Apply,
    /// COMMIT of the transaction left open by `Apply`.
    Commit(O),
}

/// How far a job took the transaction.
enum Step<O> {
    Open(O),
    Done(O),
}

impl<O> Step<O> {
    fn into_done(self) -> O {
        match self {
            Step::Open(output) | Step::Done(output) => output,
        }
    }
}

impl<O> Ended<O> {
    fn map<P>(self, f: impl FnOnce(O) -> P) -> Ended<P> {
        match self {
            Ended::Committed(output) => Ended::Committed(f(output)),
            Ended::Busy { lock_wait } => Ended::Busy { lock_wait },
            Ended::Failed(error) => Ended::Failed(error),
            Ended::Unknown(error) => Ended::Unknown(error),
        }
    }
}

/// Runs `part` of the transaction as one executor job.
async fn job<U: Unit>(
    env: &Env,
    db: &Arc<Mutex<Db>>,
    mut unit: U,
    policy: Policy,
    part: Phase<U::Output>,
) -> (U, Ended<Step<U::Output>>) {
    let (db, recorder) = (db.clone(), env.recorder.clone());
    run_blocking(env.executor.as_ref(), move || {
        let mut db = db.lock().expect("writer connection");
        let before = db.work();
        let ended = match part {
            Phase::Commit(output) => {
                commit(&mut db, &recorder, policy).map(|()| Step::Done(output))
            }
            Phase::Apply => match begin(&mut db, &recorder, policy) {
                Some(ended) => ended.map(Step::Open),
                None => match unit.apply(&mut db, &recorder) {
                    Applied::Open(output) => Ended::Committed(Step::Open(output)),
                    Applied::Busy { lock_wait } => Ended::Busy { lock_wait },
                    Applied::Failed(error) => Ended::Failed(error),
                },
            },
        };
        let work = db.work_since(before);
        ((unit, ended), work)
    })
    .await
}

/// Begins the transaction; `None` when it is open, else how the attempt ended.
fn begin<O>(db: &mut Db, recorder: &Recorder, policy: Policy) -> Option<Ended<O>> {
    db.count_statement();
    // An injected BUSY: the lock is held by another connection, where SQLite would
    // call its busy handler.
    if policy.faults.fired(recorder, failpoints::STORAGE_BUSY) {
        return Some(Ended::Busy { lock_wait: true });
    }
    db.take_busy_handler_called();
    let sql = match policy.begin {
        BeginMode::Immediate => "BEGIN IMMEDIATE",
        BeginMode::Deferred => "BEGIN DEFERRED",
    };
    match db.conn().execute_batch(sql) {
        Ok(()) => None,
        Err(error) if is_busy(&error) => Some(Ended::Busy {
            lock_wait: db.take_busy_handler_called(),
        }),
        Err(error) => {
            coverage::hit(Mark::BeginFailed);
            Some(Ended::Failed(error.into()))
        }
    }
}

/// Commits the open transaction.
fn commit(db: &mut Db, recorder: &Recorder, policy: Policy) -> Ended<()> {
    if policy
        .faults
        .fired(recorder, failpoints::STORAGE_BEFORE_COMMIT)
    {
        let _ = db.conn().execute_batch("ROLLBACK");
        return Ended::Failed(StorageError::RolledBack(
            "injected fault before COMMIT".into(),
        ));
    }
    db.count_statement();
    let committed = match db.conn().execute_batch("COMMIT") {
        Ok(())
            if policy
                .faults
                .fired(recorder, failpoints::STORAGE_COMMIT_ERROR) =>
        {
            Err(injected_io_error("COMMIT"))
        }
        other => other,
    };
    let Err(error) = committed else {
        return Ended::Committed(());
    };
    // Still inside the transaction (SQLITE_BUSY on COMMIT): nothing is written yet.
    let inside = !db.conn().is_autocommit();
    if inside {
        let _ = db.conn().execute_batch("ROLLBACK");
    }
    match (policy.commit_failure, inside) {
        (CommitFailure::Plain, true) if is_busy(&error) => Ended::Busy { lock_wait: false },
        // The disk refused the commit's frames: nothing reached the log.
        (CommitFailure::OutcomeUnknown, false) if !commit_never_logged(&error) => {
            Ended::Unknown(error.into())
        }
        _ => Ended::Failed(error.into()),
    }
}

/// What to do after an attempt met SQLITE_BUSY.
#[derive(Debug, PartialEq, Eq)]
pub enum Retry {
    /// SQLite's busy handler sleeps, on the same connection, then tries again.
    SqliteWait(Duration),
    /// The engine's backoff sleeps, then tries again.
    Backoff(Duration),
    /// Give up: the writes fail with SQLITE_BUSY after `attempts`.
    GiveUp { attempts: u32 },
}

/// The busy wait and backoff ladder of one transaction's attempts.
pub struct BusyLadder<'a> {
    backoff: Backoff<'a>,
    sqlite_wait: Option<SqliteBusyWait>,
}

impl<'a> BusyLadder<'a> {
    pub fn new(busy: &'a BusyPolicy, rng: &'a Rng) -> BusyLadder<'a> {
        BusyLadder {
            backoff: Backoff::new(busy, rng),
            sqlite_wait: None,
        }
    }

    /// After `unit`'s attempt met SQLITE_BUSY on the connection whose busy timeout is
    /// `connection`: SQLite's busy handler first, when SQLite would call it and the
    /// connection has a timeout; then the engine's backoff, unless its delay would end
    /// past `deadline`.
    pub fn after_busy<U: Unit>(
        &mut self,
        env: &Env,
        unit: &U,
        connection: &mut ConnectionBusyTimeout,
        lock_wait: bool,
        deadline: Deadline,
    ) -> Retry {
        let now = env.clock.now();
        let timeout = connection.at(now, &env.recorder);
        env.recorder.emit(unit.busy(
            self.backoff.attempts(),
            connection.index(),
            connection.millis(),
            lock_wait,
        ));
        if let (true, Some(timeout)) = (lock_wait, timeout) {
            let wait = self
                .sqlite_wait
                .get_or_insert_with(|| SqliteBusyWait::new(timeout));
            if let Some(delay) = wait.next_delay() {
                return Retry::SqliteWait(delay);
            }
            env.recorder.emit(Event::BusyTimeoutExpired {
                waited_ms: micros(wait.waited()) / 1000,
            });
        }
        self.sqlite_wait = None;
        match self.backoff.next_delay() {
            Some(delay) if !deadline.is_past(now + delay) => Retry::Backoff(delay),
            _ => Retry::GiveUp {
                attempts: self.backoff.attempts(),
            },
        }
    }
}
