//! fazt's legacy write path (0.10.5): a pool of connections, each write checking one
//! out and running in its own transaction, begun as the policy's `begin` says (fazt's
//! single autocommit statements: IMMEDIATE's locking).
//!
//! A second connection that wants the write lock while one holds it gets SQLITE_BUSY
//! from SQLite (and with the `FailFast` busy policy, the caller gets it). The transaction (`transaction.rs`, the
//! same as the queue's, with this path's policy) runs as two executor jobs,
//! begin-and-write then commit, so that in simulation the lock is held for the
//! modelled time between them and contention comes from SQLite itself.
//!
//! The pool hands out the connection returned last (Go's `database/sql`), so the first
//! connection, the one fazt's `PRAGMA busy_timeout` ran on, serves while load is light
//! and the others only under concurrency (`busy_timeout.rs`). A connection returned
//! while `max_idle` others are idle is closed (Go's `SetMaxIdleConns`), the first one
//! and its busy timeout with it; the pool opens a fresh one in its place when needed.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Semaphore;

use super::busy_timeout::ConnectionBusyTimeout;
use super::connection::Db;
use super::error::{Result, StorageError};
use super::limits::Limits;
use super::policy::{BeginMode, BusyPolicy, BusyTimeoutPragma};
pub use super::transaction::Faults;
use super::transaction::{self, Applied, BusyLadder, CommitFailure, Ended, Policy, Retry, Unit};
use super::write::{ApplyContext, Write, WriteOutput};
use crate::env::{timeout_at, Deadline, Env, Instant};
use crate::events::{Event, Recorder};

/// A pooled connection, its busy timeout, and whether it is open (an idle slot may
/// stand for a connection the pool closed, or has not opened yet).
struct Pooled {
    db: Arc<Mutex<Db>>,
    busy_timeout: ConnectionBusyTimeout,
    open: bool,
}

/// How the pool's connections write and are kept.
#[derive(Clone, Copy, Debug)]
pub struct PoolPolicy {
    pub begin: BeginMode,
    /// Open connections kept idle at most (Go's `SetMaxIdleConns`).
    pub max_idle: usize,
    pub pragma: BusyTimeoutPragma,
}

/// Writer connections, checked out one per write.
pub struct DirectWriters {
    idle: Arc<Mutex<Vec<Pooled>>>,
    permits: Arc<Semaphore>,
    size: usize,
    begin: BeginMode,
    /// Open connections kept idle at most (Go's `SetMaxIdleConns`).
    max_idle: usize,
    /// Whether the storage failpoints act on these writes: on the legacy pool that
    /// carries requests' writes, not on the connection background writes bypass the
    /// queue with (faults aim at requests' writes, as in the writer).
    faults: Faults,
    limits: Limits,
    indexed: Arc<RwLock<BTreeSet<String>>>,
}

impl DirectWriters {
    /// The pool over `connections`, opened at `now`; the first is the pool's first
    /// connection (`first_index` 0, the one open at the start) or a later one.
    pub fn new(
        connections: Vec<Db>,
        pool: PoolPolicy,
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
            .map(|(n, db)| Pooled {
                db: Arc::new(Mutex::new(db)),
                busy_timeout: ConnectionBusyTimeout::new(pool.pragma, first_index + n, now),
                open: first_index + n == 0,
            })
            .collect();
        idle.reverse();
        DirectWriters {
            idle: Arc::new(Mutex::new(idle)),
            permits: Arc::new(Semaphore::new(size)),
            size,
            begin: pool.begin,
            max_idle: pool.max_idle,
            faults,
            limits,
            indexed,
        }
    }

    /// Connections writing now.
    pub fn busy(&self) -> usize {
        self.size - self.permits.available_permits()
    }

    /// Runs `write` in its own transaction on a pooled connection.
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
        let policy = Policy {
            begin: self.begin,
            faults: self.faults,
            commit_failure: CommitFailure::Plain,
        };
        let mut ladder = BusyLadder::new(busy, &env.rng);
        let mut one = One {
            write,
            limits: self.limits.clone(),
            indexed: self.indexed.clone(),
        };
        loop {
            let Pooled {
                db,
                mut busy_timeout,
                ..
            } = self
                .idle
                .lock()
                .expect("writer pool")
                .pop()
                .expect("a permit guarantees an idle connection");
            // SQLite's busy handler waits on the same connection; the backoff gives it
            // back first.
            let outcome = loop {
                let ended;
                (one, ended) = transaction::attempt(env, &db, one, policy).await;
                match ended {
                    Ended::Committed(output) => break Ok(Ok(output)),
                    Ended::Failed(error) | Ended::Unknown(error) => break Ok(Err(error)),
                    Ended::Busy { lock_wait } => {
                        match ladder.after_busy(env, &one, &mut busy_timeout, lock_wait, deadline) {
                            Retry::SqliteWait(delay) => clock.sleep(delay).await,
                            retry => break Err(retry),
                        }
                    }
                }
            };
            self.give_back(env, db, busy_timeout);
            match outcome {
                Ok(result) => return result,
                Err(Retry::Backoff(delay)) => clock.sleep(delay).await,
                Err(Retry::GiveUp { attempts }) => return Err(StorageError::Busy { attempts }),
                Err(Retry::SqliteWait(_)) => unreachable!("the busy handler waited above"),
            }
        }
    }
}

impl DirectWriters {
    /// Returns a connection to the idle list, closing it when `max_idle` open ones are
    /// already there (Go's `putConnDBLocked`).
    fn give_back(&self, env: &Env, db: Arc<Mutex<Db>>, mut busy_timeout: ConnectionBusyTimeout) {
        let mut idle = self.idle.lock().expect("writer pool");
        let open = idle.iter().filter(|pooled| pooled.open).count() < self.max_idle;
        if !open {
            busy_timeout.close(&env.recorder);
        }
        idle.push(Pooled {
            db,
            busy_timeout,
            open,
        });
    }
}

/// The direct path's unit of one transaction: one write.
struct One {
    write: Write,
    limits: Limits,
    indexed: Arc<RwLock<BTreeSet<String>>>,
}

impl Unit for One {
    type Output = WriteOutput;

    /// The write's statements; the first takes the lock (DEFERRED), where SQLite calls
    /// its busy handler.
    fn apply(&mut self, db: &mut Db, _recorder: &Recorder) -> Applied<WriteOutput> {
        let indexed = self.indexed.read().expect("index set").clone();
        let context = ApplyContext {
            limits: &self.limits,
            indexed: &indexed,
        };
        match self.write.apply(db, &context) {
            Ok(output) => Applied::Open(output),
            Err(error) => {
                let lock_wait = db.take_busy_handler_called();
                let _ = db.conn().execute_batch("ROLLBACK");
                if error.is_sqlite_busy() {
                    Applied::Busy { lock_wait }
                } else {
                    Applied::Failed(error)
                }
            }
        }
    }

    fn started(&self) -> Event {
        Event::DirectWriteStarted {
            write: self.write.name(),
        }
    }

    fn committing(&self) -> Option<Event> {
        Some(Event::DirectWriteCommitting {
            write: self.write.name(),
        })
    }

    fn busy(&self, attempt: u32, conn: usize, busy_timeout_ms: u64, lock_wait: bool) -> Event {
        Event::DirectWriteBusy {
            write: self.write.name(),
            attempt,
            conn,
            busy_timeout_ms,
            lock_wait,
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
            PoolPolicy {
                begin: BeginMode::Deferred,
                max_idle: 1,
                pragma: BusyTimeoutPragma::Off,
            },
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
