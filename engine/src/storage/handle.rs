//! The async front of the storage layer: [`Storage`] owns the connections and the
//! writer task; a [`Scope`] is one app's view with one request's deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::analytics::{AnalyticsEvent, EventBuffer};
use super::busy_timeout::ConnectionBusyTimeout;
use super::changes::Changes;
use super::connection::{ConnectionSettings, Db};
use super::direct_writes::{DirectWriters, Faults};
use super::doc_id;
use super::ds::{self, FindOptions, NewDocument, Order, Page, Selection};
use super::durability::Durability;
use super::env_vars::{self, EnvVarName};
use super::error::{Result, StorageError};
use super::kv::{self, KvEntry};
use super::limits::{check_collection, Limits};
use super::policy::{
    BackgroundWrites, BusyPolicy, CallDeadline, RequestLogWrites, StoragePolicy, WritePath,
};
use super::query::{FieldPath, Filter};
use super::readers::ReaderPool;
use super::request_log::RequestLogEntry;
use super::s3::{self, Blob, BlobMeta, NewBlob};
use super::schema::DOC_INDEX_LIST;
use super::site::{self, Site, SiteFile};
use super::usage::{self, UsageMismatch};
use super::write::{Write, WriteOutput};
use super::writer::{self, QueueOptions, WriteQueue, Writer};
use crate::env::{run_blocking, Deadline, Disk, Env, Rng, Work};
use crate::events::Event;

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
    shared: Arc<Shared>,
}

