//! Opening the storage: the connections (writer, extra writers, readers) on the Env's
//! disk, the write path the policy chooses, and the background tasks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use super::analytics::EventBuffer;
use super::busy_timeout::ConnectionBusyTimeout;
use super::connection::Db;
use super::direct_writes::{DirectWriters, Faults, PoolPolicy};
use super::durability::Durability;
use super::error::Result;
use super::handle::{Shared, Storage, StorageConfig, Writes};
use super::policy::{BackgroundWrites, RequestLogWrites, WritePath};
use super::readers::ReaderPool;
use super::schema::DOC_INDEX_LIST;
use super::writer::{self, QueueOptions, Writer};
use crate::env::{run_blocking, Disk, Env, Work};

/// How long opening waits for a write lock another process holds (a `sqlite3` shell,
/// a backup) before it gives up: the migration and the connections' triggers write.
pub const OPEN_BUSY_WAIT: Duration = Duration::from_secs(30);

/// The longest pause between two tries while another process holds the lock (the
/// pauses double from 1 ms up to it).
const OPEN_BUSY_PAUSE_MAX: Duration = Duration::from_millis(100);

impl Storage {
    /// Opens (creating and migrating if needed) the database at `path` and starts the
    /// writer, the kv sweep and the analytics flush on the current tokio runtime. While
    /// another process holds the write lock, it tries again on the Clock for up to
    /// [`OPEN_BUSY_WAIT`], then fails with SQLITE_BUSY.
    pub async fn open(path: &Path, env: Env, config: StorageConfig) -> Result<Storage> {
        let policy = &config.policy;
        let bypassing = policy.background == BackgroundWrites::BypassQueue
            || matches!(
                policy.request_log,
                RequestLogWrites::PerRequest(BackgroundWrites::BypassQueue)
                    | RequestLogWrites::PerLogEntry(BackgroundWrites::BypassQueue)
            );
        let bypass_connections = match (&policy.write_path, bypassing) {
            (WritePath::GroupCommit { .. }, true) => 1,
            _ => 0,
        };
        let extra_writers = match policy.write_path {
            WritePath::GroupCommit { .. } => bypass_connections,
            WritePath::DirectPool { connections, .. } => connections.max(1) - 1,
        };
        config.limits.validate()?;
        let opening = Opening {
            path: path.to_owned(),
            readers: config.policy.readers.max(1),
            extra_writers,
            checkpoint_pages: config.policy.checkpoint_pages,
            durability: config.policy.durability,
            app_quota_bytes: config.limits.app_quota_bytes,
            disk: env.disk.clone(),
        };
        let (mut writer_dbs, reader_dbs, indexes) = open_waiting_out_locks(&env, opening).await?;
        let indexed = Arc::new(RwLock::new(indexes));
        let (shutdown, shutdown_signal) = watch::channel(false);
        let mut tasks = Vec::new();
        let (policy, opened_at) = (&config.policy, env.clock.now());
        let mut bypass = None;
        let writes = match policy.write_path {
            WritePath::GroupCommit {
                queue_depth,
                batch_max,
            } => {
                let writer = Writer {
                    env: env.for_component("storage-writer"),
                    db: Arc::new(Mutex::new(writer_dbs.remove(0))),
                    begin: policy.begin,
                    busy: policy.busy.clone(),
                    busy_timeout: ConnectionBusyTimeout::new(policy.busy_timeout, 0, opened_at),
                    limits: config.limits.clone(),
                    indexed: indexed.clone(),
                };
                let options = QueueOptions {
                    depth: queue_depth,
                    batch_max,
                    admission: policy.admission,
                };
                let (queue, writer_task) = writer::start(writer, options, shutdown_signal.clone());
                tasks.push(tokio::spawn(writer_task));
                if !writer_dbs.is_empty() {
                    bypass = Some(DirectWriters::new(
                        writer_dbs,
                        PoolPolicy {
                            begin: policy.begin,
                            max_idle: usize::MAX,
                            pragma: policy.busy_timeout,
                        },
                        Faults::Ignored,
                        1,
                        opened_at,
                        config.limits.clone(),
                        indexed.clone(),
                    ));
                }
                Writes::Queue(queue)
            }
            WritePath::DirectPool { max_idle, .. } => Writes::Direct(DirectWriters::new(
                writer_dbs,
                PoolPolicy {
                    begin: policy.begin,
                    max_idle,
                    pragma: policy.busy_timeout,
                },
                Faults::Armed,
                0,
                opened_at,
                config.limits.clone(),
                indexed.clone(),
            )),
        };
        let storage = Storage {
            shared: Arc::new(Shared {
                ids: env.rng.split("storage-ids"),
                readers: ReaderPool::new(reader_dbs),
                env: env.for_component("storage"),
                config,
                writes,
                bypass,
                analytics: EventBuffer::default(),
                indexed,
                shutdown,
                tasks: Mutex::new(Vec::new()),
            }),
        };
        tasks.push(tokio::spawn(
            storage.clone().sweep_expired_kv(shutdown_signal.clone()),
        ));
        tasks.push(tokio::spawn(
            storage.clone().flush_analytics(shutdown_signal),
        ));
        *storage.shared.tasks.lock().expect("task list") = tasks;
        Ok(storage)
    }
}

/// [`open_connections`], tried again while SQLite answers BUSY, up to
/// [`OPEN_BUSY_WAIT`] (the tries are idempotent: the migration is one transaction).
async fn open_waiting_out_locks(
    env: &Env,
    opening: Opening,
) -> Result<(Vec<Db>, Vec<Db>, BTreeSet<String>)> {
    let opening = Arc::new(opening);
    let give_up_at = env.clock.now() + OPEN_BUSY_WAIT;
    let mut pause = Duration::from_millis(1);
    loop {
        let this_try = opening.clone();
        let opened = run_blocking(env.executor.as_ref(), move || {
            (open_connections(&this_try), Work::default())
        })
        .await;
        match opened {
            Err(error) if error.is_sqlite_busy() && env.clock.now() + pause <= give_up_at => {
                env.clock.sleep(pause).await;
                pause = (pause * 2).min(OPEN_BUSY_PAUSE_MAX);
            }
            opened => return opened,
        }
    }
}

/// What [`open_connections`] opens.
struct Opening {
    path: PathBuf,
    readers: usize,
    extra_writers: usize,
    checkpoint_pages: u32,
    durability: Durability,
    app_quota_bytes: u64,
    disk: Disk,
}

/// The writer (migrated) and `extra_writers` more writer connections, each checkpointing
/// past `checkpoint_pages`, syncing as `durability` says and enforcing the app quota,
/// the readers, and the expression indexes, all on the Env's disk.
fn open_connections(opening: &Opening) -> Result<(Vec<Db>, Vec<Db>, BTreeSet<String>)> {
    let (path, disk) = (opening.path.as_path(), &opening.disk);
    let mut writer = Db::open_on(path, disk)?;
    writer.migrate()?;
    let indexes = writer
        .conn()
        .prepare(DOC_INDEX_LIST)?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut writers = vec![writer];
    for _ in 0..opening.extra_writers {
        writers.push(Db::open_on(path, disk)?);
    }
    for writer in &writers {
        writer.checkpoint_after(opening.checkpoint_pages)?;
        writer.set_durability(opening.durability)?;
        writer.enforce_app_quota(opening.app_quota_bytes)?;
    }
    let readers = (0..opening.readers)
        .map(|_| Db::open_on(path, disk))
        .collect::<Result<_>>()?;
    Ok((writers, readers, indexes))
}
