//! BUSY is answered as BUSY: SQLite's SQLITE_BUSY never reaches a client as a plain
//! database error.
//!
//! The write path retries a write that met SQLITE_BUSY (another connection held the
//! lock) and, when it gives up, answers `Busy` with its attempts: retryable, 503 with
//! `Retry-After`. Any other failure naming SQLite's `DatabaseBusy` or `DatabaseLocked`
//! (a raw `Sqlite` error, a group `RolledBack` by it) is a BUSY that skipped that path:
//! not retried, and answered as not retryable to a client that only had to try again.
//!
//! Verifies: no failed answer but a `Busy` one carries SQLite's BUSY or LOCKED code in
//! its message. Does not verify: how many times the write path retried (the
//! trace's `WriterBusy` events show it), nor BUSY met by the server's own background
//! writes, which no client sees.

use fazt_chaos::Violation;

use super::failed_with;
use crate::run::property::Evidence;

/// How a `StorageError::Sqlite` names SQLite's BUSY and LOCKED codes in its message.
const BUSY_CODES: &[&str] = &["DatabaseBusy", "DatabaseLocked"];

pub fn check(evidence: &Evidence) -> Vec<Violation> {
    evidence
        .answers
        .iter()
        .filter(|answer| answer.kind.is_some() && !failed_with(answer, &["Busy"]))
        .filter(|answer| {
            let message = answer.body["error"].as_str().unwrap_or_default();
            BUSY_CODES.iter().any(|code| message.contains(code))
        })
        .map(|answer| Violation {
            invariant: "raw-busy-answered",
            detail: format!(
                "request {} was answered SQLite's BUSY as a database error ({}), not retried and answered Busy",
                answer.op.request,
                answer.body["error"].as_str().unwrap_or_default()
            ),
            involved: vec![answer.op.request.clone()],
        })
        .collect()
}
