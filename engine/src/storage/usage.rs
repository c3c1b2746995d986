//! Bytes stored per app, against the app quota ([`super::Limits::app_quota_bytes`]).
//!
//! The `app_usage` table is kept by triggers in the transaction of every change to kv,
//! documents and blobs (migration 5 in `schema.rs`); each writer connection enforces the
//! quota with TEMP triggers on it (`Db::enforce_app_quota`). Nothing here writes.

use rusqlite::OptionalExtension;

use super::connection::Db;
use super::error::Result;
use super::schema::{APP_USAGE, APP_USAGE_RECOUNT};

/// An app whose recorded usage differs from its data: a bug in the usage triggers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageMismatch {
    pub app: String,
    /// What `app_usage` holds (0 without a row).
    pub recorded: u64,
    /// What the app's rows add up to.
    pub counted: u64,
}

/// The bytes `app` stores, as its quota counts them.
pub fn app_bytes(db: &mut Db, app: &str) -> Result<u64> {
    db.count_statement();
    let bytes: Option<i64> = db
        .conn()
        .prepare_cached(APP_USAGE)?
        .query_row([app], |row| row.get(0))
        .optional()?;
    Ok(bytes.map_or(0, to_u64))
}

/// Every app whose recorded usage is not what its rows add up to (a full scan: for
/// tests and invariant checks, not for serving).
pub fn mismatches(db: &mut Db) -> Result<Vec<UsageMismatch>> {
    db.count_statements(2);
    let counted: Vec<(String, i64)> = db
        .conn()
        .prepare(APP_USAGE_RECOUNT)?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let recorded: Vec<(String, i64)> = db
        .conn()
        .prepare("SELECT app_id, bytes FROM app_usage WHERE bytes <> 0 ORDER BY app_id")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let lookup = |rows: &[(String, i64)], app: &str| {
        rows.iter()
            .find(|(id, _)| id == app)
            .map_or(0, |(_, bytes)| to_u64(*bytes))
    };
    let mut apps: Vec<&str> = counted
        .iter()
        .chain(&recorded)
        .map(|(app, _)| app.as_str())
        .collect();
    apps.sort_unstable();
    apps.dedup();
    Ok(apps
        .into_iter()
        .map(|app| UsageMismatch {
            app: app.to_owned(),
            recorded: lookup(&recorded, app),
            counted: lookup(&counted, app),
        })
        .filter(|m| m.recorded != m.counted)
        .collect())
}

