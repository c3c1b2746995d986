//! The one error type of the storage layer.

use std::time::Duration;

/// Why a storage call failed. [`StorageError::retryable`] tells the server whether to
/// answer 503 + Retry-After; [`StorageError::OutcomeUnknown`] is never a plain failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// SQLite answered SQLITE_BUSY and the busy policy gave up.
    #[error("database is busy (SQLITE_BUSY) after {attempts} attempts")]
    Busy { attempts: u32 },
    /// The bounded write queue had no free slot before the deadline.
    #[error("write queue is full ({depth} writes waiting)")]
    QueueFull { depth: usize },
    /// The reader pool had no free connection before the deadline.
    #[error("no reader connection became free in time ({connections} in use)")]
    ReadersExhausted { connections: usize },
    /// Refused up front: the time left cannot cover the expected wait.
    #[error("not enough time left: {remaining:?} remaining, about {needed:?} needed")]
    InsufficientBudget {
        remaining: Duration,
        needed: Duration,
    },
    /// The deadline passed before the operation started: nothing was written.
    #[error("deadline passed before the {operation} started; nothing was written")]
    DeadlineExceeded { operation: &'static str },
    /// The write was committing when its caller's deadline passed, or its COMMIT could
    /// not be confirmed: it may or may not have been applied. Never a plain failure.
    #[error("the write may or may not have been applied (deadline passed while it was committing, or its commit was unconfirmed)")]
    OutcomeUnknown,
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("{what} is {actual} bytes, over the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        actual: usize,
        limit: usize,
    },
    #[error("a document with id {id:?} already exists in collection {collection:?}")]
    DuplicateId { collection: String, id: String },
    /// The write would take the app's stored bytes over its quota
    /// ([`super::Limits::app_quota_bytes`]); nothing was written. Not retryable: only
    /// deleting the app's data makes room.
    #[error("the app's storage quota of {quota_bytes} bytes would be exceeded; nothing was written (delete data to make room)")]
    QuotaExceeded { quota_bytes: u64 },
    /// The write's transaction failed and was rolled back: nothing was written.
    #[error("transaction rolled back, nothing written: {0}")]
    RolledBack(String),
    #[error("storage is shut down")]
    Closed,
    /// SQLite failed. The message names the SQLite result code only: SQLite's own text
    /// can quote the statement, so it goes to the logs (see the `From` conversion), never
    /// into an error a client sees.
    #[error("database error ({})", sqlite_code(.0))]
    Sqlite(rusqlite::Error),
    #[error("stored JSON is unreadable: {0}")]
    CorruptJson(#[from] serde_json::Error),
}

impl StorageError {
    /// True when the same call may succeed if repeated later (the server maps these to
    /// 503 + Retry-After).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            StorageError::Busy { .. }
                | StorageError::QueueFull { .. }
                | StorageError::ReadersExhausted { .. }
                | StorageError::InsufficientBudget { .. }
                | StorageError::DeadlineExceeded { .. }
                | StorageError::Closed
        )
    }

    /// A short stable name for reports and error bodies.
    pub fn kind(&self) -> &'static str {
        match self {
            StorageError::Busy { .. } => "Busy",
            StorageError::QueueFull { .. } => "QueueFull",
            StorageError::ReadersExhausted { .. } => "ReadersExhausted",
            StorageError::InsufficientBudget { .. } => "InsufficientBudget",
            StorageError::DeadlineExceeded { .. } => "DeadlineExceeded",
            StorageError::OutcomeUnknown => "OutcomeUnknown",
            StorageError::InvalidQuery(_) => "InvalidQuery",
            StorageError::InvalidArgument(_) => "InvalidArgument",
            StorageError::TooLarge { .. } => "TooLarge",
            StorageError::DuplicateId { .. } => "DuplicateId",
            StorageError::QuotaExceeded { .. } => "QuotaExceeded",
            StorageError::RolledBack(_) => "RolledBack",
            StorageError::Closed => "Closed",
            StorageError::Sqlite(_) => "Sqlite",
            StorageError::CorruptJson(_) => "CorruptJson",
        }
    }

    /// True when the call itself is wrong (a malformed query or argument, a value over a
    /// size limit) and repeating it cannot succeed: the server answers 400.
    pub fn is_caller_error(&self) -> bool {
        is_caller_error_kind(self.kind())
    }

    /// True for SQLITE_BUSY / SQLITE_LOCKED (and their extended codes).
    pub fn is_sqlite_busy(&self) -> bool {
        matches!(self, StorageError::Sqlite(error) if is_busy(error))
    }
}

