//! The in-memory model of kv / ds / s3, written from the documented semantics.

use std::collections::BTreeMap;

use fazt_engine::storage::{Blob, BlobMeta, FindOptions, KvEntry, Order};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::changes::*;
use crate::query::*;
use crate::run::*;

pub(crate) const INVALID_QUERY: &str = "InvalidQuery";
pub(crate) const INVALID_ARGUMENT: &str = "InvalidArgument";
pub(crate) const DEFAULT_MIME: &str = "application/octet-stream";

#[derive(Default)]
pub(crate) struct Model {
    pub(crate) apps: [AppModel; 2],
}

#[derive(Default)]
pub(crate) struct AppModel {
    /// key → (value, expires_at)
    pub(crate) kv: BTreeMap<String, (Value, Option<i64>)>,
    /// Per collection, documents in insertion order (oldest first).
    pub(crate) docs: [Vec<Doc>; 2],
    pub(crate) blobs: BTreeMap<String, StoredBlob>,
}

#[derive(Clone, Debug)]
pub(crate) struct Doc {
    pub(crate) id: String,
    pub(crate) body: Map<String, Value>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl Doc {
    /// The document as `find` returns it.
    pub(crate) fn render(&self) -> Value {
        let mut out = self.body.clone();
        out.insert("id".into(), Value::String(self.id.clone()));
        out.insert("_createdAt".into(), Value::from(self.created_at));
        out.insert("_updatedAt".into(), Value::from(self.updated_at));
        Value::Object(out)
    }
}

pub(crate) struct StoredBlob {
    pub(crate) data: Vec<u8>,
    pub(crate) mime: String,
    pub(crate) updated_at: i64,
}

/// A kv key, s3 path or document id: non-empty, no NUL, at most 512 bytes.
pub(crate) fn check_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() || key.contains('\0') || key.len() > 512 {
        Err(INVALID_ARGUMENT)
    } else {
        Ok(())
    }
}

pub(crate) fn live(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_none_or(|at| now < at)
}

impl AppModel {
    // kv

    pub(crate) fn kv_set(
        &mut self,
        key: &str,
        value: &Value,
        ttl_ms: Option<u64>,
        now: i64,
    ) -> Reply {
        if let Err(kind) = check_key(key) {
            return Reply::Error(kind);
        }
        let expires_at = ttl_ms
            .filter(|ttl| *ttl > 0)
            .map(|ttl| now + i64::try_from(ttl).expect("small ttl"));
        self.kv.insert(key.to_owned(), (value.clone(), expires_at));
        Reply::Done
    }

    pub(crate) fn kv_get(&self, key: &str, now: i64) -> Reply {
        if let Err(kind) = check_key(key) {
            return Reply::Error(kind);
        }
        Reply::Value(
            self.kv
                .get(key)
                .filter(|(_, expires_at)| live(*expires_at, now))
                .map(|(value, _)| value.clone()),
        )
    }

    /// The answer, and whether the entry was there but expired (then the engine may
    /// still hold the row and answer either way).
    pub(crate) fn kv_delete(&mut self, key: &str, now: i64) -> (Reply, bool) {
        if let Err(kind) = check_key(key) {
            return (Reply::Error(kind), false);
        }
        match self.kv.remove(key) {
            Some((_, expires_at)) if live(expires_at, now) => (Reply::Existed(true), false),
            Some(_) => (Reply::Existed(false), true),
            None => (Reply::Existed(false), false),
        }
    }

    pub(crate) fn kv_list(&self, prefix: &str, now: i64) -> Reply {
        Reply::Kv(
            self.kv
                .iter()
                .filter(|(key, (_, expires_at))| key.starts_with(prefix) && live(*expires_at, now))
                .map(|(key, (value, expires_at))| KvEntry {
                    key: key.clone(),
                    value: value.clone(),
                    expires_at: *expires_at,
                })
                .collect(),
        )
    }

    // ds

    pub(crate) fn known_id(&self, coll: usize, n: usize) -> String {
        let docs = &self.docs[coll];
        if docs.is_empty() {
            "d1".to_owned()
        } else {
            docs[n % docs.len()].id.clone()
        }
    }

    /// `engine_id` is what the engine answered, used as the id of a document without
    /// one (generated ids come from the engine's seeded Rng).
    pub(crate) fn ds_insert(
        &mut self,
        coll: usize,
        doc: &Value,
        now: i64,
        engine_id: Option<&str>,
    ) -> Reply {
        let Value::Object(fields) = doc else {
            return Reply::Error(INVALID_ARGUMENT);
        };
        let docs = &mut self.docs[coll];
        let mut body = fields.clone();
        let id = match body.remove("id") {
            Some(Value::String(id)) if !id.is_empty() => id,
            // A given id is used or refused, never replaced (issue 15).
            Some(other) if !other.is_null() => return Reply::Error(INVALID_ARGUMENT),
            _ => match engine_id {
                Some(id) if !id.is_empty() && docs.iter().all(|doc| doc.id != id) => id.to_owned(),
                _ => return Reply::Id("<a fresh generated id>".into()),
            },
        };
        if let Err(kind) = check_key(&id) {
            return Reply::Error(kind);
        }
        body.remove("_createdAt");
        body.remove("_updatedAt");
        if docs.iter().any(|doc| doc.id == id) {
            return Reply::Error("DuplicateId");
        }
        docs.push(Doc {
            id: id.clone(),
            body,
            created_at: now,
            updated_at: now,
        });
        Reply::Id(id)
    }

