//! Opening a SQLite connection: the pragmas every connection gets, the step counter
//! that feeds the simulator's cost model, and the migrations.

use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::durability::Durability;
use super::error::Result;
use super::schema::{app_quota_triggers, MIGRATIONS};
use crate::env::{Disk, Work};

/// The progress handler counts one tick per this many SQLite VM operations.
pub const PROGRESS_TICK_OPS: i32 = 100;

/// Applied to every connection as it opens, never "once through the pool" (fazt's
/// busy_timeout and foreign_keys bugs). `busy_timeout = 0`: SQLite's busy handler
/// sleeps in real time, so every wait is engine code on the Clock instead.
/// `synchronous = NORMAL` here; the writers set the configured [`Durability`].
const CONNECTION_PRAGMAS: &str = "PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA foreign_keys = ON;
    PRAGMA busy_timeout = 0;
    PRAGMA temp_store = MEMORY;";

/// One SQLite connection with its work counter and its busy-handler probe.
pub struct Db {
    conn: Connection,
    ticks: Arc<AtomicU64>,
    statements: u64,
    /// Times SQLite called the busy handler (see `busy_timeout.rs`).
    busy_handler_calls: Arc<AtomicU32>,
}

/// What a connection reports about its own settings (tests prove every pooled
/// connection has them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub journal_mode: String,
    pub synchronous: i64,
    pub foreign_keys: bool,
    pub busy_timeout_ms: i64,
}

impl Db {
    /// Opens `path` (created if missing) on the OS's files with the standard pragmas.
    pub fn open(path: &Path) -> Result<Db> {
        Db::open_on(path, &Disk::Os)
    }

