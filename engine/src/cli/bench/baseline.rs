//! The yardstick for engine writes: plain rusqlite, one INSERT per autocommit
//! transaction, one thread, on a database file of its own with the engine's durability
//! pragmas (WAL, synchronous=NORMAL). What it measures is the cost of a SQLite commit
//! without any engine around it; group commit exists to beat it.
//!
//! It does not measure: the engine's schema and indexes (one small table), concurrency
//! (one thread, so no lock waits), or reads.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection};

use super::load::Length;
use fazt_engine::env::Clock;

/// The longest a baseline runs, whatever the benchmark's length.
pub const BASELINE_TIME_MAX: Duration = Duration::from_secs(10);

const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";
const CREATE: &str = "CREATE TABLE raw_rows (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID";
const INSERT: &str = "INSERT INTO raw_rows (key, value) VALUES (?1, ?2)";

/// What the baseline measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BaselineRun {
    pub commits: u64,
    pub elapsed: Duration,
}

impl BaselineRun {
    pub fn commits_per_sec(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.commits as f64 / seconds
        } else {
            0.0
        }
    }
}

/// Commits single rows into a fresh database in `dir` (which must exist) for `length`,
/// but never longer than [`BASELINE_TIME_MAX`]. Row `n`'s value is `value(n)`, so the
/// rows can weigh what the engine's writes weigh. Blocking: call it off the runtime.
pub fn raw_commits(
    dir: &Path,
    clock: &dyn Clock,
    length: Length,
    value: impl Fn(u64) -> SqlValue,
) -> anyhow::Result<BaselineRun> {
    let path = dir.join("baseline.db");
    let conn = Connection::open(&path)?;
    conn.execute_batch(PRAGMAS)?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    anyhow::ensure!(
        mode == "wal",
        "the baseline database did not switch to WAL ({mode})"
    );
    conn.execute_batch(CREATE)?;
    let mut insert = conn.prepare(INSERT)?;
    let (limit, time) = match length {
        Length::Ops(n) => (n, BASELINE_TIME_MAX),
        Length::Duration(d) => (u64::MAX, d.min(BASELINE_TIME_MAX)),
    };
    let started = clock.now();
    let mut commits = 0;
    while commits < limit && clock.now().saturating_duration_since(started) < time {
        insert.execute(params![format!("k{commits}"), value(commits)])?;
        commits += 1;
    }
    let elapsed = clock.now().saturating_duration_since(started);
    Ok(BaselineRun { commits, elapsed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fazt_engine::env::RealClock;

    #[test]
    fn commits_the_requested_rows() {
        let dir = tempfile::tempdir().unwrap();
        let clock = RealClock::new();
        let run = raw_commits(dir.path(), &clock, Length::Ops(50), |n| {
            SqlValue::Text(n.to_string())
        })
        .unwrap();
        assert_eq!(run.commits, 50);
        assert!(run.commits_per_sec() > 0.0);
        let conn = Connection::open(dir.path().join("baseline.db")).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM raw_rows", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 50);
    }
}
