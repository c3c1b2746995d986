//! The writes that go through the write queue, and how each is applied inside the
//! writer's transaction.

use std::collections::BTreeSet;

use super::analytics::{self, AnalyticsEvent};
use super::changes::Changes;
use super::connection::Db;
use super::ds::{self, NewDocument, Selection};
use super::env_vars;
use super::error::Result;
use super::kv;
use super::limits::Limits;
use super::query::{FieldPath, Filter};
use super::request_log::{self, RequestLogEntry};
use super::s3::{self, NewBlob};
use super::site::{self, SiteFile};

/// Expired kv entries deleted per sweep transaction.
pub const KV_SWEEP_BATCH: u64 = 1000;

/// One write, fully validated and encoded by the caller before it is queued, so the
/// writer does no parsing and a bad write never occupies a queue slot.
pub enum Write {
    KvSet {
        app: String,
        key: String,
        value_json: String,
        expires_at: Option<i64>,
        now_ms: i64,
    },
    KvDelete {
        app: String,
        key: String,
    },
    KvSweep {
        now_ms: i64,
    },
    DocInsert {
        app: String,
        collection: String,
        document: NewDocument,
        now_ms: i64,
    },
    DocUpdate {
        app: String,
        collection: String,
        filter: Filter,
        changes: Changes,
        now_ms: i64,
    },
    DocDelete {
        app: String,
        collection: String,
        filter: Filter,
    },
    DocDeleteOldest {
        app: String,
        collection: String,
        keep: u64,
    },
    DocCreateIndex {
        field: FieldPath,
    },
    BlobPut {
        app: String,
        path: String,
        blob: NewBlob,
        now_ms: i64,
    },
    BlobDelete {
        app: String,
        path: String,
    },
    SiteDeploy {
        app: String,
        files: Vec<SiteFile>,
        now_ms: i64,
    },
    /// A batch of the analytics buffer.
    AnalyticsBatch {
        events: Vec<AnalyticsEvent>,
    },
    /// One request's row of the persisted request log.
    RequestLog {
        entry: RequestLogEntry,
    },
    /// Sets an app environment variable (the value is a secret: never in a trace).
    EnvSet {
        app: String,
        name: String,
        value: String,
    },
    EnvDelete {
        id: i64,
    },
}

/// What an applied write returns to its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutput {
    Done,
    /// Whether the deleted entry existed.
    Existed(bool),
    /// Rows affected.
    Count(u64),
}

/// What the writer's transaction gives each write.
pub struct ApplyContext<'a> {
    pub limits: &'a Limits,
    pub indexed: &'a BTreeSet<String>,
}

impl Write {
    /// True when the write is one SQL statement, which SQLite applies whole or not at
    /// all (a failed statement is rolled back by itself): it needs no savepoint of its
    /// own in a group's transaction.
    pub fn is_one_statement(&self) -> bool {
        matches!(
            self,
            Write::KvSet { .. } | Write::KvDelete { .. } | Write::DocInsert { .. }
        )
    }

