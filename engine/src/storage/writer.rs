//! The write queue and its single writer connection, committing in groups.
//!
//! Every write waiting when the writer is free (up to `batch_max`) commits in one
//! `BEGIN IMMEDIATE` transaction, each in its own savepoint (a one-statement write is
//! atomic by itself) so one failing write does not fail its neighbours; callers are
//! answered after the commit.
//!
//! A queued write is `QUEUED` until the writer's transaction has begun and claims it
//! (`STARTED`), or until its caller gives up first (`CANCELLED`, never applied). A caller
//! whose deadline passes after the claim is told the outcome is unknown (under
//! [`DeadlinePolicy::AbandonAtDeadline`], fazt 0.10.10, that it failed: a ghost write).
//!
//! Legacy variants act here too: admission by fazt's rule ([`QueueAdmission`]),
//! DEFERRED transactions ([`BeginMode`]), and the writer connection's modelled busy
//! timeout (`busy_timeout.rs`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{mpsc, oneshot, watch};

use super::busy_timeout::{ConnectionBusyTimeout, SqliteBusyWait};
use super::connection::Db;
use super::error::injected_io_error;
use super::error::{is_busy, Result, StorageError};
use super::estimate::Estimate;
use super::limits::Limits;
use super::policy::{BeginMode, BusyPolicy, DeadlinePolicy, QueueAdmission};
use super::retry::Backoff;
use super::write::{ApplyContext, Write, WriteOutput};
use crate::coverage::{self, Mark};
use crate::env::{run_blocking, timeout_at, Deadline, Env, Work};
use crate::failpoints;

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;

/// A write waiting in the queue.
struct Pending {
    write: Write,
    deadline: Deadline,
    state: Arc<AtomicU8>,
    reply: oneshot::Sender<Result<WriteOutput>>,
}

