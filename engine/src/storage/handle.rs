//! The storage layer's handle: [`Storage`] (cheap to clone) shares the connections,
//! the write path and the background tasks; every read and write enters through its
//! `read` and `write`, where the [`super::DeadlinePolicy`] is honoured. Opening is in
//! `open.rs`, the server's own calls in `server_api.rs`, background writes in
//! `background.rs`, one app's kv / ds / s3 API in `scope.rs`.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::analytics::EventBuffer;
use super::connection::{ConnectionSettings, Db};
use super::direct_writes::DirectWriters;
use super::error::Result;
use super::limits::Limits;
use super::policy::{CallDeadline, StoragePolicy};
use super::readers::ReaderPool;
use super::write::{Write, WriteOutput};
use super::writer::WriteQueue;
use crate::env::{Deadline, Env, Rng};

/// Policies and limits of one storage instance.
#[derive(Clone, Debug, Default)]
pub struct StorageConfig {
    pub policy: StoragePolicy,
    pub limits: Limits,
}

/// The storage engine of one server: one SQLite file, one writer, a reader pool.
/// Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    pub(super) shared: Arc<Shared>,
}

/// What every clone of a [`Storage`] shares.
pub(super) struct Shared {
    pub(super) env: Env,
    pub(super) config: StorageConfig,
    pub(super) readers: ReaderPool,
    pub(super) writes: Writes,
    /// The connection background writes use outside the queue, under
    /// [`super::BackgroundWrites::BypassQueue`] with group commit.
    pub(super) bypass: Option<DirectWriters>,
    pub(super) analytics: EventBuffer,
    pub(super) indexed: Arc<RwLock<BTreeSet<String>>>,
    pub(super) ids: Rng,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// The write path chosen by [`super::WritePath`].
pub(super) enum Writes {
    Queue(WriteQueue),
    Direct(DirectWriters),
}

/// Point-in-time numbers for metrics endpoints and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageStats {
    /// Write transactions committed.
    pub groups_committed: u64,
    /// Writes applied in them.
    pub writes_committed: u64,
    /// Times the writer met SQLITE_BUSY at `BEGIN IMMEDIATE`.
    pub writer_busy: u64,
    pub queue_waiting: usize,
    pub queue_depth: usize,
    pub readers: usize,
    pub readers_busy: usize,
}

impl Storage {
    /// The size and shape limits of this storage (the runtime bounds storage
    /// arguments by them before copying them out of JavaScript).
    pub fn limits(&self) -> &Limits {
        &self.shared.config.limits
    }

    pub fn stats(&self) -> StorageStats {
        let (groups, writes, busy, waiting, depth) = match &self.shared.writes {
            Writes::Queue(queue) => {
                let counters = queue.counters();
                (
                    counters.groups.load(Ordering::Relaxed),
                    counters.writes.load(Ordering::Relaxed),
                    counters.busy.load(Ordering::Relaxed),
                    queue.waiting(),
                    queue.depth(),
                )
            }
            Writes::Direct(direct) => (0, 0, 0, direct.busy(), 0),
        };
        StorageStats {
            groups_committed: groups,
            writes_committed: writes,
            writer_busy: busy,
            queue_waiting: waiting,
            queue_depth: depth,
            readers: self.shared.readers.size(),
            readers_busy: self.shared.readers.busy(),
        }
    }

    /// Settings of every reader connection, as each reports them.
    pub async fn reader_settings(&self) -> Result<Vec<ConnectionSettings>> {
        let mut all = Vec::new();
        for _ in 0..self.shared.readers.size() {
            all.push(self.read(Deadline::NONE, |db| db.settings()).await?);
        }
        Ok(all)
    }

    /// Stops taking writes, commits everything queued, checkpoints the WAL and waits for
    /// the background tasks. Calls after the first return at once.
    pub async fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        let tasks = std::mem::take(&mut *self.shared.tasks.lock().expect("task list"));
        for task in tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "storage task failed");
            }
        }
    }

    /// `deadline` as this storage's [`super::DeadlinePolicy`] honours it: every read and write
    /// enters here.
    fn honour(&self, deadline: Deadline) -> CallDeadline {
        self.shared.config.policy.deadline.honour(deadline)
    }

    pub(super) async fn read<T, F>(&self, deadline: Deadline, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&mut Db) -> Result<T> + Send + Sync + 'static,
    {
        let (shared, deadline) = (&self.shared, self.honour(deadline));
        shared
            .readers
            .read(
                &shared.env,
                &shared.config.policy.busy,
                deadline.until,
                read,
            )
            .await
    }

    pub(super) async fn write(&self, write: Write, deadline: Deadline) -> Result<WriteOutput> {
        let (shared, deadline) = (&self.shared, self.honour(deadline));
        match &shared.writes {
            Writes::Queue(queue) => queue.submit(&shared.env, write, deadline).await,
            Writes::Direct(direct) => {
                direct
                    .submit(
                        &shared.env,
                        &shared.config.policy.busy,
                        write,
                        deadline.until,
                    )
                    .await
            }
        }
    }
}
