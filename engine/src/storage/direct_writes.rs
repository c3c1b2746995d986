//! fazt's legacy write path (0.10.5): a pool of connections, each write checking one
//! out and running in its own transaction, begun DEFERRED.
//!
//! A DEFERRED transaction takes the write lock at its first write statement; a second
//! connection that wants it meanwhile gets SQLITE_BUSY from SQLite (and with the
//! `FailFast` busy policy, the caller gets it). The transaction runs as two executor
//! jobs, begin-and-write then commit, so that in simulation the lock is held for the
//! modelled time between them and contention comes from SQLite itself.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Semaphore;

use super::connection::Db;
use super::error::{Result, StorageError};
use super::limits::Limits;
use super::policy::BusyPolicy;
use super::retry::Backoff;
use super::write::{ApplyContext, Write, WriteOutput};
use crate::env::{run_blocking, timeout_at, Deadline, Env};

/// Writer connections, checked out one per write.
pub struct DirectWriters {
    idle: Arc<Mutex<Vec<Db>>>,
    permits: Arc<Semaphore>,
    size: usize,
    limits: Limits,
    indexed: Arc<RwLock<BTreeSet<String>>>,
}

impl DirectWriters {
    pub fn new(
        connections: Vec<Db>,
        limits: Limits,
        indexed: Arc<RwLock<BTreeSet<String>>>,
    ) -> DirectWriters {
        let size = connections.len();
        DirectWriters {
            idle: Arc::new(Mutex::new(connections)),
            permits: Arc::new(Semaphore::new(size)),
            size,
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
        let mut write = write;
        loop {
            let db = self
                .idle
                .lock()
                .expect("writer pool")
                .pop()
                .expect("a permit guarantees an idle connection");
            let context = (self.limits.clone(), self.indexed.clone());
            // Job 1: BEGIN DEFERRED and the write's statements (the lock is taken here).
            let (db, returned, applied) = run_blocking(env.executor.as_ref(), move || {
                let mut db = db;
                let before = db.work();
                let indexed = context.1.read().expect("index set").clone();
                let apply_context = ApplyContext {
                    limits: &context.0,
                    indexed: &indexed,
                };
                db.count_statement();
                let applied = db
                    .conn()
                    .execute_batch("BEGIN DEFERRED")
                    .map_err(StorageError::from)
                    .and_then(|()| write.apply(&mut db, &apply_context));
                if applied.is_err() {
                    let _ = db.conn().execute_batch("ROLLBACK");
                }
                let work = db.work_since(before);
                ((db, write, applied), work)
            })
            .await;
            write = returned;
            // Job 2: COMMIT (the lock is released here).
            let (db, committed) = match applied {
                Ok(output) => {
                    run_blocking(env.executor.as_ref(), move || {
                        let mut db = db;
                        let before = db.work();
                        db.count_statement();
                        let committed = db
                            .conn()
                            .execute_batch("COMMIT")
                            .map_err(StorageError::from);
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
            self.idle.lock().expect("writer pool").push(db);
            match committed {
                Err(error) if error.is_sqlite_busy() => {
                    tracing::debug!(target: super::TRACE, write = write.name(), attempt = backoff.attempts(), "direct write busy");
                    match backoff.next_delay() {
                        Some(delay) if !deadline.is_past(clock.now() + delay) => {
                            clock.sleep(delay).await
                        }
                        _ => {
                            return Err(StorageError::Busy {
                                attempts: backoff.attempts(),
                            })
                        }
                    }
                }
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
        let writers = DirectWriters::new(
            vec![Db::open(&path).unwrap()],
            Limits::default(),
            Arc::default(),
        );
        first.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
        let write = Write::KvDelete {
            app: "a".into(),
            key: "k".into(),
        };
        let env = Env::real();
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
