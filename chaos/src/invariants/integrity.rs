//! Invariant `integrity`: the database file's own consistency.
//!
//! What it verifies: the file opens and `PRAGMA integrity_check` answers `ok` (`integrity`),
//! e.g. after a crash.
//!
//! What it does not verify: that the data is the data clients were promised (see the history
//! checker), nor foreign keys or application-level constraints.

use std::path::Path;

use super::Violation;

/// `PRAGMA integrity_check` on the database file (after a crash, say).
pub fn check_integrity(path: &Path) -> Vec<Violation> {
    let result = fazt_engine::storage::Db::open(path).and_then(|db| {
        let rows: Vec<String> = db
            .conn()
            .prepare("PRAGMA integrity_check")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    });
    match result {
        Ok(rows) if rows == ["ok"] => Vec::new(),
        Ok(rows) => vec![Violation {
            invariant: "integrity",
            detail: format!("PRAGMA integrity_check: {}", rows.join("; ")),
            involved: Vec::new(),
        }],
        Err(error) => vec![Violation {
            invariant: "integrity",
            detail: format!("the database cannot be opened: {error}"),
            involved: Vec::new(),
        }],
    }
}
