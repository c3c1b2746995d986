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
    /// The write's transaction failed and was rolled back: nothing was written.
    #[error("transaction rolled back, nothing written: {0}")]
    RolledBack(String),
    #[error("storage is shut down")]
    Closed,
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
            StorageError::RolledBack(_) => "RolledBack",
            StorageError::Closed => "Closed",
            StorageError::Sqlite(_) => "Sqlite",
            StorageError::CorruptJson(_) => "CorruptJson",
        }
    }

    /// True for SQLITE_BUSY / SQLITE_LOCKED (and their extended codes).
    pub fn is_sqlite_busy(&self) -> bool {
        matches!(self, StorageError::Sqlite(error) if is_busy(error))
    }
}

/// True when `error` is SQLITE_BUSY or SQLITE_LOCKED, extended codes included.
pub fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// SQLITE_BUSY as a failpoint injects it, on `statement`.
pub fn injected_busy_error(statement: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        Some(format!("injected SQLITE_BUSY on {statement}")),
    )
}

/// SQLITE_IOERR as a failpoint injects it, on `statement`.
pub fn injected_io_error(statement: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some(format!("injected I/O error on {statement}")),
    )
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