struct Shared {
    env: Env,
    config: StorageConfig,
    readers: ReaderPool,
    writes: Writes,
    /// The connection background writes use outside the queue, under
    /// [`BackgroundWrites::BypassQueue`] with group commit.
    bypass: Option<DirectWriters>,
    analytics: EventBuffer,
    indexed: Arc<RwLock<BTreeSet<String>>>,
    ids: Rng,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// The write path chosen by [`WritePath`].
enum Writes {
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
    /// Opens (creating and migrating if needed) the database at `path` and starts the
    /// writer, the kv sweep and the analytics flush on the current tokio runtime.
    pub async fn open(path: &Path, env: Env, config: StorageConfig) -> Result<Storage> {
        let policy = &config.policy;
        let bypassing = policy.background == BackgroundWrites::BypassQueue
            || policy.request_log == RequestLogWrites::PerRequest(BackgroundWrites::BypassQueue);
        let bypass_connections = match (&policy.write_path, bypassing) {
            (WritePath::GroupCommit { .. }, true) => 1,
            _ => 0,
        };
        let extra_writers = match policy.write_path {
            WritePath::GroupCommit { .. } => bypass_connections,
            WritePath::DirectPool { connections } => connections.max(1) - 1,
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
        let (mut writer_dbs, reader_dbs, indexes) =
            run_blocking(env.executor.as_ref(), move || {
                (open_connections(&opening), Work::default())
            })
            .await?;
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
                        policy.busy_timeout,
                        Faults::Ignored,
                        1,
                        opened_at,
                        config.limits.clone(),
                        indexed.clone(),
                    ));
                }
                Writes::Queue(queue)
            }
            WritePath::DirectPool { .. } => Writes::Direct(DirectWriters::new(
                writer_dbs,
                policy.busy_timeout,
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

    /// The size and shape limits of this storage (the runtime bounds storage
    /// arguments by them before copying them out of JavaScript).
    pub fn limits(&self) -> &Limits {
        &self.shared.config.limits
    }

    /// One app's storage, bounded by one request's `deadline` (as the
    /// [`super::DeadlinePolicy`] honours it: every call does).
    pub fn scope(&self, app_id: &str, deadline: Deadline) -> Scope {
        Scope {
            storage: self.clone(),
            app: Arc::from(app_id),
            deadline,
        }
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

    /// Replaces every file of `app_id` with `files` in one transaction: a failed deploy
    /// leaves the previous version serving.
    pub async fn deploy_site(
        &self,
        app_id: &str,
        files: Vec<SiteFile>,
        deadline: Deadline,
    ) -> Result<()> {
        let limits = &self.shared.config.limits;
        for file in &files {
            limits.check_key("file path", &file.path)?;
        }
        let write = Write::SiteDeploy {
            app: app_id.to_owned(),
            files,
            now_ms: self.shared.env.clock.wall_ms(),
        };
        self.write(write, deadline).await.map(drop)
    }

    /// Every deployed app.
    pub async fn sites(&self, deadline: Deadline) -> Result<Vec<Site>> {
        self.read(deadline, site::list).await
    }

    /// The files of `app_id`.
    pub async fn site_files(&self, app_id: &str, deadline: Deadline) -> Result<Vec<SiteFile>> {
        let app = app_id.to_owned();
        self.read(deadline, move |db| site::files(db, &app)).await
    }

    /// App `app_id`'s environment variables: ids and names, and values by name.
    pub async fn env_vars(
        &self,
        app_id: &str,
        deadline: Deadline,
    ) -> Result<(Vec<EnvVarName>, BTreeMap<String, String>)> {
        let app = app_id.to_owned();
        self.read(deadline, move |db| env_vars::list(db, &app))
            .await
    }

    /// The app environment variable `id` belongs to.
    pub async fn env_var_owner(&self, id: i64, deadline: Deadline) -> Result<Option<String>> {
        self.read(deadline, move |db| env_vars::owner(db, id)).await
    }

    /// Sets app `app`'s environment variable `name` (names are checked by the caller).
    pub async fn env_set(
        &self,
        app: &str,
        name: &str,
        value: &str,
        deadline: Deadline,
    ) -> Result<()> {
        let (app, name, value) = (app.to_owned(), name.to_owned(), value.to_owned());
        let write = Write::EnvSet { app, name, value };
        self.write(write, deadline).await.map(drop)
    }

    /// Deletes environment variable `id`; whether it existed.
    pub async fn env_delete(&self, id: i64, deadline: Deadline) -> Result<bool> {
        let deleted = self.write(Write::EnvDelete { id }, deadline).await?;
        Ok(deleted == WriteOutput::Existed(true))
    }

    /// `deadline` as this storage's [`super::DeadlinePolicy`] honours it: every read and write
    /// enters here.
    fn honour(&self, deadline: Deadline) -> CallDeadline {
        self.shared.config.policy.deadline.honour(deadline)
    }

    async fn read<T, F>(&self, deadline: Deadline, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&mut Db) -> Result<T> + Send + Sync + 'static,
    {
        let (shared, deadline) = (&self.shared, self.honour(deadline));
        shared
            .readers
            .read(&shared.env, &shared.config.policy.busy, deadline.until, read)
            .await
    }

    async fn write(&self, write: Write, deadline: Deadline) -> Result<WriteOutput> {
        let (shared, deadline) = (&self.shared, self.honour(deadline));
        match &shared.writes {
            Writes::Queue(queue) => queue.submit(&shared.env, write, deadline).await,
            Writes::Direct(direct) => {
                direct
                    .submit(&shared.env, &shared.config.policy.busy, write, deadline.until)
                    .await
            }
        }
    }

    /// Apps whose recorded storage usage differs from what their data adds up to: empty
    /// unless the usage triggers have a bug. A full scan, for tests and invariants.
    pub async fn usage_mismatches(&self, deadline: Deadline) -> Result<Vec<UsageMismatch>> {
        self.read(deadline, usage::mismatches).await
    }

    /// Buffers one HTTP request's analytics event; the flusher writes it out later.
    pub fn record_request(&self, event: AnalyticsEvent) {
        let batch = self.shared.config.policy.analytics.flush_events;
        self.shared.analytics.push(event, batch);
    }

    /// Persists one request's log row when the policy says so
    /// ([`RequestLogWrites::PerRequest`]): written in the background, as fazt's request
    /// logger did, so the request does not wait for it; a failed row is dropped.
    pub fn log_request(&self, entry: RequestLogEntry) {
        let RequestLogWrites::PerRequest(path) = self.shared.config.policy.request_log else {
            return;
        };
        let storage = self.clone();
        tokio::spawn(async move {
            match storage
                .write_background(path, Write::RequestLog { entry })
                .await
            {
                Ok(_) | Err(StorageError::Closed) => {}
                Err(error) => {
                    storage
                        .shared
                        .env
                        .recorder
                        .emit(Event::RequestLogWriteFailed { kind: error.kind() });
                }
            }
        });
    }

    /// Analytics events not yet written.
    pub fn analytics_buffered(&self) -> usize {
        self.shared.analytics.waiting()
    }

    /// A background write (analytics flush, kv sweep, request log) by `path`: through
    /// the write path, or on the bypass connection, in its own DEFERRED transaction
    /// with no retry (fazt's analytics writer logged a failed batch and dropped it).
    async fn write_background(&self, path: BackgroundWrites, write: Write) -> Result<WriteOutput> {
        let bypass = match path {
            BackgroundWrites::BypassQueue => self.shared.bypass.as_ref(),
            BackgroundWrites::ThroughQueue => None,
        };
        match bypass {
            Some(bypass) => {
                bypass
                    .submit(
                        &self.shared.env,
                        &BusyPolicy::FailFast,
                        write,
                        Deadline::NONE,
                    )
                    .await
            }
            None => self.write(write, Deadline::NONE).await,
        }
    }

    /// Writes the analytics buffer out every `flush_interval`, or as soon as a batch is
    /// full, one batch per transaction. A failed batch is dropped. Events still
    /// buffered at shutdown are dropped too (they were never acknowledged to anyone).
    async fn flush_analytics(self, mut shutdown: watch::Receiver<bool>) {
        let flush = self.shared.config.policy.analytics;
        let buffer = &self.shared.analytics;
        loop {
            let sleep = self.shared.env.clock.sleep(flush.flush_interval);
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = buffer.full.notified() => {}
                () = sleep => {}
            }
            loop {
                let events = buffer.take(flush.flush_events);
                if events.is_empty() {
                    break;
                }
                let n = events.len();
                let background = self.shared.config.policy.background;
                let bypass = matches!(
                    (background, &self.shared.bypass),
                    (BackgroundWrites::BypassQueue, Some(_))
                );
                match self
                    .write_background(background, Write::AnalyticsBatch { events })
                    .await
                {
                    Ok(_) => self
                        .shared
                        .env
                        .recorder
                        .emit(Event::AnalyticsFlushed { events: n, bypass }),
                    Err(StorageError::Closed) => return,
                    Err(error) => {
                        self.shared.env.recorder.emit(Event::AnalyticsFlushFailed {
                            events: n,
                            bypass,
                            kind: error.kind(),
                        });
                        tracing::warn!(%error, events = n, "analytics flush failed; batch dropped");
                    }
                }
                if buffer.waiting() < flush.flush_events {
                    break;
                }
            }
        }
    }

    /// Deletes expired kv entries every `kv_sweep_interval`, as background writes.
    async fn sweep_expired_kv(self, mut shutdown: watch::Receiver<bool>) {
        let interval = self.shared.config.policy.kv_sweep_interval;
        loop {
            let sleep = self.shared.env.clock.sleep(interval);
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = sleep => {}
            }
            loop {
                let now_ms = self.shared.env.clock.wall_ms();
                let background = self.shared.config.policy.background;
                match self
                    .write_background(background, Write::KvSweep { now_ms })
                    .await
                {
                    Ok(WriteOutput::Count(n)) if n >= super::write::KV_SWEEP_BATCH => continue,
                    Ok(_) => break,
                    Err(StorageError::Closed) => return,
                    Err(error) => {
                        tracing::warn!(%error, "kv sweep failed");
                        break;
                    }
                }
            }
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

/// One app's storage under one request's deadline: the kv / ds / s3 API.
#[derive(Clone)]
pub struct Scope {
    storage: Storage,
    app: Arc<str>,
    deadline: Deadline,
}

impl Scope {
    pub fn app_id(&self) -> &str {
        &self.app
    }

    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    fn limits(&self) -> &Limits {
        &self.storage.shared.config.limits
    }

    fn now_ms(&self) -> i64 {
        self.storage.shared.env.clock.wall_ms()
    }

    fn filter(&self, query: &Value) -> Result<Filter> {
        Filter::parse(query, self.limits())
    }

    fn indexed(&self) -> BTreeSet<String> {
        self.storage
            .shared
            .indexed
            .read()
            .expect("index set")
            .clone()
    }

    async fn read<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&mut Db) -> Result<T> + Send + Sync + 'static,
    {
        self.storage.read(self.deadline, read).await
    }

    async fn write(&self, write: Write) -> Result<WriteOutput> {
        self.storage.write(write, self.deadline).await
    }

    /// Bytes the app stores now, as its quota counts them
    /// ([`Limits::app_quota_bytes`]).
    pub async fn usage_bytes(&self) -> Result<u64> {
        let app = self.app.clone();
        self.read(move |db| usage::app_bytes(db, &app)).await
    }

    // ----- kv -----

    /// The value at `key`, or `None` when missing or expired.
    pub async fn kv_get(&self, key: &str) -> Result<Option<Value>> {
        self.limits().check_key("key", key)?;
        let (app, key, now_ms) = (self.app.clone(), key.to_owned(), self.now_ms());
        self.read(move |db| kv::get(db, &app, &key, now_ms)).await
    }

    /// Sets `key` to `value`; with `ttl_ms` > 0 the entry expires that long from now
    /// (`None` or 0: no expiry; JavaScript's argument is checked by [`kv::ttl_ms`]).
    /// A TTL over [`super::limits::KV_TTL_MAX_MS`] is refused.
    pub async fn kv_set(&self, key: &str, value: &Value, ttl_ms: Option<u64>) -> Result<()> {
        self.limits().check_key("key", key)?;
        let ttl_ms = ttl_ms
            .filter(|ttl| *ttl > 0)
            .map(kv::check_ttl_ms)
            .transpose()?;
        let value_json = self.limits().encode_value("value", value)?;
        let now_ms = self.now_ms();
        let expires_at =
            ttl_ms.map(|ttl| now_ms.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)));
        self.write(Write::KvSet {
            app: self.app.to_string(),
            key: key.to_owned(),
            value_json,
            expires_at,
            now_ms,
        })
        .await
        .map(drop)
    }

    /// Deletes `key`; true when it existed.
    pub async fn kv_delete(&self, key: &str) -> Result<bool> {
        self.limits().check_key("key", key)?;
        let write = Write::KvDelete {
            app: self.app.to_string(),
            key: key.to_owned(),
        };
        Ok(matches!(
            self.write(write).await?,
            WriteOutput::Existed(true)
        ))
    }

    /// Unexpired entries whose key starts with `prefix` (taken literally), by key.
    pub async fn kv_list(&self, prefix: &str) -> Result<Vec<KvEntry>> {
        let max = self.limits().find_results_max;
        let (app, prefix, now_ms) = (self.app.clone(), prefix.to_owned(), self.now_ms());
        self.read(move |db| kv::list(db, &app, &prefix, now_ms, max))
            .await
    }

    // ----- ds -----

    /// Inserts `document` into `collection`; returns its id (`document.id` when a
    /// non-empty string, else a fresh one). A duplicate id is an error.
    pub async fn ds_insert(&self, collection: &str, document: &Value) -> Result<String> {
        check_collection(collection)?;
        let (ids, now_ms) = (&self.storage.shared.ids, self.now_ms());
        let document = NewDocument::from_client(document, self.limits(), || {
            doc_id::time_ordered(now_ms, ids)
        })?;
        let id = document.id.clone();
        self.write(Write::DocInsert {
            app: self.app.to_string(),
            collection: collection.to_owned(),
            document,
            now_ms,
        })
        .await?;
        Ok(id)
    }

    /// Documents matching `query`, with `id`, `_createdAt`, `_updatedAt`.
    pub async fn ds_find(
        &self,
        collection: &str,
        query: &Value,
        options: &FindOptions,
    ) -> Result<Vec<Value>> {
        check_collection(collection)?;
        let (filter, indexed, max) = (
            self.filter(query)?,
            self.indexed(),
            self.limits().find_results_max,
        );
        let (app, collection, options) = (self.app.clone(), collection.to_owned(), options.clone());
        self.read(move |db| {
            let selection = Selection {
                app: &app,
                collection: &collection,
                filter: &filter,
                indexed: &indexed,
            };
            ds::find(db, &selection, &options, max)
        })
        .await
    }

    /// One page of matches; pass the returned cursor to get the next.
    pub async fn ds_find_page(
        &self,
        collection: &str,
        query: &Value,
        cursor: Option<&str>,
        page_size: u64,
        order: Order,
    ) -> Result<Page> {
        check_collection(collection)?;
        let page_size = page_size.clamp(1, self.limits().find_results_max as u64);
        let (filter, indexed) = (self.filter(query)?, self.indexed());
        let (app, collection, cursor) = (
            self.app.clone(),
            collection.to_owned(),
            cursor.map(str::to_owned),
        );
        self.read(move |db| {
            let selection = Selection {
                app: &app,
                collection: &collection,
                filter: &filter,
                indexed: &indexed,
            };
            ds::find_page(db, &selection, cursor.as_deref(), page_size, order)
        })
        .await
    }

    /// The document with id `selector` (a string), or the newest match of a query.
    pub async fn ds_find_one(&self, collection: &str, selector: &Value) -> Result<Option<Value>> {
        let query = match selector {
            Value::String(id) => serde_json::json!({ "id": id }),
            other => other.clone(),
        };
        let options = FindOptions {
            limit: Some(1),
            ..FindOptions::default()
        };
        Ok(self
            .ds_find(collection, &query, &options)
            .await?
            .into_iter()
            .next())
    }

    pub async fn ds_count(&self, collection: &str, query: &Value) -> Result<u64> {
        check_collection(collection)?;
        let (filter, indexed) = (self.filter(query)?, self.indexed());
        let (app, collection) = (self.app.clone(), collection.to_owned());
        self.read(move |db| {
            let selection = Selection {
                app: &app,
                collection: &collection,
                filter: &filter,
                indexed: &indexed,
            };
            ds::count(db, &selection)
        })
        .await
    }

    /// Applies `changes` (`$set`, `$unset`, `$inc`, or plain fields) to every match;
    /// returns how many documents changed.
    pub async fn ds_update(&self, collection: &str, query: &Value, changes: &Value) -> Result<u64> {
        check_collection(collection)?;
        let write = Write::DocUpdate {
            app: self.app.to_string(),
            collection: collection.to_owned(),
            filter: self.filter(query)?,
            changes: Changes::parse(changes, self.limits())?,
            now_ms: self.now_ms(),
        };
        count(self.write(write).await?)
    }

    /// Deletes every match (`{}` deletes all); returns how many.
    pub async fn ds_delete(&self, collection: &str, query: &Value) -> Result<u64> {
        check_collection(collection)?;
        let write = Write::DocDelete {
            app: self.app.to_string(),
            collection: collection.to_owned(),
            filter: self.filter(query)?,
        };
        count(self.write(write).await?)
    }

    /// Deletes all but the newest `keep` documents; returns how many went.
    pub async fn ds_delete_oldest(&self, collection: &str, keep: u64) -> Result<u64> {
        check_collection(collection)?;
        let write = Write::DocDeleteOldest {
            app: self.app.to_string(),
            collection: collection.to_owned(),
            keep,
        };
        count(self.write(write).await?)
    }

    /// Creates an expression index on `field` (dotted path) for every collection, so
    /// queries on it stop scanning.
    pub async fn ds_create_index(&self, field: &str) -> Result<()> {
        let field = FieldPath::parse(field, self.limits())?;
        self.write(Write::DocCreateIndex { field }).await.map(drop)
    }

    // ----- s3 -----

    /// Stores `data` at `path` with `mime` (default `application/octet-stream`).
    pub async fn s3_put(&self, path: &str, data: Vec<u8>, mime: Option<&str>) -> Result<()> {
        self.limits().check_key("path", path)?;
        let limits = self.limits();
        limits.check_size("blob", data.len(), limits.blob_bytes_max)?;
        self.write(Write::BlobPut {
            app: self.app.to_string(),
            path: path.to_owned(),
            blob: NewBlob::new(data, mime),
            now_ms: self.now_ms(),
        })
        .await
        .map(drop)
    }

    pub async fn s3_get(&self, path: &str) -> Result<Option<Blob>> {
        self.limits().check_key("path", path)?;
        let (app, path) = (self.app.clone(), path.to_owned());
        self.read(move |db| s3::get(db, &app, &path)).await
    }

    pub async fn s3_delete(&self, path: &str) -> Result<bool> {
        self.limits().check_key("path", path)?;
        let write = Write::BlobDelete {
            app: self.app.to_string(),
            path: path.to_owned(),
        };
        Ok(matches!(
            self.write(write).await?,
            WriteOutput::Existed(true)
        ))
    }

    pub async fn s3_list(&self, prefix: &str) -> Result<Vec<BlobMeta>> {
        let max = self.limits().find_results_max;
        let (app, prefix) = (self.app.clone(), prefix.to_owned());
        self.read(move |db| s3::list(db, &app, &prefix, max)).await
    }
}

fn count(output: WriteOutput) -> Result<u64> {
    match output {
        WriteOutput::Count(n) => Ok(n),
        other => unreachable!("a counting write answered {other:?}"),
    }
}
