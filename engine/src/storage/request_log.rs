//! The persisted request log of fazt 0.10.10: one row per HTTP request, written as its
//! own transaction as the request ends. Under the hardened policy the engine keeps its
//! request log in memory (`/api/_debug/traces`) and writes nothing per request; the
//! legacy policy ([`super::RequestLogWrites::PerRequest`]) exists to model the writes
//! it added, outside the write queue (fazt-reference.md §4.7).

use super::connection::Db;
use super::error::Result;
use super::schema::REQUEST_LOG_INSERT;

/// One HTTP request, as the request log records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLogEntry {
    /// The app served (empty for admin and unknown hosts).
    pub app_id: String,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub duration_us: u64,
    pub at_ms: i64,
}

/// Inserts `entry` (inside the caller's transaction).
pub fn insert(db: &mut Db, entry: &RequestLogEntry) -> Result<()> {
    db.count_statement();
    db.conn()
        .prepare_cached(REQUEST_LOG_INSERT)?
        .execute(rusqlite::params![
            entry.app_id,
            entry.request_id,
            entry.method,
            entry.path,
            entry.status,
            i64::try_from(entry.duration_us).unwrap_or(i64::MAX),
            entry.at_ms,
        ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_inserted() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("x.db")).unwrap();
        db.migrate().unwrap();
        let entry = RequestLogEntry {
            app_id: "momentum".into(),
            request_id: "r-1".into(),
            method: "POST".into(),
            path: "/api/tasks".into(),
            status: 201,
            duration_us: 250,
            at_ms: 7,
        };
        insert(&mut db, &entry).unwrap();
        let row: (String, String, i64) = db
            .conn()
            .query_row(
                "SELECT request_id, method, status FROM request_log",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("r-1".into(), "POST".into(), 201));
    }
}