    /// Opens `path` (created if missing) on `disk` with the standard pragmas.
    pub fn open_on(path: &Path, disk: &Disk) -> Result<Db> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut conn = match disk.vfs_name() {
            None => Connection::open_with_flags(path, flags)?,
            Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs)?,
        };
        conn.execute_batch(CONNECTION_PRAGMAS)?;
        conn.set_prepared_statement_cache_capacity(64);
        let ticks = Arc::new(AtomicU64::new(0));
        let counter = ticks.clone();
        conn.progress_handler(
            PROGRESS_TICK_OPS,
            Some(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                false
            }),
        )?;
        // The probe never waits: it records that SQLite would have called its busy
        // handler here and lets SQLite return SQLITE_BUSY at once. Installed after the
        // pragmas, so `busy_timeout` still reads 0.
        let busy_handler_calls = Arc::new(AtomicU32::new(0));
        let calls = busy_handler_calls.clone();
        conn.busy_handler(Some(move |_count| {
            calls.fetch_add(1, Ordering::Relaxed);
            false
        }))?;
        Ok(Db {
            conn,
            ticks,
            statements: 0,
            busy_handler_calls,
        })
    }

    /// True when SQLite called its busy handler since the last call: the SQLITE_BUSY
    /// just met came while waiting for a lock with no transaction open, where a busy
    /// timeout would have waited (not at a DEFERRED transaction's upgrade).
    pub fn take_busy_handler_called(&self) -> bool {
        self.busy_handler_calls.swap(0, Ordering::Relaxed) > 0
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Counts one executed statement for the cost model.
    pub fn count_statement(&mut self) {
        self.statements += 1;
    }

    /// Counts `n` executed statements for the cost model.
    pub fn count_statements(&mut self, n: u64) {
        self.statements += n;
    }

    /// Work done so far on this connection; subtract two readings to get a job's work.
    pub fn work(&self) -> Work {
        Work {
            sqlite_ticks: self.ticks.load(Ordering::Relaxed),
            statements: self.statements,
            ..Work::default()
        }
    }

    /// Work since `before`.
    pub fn work_since(&self, before: Work) -> Work {
        let now = self.work();
        Work {
            sqlite_ticks: now.sqlite_ticks - before.sqlite_ticks,
            statements: now.statements - before.statements,
            ..Work::default()
        }
    }

    /// Sets the WAL size, in pages, past which a commit on this connection checkpoints
    /// (`PRAGMA wal_autocheckpoint`; see [`super::StoragePolicy::checkpoint_pages`]).
    pub fn checkpoint_after(&self, pages: u32) -> Result<()> {
        self.conn
            .execute_batch(&format!("PRAGMA wal_autocheckpoint = {pages}"))?;
        Ok(())
    }

    /// Makes this connection's commits as durable as `durability` says (a writer's).
    pub fn set_durability(&self, durability: Durability) -> Result<()> {
        self.conn
            .execute_batch(&format!("PRAGMA synchronous = {}", durability.pragma()))?;
        Ok(())
    }

    /// Reads back the settings that matter for correctness.
    pub fn settings(&self) -> Result<ConnectionSettings> {
        let pragma_i64 = |name: &str| -> Result<i64> {
            Ok(self
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))?)
        };
        Ok(ConnectionSettings {
            journal_mode: self
                .conn
                .query_row("PRAGMA journal_mode", [], |row| row.get(0))?,
            synchronous: pragma_i64("synchronous")?,
            foreign_keys: pragma_i64("foreign_keys")? == 1,
            busy_timeout_ms: pragma_i64("busy_timeout")?,
        })
    }

    /// Makes this connection refuse any write that takes an app's stored bytes over
    /// `quota_bytes` (TEMP triggers: per connection, so every writer connection gets
    /// them as it opens, with the configured quota).
    pub fn enforce_app_quota(&self, quota_bytes: u64) -> Result<()> {
        self.conn.execute_batch(&app_quota_triggers(quota_bytes))?;
        Ok(())
    }

    /// Applies the migrations not yet applied, in one transaction.
    pub fn migrate(&mut self) -> Result<()> {
        let applied: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let applied = usize::try_from(applied).unwrap_or(0);
        if applied >= MIGRATIONS.len() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for migration in &MIGRATIONS[applied..] {
            tx.execute_batch(migration)?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames in the WAL after `commits` one-row commits (of about half a page each) on
    /// a fresh database's connection that checkpoints past `pages`.
    fn wal_frames_after(commits: usize, pages: u32) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = Db::open(&path).unwrap();
        writer.checkpoint_after(pages).unwrap();
        writer
            .conn()
            .execute_batch("CREATE TABLE t (v TEXT)")
            .unwrap();
        for i in 0..commits {
            writer
                .conn()
                .execute("INSERT INTO t (v) VALUES (?1)", [format!("{i:0>2000}")])
                .unwrap();
        }
        // PASSIVE reports the log's size (and copies what it can; nothing else runs).
        Db::open(&path)
            .unwrap()
            .conn()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
            .unwrap()
    }

    #[test]
    fn commits_checkpoint_past_the_configured_wal_size() {
        let kept = wal_frames_after(600, 10_000);
        assert!(
            kept >= 600,
            "below its threshold the WAL keeps every commit: {kept}"
        );
        let restarted = wal_frames_after(600, 100);
        assert!(
            restarted < 200,
            "past 100 pages a commit checkpointed and the log started over: {restarted}"
        );
    }

    #[test]
    fn every_connection_gets_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let mut first = Db::open(&path).unwrap();
        first.migrate().unwrap();
        let second = Db::open(&path).unwrap();
        for db in [&first, &second] {
            assert_eq!(
                db.settings().unwrap(),
                ConnectionSettings {
                    journal_mode: "wal".into(),
                    synchronous: 1,
                    foreign_keys: true,
                    busy_timeout_ms: 0,
                }
            );
        }
    }

    #[test]
    fn a_writer_syncs_as_its_durability_says() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("x.db")).unwrap();
        db.set_durability(Durability::Full).unwrap();
        assert_eq!(db.settings().unwrap().synchronous, 2, "FULL");
        db.set_durability(Durability::Normal).unwrap();
        assert_eq!(db.settings().unwrap().synchronous, 1, "NORMAL");
        assert!(Durability::parse("fsync")
            .unwrap_err()
            .contains("full, normal"));
    }

    #[test]
    fn the_probe_tells_a_lock_wait_from_a_failed_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let mut holder = Db::open(&path).unwrap();
        holder.migrate().unwrap();
        let other = Db::open(&path).unwrap();
        let insert = "INSERT INTO app_kv (app_id, key, value, created_at, updated_at)
            VALUES ('a', 'k', '1', 0, 0)";
        // A read transaction started before the holder takes the lock.
        other.conn().execute_batch("BEGIN DEFERRED").unwrap();
        let _: i64 = other
            .conn()
            .query_row("SELECT count(*) FROM app_kv", [], |r| r.get(0))
            .unwrap();
        holder.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
        assert!(super::super::error::is_busy(
            &other.conn().execute(insert, []).unwrap_err()
        ));
        assert!(
            !other.take_busy_handler_called(),
            "an upgrade skips the handler"
        );
        other.conn().execute_batch("ROLLBACK").unwrap();
        assert!(super::super::error::is_busy(
            &other.conn().execute(insert, []).unwrap_err()
        ));
        assert!(
            other.take_busy_handler_called(),
            "a fresh lock wait calls it"
        );
        assert!(!other.take_busy_handler_called());
        holder.conn().execute_batch("COMMIT").unwrap();
        assert_eq!(other.settings().unwrap().busy_timeout_ms, 0);
    }

    #[test]
    fn migrations_are_idempotent_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let mut db = Db::open(&path).unwrap();
        db.migrate().unwrap();
        db.migrate().unwrap();
        let version: i64 = db
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn the_progress_handler_counts_work() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("x.db")).unwrap();
        let before = db.work();
        db.conn()
            .query_row(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
                 SELECT count(*) FROM n",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
        assert!(db.work_since(before).sqlite_ticks > 10);
    }
}
