//! The database schema as versioned migrations, and the SQL the storage layer runs.

use super::error::QUOTA_RAISE_PREFIX;

/// The recount of every app's stored bytes (a macro so that migration 5 can `concat!`
/// it): what the usage triggers add and subtract, row by row.
macro_rules! usage_recount {
    () => {
        "SELECT app_id, sum(bytes) FROM (
            SELECT app_id, octet_length(key) + octet_length(value) AS bytes FROM app_kv
            UNION ALL
            SELECT app_id, octet_length(collection) + octet_length(id) + octet_length(data)
            FROM app_docs
            UNION ALL
            SELECT app_id, octet_length(path) + size_bytes FROM app_blobs
        ) GROUP BY app_id ORDER BY app_id"
    };
}

/// Migrations, applied in order; `PRAGMA user_version` records how many have run.
pub const MIGRATIONS: &[&str] = &[
    // 1: kv, documents, blobs, and the registry of expression indexes.
    "CREATE TABLE app_kv (
        app_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (app_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX app_kv_expiry ON app_kv (expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE app_docs (
        seq INTEGER PRIMARY KEY,
        app_id TEXT NOT NULL,
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        session_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (app_id, collection, id)
    );
    CREATE INDEX app_docs_session ON app_docs (app_id, collection, session_id);
    CREATE TABLE app_blobs (
        app_id TEXT NOT NULL,
        path TEXT NOT NULL,
        data BLOB NOT NULL,
        mime_type TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (app_id, path)
    ) WITHOUT ROWID;
    CREATE TABLE doc_indexes (
        field TEXT PRIMARY KEY,
        index_name TEXT NOT NULL UNIQUE
    );",
    // 2: deployed apps and their files (static files and handler code).
    "CREATE TABLE sites (
        app_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        deployed_at INTEGER NOT NULL
    );
    CREATE TABLE site_files (
        app_id TEXT NOT NULL REFERENCES sites (app_id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        data BLOB NOT NULL,
        mime_type TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (app_id, path)
    ) WITHOUT ROWID;",
    // 3: analytics events, one per HTTP request, written in batches.
    "CREATE TABLE analytics_events (
        id INTEGER PRIMARY KEY,
        app_id TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        duration_us INTEGER NOT NULL,
        at_ms INTEGER NOT NULL
    );",
    // 4: the request log fazt 0.10.10 persisted, one row per request, each its own
    // write (`RequestLogWrites::PerRequest`).
    "CREATE TABLE request_log (
        id INTEGER PRIMARY KEY,
        app_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        duration_us INTEGER NOT NULL,
        at_ms INTEGER NOT NULL
    );",
    // 5: bytes stored per app (kv keys and values, documents, blobs), kept by triggers
    // in the transaction of every change, whatever writes it (a queued write, the kv
    // sweep, a direct write), so it is right after deletes, overwrites, expiry and
    // restarts. Each writer connection adds a TEMP trigger on it that enforces the
    // quota (`Db::enforce_app_quota`). Existing data is counted once, here.
    concat!(
        "CREATE TABLE app_usage (
        app_id TEXT PRIMARY KEY,
        bytes INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO app_usage (app_id, bytes) ",
        usage_recount!(),
        ";
    CREATE TRIGGER app_kv_usage_insert AFTER INSERT ON app_kv BEGIN
        INSERT INTO app_usage (app_id, bytes)
        VALUES (NEW.app_id, octet_length(NEW.key) + octet_length(NEW.value))
        ON CONFLICT (app_id) DO UPDATE SET bytes = bytes + excluded.bytes;
    END;
    CREATE TRIGGER app_kv_usage_update AFTER UPDATE OF key, value ON app_kv BEGIN
        UPDATE app_usage SET bytes = bytes
            + octet_length(NEW.key) + octet_length(NEW.value)
            - octet_length(OLD.key) - octet_length(OLD.value)
        WHERE app_id = NEW.app_id;
    END;
    CREATE TRIGGER app_kv_usage_delete AFTER DELETE ON app_kv BEGIN
        UPDATE app_usage SET bytes = bytes - octet_length(OLD.key) - octet_length(OLD.value)
        WHERE app_id = OLD.app_id;
    END;
    CREATE TRIGGER app_docs_usage_insert AFTER INSERT ON app_docs BEGIN
        INSERT INTO app_usage (app_id, bytes)
        VALUES (NEW.app_id,
            octet_length(NEW.collection) + octet_length(NEW.id) + octet_length(NEW.data))
        ON CONFLICT (app_id) DO UPDATE SET bytes = bytes + excluded.bytes;
    END;
    CREATE TRIGGER app_docs_usage_update AFTER UPDATE OF collection, id, data ON app_docs BEGIN
        UPDATE app_usage SET bytes = bytes
            + octet_length(NEW.collection) + octet_length(NEW.id) + octet_length(NEW.data)
            - octet_length(OLD.collection) - octet_length(OLD.id) - octet_length(OLD.data)
        WHERE app_id = NEW.app_id;
    END;
    CREATE TRIGGER app_docs_usage_delete AFTER DELETE ON app_docs BEGIN
        UPDATE app_usage SET bytes = bytes
            - octet_length(OLD.collection) - octet_length(OLD.id) - octet_length(OLD.data)
        WHERE app_id = OLD.app_id;
    END;
    CREATE TRIGGER app_blobs_usage_insert AFTER INSERT ON app_blobs BEGIN
        INSERT INTO app_usage (app_id, bytes)
        VALUES (NEW.app_id, octet_length(NEW.path) + NEW.size_bytes)
        ON CONFLICT (app_id) DO UPDATE SET bytes = bytes + excluded.bytes;
    END;
    CREATE TRIGGER app_blobs_usage_update AFTER UPDATE OF path, size_bytes ON app_blobs BEGIN
        UPDATE app_usage SET bytes = bytes
            + octet_length(NEW.path) + NEW.size_bytes - octet_length(OLD.path) - OLD.size_bytes
        WHERE app_id = NEW.app_id;
    END;
    CREATE TRIGGER app_blobs_usage_delete AFTER DELETE ON app_blobs BEGIN
        UPDATE app_usage SET bytes = bytes - octet_length(OLD.path) - OLD.size_bytes
        WHERE app_id = OLD.app_id;
    END;"
    ),
    // 6: app environment variables (upstream's `env_vars`, migration 003), set through
    // the admin API.
    "CREATE TABLE app_env (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        UNIQUE (app_id, name)
    );",
];

