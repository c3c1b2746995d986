//! fazt's legacy write path (0.10.5): a pool of connections, each write checking one
//! out and running in its own transaction, begun DEFERRED.
//!
//! A DEFERRED transaction takes the write lock at its first write statement; a second
//! connection that wants it meanwhile gets SQLITE_BUSY from SQLite (and with the
//! `FailFast` busy policy, the caller gets it). The transaction runs as two executor
//! jobs, begin-and-write then commit, so that in simulation the lock is held for the
//! modelled time between them and contention comes from SQLite itself.
//!
//! The pool hands out the connection returned last (Go's `database/sql`), so the first
//! connection, the one fazt's `PRAGMA busy_timeout` ran on, serves while load is light
//! and the others only under concurrency (`busy_timeout.rs`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Semaphore;

use super::busy_timeout::{ConnectionBusyTimeout, SqliteBusyWait};
use super::connection::Db;
use super::error::{injected_busy_error, injected_io_error, Result, StorageError};
use super::limits::Limits;
use super::policy::{BusyPolicy, BusyTimeoutPragma};
use super::retry::Backoff;
use super::write::{ApplyContext, Write, WriteOutput};
use crate::env::{run_blocking, timeout_at, Deadline, Env, Instant};
use crate::events::{Event, Recorder};
use crate::failpoints;

/// Whether the storage failpoints act on a [`DirectWriters`] pool's writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faults {
    Armed,
    Ignored,
}

impl Faults {
    fn fired(self, recorder: &Recorder, point: &'static str) -> bool {
        self == Faults::Armed && failpoints::fired(recorder, point)
    }

    fn fired_with_ms(
        self,
        recorder: &Recorder,
        point: &'static str,
    ) -> Option<std::time::Duration> {
        match self {
            Faults::Armed => failpoints::fired_with_ms(recorder, point),
            Faults::Ignored => None,
        }
    }
}

/// A pooled connection and its busy timeout.
type Pooled = (Db, ConnectionBusyTimeout);

/// Writer connections, checked out one per write.
pub struct DirectWriters {
    idle: Arc<Mutex<Vec<Pooled>>>,
    permits: Arc<Semaphore>,
    size: usize,
    /// Whether the storage failpoints act on these writes: on the legacy pool that
    /// carries requests' writes, not on the connection background writes bypass the
    /// queue with (faults aim at requests' writes, as in the writer).
    faults: Faults,
    limits: Limits,
    indexed: Arc<RwLock<BTreeSet<String>>>,
}

impl DirectWriters {
    /// The pool over `connections`, opened at `now`; the first is the pool's first
    /// connection (`first_index` 0) or a later one.
    pub fn new(
        connections: Vec<Db>,
        pragma: BusyTimeoutPragma,
        faults: Faults,
        first_index: usize,
        now: Instant,
        limits: Limits,
        indexed: Arc<RwLock<BTreeSet<String>>>,
    ) -> DirectWriters {
        let size = connections.len();
        // Last in the stack is handed out first: the first connection.
        let mut idle: Vec<Pooled> = connections
            .into_iter()
            .enumerate()
            .map(|(n, db)| (db, ConnectionBusyTimeout::new(pragma, first_index + n, now)))
            .collect();
        idle.reverse();
        DirectWriters {
            idle: Arc::new(Mutex::new(idle)),
            permits: Arc::new(Semaphore::new(size)),
            size,
            faults,
            limits,
            indexed,
        }
    }

    /// Connections writing now.
    pub fn busy(&self) -> usize {
        self.size - self.permits.available_permits()
    }