/// A stored byte count (never negative while the triggers are right).
fn to_u64(bytes: i64) -> u64 {
    u64::try_from(bytes).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::storage::ds::NewDocument;
    use crate::storage::error::StorageError;
    use crate::storage::limits::Limits;
    use crate::storage::query::Filter;
    use crate::storage::s3::NewBlob;
    use crate::storage::schema::MIGRATIONS;
    use crate::storage::write::{ApplyContext, Write};

    fn db(dir: &tempfile::TempDir) -> Db {
        let mut db = Db::open(&dir.path().join("usage.db")).unwrap();
        db.migrate().unwrap();
        db
    }

    fn kv_set(app: &str, key: &str, value: &str, expires_at: Option<i64>) -> Write {
        Write::KvSet {
            app: app.into(),
            key: key.into(),
            value_json: value.into(),
            expires_at,
            now_ms: 1,
        }
    }

    fn apply(db: &mut Db, write: &Write) -> Result<()> {
        let (limits, indexed) = (Limits::default(), BTreeSet::new());
        let context = ApplyContext {
            limits: &limits,
            indexed: &indexed,
        };
        write.apply(db, &context).map(drop)
    }

    /// Every kind of change, several of one app in one transaction as a group commit
    /// makes them: the recorded bytes stay what the rows add up to.
    #[test]
    fn usage_follows_every_change_in_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = db(&dir);
        let doc = |id: &str, body: &str| Write::DocInsert {
            app: "a".into(),
            collection: "c".into(),
            document: NewDocument {
                id: id.into(),
                body: body.into(),
                session: None,
            },
            now_ms: 1,
        };
        let filter = Filter::parse(&serde_json::json!({"id": "d1"}), &Limits::default()).unwrap();
        db.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
        let writes = [
            kv_set("a", "k1", "\"ünïcode\"", None),
            kv_set("a", "k2", "[1,2,3]", Some(5)),
            kv_set("a", "k1", "1", None),
            kv_set("b", "k1", "\"other app\"", None),
            doc("d1", r#"{"n":1}"#),
            doc("d2", r#"{"n":2}"#),
            Write::DocUpdate {
                app: "a".into(),
                collection: "c".into(),
                filter: filter.clone(),
                changes: crate::storage::changes::Changes::parse(
                    &serde_json::json!({"$set": {"text": "longer now"}}),
                    &Limits::default(),
                )
                .unwrap(),
                now_ms: 2,
            },
            Write::BlobPut {
                app: "a".into(),
                path: "p".into(),
                blob: NewBlob::new(vec![7; 1000], None),
                now_ms: 1,
            },
            Write::BlobPut {
                app: "a".into(),
                path: "p".into(),
                blob: NewBlob::new(vec![7; 10], None),
                now_ms: 2,
            },
        ];
        for write in &writes {
            apply(&mut db, write).unwrap();
        }
        db.conn().execute_batch("COMMIT").unwrap();
        assert_eq!(mismatches(&mut db).unwrap(), vec![]);
        // k1 + 1, k2 + [1,2,3], c d1 + body, c d2 + body, p + 10 bytes.
        let d1 = r#"{"n":1,"text":"longer now"}"#.len() as u64;
        let want = 3 + 9 + (1 + 2 + d1) + (1 + 2 + 7) + (1 + 10);
        assert_eq!(app_bytes(&mut db, "a").unwrap(), want);
        assert_eq!(
            app_bytes(&mut db, "b").unwrap(),
            2 + "\"other app\"".len() as u64
        );
        // Deletes, the TTL sweep, the oldest documents going: all subtract.
        crate::storage::kv::sweep(&mut db, 10, 100).unwrap();
        for write in [
            Write::KvDelete {
                app: "a".into(),
                key: "k1".into(),
            },
            Write::DocDelete {
                app: "a".into(),
                collection: "c".into(),
                filter,
            },
            Write::DocDeleteOldest {
                app: "a".into(),
                collection: "c".into(),
                keep: 0,
            },
            Write::BlobDelete {
                app: "a".into(),
                path: "p".into(),
            },
        ] {
            apply(&mut db, &write).unwrap();
        }
        assert_eq!(app_bytes(&mut db, "a").unwrap(), 0);
        assert_eq!(mismatches(&mut db).unwrap(), vec![]);
    }

    /// A write taking the app over its quota is undone whole, even a one-statement
    /// write without a savepoint inside a larger transaction; shrinking always passes.
    #[test]
    fn the_quota_trigger_undoes_only_the_write_over_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = db(&dir);
        db.enforce_app_quota(20).unwrap();
        db.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
        apply(&mut db, &kv_set("a", "k1", "\"0123456\"", None)).unwrap(); // 11
        let over = apply(&mut db, &kv_set("a", "k2", "\"0123456\"", None)).unwrap_err();
        assert!(
            matches!(over, StorageError::QuotaExceeded { quota_bytes: 20 }),
            "{over}"
        );
        assert!(!over.retryable());
        apply(&mut db, &kv_set("b", "k2", "\"0123456\"", None)).unwrap();
        apply(&mut db, &kv_set("a", "k1", "1", None)).unwrap(); // 3
        apply(&mut db, &kv_set("a", "k2", "\"0123456\"", None)).unwrap(); // 14
        db.conn().execute_batch("COMMIT").unwrap();
        assert_eq!(app_bytes(&mut db, "a").unwrap(), 14);
        assert_eq!(mismatches(&mut db).unwrap(), vec![]);
        // A lower quota later: the app keeps its data, may shrink, may not grow.
        db.enforce_app_quota(5).unwrap();
        apply(&mut db, &kv_set("a", "k2", "\"012\"", None)).unwrap();
        assert!(apply(&mut db, &kv_set("a", "k3", "1", None)).is_err());
        assert_eq!(app_bytes(&mut db, "a").unwrap(), 10);
    }

    /// A database from before the usage table: migrating counts what is there.
    #[test]
    fn migration_counts_existing_data() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("old.db")).unwrap();
        for migration in &MIGRATIONS[..4] {
            db.conn().execute_batch(migration).unwrap();
        }
        db.conn()
            .execute_batch(
                "PRAGMA user_version = 4;
                INSERT INTO app_kv VALUES ('a', 'k', '\"v\"', NULL, 1, 1);
                INSERT INTO app_docs (app_id, collection, id, data, created_at, updated_at)
                    VALUES ('a', 'c', 'd', '{}', 1, 1);
                INSERT INTO app_blobs VALUES ('b', 'p', x'0102', 'x', 2, 'h', 1, 1);",
            )
            .unwrap();
        let mut db = db;
        db.migrate().unwrap();
        assert_eq!(app_bytes(&mut db, "a").unwrap(), 1 + 3 + 1 + 1 + 2);
        assert_eq!(app_bytes(&mut db, "b").unwrap(), 1 + 2);
        assert_eq!(mismatches(&mut db).unwrap(), vec![]);
    }
}