/// One app's stored bytes (no row: nothing stored yet).
pub const APP_USAGE: &str = "SELECT bytes FROM app_usage WHERE app_id = ?1";

/// Every app's stored bytes counted from the data itself, by app: what `app_usage`
/// holds (migration 5 starts from it; tests check the triggers keep to it).
pub const APP_USAGE_RECOUNT: &str = usage_recount!();

/// The TEMP triggers that refuse a write taking an app's usage over `quota_bytes`
/// (`RAISE(ABORT)` undoes the statement, whatever fired it). A write that shrinks or
/// keeps usage passes, even over a quota lowered since the data was stored.
pub fn app_quota_triggers(quota_bytes: u64) -> String {
    let raise = format!("SELECT RAISE(ABORT, '{QUOTA_RAISE_PREFIX}{quota_bytes}')");
    format!(
        "DROP TRIGGER IF EXISTS temp.app_quota_insert;
        DROP TRIGGER IF EXISTS temp.app_quota_update;
        CREATE TEMP TRIGGER app_quota_insert AFTER INSERT ON main.app_usage
        WHEN NEW.bytes > {quota_bytes} BEGIN {raise}; END;
        CREATE TEMP TRIGGER app_quota_update AFTER UPDATE OF bytes ON main.app_usage
        WHEN NEW.bytes > {quota_bytes} AND NEW.bytes > OLD.bytes BEGIN {raise}; END;"
    )
}