    /// Runs `write` in its own DEFERRED transaction on a pooled connection.
    pub async fn submit(
        &self,
        env: &Env,
        busy: &BusyPolicy,
        write: Write,
        deadline: Deadline,
    ) -> Result<WriteOutput> {
        let clock = env.clock.as_ref();
        if deadline.is_past(clock.now()) {
            return Err(StorageError::DeadlineExceeded {
                operation: write.name(),
            });
        }
        let _permit = timeout_at(clock, deadline, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| StorageError::QueueFull { depth: self.size })?
            .map_err(|_| StorageError::Closed)?;
        let mut backoff = Backoff::new(busy, &env.rng);
        let (mut write, faults) = (write, self.faults);
        loop {
            if faults.fired(&env.recorder, failpoints::STORAGE_BEFORE_BEGIN) {
                return Err(StorageError::RolledBack(
                    "injected fault before BEGIN".into(),
                ));
            }
            let (mut db, mut busy_timeout) = self
                .idle
                .lock()
                .expect("writer pool")
                .pop()
                .expect("a permit guarantees an idle connection");
            let mut sqlite_wait: Option<SqliteBusyWait> = None;
            let applied = loop {
                let context = (self.limits.clone(), self.indexed.clone());
                // Traced before each job runs: in simulation a job runs as it is
                // submitted, so a write that began holds the write lock from "direct
                // write started" until "direct write committing".
                env.recorder.emit(Event::DirectWriteStarted {
                    write: write.name(),
                });
                let recorder = env.recorder.clone();
                // Job 1: BEGIN DEFERRED and the write's statements (the lock is taken here).
                let (returned_db, returned, applied, lock_wait) =
                    run_blocking(env.executor.as_ref(), move || {
                        let mut db = db;
                        let before = db.work();
                        let indexed = context.1.read().expect("index set").clone();
                        let apply_context = ApplyContext {
                            limits: &context.0,
                            indexed: &indexed,
                        };
                        db.count_statement();
                        db.take_busy_handler_called();
                        // An injected BUSY: the first write statement meets another
                        // connection's lock, where SQLite would call its busy handler.
                        let injected_busy = faults.fired(&recorder, failpoints::STORAGE_BUSY);
                        let applied = db
                            .conn()
                            .execute_batch("BEGIN DEFERRED")
                            .and_then(|()| match injected_busy {
                                true => Err(injected_busy_error(write.name())),
                                false => Ok(()),
                            })
                            .map_err(StorageError::from)
                            .and_then(|()| write.apply(&mut db, &apply_context));
                        let lock_wait = db.take_busy_handler_called() || injected_busy;
                        if applied.is_err() {
                            let _ = db.conn().execute_batch("ROLLBACK");
                        }
                        let work = db.work_since(before);
                        ((db, write, applied, lock_wait), work)
                    })
                    .await;
                (db, write) = (returned_db, returned);
                let busy = matches!(&applied, Err(error) if error.is_sqlite_busy());
                if !busy {
                    break applied;
                }
                let timeout = busy_timeout.at(clock.now(), &env.recorder);
                env.recorder.emit(Event::DirectWriteBusy {
                    write: write.name(),
                    attempt: backoff.attempts(),
                    conn: busy_timeout.index(),
                    busy_timeout_ms: busy_timeout.millis(),
                    lock_wait,
                });
                // SQLite's busy handler, on a connection that has a busy timeout.
                let delay = match (lock_wait, timeout) {
                    (true, Some(timeout)) => sqlite_wait
                        .get_or_insert_with(|| SqliteBusyWait::new(timeout))
                        .next_delay(),
                    _ => None,
                };
                match delay {
                    Some(delay) => clock.sleep(delay).await,
                    None => break applied,
                }
            };
            // Job 2: COMMIT (the lock is released here).
            let (db, committed) = match applied {
                Ok(output) => {
                    // A slow statement: the transaction stays open, holding the lock.
                    if let Some(hold) =
                        faults.fired_with_ms(&env.recorder, failpoints::STORAGE_SLOW_STATEMENT)
                    {
                        clock.sleep(hold).await;
                    }
                    env.recorder.emit(Event::DirectWriteCommitting {
                        write: write.name(),
                    });
                    let recorder = env.recorder.clone();
                    run_blocking(env.executor.as_ref(), move || {
                        let mut db = db;
                        let before = db.work();
                        db.count_statement();
                        // fazt's path has no outcome-unknown: a COMMIT that fails after
                        // reaching the disk is returned as a plain error.
                        let committed =
                            if faults.fired(&recorder, failpoints::STORAGE_BEFORE_COMMIT) {
                                Err(StorageError::RolledBack(
                                    "injected fault before COMMIT".into(),
                                ))
                            } else {
                                match db.conn().execute_batch("COMMIT") {
                                    Ok(())
                                        if faults
                                            .fired(&recorder, failpoints::STORAGE_COMMIT_ERROR) =>
                                    {
                                        Err(injected_io_error("COMMIT").into())
                                    }
                                    other => other.map_err(StorageError::from),
                                }
                            };
                        if committed.is_err() {
                            let _ = db.conn().execute_batch("ROLLBACK");
                        }
                        let work = db.work_since(before);
                        ((db, committed.map(|()| output)), work)
                    })
                    .await
                }
                Err(error) => (db, Err(error)),
            };
            self.idle
                .lock()
                .expect("writer pool")
                .push((db, busy_timeout));
            match committed {
                Err(error) if error.is_sqlite_busy() => match backoff.next_delay() {
                    Some(delay) if !deadline.is_past(clock.now() + delay) => {
                        clock.sleep(delay).await
                    }
                    _ => {
                        return Err(StorageError::Busy {
                            attempts: backoff.attempts(),
                        })
                    }
                },
                outcome => return outcome,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    #[tokio::test]
    async fn a_deferred_writer_meets_busy_while_another_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let mut first = Db::open(&path).unwrap();
        first.migrate().unwrap();
        let env = Env::real();
        let writers = DirectWriters::new(
            vec![Db::open(&path).unwrap()],
            BusyTimeoutPragma::Off,
            Faults::Armed,
            0,
            env.clock.now(),
            Limits::default(),
            Arc::default(),
        );
        first.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
        let write = Write::KvDelete {
            app: "a".into(),
            key: "k".into(),
        };
        let error = writers
            .submit(&env, &BusyPolicy::FailFast, write, Deadline::NONE)
            .await
            .unwrap_err();
        assert!(
            matches!(error, StorageError::Busy { attempts: 1 }),
            "{error}"
        );
        first.conn().execute_batch("COMMIT").unwrap();
        let write = Write::KvDelete {
            app: "a".into(),
            key: "k".into(),
        };
        assert_eq!(
            writers
                .submit(&env, &BusyPolicy::FailFast, write, Deadline::NONE)
                .await
                .unwrap(),
            WriteOutput::Existed(false)
        );
    }
}