/// [`StorageError::is_caller_error`] by [`StorageError::kind`], for layers that only
/// kept the kind (a StorageError thrown in JavaScript and not caught; `ValueTooLarge` is
/// the runtime's, for a storage argument refused while it was read out of JavaScript).
pub fn is_caller_error_kind(kind: &str) -> bool {
    matches!(
        kind,
        "InvalidQuery" | "InvalidArgument" | "TooLarge" | "ValueTooLarge"
    )
}

/// The message of the `RAISE` by which the quota trigger refuses a write
/// (`connection.rs`), followed by the quota in bytes.
pub const QUOTA_RAISE_PREFIX: &str = "fazt:quota-exceeded:";

impl From<rusqlite::Error> for StorageError {
    /// Recognises the quota trigger's refusal; anything else is logged in full (SQLite's
    /// message may quote SQL) and kept, for its code, as [`StorageError::Sqlite`].
    fn from(error: rusqlite::Error) -> StorageError {
        if let rusqlite::Error::SqliteFailure(failure, Some(message)) = &error {
            let quota = message
                .strip_prefix(QUOTA_RAISE_PREFIX)
                .and_then(|quota| quota.parse().ok());
            if let (rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER, Some(quota_bytes)) =
                (failure.extended_code, quota)
            {
                return StorageError::QuotaExceeded { quota_bytes };
            }
        }
        if !is_busy(&error) {
            tracing::warn!(%error, "sqlite error");
        }
        StorageError::Sqlite(error)
    }
}

/// The SQLite result code of `error` by name (`ConstraintViolation`, ...), or what kind
/// of non-SQLite failure it was: never SQLite's message.
fn sqlite_code(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqliteFailure(failure, _) => format!("{:?}", failure.code),
        other => {
            let debug = format!("{other:?}");
            debug
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default()
                .to_owned()
        }
    }
}

/// True when `error` is SQLITE_BUSY or SQLITE_LOCKED, extended codes included.
pub fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// True when a failed COMMIT cannot have reached the log: the disk refused a write
/// (`SQLITE_IOERR_WRITE`) or was full (`SQLITE_FULL`). In WAL mode a commit is the
/// frames ending in its commit frame, written in order: a refused write leaves no
/// commit frame, so SQLite rolled the transaction back and recovery will not find it.
/// (A failed sync is not such an error: the frames are in the file and a restart may
/// recover them.)
pub fn commit_never_logged(error: &rusqlite::Error) -> bool {
    match error {
        rusqlite::Error::SqliteFailure(failure, _) => {
            failure.code == rusqlite::ErrorCode::DiskFull
                || failure.extended_code == rusqlite::ffi::SQLITE_IOERR_WRITE
        }
        _ => false,
    }
}

/// SQLITE_IOERR as a failpoint injects it, on `statement`.
pub fn injected_io_error(statement: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some(format!("injected I/O error on {statement}")),
    )
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's messages can quote the statement (`near "...": syntax error`, the SQL
    /// of a failed prepare): an error's text names the code only.
    #[test]
    fn sqlite_errors_never_carry_sqlite_text() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        let secret = "SELECT secret_column FROM app_docs WHERE data = ?1";
        let error = StorageError::from(db.prepare(secret).unwrap_err());
        assert_eq!(error.kind(), "Sqlite");
        let text = error.to_string();
        assert!(
            !text.contains("secret_column") && !text.contains("app_docs"),
            "{text}"
        );
        let failure = StorageError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some("too many SQL variables in SELECT id FROM app_docs".into()),
        ));
        assert_eq!(failure.to_string(), "database error (Unknown)");
        let rolled_back = StorageError::RolledBack(failure.to_string());
        assert!(!rolled_back.to_string().contains("app_docs"));
        assert!(StorageError::InvalidQuery("x".into()).is_caller_error());
        assert!(!StorageError::Busy { attempts: 1 }.is_caller_error());
    }

    #[test]
    fn the_quota_raise_becomes_quota_exceeded() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        let raised = db
            .execute_batch(&format!(
                "CREATE TABLE t (x); CREATE TRIGGER q AFTER INSERT ON t BEGIN \
                 SELECT RAISE(ABORT, '{QUOTA_RAISE_PREFIX}42'); END; INSERT INTO t VALUES (1);"
            ))
            .unwrap_err();
        let error = StorageError::from(raised);
        assert!(
            matches!(error, StorageError::QuotaExceeded { quota_bytes: 42 }),
            "{error}"
        );
        assert_eq!(error.kind(), "QuotaExceeded");
    }
}