    /// A short name for traces and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Write::KvSet { .. } => "kv.set",
            Write::KvDelete { .. } => "kv.delete",
            Write::KvSweep { .. } => "kv.sweep",
            Write::DocInsert { .. } => "ds.insert",
            Write::DocUpdate { .. } => "ds.update",
            Write::DocDelete { .. } => "ds.delete",
            Write::DocDeleteOldest { .. } => "ds.deleteOldest",
            Write::DocCreateIndex { .. } => "ds.createIndex",
            Write::BlobPut { .. } => "s3.put",
            Write::BlobDelete { .. } => "s3.delete",
            Write::SiteDeploy { .. } => "deploy",
            Write::AnalyticsBatch { .. } => "analytics.flush",
            Write::RequestLog { .. } => "request_log.insert",
            Write::EnvSet { .. } => "env.set",
            Write::EnvDelete { .. } => "env.delete",
        }
    }

    /// Applies the write on the writer's connection, inside its savepoint.
    pub fn apply(&self, db: &mut Db, context: &ApplyContext) -> Result<WriteOutput> {
        match self {
            Write::KvSet {
                app,
                key,
                value_json,
                expires_at,
                now_ms,
            } => {
                kv::set(db, app, key, value_json, *expires_at, *now_ms).map(|()| WriteOutput::Done)
            }
            Write::KvDelete { app, key } => kv::delete(db, app, key).map(WriteOutput::Existed),
            Write::KvSweep { now_ms } => {
                kv::sweep(db, *now_ms, KV_SWEEP_BATCH).map(WriteOutput::Count)
            }
            Write::DocInsert {
                app,
                collection,
                document,
                now_ms,
            } => ds::insert(db, app, collection, document, *now_ms).map(|()| WriteOutput::Done),
            Write::DocUpdate {
                app,
                collection,
                filter,
                changes,
                now_ms,
            } => {
                let selection = Selection {
                    app,
                    collection,
                    filter,
                    indexed: context.indexed,
                };
                ds::update(db, &selection, changes, context.limits, *now_ms).map(WriteOutput::Count)
            }
            Write::DocDelete {
                app,
                collection,
                filter,
            } => {
                let selection = Selection {
                    app,
                    collection,
                    filter,
                    indexed: context.indexed,
                };
                ds::delete(db, &selection).map(WriteOutput::Count)
            }
            Write::DocDeleteOldest {
                app,
                collection,
                keep,
            } => ds::delete_oldest(db, app, collection, *keep).map(WriteOutput::Count),
            Write::DocCreateIndex { field } => {
                ds::create_index(db, field).map(|()| WriteOutput::Done)
            }
            Write::BlobPut {
                app,
                path,
                blob,
                now_ms,
            } => s3::put(db, app, path, blob, *now_ms).map(|()| WriteOutput::Done),
            Write::BlobDelete { app, path } => s3::delete(db, app, path).map(WriteOutput::Existed),
            Write::SiteDeploy { app, files, now_ms } => {
                site::deploy(db, app, files, *now_ms).map(|()| WriteOutput::Done)
            }
            Write::AnalyticsBatch { events } => {
                analytics::insert(db, events).map(WriteOutput::Count)
            }
            Write::RequestLog { entry } => {
                request_log::insert(db, entry).map(|()| WriteOutput::Done)
            }
            Write::EnvSet { app, name, value } => {
                env_vars::set(db, app, name, value).map(|()| WriteOutput::Done)
            }
            Write::EnvDelete { id } => env_vars::delete(db, *id).map(WriteOutput::Existed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_one_statement` lets a write skip its savepoint: each such write must run
    /// exactly one statement, successful or not (every statement is counted).
    #[test]
    fn one_statement_writes_run_one_statement() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("x.db")).unwrap();
        db.migrate().unwrap();
        let (limits, indexed) = (Limits::default(), BTreeSet::new());
        let context = ApplyContext {
            limits: &limits,
            indexed: &indexed,
        };
        let insert = || Write::DocInsert {
            app: "a".into(),
            collection: "c".into(),
            document: NewDocument {
                id: "d1".into(),
                body: r#"{"session":"s"}"#.into(),
                session: Some("s".into()),
            },
            now_ms: 1,
        };
        let writes = [
            Write::KvSet {
                app: "a".into(),
                key: "k".into(),
                value_json: "1".into(),
                expires_at: Some(5),
                now_ms: 1,
            },
            Write::KvDelete {
                app: "a".into(),
                key: "k".into(),
            },
            insert(),
            // A duplicate id: the statement fails, and leaves nothing behind.
            insert(),
        ];
        let mut failed = 0;
        for write in &writes {
            assert!(write.is_one_statement(), "{}", write.name());
            let before = db.work();
            failed += usize::from(write.apply(&mut db, &context).is_err());
            assert_eq!(db.work_since(before).statements, 1, "{}", write.name());
        }
        assert_eq!(failed, 1, "the duplicate");
        let documents: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM app_docs", [], |row| row.get(0))
            .unwrap();
        assert_eq!(documents, 1);
    }
}
