//! The pool of reader connections. In WAL mode readers never block the writer and the
//! writer never blocks them; a reader sees the last commit before its statement began.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::connection::Db;
use super::error::{injected_io_error, is_busy, Result, StorageError};
use super::estimate::Estimate;
use super::policy::BusyPolicy;
use super::retry::Backoff;
use crate::env::{run_read, timeout_at, Deadline, Env};
use crate::events::{Event, Recorder};
use crate::failpoints;

/// Idle reader connections, each with its index in the pool (the `reader` of its
/// events).
type Idle = Arc<Mutex<Vec<(usize, Db)>>>;

/// Reader connections behind a semaphore: a read waits for a free connection no longer
/// than its deadline, then holds it until it answers.
pub struct ReaderPool {
    idle: Idle,
    permits: Arc<Semaphore>,
    size: usize,
    estimate: Estimate,
}

impl ReaderPool {
    pub fn new(connections: Vec<Db>) -> ReaderPool {
        let size = connections.len();
        ReaderPool {
            idle: Arc::new(Mutex::new(connections.into_iter().enumerate().collect())),
            permits: Arc::new(Semaphore::new(size)),
            size,
            estimate: Estimate::default(),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Connections in use now.
    pub fn busy(&self) -> usize {
        self.size - self.permits.available_permits()
    }

    /// Runs `read` on a pooled connection, retrying SQLITE_BUSY by `busy`, within
    /// `deadline`.
    pub async fn read<T, F>(
        &self,
        env: &Env,
        busy: &BusyPolicy,
        deadline: Deadline,
        read: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&mut Db) -> Result<T> + Send + Sync + 'static,
    {
        let clock = env.clock.as_ref();
        let started = clock.now();
        if deadline.is_past(started) {
            return Err(StorageError::DeadlineExceeded { operation: "read" });
        }
        if let Some(remaining) = deadline.remaining(started) {
            let needed = self.estimate.get();
            if remaining < needed {
                return Err(StorageError::InsufficientBudget { remaining, needed });
            }
        }
        let _permit = timeout_at(clock, deadline, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| StorageError::ReadersExhausted {
                connections: self.size,
            })?
            .map_err(|_| StorageError::Closed)?;
        let mut reader = Checkout::take(&self.idle, &env.recorder);
        let read = Arc::new(read);
        let mut backoff = Backoff::new(busy, &env.rng);
        loop {
            let attempt = read.clone();
            let recorder = env.recorder.clone();
            let (outcome, held) = run_read(env.executor.as_ref(), move || {
                let mut held = reader;
                let db = held.db();
                let before = db.work();
                let outcome = if failpoints::fired(&recorder, failpoints::STORAGE_IO_ERROR) {
                    Err(injected_io_error("a read").into())
                } else {
                    attempt(db)
                };
                let work = db.work_since(before);
                ((outcome, held), work)
            })
            .await;
            reader = held;
            match outcome {
                Err(StorageError::Sqlite(error)) if is_busy(&error) => {
                    let delay = backoff.next_delay();
                    let wake = delay.map(|delay| clock.now() + delay);
                    match wake {
                        Some(at) if !deadline.is_past(at) => clock.sleep_until(at).await,
                        _ => {
                            return Err(StorageError::Busy {
                                attempts: backoff.attempts(),
                            })
                        }
                    }
                }
                outcome => {
                    self.estimate
                        .observe(clock.now().saturating_duration_since(started));
                    return outcome;
                }
            }
        }
    }
}

/// A reader connection taken from the pool for one read, from the permit to the
/// answer: while the read's work is charged (and between its retries) no other read
/// uses it. Dropping it gives the connection back, also when the read is abandoned.
struct Checkout {
    reader: usize,
    db: Option<Db>,
    idle: Idle,
    recorder: Recorder,
}

impl Checkout {
    /// Takes an idle connection; the caller holds a permit, so there is one.
    fn take(idle: &Idle, recorder: &Recorder) -> Checkout {
        let (reader, db) = idle
            .lock()
            .expect("reader pool")
            .pop()
            .expect("a permit guarantees an idle reader");
        recorder.emit(Event::ReaderCheckout { reader });
        Checkout {
            reader,
            db: Some(db),
            idle: idle.clone(),
            recorder: recorder.clone(),
        }
    }

    fn db(&mut self) -> &mut Db {
        self.db.as_mut().expect("held until dropped")
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            self.idle
                .lock()
                .expect("reader pool")
                .push((self.reader, db));
            self.recorder.emit(Event::ReaderReturn {
                reader: self.reader,
            });
        }
    }
}