pub const KV_GET: &str = "SELECT value FROM app_kv
    WHERE app_id = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)";
pub const KV_UPSERT: &str =
    "INSERT INTO app_kv (app_id, key, value, expires_at, created_at, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?5)
    ON CONFLICT (app_id, key) DO UPDATE SET
        value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at";
pub const KV_DELETE: &str = "DELETE FROM app_kv WHERE app_id = ?1 AND key = ?2";
/// Keys from `?2` (inclusive) up to `?3` (exclusive, NULL for no bound), unexpired.
pub const KV_LIST: &str = "SELECT key, value, expires_at FROM app_kv
    WHERE app_id = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3)
      AND (expires_at IS NULL OR expires_at > ?4)
    ORDER BY key LIMIT ?5";
pub const KV_SWEEP: &str = "DELETE FROM app_kv WHERE (app_id, key) IN (
    SELECT app_id, key FROM app_kv WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)";

pub const DOC_INSERT: &str = "INSERT INTO app_docs
    (app_id, collection, id, data, session_id, created_at, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";
pub const DOC_UPDATE: &str =
    "UPDATE app_docs SET data = ?2, session_id = ?3, updated_at = ?4 WHERE seq = ?1";
pub const DOC_DELETE_SEQ: &str = "DELETE FROM app_docs WHERE seq = ?1";
pub const DOC_DELETE_OLDEST: &str = "DELETE FROM app_docs
    WHERE app_id = ?1 AND collection = ?2 AND seq NOT IN (
        SELECT seq FROM app_docs WHERE app_id = ?1 AND collection = ?2
        ORDER BY seq DESC LIMIT ?3)";
pub const DOC_INDEX_LIST: &str = "SELECT field FROM doc_indexes ORDER BY field";
pub const DOC_INDEX_REGISTER: &str =
    "INSERT OR IGNORE INTO doc_indexes (field, index_name) VALUES (?1, ?2)";

pub const BLOB_UPSERT: &str = "INSERT INTO app_blobs
    (app_id, path, data, mime_type, size_bytes, hash, created_at, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
    ON CONFLICT (app_id, path) DO UPDATE SET
        data = excluded.data, mime_type = excluded.mime_type, size_bytes = excluded.size_bytes,
        hash = excluded.hash, updated_at = excluded.updated_at";
pub const BLOB_GET: &str =
    "SELECT data, mime_type, size_bytes, hash FROM app_blobs WHERE app_id = ?1 AND path = ?2";
pub const BLOB_DELETE: &str = "DELETE FROM app_blobs WHERE app_id = ?1 AND path = ?2";
pub const BLOB_LIST: &str = "SELECT path, mime_type, size_bytes, updated_at FROM app_blobs
    WHERE app_id = ?1 AND path >= ?2 AND (?3 IS NULL OR path < ?3)
    ORDER BY path LIMIT ?4";

pub const ANALYTICS_INSERT: &str = "INSERT INTO analytics_events
    (app_id, path, status, duration_us, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)";

pub const REQUEST_LOG_INSERT: &str = "INSERT INTO request_log
    (app_id, request_id, method, path, status, duration_us, at_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

pub const SITE_UPSERT: &str = "INSERT INTO sites (app_id, version, deployed_at) VALUES (?1, 1, ?2)
    ON CONFLICT (app_id) DO UPDATE SET version = version + 1, deployed_at = excluded.deployed_at";
pub const SITE_FILES_CLEAR: &str = "DELETE FROM site_files WHERE app_id = ?1";
pub const SITE_FILE_INSERT: &str =
    "INSERT INTO site_files (app_id, path, data, mime_type, hash) VALUES (?1, ?2, ?3, ?4, ?5)";
pub const SITE_LIST: &str = "SELECT app_id, version, deployed_at FROM sites ORDER BY app_id";
pub const SITE_FILES: &str =
    "SELECT path, data, mime_type, hash FROM site_files WHERE app_id = ?1 ORDER BY path";
