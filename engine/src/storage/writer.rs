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
//! [`super::DeadlinePolicy::AbandonAtDeadline`], fazt 0.10.10, that it failed: a ghost write).
//!
//! Legacy variants act here too: admission by fazt's rule ([`QueueAdmission`]),
//! DEFERRED transactions ([`BeginMode`]), and the writer connection's modelled busy
//! timeout (`busy_timeout.rs`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{mpsc, oneshot, watch};

use super::busy_timeout::ConnectionBusyTimeout;
use super::connection::Db;
use super::error::{Result, StorageError};
use super::estimate::Estimate;
use super::limits::Limits;
use super::policy::{BeginMode, BusyPolicy, CallDeadline, QueueAdmission};
use super::transaction::{
    self, Applied, BusyLadder, CommitFailure, Ended, Faults, Policy, Retry, Unit,
};
use super::write::{ApplyContext, Write, WriteOutput};
use crate::coverage::{self, Mark};
use crate::env::{run_blocking, timeout_at, Deadline, Env, Work};
use crate::events::{micros, Event, Recorder};

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
}

/// The sending side, shared by every caller.
pub struct WriteQueue {
    sender: mpsc::Sender<Pending>,
    depth: usize,
    batch_max: usize,
    admission: QueueAdmission,
    /// Observed time from a group's start to its commit; a group still running counts
    /// as at least its elapsed time.
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

