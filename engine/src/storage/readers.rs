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
use crate::events::Event;
use crate::failpoints;

/// Reader connections behind a semaphore: a read waits for a free connection no longer
/// than its deadline. Each idle connection keeps its index in the pool, the `reader`
/// its events name.
pub struct ReaderPool {
    idle: Arc<Mutex<Vec<(usize, Db)>>>,
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
        let read = Arc::new(read);
        let mut backoff = Backoff::new(busy, &env.rng);
        loop {
            let (idle, attempt) = (self.idle.clone(), read.clone());
            let recorder = env.recorder.clone();
            let outcome = run_read(env.executor.as_ref(), move || {
                // The connection is taken and given back within the job: on the real
                // executor it is busy while the job runs; in the simulator a job runs at
                // one instant and its cost is charged after (the read's duration shows
                // on its storage call).
                let (reader, mut db) = idle
                    .lock()
                    .expect("reader pool")
                    .pop()
                    .expect("a permit guarantees an idle reader");
                recorder.emit(Event::ReaderCheckout { reader });
                let before = db.work();
                let outcome = if failpoints::fired(&recorder, failpoints::STORAGE_IO_ERROR) {
                    Err(injected_io_error("a read").into())
                } else {
                    attempt(&mut db)
                };
                let work = db.work_since(before);
                idle.lock().expect("reader pool").push((reader, db));
                recorder.emit(Event::ReaderReturn { reader });
                (outcome, work)
            })
            .await;
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