impl Pending {
    /// Moves QUEUED to `to`; false when someone else moved it first.
    fn claim(&self, to: u8) -> bool {
        self.state
            .compare_exchange(QUEUED, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Back to QUEUED after its transaction rolled back before writing anything.
    fn unclaim(&self) {
        let _ = self
            .state
            .compare_exchange(STARTED, QUEUED, Ordering::AcqRel, Ordering::Acquire);
    }

    fn answer(self, result: Result<WriteOutput>) {
        // The caller may have stopped waiting; its answer then is already decided.
        let _ = self.reply.send(result);
    }
}

/// What the writer has done since it started.
#[derive(Debug, Default)]
pub struct WriterCounters {
    /// Transactions committed.
    pub groups: AtomicU64,
    /// Writes applied in committed transactions (failed savepoints excluded).
    pub writes: AtomicU64,
    /// `BEGIN IMMEDIATE` attempts that met SQLITE_BUSY and were retried or given up.
    pub busy: AtomicU64,
}

/// How the queue takes writes in.
#[derive(Clone, Copy, Debug)]
pub struct QueueOptions {
    pub depth: usize,
    pub batch_max: usize,
    pub admission: QueueAdmission,
    pub deadline: DeadlinePolicy,
}

/// The sending side, shared by every caller.
pub struct WriteQueue {
    sender: mpsc::Sender<Pending>,
    depth: usize,
    batch_max: usize,
    admission: QueueAdmission,
    deadline: DeadlinePolicy,
    /// Observed time from a group's start to its commit.
    group_estimate: Arc<Estimate>,
    counters: Arc<WriterCounters>,
}

impl WriteQueue {
    pub fn counters(&self) -> &WriterCounters {
        &self.counters
    }

    /// Writes waiting now.
    pub fn waiting(&self) -> usize {
        self.depth - self.sender.capacity()
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Queues `write` and waits for its commit, within `deadline`.
    pub async fn submit(&self, env: &Env, write: Write, deadline: Deadline) -> Result<WriteOutput> {
        let clock = env.clock.as_ref();
        let now = clock.now();
        if deadline.is_past(now) {
            return Err(StorageError::DeadlineExceeded {
                operation: write.name(),
            });
        }
        if let Some(remaining) = deadline.remaining(now) {
            let waiting = self.waiting();
            let needed = match self.admission {
                // Our group commits after the groups ahead of us, and then takes one more.
                QueueAdmission::Estimate => {
                    let groups = u32::try_from(waiting / self.batch_max + 1).unwrap_or(u32::MAX);
                    self.group_estimate.get().saturating_mul(groups)
                }
                QueueAdmission::PerQueuedWrite { per_write, base } => per_write
                    .saturating_mul(u32::try_from(waiting).unwrap_or(u32::MAX))
                    .saturating_add(base),
            };
            if remaining < needed {
                tracing::debug!(
                    target: super::TRACE,
                    write = write.name(),
                    waiting,
                    remaining_us = remaining.as_micros() as u64,
                    needed_us = needed.as_micros() as u64,
                    "write refused"
                );
                coverage::hit(Mark::WriteRefusedForBudget);
                return Err(StorageError::InsufficientBudget { remaining, needed });
            }
        }
        let permit = match timeout_at(clock, deadline, self.sender.reserve()).await {
            Err(_elapsed) => return Err(StorageError::QueueFull { depth: self.depth }),
            Ok(Err(_closed)) => return Err(StorageError::Closed),
            Ok(Ok(permit)) => permit,
        };
        let state = Arc::new(AtomicU8::new(QUEUED));
        let (reply, answer) = oneshot::channel();
        tracing::debug!(target: super::TRACE, write = write.name(), waiting = self.waiting(), "write queued");
        permit.send(Pending {
            write,
            deadline,
            state: state.clone(),
            reply,
        });
        match timeout_at(clock, deadline, answer).await {
            Ok(Ok(result)) => result,
            // The writer stopped without answering: only a claimed write may have landed.
            Ok(Err(_dropped)) if state.load(Ordering::Acquire) == STARTED => {
                Err(StorageError::OutcomeUnknown)
            }
            Ok(Err(_dropped)) => Err(StorageError::Closed),
            Err(_elapsed) => {
                let cancelled = state
                    .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                coverage::hit(if cancelled {
                    Mark::QueuedWriteCancelled
                } else {
                    Mark::DeadlinePassedMidCommit
                });
                if cancelled {
                    Err(StorageError::DeadlineExceeded {
                        operation: "queued write",
                    })
                } else if self.deadline == DeadlinePolicy::AbandonAtDeadline {
                    // fazt's `case <-ctx.Done(): return ctx.Err()`: the write goes on.
                    tracing::debug!(target: super::TRACE, "write abandoned while executing");
                    Err(StorageError::DeadlineExceeded {
                        operation: "queued write",
                    })
                } else {
                    Err(StorageError::OutcomeUnknown)
                }
            }
        }
    }
}

/// Everything the writer task owns.
pub struct Writer {
    pub env: Env,
    pub db: Arc<Mutex<Db>>,
    pub begin: BeginMode,
    pub busy: BusyPolicy,
    /// The writer connection's busy timeout (it is the pool's first connection).
    pub busy_timeout: ConnectionBusyTimeout,
    pub limits: Limits,
    pub indexed: Arc<RwLock<BTreeSet<String>>>,
}

/// Creates the queue and the future that runs the writer until `shutdown` turns true
/// and the queue is drained; it then checkpoints the WAL.
pub fn start(
    writer: Writer,
    options: QueueOptions,
    shutdown: watch::Receiver<bool>,
) -> (WriteQueue, impl std::future::Future<Output = ()> + Send) {
    let (depth, batch_max) = (options.depth, options.batch_max);
    let (sender, receiver) = mpsc::channel(depth.max(1));
    let group_estimate = Arc::new(Estimate::default());
    let counters = Arc::new(WriterCounters::default());
    let queue = WriteQueue {
        sender,
        depth: depth.max(1),
        batch_max: batch_max.max(1),
        admission: options.admission,
        deadline: options.deadline,
        group_estimate: group_estimate.clone(),
        counters: counters.clone(),
    };
    let task = run(
        writer,
        receiver,
        batch_max.max(1),
        group_estimate,
        counters,
        shutdown,
    );
    (queue, task)
}

async fn run(
    mut writer: Writer,
    mut receiver: mpsc::Receiver<Pending>,
    batch_max: usize,
    estimate: Arc<Estimate>,
    counters: Arc<WriterCounters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let db = writer.db.clone();
    let mut batch = Vec::with_capacity(batch_max);
    loop {
        let first = tokio::select! {
            biased;
            next = receiver.recv() => match next {
                Some(pending) => pending,
                None => break,
            },
            _ = shutdown.wait_for(|stop| *stop) => {
                // Refuse new writes; the loop drains what is queued, then ends.
                receiver.close();
                continue;
            }
        };
        batch.push(first);
        while batch.len() < batch_max {
            match receiver.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let started = writer.env.clock.now();
        commit_group(&mut writer, &db, &counters, std::mem::take(&mut batch)).await;
        estimate.observe(writer.env.clock.now().saturating_duration_since(started));
    }
    let db = db.clone();
    let checkpoint = run_blocking(writer.env.executor.as_ref(), move || {
        let db = db.lock().expect("writer connection");
        let result = db.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        (result, Work::default())
    })
    .await;
    if let Err(error) = checkpoint {
        tracing::warn!(%error, "WAL checkpoint at shutdown failed");
    }
}

/// What the group's transaction came to.
enum GroupOutcome {
    /// SQLITE_BUSY before anything was written; the transaction rolled back and every
    /// write is queued again. `lock_wait`: SQLite would have called its busy handler.
    Busy { lock_wait: bool },
    /// Committed; one result per write, `None` for a write its caller had cancelled.
    Committed(Vec<Option<Result<WriteOutput>>>),
    /// The transaction failed and was rolled back; every claimed write failed.
    RolledBack(StorageError),
    /// Applied and still open (holding the write lock), not yet committed.
    Applied(Vec<Option<Result<WriteOutput>>>),
    /// `COMMIT` failed in a way that leaves its outcome unknown.
    Unknown(StorageError),
}

/// Which part of a group's transaction one executor job runs. Where time passes only
/// after a job ([`crate::env::Executor::charges_after_job`], the simulator), a
/// transaction is two jobs, as on the direct-write path (`direct_writes.rs`): the
/// modelled cost of applying the writes passes between them with the write lock held,
/// so a writer outside the queue meets this one as it would on a real machine. The real
/// executor runs it as one job, saving a thread hand-off per group.
enum Phase {
    /// BEGIN, the writes, COMMIT.
    Whole,
    /// BEGIN and the writes, leaving the transaction open.
    Apply,
    /// COMMIT of a transaction left open by `Apply`.
    Commit(Vec<Option<Result<WriteOutput>>>),
}

/// Runs `phase` of the group's transaction on the executor.
async fn run_group(
    writer: &Writer,
    db: &Arc<Mutex<Db>>,
    pending: Vec<Pending>,
    phase: Phase,
) -> (Vec<Pending>, GroupOutcome) {
    let (db, limits, indexed) = (db.clone(), writer.limits.clone(), writer.indexed.clone());
    let (begin, retry_upgrade) = (writer.begin, writer.busy.retries_failed_upgrade());
    run_blocking(writer.env.executor.as_ref(), move || {
        let mut db = db.lock().expect("writer connection");
        let before = db.work();
        let outcome = match phase {
            Phase::Commit(results) => commit(&mut db, results),
            Phase::Whole | Phase::Apply => {
                let indexed = indexed.read().expect("index set").clone();
                let context = ApplyContext {
                    limits: &limits,
                    indexed: &indexed,
                };
                match apply(&mut db, &pending, &context, begin, retry_upgrade) {
                    GroupOutcome::Applied(results) if matches!(phase, Phase::Whole) => {
                        commit(&mut db, results)
                    }
                    outcome => outcome,
                }
            }
        };
        let work = db.work_since(before);
        ((pending, outcome), work)
    })
    .await
}

async fn commit_group(
    writer: &mut Writer,
    db: &Arc<Mutex<Db>>,
    counters: &WriterCounters,
    batch: Vec<Pending>,
) {
    let (clock, rng, busy) = (
        writer.env.clock.clone(),
        writer.env.rng.clone(),
        writer.busy.clone(),
    );
    let mut backoff = Backoff::new(&busy, &rng);
    let mut sqlite_wait: Option<SqliteBusyWait> = None;
    let mut pending = batch;
    loop {
        // Nothing starts past its deadline.
        let now = clock.now();
        pending = pending
            .into_iter()
            .filter_map(|p| {
                if p.deadline.is_past(now) && p.claim(CANCELLED) {
                    let operation = p.write.name();
                    p.answer(Err(StorageError::DeadlineExceeded { operation }));
                    None
                } else if p.state.load(Ordering::Acquire) == CANCELLED {
                    None
                } else {
                    Some(p)
                }
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        // Traced before the group's job runs (in simulation, as it is submitted), so a
        // trace shows who held the write lock when this attempt met SQLITE_BUSY.
        tracing::debug!(target: super::TRACE, writes = pending.len(), "group started");
        let (returned, outcome) = if failpoints::fired(failpoints::STORAGE_BEFORE_BEGIN) {
            let error = StorageError::RolledBack("injected fault before BEGIN".into());
            (pending, GroupOutcome::RolledBack(error))
        } else {
            let slow = failpoints::fired_with_ms(failpoints::STORAGE_SLOW_STATEMENT);
            let split = slow.is_some() || writer.env.executor.charges_after_job();
            let phase = if split { Phase::Apply } else { Phase::Whole };
            match run_group(writer, db, pending, phase).await {
                (pending, GroupOutcome::Applied(results)) => {
                    // A slow statement: the transaction stays open, holding the write
                    // lock, while virtual time passes; then it commits.
                    if let Some(hold) = slow {
                        clock.sleep(hold).await;
                    }
                    run_group(writer, db, pending, Phase::Commit(results)).await
                }
                other => other,
            }
        };
        pending = returned;
        match outcome {
            GroupOutcome::Committed(results) => {
                let applied = results.iter().filter(|r| matches!(r, Some(Ok(_)))).count();
                tracing::debug!(target: super::TRACE, writes = results.len(), applied, "group committed");
                counters.groups.fetch_add(1, Ordering::Relaxed);
                if backoff.attempts() > 1 {
                    coverage::hit(Mark::BusyRetriedThenCommitted)
                }
                if applied < results.iter().flatten().count() {
                    coverage::hit(Mark::SavepointRolledBackInCommittedGroup)
                }
                counters.writes.fetch_add(applied as u64, Ordering::Relaxed);
                for (p, result) in pending.iter().zip(&results) {
                    if let (Write::DocCreateIndex { field }, Some(Ok(_))) = (&p.write, result) {
                        writer
                            .indexed
                            .write()
                            .expect("index set")
                            .insert(field.dotted());
                    }
                }
                for (p, result) in pending.into_iter().zip(results) {
                    if let Some(result) = result {
                        p.answer(result);
                    }
                }
                return;
            }
            GroupOutcome::Unknown(error) => {
                // COMMIT failed after it may have reached the disk: every write of the
                // group is unknown, never a plain failure.
                tracing::debug!(target: super::TRACE, writes = pending.len(), %error, "commit unconfirmed");
                coverage::hit(Mark::CommitUnconfirmed);
                for p in pending {
                    if p.state.load(Ordering::Acquire) == STARTED {
                        p.answer(Err(StorageError::OutcomeUnknown));
                    } else if p.claim(CANCELLED) {
                        p.answer(Err(StorageError::RolledBack(error.to_string())));
                    }
                }
                return;
            }
            GroupOutcome::Applied(_) => {
                unreachable!("Whole and Commit never leave the transaction open")
            }
            GroupOutcome::RolledBack(error) => {
                // Nothing of the group was written: a definite failure for every write.
                let message = error.to_string();
                for p in pending {
                    if p.state.load(Ordering::Acquire) == STARTED || p.claim(CANCELLED) {
                        p.answer(Err(StorageError::RolledBack(message.clone())));
                    }
                }
                return;
            }
            GroupOutcome::Busy { lock_wait } => {
                counters.busy.fetch_add(1, Ordering::Relaxed);
                let timeout = writer.busy_timeout.at(clock.now());
                tracing::debug!(
                    target: super::TRACE,
                    writes = pending.len(),
                    attempt = backoff.attempts(),
                    conn = writer.busy_timeout.index(),
                    busy_timeout_ms = writer.busy_timeout.millis(),
                    lock_wait,
                    "writer busy"
                );
                // SQLite's busy handler first, on a connection that has a busy timeout.
                if let (true, Some(timeout)) = (lock_wait, timeout) {
                    let wait = sqlite_wait.get_or_insert_with(|| SqliteBusyWait::new(timeout));
                    if let Some(delay) = wait.next_delay() {
                        clock.sleep(delay).await;
                        continue;
                    }
                    tracing::debug!(target: super::TRACE, waited_ms = wait.waited().as_millis() as u64, "busy timeout expired");
                }
                sqlite_wait = None;
                match backoff.next_delay() {
                    // Writes whose deadline passes meanwhile are answered at the loop's top.
                    Some(delay) => clock.sleep(delay).await,
                    None => {
                        let attempts = backoff.attempts();
                        coverage::hit(Mark::BusyGaveUp);
                        for p in pending {
                            if p.claim(CANCELLED) {
                                p.answer(Err(StorageError::Busy { attempts }));
                            }
                        }
                        return;
                    }
                }
            }
        }
    }
}

/// Begins the group's transaction and applies the batch, write by write. Runs
/// on the executor.
///
/// Under [`BeginMode::Deferred`] the lock is taken by the first write statement. A
/// SQLITE_BUSY there means nothing was written yet (a transaction that wrote holds the
/// lock): the transaction rolls back and the group is retried, when SQLite would have
/// called its busy handler or when `retry_upgrade` says so; otherwise the write that
/// met it fails at once (§4.9) and the others go on.
fn apply(
    db: &mut Db,
    batch: &[Pending],
    context: &ApplyContext,
    begin: BeginMode,
    retry_upgrade: bool,
) -> GroupOutcome {
    db.count_statement();
    if failpoints::fired(failpoints::STORAGE_BUSY) {
        return GroupOutcome::Busy { lock_wait: true };
    }
    db.take_busy_handler_called();
    let begin_sql = match begin {
        BeginMode::Immediate => "BEGIN IMMEDIATE",
        BeginMode::Deferred => "BEGIN DEFERRED",
    };
    if let Err(error) = db.conn().execute_batch(begin_sql) {
        return if is_busy(&error) {
            GroupOutcome::Busy {
                lock_wait: db.take_busy_handler_called(),
            }
        } else {
            GroupOutcome::RolledBack(error.into())
        };
    }
    let mut results = Vec::with_capacity(batch.len());
    for (n, pending) in batch.iter().enumerate() {
        if !pending.claim(STARTED) {
            results.push(None);
            continue;
        }
        let result = in_savepoint(db, &pending.write, context);
        if matches!(&result, Err(error) if error.is_sqlite_busy()) {
            let lock_wait = db.take_busy_handler_called();
            if lock_wait || retry_upgrade {
                let _ = db.conn().execute_batch("ROLLBACK");
                batch[..=n].iter().for_each(Pending::unclaim);
                return GroupOutcome::Busy { lock_wait };
            }
            tracing::debug!(target: super::TRACE, write = pending.write.name(), "busy at upgrade of a deferred transaction");
            results.push(Some(Err(StorageError::Busy { attempts: 1 })));
            continue;
        }
        results.push(Some(result));
    }
    GroupOutcome::Applied(results)
}

/// Commits the open transaction. Runs on the executor.
fn commit(db: &mut Db, results: Vec<Option<Result<WriteOutput>>>) -> GroupOutcome {
    if failpoints::fired(failpoints::STORAGE_BEFORE_COMMIT) {
        let _ = db.conn().execute_batch("ROLLBACK");
        return GroupOutcome::RolledBack(StorageError::RolledBack(
            "injected fault before COMMIT".into(),
        ));
    }
    db.count_statement();
    let committed = db.conn().execute_batch("COMMIT");
    let committed = match committed {
        Ok(()) if failpoints::fired(failpoints::STORAGE_COMMIT_ERROR) => {
            Err(injected_io_error("COMMIT"))
        }
        other => other,
    };
    match committed {
        Ok(()) => GroupOutcome::Committed(results),
        // Still inside the transaction (SQLITE_BUSY on COMMIT): nothing is written yet.
        Err(error) if !db.conn().is_autocommit() => {
            let _ = db.conn().execute_batch("ROLLBACK");
            GroupOutcome::RolledBack(error.into())
        }
        Err(error) => GroupOutcome::Unknown(error.into()),
    }
}

/// Applies `write` so that, failing, it leaves nothing behind: in a savepoint, unless it
/// is one statement (atomic by itself, and the savepoint's statements and sub-journal
/// page copies are a fair share of a small write's cost).
fn in_savepoint(db: &mut Db, write: &Write, context: &ApplyContext) -> Result<WriteOutput> {
    if write.is_one_statement() {
        return write.apply(db, context);
    }
    // Prepared once per connection and cached: a group runs these for every write.
    let step = |db: &mut Db, sql: &str| -> Result<()> {
        db.count_statement();
        db.conn().prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    step(db, "SAVEPOINT write")?;
    let result = write.apply(db, context);
    if result.is_err() {
        step(db, "ROLLBACK TO write")?;
    }
    step(db, "RELEASE write")?;
    result
}
