//! How an execution fails: kinds the server maps to statuses, with the logs captured.

use serde::Serialize;

use super::contract::LogEntry;

/// The kind of a failed execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum ErrorKind {
    /// The execution's deadline passed (`TimeoutError: execution timeout`).
    Timeout,
    /// The script does not parse.
    Syntax { line: Option<u32> },
    /// A storage call failed and the script did not catch it.
    Storage {
        retryable: bool,
        storage_kind: String,
    },
    /// The VM ran out of memory.
    Memory,
    /// The response (body and headers) is over `budgets::RESPONSE_BYTES_MAX` bytes of
    /// JSON: refused before the host copied it (HTTP 500, like every failure of the
    /// app's own making).
    ResponseTooLarge,
    /// The script threw (`name` is the error's name: `Error`, `TypeError`, ...).
    Script { name: String },
    /// No VM became free within the budget.
    Overloaded,
    /// The app has no `api/main.js`.
    NoHandler,
}

/// How an execution's error `cause` begins when a stale interrupt (the watcher of an
/// earlier execution on the same VM) ended it; checkers match on it.
pub const STALE_INTERRUPT: &str = "stale-interrupt";

impl ErrorKind {
    /// The name the client sees (`TimeoutError`, `SyntaxError`, `StorageError`, ...).
    pub fn name(&self) -> &str {
        match self {
            ErrorKind::Timeout => "TimeoutError",
            ErrorKind::Syntax { .. } => "SyntaxError",
            ErrorKind::Storage { .. } => "StorageError",
            ErrorKind::Memory => "MemoryError",
            ErrorKind::ResponseTooLarge => "ResponseTooLarge",
            ErrorKind::Script { name } => name,
            ErrorKind::Overloaded => "Overloaded",
            ErrorKind::NoHandler => "NoHandler",
        }
    }

    /// True when repeating the request later may succeed (503 + Retry-After).
    pub fn retryable(&self) -> bool {
        match self {
            ErrorKind::Storage { retryable, .. } => *retryable,
            ErrorKind::Overloaded => true,
            _ => false,
        }
    }
}

/// A failed execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}: {message}", kind.name())]
pub struct ExecutionError {
    pub kind: ErrorKind,
    pub message: String,
    pub logs: Vec<LogEntry>,
    /// What made it fail, when the engine knows more than the kind says (e.g.
    /// `stale-interrupt from execution 41`).
    pub cause: Option<String>,
}

impl ExecutionError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ExecutionError {
        ExecutionError {
            kind,
            message: message.into(),
            logs: Vec::new(),
            cause: None,
        }
    }

    pub fn timeout() -> ExecutionError {
        ExecutionError::new(ErrorKind::Timeout, "execution timeout")
    }
}