    /// Indexes (oldest first) of the documents matching `query`.
    pub(crate) fn select(&self, coll: usize, query: &Value) -> Result<Vec<usize>, &'static str> {
        let conditions = parse_query(query)?;
        Ok(self.docs[coll]
            .iter()
            .enumerate()
            .filter(|(_, doc)| conditions.iter().all(|c| c.matches(doc)))
            .map(|(i, _)| i)
            .collect())
    }

    pub(crate) fn find(
        &self,
        coll: usize,
        query: &Value,
        options: &FindOptions,
    ) -> Result<Vec<Value>, &'static str> {
        let mut matches = self.select(coll, query)?;
        if options.order == Order::Desc {
            matches.reverse();
        }
        let offset = usize::try_from(options.offset.unwrap_or(0)).expect("small offset");
        let limit = options.limit.map_or(usize::MAX, |limit| {
            usize::try_from(limit).expect("small limit")
        });
        Ok(matches
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|i| self.docs[coll][i].render())
            .collect())
    }

    pub(crate) fn ds_find(&self, coll: usize, query: &Value, options: &FindOptions) -> Reply {
        self.find(coll, query, options)
            .map_or_else(Reply::Error, Reply::Docs)
    }

    pub(crate) fn ds_find_one(&self, coll: usize, query: &Value) -> Reply {
        let options = FindOptions {
            limit: Some(1),
            ..FindOptions::default()
        };
        self.find(coll, query, &options)
            .map_or_else(Reply::Error, |docs| Reply::Value(docs.into_iter().next()))
    }

    pub(crate) fn ds_count(&self, coll: usize, query: &Value) -> Reply {
        self.select(coll, query)
            .map_or_else(Reply::Error, |m| Reply::Count(m.len() as u64))
    }

    pub(crate) fn ds_update(
        &mut self,
        coll: usize,
        query: &Value,
        changes: &Value,
        now: i64,
    ) -> Reply {
        let matches = match self.select(coll, query) {
            Ok(matches) => matches,
            Err(kind) => return Reply::Error(kind),
        };
        let changes = match parse_changes(changes) {
            Ok(changes) => changes,
            Err(kind) => return Reply::Error(kind),
        };
        // All or nothing: one document that cannot take the changes fails the update.
        let mut updated = Vec::new();
        for &i in &matches {
            let mut body = self.docs[coll][i].body.clone();
            if let Err(kind) = changes.apply(&mut body) {
                return Reply::Error(kind);
            }
            updated.push((i, body));
        }
        for (i, body) in updated {
            let doc = &mut self.docs[coll][i];
            doc.body = body;
            doc.updated_at = now;
        }
        Reply::Count(matches.len() as u64)
    }

    pub(crate) fn ds_delete(&mut self, coll: usize, query: &Value) -> Reply {
        let matches = match self.select(coll, query) {
            Ok(matches) => matches,
            Err(kind) => return Reply::Error(kind),
        };
        let mut i = 0;
        self.docs[coll].retain(|_| {
            let keep = !matches.contains(&i);
            i += 1;
            keep
        });
        Reply::Count(matches.len() as u64)
    }

    pub(crate) fn ds_delete_oldest(&mut self, coll: usize, keep: u64) -> Reply {
        let docs = &mut self.docs[coll];
        let keep = usize::try_from(keep).expect("small keep");
        let gone = docs.len().saturating_sub(keep);
        docs.drain(..gone);
        Reply::Count(gone as u64)
    }

    // s3

    pub(crate) fn s3_put(
        &mut self,
        path: &str,
        data: &[u8],
        mime: Option<&str>,
        now: i64,
    ) -> Reply {
        if let Err(kind) = check_key(path) {
            return Reply::Error(kind);
        }
        let mime = mime.filter(|m| !m.is_empty()).unwrap_or(DEFAULT_MIME);
        self.blobs.insert(
            path.to_owned(),
            StoredBlob {
                data: data.to_vec(),
                mime: mime.to_owned(),
                updated_at: now,
            },
        );
        Reply::Done
    }

    pub(crate) fn s3_get(&self, path: &str) -> Reply {
        if let Err(kind) = check_key(path) {
            return Reply::Error(kind);
        }
        Reply::Blob(self.blobs.get(path).map(|blob| {
            Blob {
                data: blob.data.clone(),
                mime: blob.mime.clone(),
                size: blob.data.len() as u64,
                hash: Sha256::digest(&blob.data)
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect(),
            }
        }))
    }

    pub(crate) fn s3_delete(&mut self, path: &str) -> Reply {
        if let Err(kind) = check_key(path) {
            return Reply::Error(kind);
        }
        Reply::Existed(self.blobs.remove(path).is_some())
    }

    pub(crate) fn s3_list(&self, prefix: &str) -> Reply {
        Reply::Blobs(
            self.blobs
                .iter()
                .filter(|(path, _)| path.starts_with(prefix))
                .map(|(path, blob)| BlobMeta {
                    path: path.clone(),
                    mime: blob.mime.clone(),
                    size: blob.data.len() as u64,
                    updated_at: blob.updated_at,
                })
                .collect(),
        )
    }
}
