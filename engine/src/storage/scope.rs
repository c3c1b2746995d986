//! One app's storage under one request's deadline: the kv / ds / s3 API handlers call.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::changes::Changes;
use super::connection::Db;
use super::doc_id;
use super::ds::{self, FindOptions, NewDocument, Order, Page, Selection};
use super::error::Result;
use super::handle::Storage;
use super::kv::{self, KvEntry};
use super::limits::{check_collection, Limits};
use super::query::{FieldPath, Filter};
use super::s3::{self, Blob, BlobMeta, NewBlob};
use super::usage;
use super::write::{Write, WriteOutput};
use crate::env::Deadline;

impl Storage {
    /// One app's storage, bounded by one request's `deadline` (as the
    /// [`super::DeadlinePolicy`] honours it: every call does).
    pub fn scope(&self, app_id: &str, deadline: Deadline) -> Scope {
        Scope {
            storage: self.clone(),
            app: Arc::from(app_id),
            deadline,
        }
    }
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