    /// Queues `write` and waits for its commit, within `call`'s deadline.
    pub async fn submit(&self, env: &Env, write: Write, call: CallDeadline) -> Result<WriteOutput> {
        let (clock, deadline) = (env.clock.as_ref(), call.until);
        let now = clock.now();
        if deadline.is_past(now) {
            return Err(StorageError::DeadlineExceeded {
                operation: write.name(),
            });
        }
        if let Some(remaining) = deadline.remaining(now) {
            let waiting = self.waiting();
            let needed = match self.admission {
                // The running group's remainder (estimated by the time it has run), then
                // the groups ahead of us and ours, at the average.
                QueueAdmission::Estimate => {
                    let groups = u32::try_from(waiting / self.batch_max + 1).unwrap_or(u32::MAX);
                    let queued = self.group_estimate.get().saturating_mul(groups);
                    self.group_estimate.running_for(now).saturating_add(queued)
                }
                QueueAdmission::PerQueuedWrite { per_write, base } => per_write
                    .saturating_mul(u32::try_from(waiting).unwrap_or(u32::MAX))
                    .saturating_add(base),
                QueueAdmission::QueueDepthOnly => std::time::Duration::ZERO,
            };
            if remaining < needed {
                env.recorder.emit(Event::WriteRefused {
                    write: write.name(),
                    waiting,
                    remaining_us: micros(remaining),
                    needed_us: micros(needed),
                });
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
        env.recorder.emit(Event::WriteQueued {
            write: write.name(),
            waiting: self.waiting(),
        });
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
                } else if call.abandon_mid_commit {
                    // fazt's `case <-ctx.Done(): return ctx.Err()`: the write goes on.
                    env.recorder.emit(Event::WriteAbandoned);
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
        estimate.start(writer.env.clock.now());
        commit_group(&mut writer, &db, &counters, std::mem::take(&mut batch)).await;
        estimate.finish(writer.env.clock.now());
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

/// The queue's unit of one transaction: a group of pending writes.
struct Group {
    pending: Vec<Pending>,
    limits: Limits,
    indexed: Arc<RwLock<BTreeSet<String>>>,
    /// Whether a SQLITE_BUSY at a DEFERRED transaction's upgrade retries the group.
    retry_upgrade: bool,
}

/// One result per write of a group, `None` for a write its caller had cancelled.
type Results = Vec<Option<Result<WriteOutput>>>;

impl Unit for Group {
    type Output = Results;

    /// Applies the batch, write by write. Under [`BeginMode::Deferred`] the lock is
    /// taken by the first write statement. A SQLITE_BUSY there means nothing was
    /// written yet (a transaction that wrote holds the lock): the transaction rolls
    /// back and the group is retried, when SQLite would have called its busy handler
    /// or when `retry_upgrade` says so; otherwise the write that met it fails at once
    /// (§4.9) and the others go on.
    fn apply(&mut self, db: &mut Db, recorder: &Recorder) -> Applied<Results> {
        let indexed = self.indexed.read().expect("index set").clone();
        let context = ApplyContext {
            limits: &self.limits,
            indexed: &indexed,
        };
        let batch = &self.pending;
        let mut results = Vec::with_capacity(batch.len());
        for (n, pending) in batch.iter().enumerate() {
            if !pending.claim(STARTED) {
                results.push(None);
                continue;
            }
            let result = in_savepoint(db, &pending.write, &context);
            if matches!(&result, Err(error) if error.is_sqlite_busy()) {
                let lock_wait = db.take_busy_handler_called();
                if lock_wait || self.retry_upgrade {
                    let _ = db.conn().execute_batch("ROLLBACK");
                    batch[..=n].iter().for_each(Pending::unclaim);
                    return Applied::Busy { lock_wait };
                }
                recorder.emit(Event::BusyAtUpgrade {
                    write: pending.write.name(),
                });
                results.push(Some(Err(StorageError::Busy { attempts: 1 })));
                continue;
            }
            results.push(Some(result));
        }
        Applied::Open(results)
    }

    fn started(&self) -> Event {
        Event::GroupStarted {
            writes: self.pending.len(),
        }
    }

    fn committing(&self) -> Option<Event> {
        None
    }

    fn busy(&self, attempt: u32, conn: usize, busy_timeout_ms: u64, lock_wait: bool) -> Event {
        Event::WriterBusy {
            writes: self.pending.len(),
            attempt,
            conn,
            busy_timeout_ms,
            lock_wait,
        }
    }
}

async fn commit_group(
    writer: &mut Writer,
    db: &Arc<Mutex<Db>>,
    counters: &WriterCounters,
    batch: Vec<Pending>,
) {
    let (env, busy) = (writer.env.clone(), writer.busy.clone());
    let policy = Policy {
        begin: writer.begin,
        faults: Faults::Armed,
        commit_failure: CommitFailure::OutcomeUnknown,
    };
    let mut ladder = BusyLadder::new(&busy, &env.rng);
    let mut group = Group {
        pending: batch,
        limits: writer.limits.clone(),
        indexed: writer.indexed.clone(),
        retry_upgrade: writer.busy.retries_failed_upgrade(),
    };
    let mut met_busy = false;
    loop {
        // Nothing starts past its deadline.
        let now = env.clock.now();
        group.pending = std::mem::take(&mut group.pending)
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
        if group.pending.is_empty() {
            return;
        }
        let ended;
        (group, ended) = transaction::attempt(&env, db, group, policy).await;
        let pending = std::mem::take(&mut group.pending);
        match ended {
            Ended::Committed(results) => {
                let applied = results.iter().filter(|r| matches!(r, Some(Ok(_)))).count();
                env.recorder.emit(Event::GroupCommitted {
                    writes: results.len(),
                    applied,
                });
                counters.groups.fetch_add(1, Ordering::Relaxed);
                if met_busy {
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
            Ended::Unknown(error) => {
                // COMMIT failed after it may have reached the disk: every write of the
                // group is unknown, never a plain failure.
                env.recorder.emit(Event::CommitUnconfirmed {
                    writes: pending.len(),
                    error: error.to_string(),
                });
                for p in pending {
                    if p.state.load(Ordering::Acquire) == STARTED {
                        p.answer(Err(StorageError::OutcomeUnknown));
                    } else if p.claim(CANCELLED) {
                        p.answer(Err(StorageError::RolledBack(error.to_string())));
                    }
                }
                return;
            }
            Ended::Failed(error) => {
                // Nothing of the group was written: a definite failure for every write.
                let message = error.to_string();
                for p in pending {
                    if p.state.load(Ordering::Acquire) == STARTED || p.claim(CANCELLED) {
                        p.answer(Err(StorageError::RolledBack(message.clone())));
                    }
                }
                return;
            }
            Ended::Busy { lock_wait } => {
                counters.busy.fetch_add(1, Ordering::Relaxed);
                met_busy = true;
                group.pending = pending;
                let retry = ladder.after_busy(
                    &env,
                    &group,
                    &mut writer.busy_timeout,
                    lock_wait,
                    Deadline::NONE,
                );
                match retry {
                    // Writes whose deadline passes meanwhile are answered at the loop's top.
                    Retry::SqliteWait(delay) | Retry::Backoff(delay) => {
                        env.clock.sleep(delay).await
                    }
                    Retry::GiveUp { attempts } => {
                        coverage::hit(Mark::BusyGaveUp);
                        for p in std::mem::take(&mut group.pending) {
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
