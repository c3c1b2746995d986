//! The write queue and its single writer connection, committing in groups.
//!
//! Every write waiting when the writer is free (up to `batch_max`) commits in one
//! `BEGIN IMMEDIATE` transaction, each in its own savepoint so one failing write does not
//! fail its neighbours; callers are answered after the commit.
//!
//! A queued write is `QUEUED` until the writer's transaction has begun and claims it
//! (`STARTED`), or until its caller gives up first (`CANCELLED`, never applied). A caller
//! whose deadline passes after the claim is told the outcome is unknown.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{mpsc, oneshot, watch};

use super::connection::Db;
use super::error::injected_io_error;
use super::error::{is_busy, Result, StorageError};
use super::estimate::Estimate;
use super::limits::Limits;
use super::policy::BusyPolicy;
use super::retry::Backoff;
use super::write::{ApplyContext, Write, WriteOutput};
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

/// The sending side, shared by every caller.
pub struct WriteQueue {
    sender: mpsc::Sender<Pending>,
    depth: usize,
    batch_max: usize,
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
            // Our group commits after the groups ahead of us, and then takes one more.
            let groups = u32::try_from(self.waiting() / self.batch_max + 1).unwrap_or(u32::MAX);
            let needed = self.group_estimate.get().saturating_mul(groups);
            if remaining < needed {
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
                if cancelled {
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
    pub busy: BusyPolicy,
    pub limits: Limits,
    pub indexed: Arc<RwLock<BTreeSet<String>>>,
}

/// Creates the queue and the future that runs the writer until `shutdown` turns true
/// and the queue is drained; it then checkpoints the WAL.
pub fn start(
    writer: Writer,
    depth: usize,
    batch_max: usize,
    shutdown: watch::Receiver<bool>,
) -> (WriteQueue, impl std::future::Future<Output = ()> + Send) {
    let (sender, receiver) = mpsc::channel(depth.max(1));
    let group_estimate = Arc::new(Estimate::default());
    let counters = Arc::new(WriterCounters::default());
    let queue = WriteQueue {
        sender,
        depth: depth.max(1),
        batch_max: batch_max.max(1),
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
    writer: Writer,
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
        commit_group(&writer, &db, &counters, std::mem::take(&mut batch)).await;
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
    /// `BEGIN IMMEDIATE` got SQLITE_BUSY; nothing was claimed.
    Busy,
    /// Committed; one result per write, `None` for a write its caller had cancelled.
    Committed(Vec<Option<Result<WriteOutput>>>),
    /// The transaction failed and was rolled back; every claimed write failed.
    RolledBack(StorageError),
    /// Applied and still open (holding the write lock), not yet committed.
    Applied(Vec<Option<Result<WriteOutput>>>),
    /// `COMMIT` failed in a way that leaves its outcome unknown.
    Unknown(StorageError),
}

/// Which part of a group's transaction one executor job runs.
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
                match apply(&mut db, &pending, &context) {
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
    writer: &Writer,
    db: &Arc<Mutex<Db>>,
    counters: &WriterCounters,
    batch: Vec<Pending>,
) {
    let clock = writer.env.clock.as_ref();
    let mut backoff = Backoff::new(&writer.busy, &writer.env.rng);
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
        let (returned, outcome) = if failpoints::fired(failpoints::STORAGE_BEFORE_BEGIN) {
            let error = StorageError::RolledBack("injected fault before BEGIN".into());
            (pending, GroupOutcome::RolledBack(error))
        } else {
            match failpoints::fired_with_ms(failpoints::STORAGE_SLOW_STATEMENT) {
                None => run_group(writer, db, pending, Phase::Whole).await,
                // A slow statement: the transaction stays open, holding the write lock,
                // while virtual time passes; then it commits.
                Some(hold) => match run_group(writer, db, pending, Phase::Apply).await {
                    (pending, GroupOutcome::Applied(results)) => {
                        clock.sleep(hold).await;
                        run_group(writer, db, pending, Phase::Commit(results)).await
                    }
                    other => other,
                },
            }
        };
        pending = returned;
        match outcome {
            GroupOutcome::Committed(results) => {
                let applied = results.iter().filter(|r| matches!(r, Some(Ok(_)))).count();
                tracing::debug!(target: super::TRACE, writes = results.len(), applied, "group committed");
                counters.groups.fetch_add(1, Ordering::Relaxed);
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
                unreachable!("run_group commits unless asked to stop before")
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
            GroupOutcome::Busy => {
                counters.busy.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(target: super::TRACE, writes = pending.len(), attempt = backoff.attempts(), "writer busy");
                match backoff.next_delay() {
                    // Writes whose deadline passes meanwhile are answered at the loop's top.
                    Some(delay) => clock.sleep(delay).await,
                    None => {
                        let attempts = backoff.attempts();
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

/// Begins an IMMEDIATE transaction and applies the batch, a savepoint per write. Runs
/// on the executor.
fn apply(db: &mut Db, batch: &[Pending], context: &ApplyContext) -> GroupOutcome {
    db.count_statement();
    if failpoints::fired(failpoints::STORAGE_BUSY) {
        return GroupOutcome::Busy;
    }
    if let Err(error) = db.conn().execute_batch("BEGIN IMMEDIATE") {
        return if is_busy(&error) {
            GroupOutcome::Busy
        } else {
            GroupOutcome::RolledBack(error.into())
        };
    }
    let mut results = Vec::with_capacity(batch.len());
    for pending in batch {
        if !pending.claim(STARTED) {
            results.push(None);
            continue;
        }
        results.push(Some(in_savepoint(db, &pending.write, context)));
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

fn in_savepoint(db: &mut Db, write: &Write, context: &ApplyContext) -> Result<WriteOutput> {
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
