//! Error answers: one JSON shape, `{error, kind, retryable, requestId, logs, effects}`, with the
//! status each kind of failure maps to (README, "Running the server").

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::json;

use super::body::{json_response, Body};
use crate::runtime::{Effects, ErrorKind, ExecutionError, LogEntry};
use crate::storage::{is_caller_error_kind, StorageError};

/// A request that failed, as the client will see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable name of the failure (`TimeoutError`, `InvalidPath`, `RateLimited`, ...).
    pub kind: String,
    /// What went wrong, for a person.
    pub message: String,
    /// True when the same request may succeed later (then `Retry-After` is set).
    pub retryable: bool,
    /// The handler's console lines, when a handler ran.
    pub logs: Vec<LogEntry>,
    pub retry_after_secs: Option<u64>,
    /// What the engine knows beyond the kind (a storage error's kind, a timeout's cause).
    pub cause: Option<String>,
    /// Whether the failed request changed stored data. Only `none` is a definite
    /// failure.
    pub effects: Effects,
}

impl ApiError {
    /// A non-retryable error with `status`, `kind` and a message for a person.
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind: kind.to_owned(),
            message: message.into(),
            retryable: false,
            logs: Vec::new(),
            retry_after_secs: None,
            cause: None,
            effects: Effects::Nothing,
        }
    }

    /// A 503 (or 429) the client should retry after `seconds`.
    pub fn retry_later(
        status: StatusCode,
        kind: &str,
        message: impl Into<String>,
        seconds: u64,
    ) -> ApiError {
        ApiError {
            retryable: true,
            retry_after_secs: Some(seconds.max(1)),
            ..ApiError::new(status, kind, message)
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(kind: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, kind, message)
    }

    /// 404 with kind `NotFound`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 401: the admin API without the right bearer token.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "missing or wrong admin token (send Authorization: Bearer <token>)",
        )
    }

    /// 413: `what` is over `limit` bytes.
    pub fn too_large(what: &str, limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("{what} is over the limit of {limit} bytes"),
        )
    }

    /// The failure of a handler execution: timeouts 504, retryable failures (no VM, no
    /// storage slot, not enough budget) 503 + Retry-After, a write whose outcome is
    /// unknown 504, no handler 404, everything else (syntax, script, memory) 500.
    pub fn from_execution(error: ExecutionError, retry_after_secs: u64) -> ApiError {
        let storage_kind = match &error.kind {
            ErrorKind::Storage { storage_kind, .. } => Some(storage_kind.clone()),
            _ => None,
        };
        let status = match &error.kind {
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            kind if kind.retryable() => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Storage { storage_kind, .. } => storage_status(storage_kind),
            ErrorKind::NoHandler => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retryable = error.kind.retryable();
        ApiError {
            status,
            kind: error.kind.name().to_owned(),
            message: error.to_string(),
            retryable,
            retry_after_secs: retryable.then_some(retry_after_secs.max(1)),
            cause: storage_kind.or(error.cause),
            logs: error.logs,
            effects: Effects::Nothing,
        }
    }

    /// A storage failure outside a handler (a deploy): retryable ones 503, limits 400.
    pub fn from_storage(error: &StorageError, retry_after_secs: u64) -> ApiError {
        if error.retryable() {
            return ApiError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                error.kind(),
                error.to_string(),
                retry_after_secs,
            );
        }
        ApiError::new(
            storage_status(error.kind()),
            error.kind(),
            error.to_string(),
        )
    }

    /// The JSON answer, carrying `request_id`.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let mut body = json!({
            "error": self.message,
            "kind": self.kind,
            "retryable": self.retryable,
            "requestId": request_id,
            "logs": self.logs,
            "effects": self.effects.as_str(),
        });
        if let Some(cause) = self.cause {
            body["cause"] = cause.into();
        }
        let mut response = json_response(self.status, &body);
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The status of a storage failure that is not retryable, by its kind: a write whose
/// outcome is unknown 504, a wrong call 400, a duplicate id 409, an app over its storage
/// quota 507 (Insufficient Storage), anything else 500.
fn storage_status(storage_kind: &str) -> StatusCode {
    match storage_kind {
        "OutcomeUnknown" => StatusCode::GATEWAY_TIMEOUT,
        kind if is_caller_error_kind(kind) => StatusCode::BAD_REQUEST,
        "DuplicateId" => StatusCode::CONFLICT,
        "QuotaExceeded" => StatusCode::INSUFFICIENT_STORAGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A plain-text body for statuses that carry no JSON (304).
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_failures_map_to_statuses() {
        let status =
            |kind: ErrorKind| ApiError::from_execution(ExecutionError::new(kind, "x"), 1).status;
        assert_eq!(status(ErrorKind::Timeout), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(
            status(ErrorKind::Overloaded),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let busy = ErrorKind::Storage {
            retryable: true,
            storage_kind: "Busy".into(),
        };
        assert_eq!(status(busy), StatusCode::SERVICE_UNAVAILABLE);
        let unknown = ErrorKind::Storage {
            retryable: false,
            storage_kind: "OutcomeUnknown".into(),
        };
        assert_eq!(status(unknown), StatusCode::GATEWAY_TIMEOUT);
        let storage = |kind: &str| {
            status(ErrorKind::Storage {
                retryable: false,
                storage_kind: kind.into(),
            })
        };
        assert_eq!(storage("InvalidQuery"), StatusCode::BAD_REQUEST);
        assert_eq!(storage("DuplicateId"), StatusCode::CONFLICT);
        assert_eq!(storage("QuotaExceeded"), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(storage("Sqlite"), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            status(ErrorKind::Syntax { line: None }),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(status(ErrorKind::Memory), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            status(ErrorKind::Script {
                name: "TypeError".into()
            }),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(status(ErrorKind::NoHandler), StatusCode::NOT_FOUND);
    }

    #[test]
    fn retryable_answers_carry_retry_after() {
        let error = ApiError::from_execution(ExecutionError::new(ErrorKind::Overloaded, "busy"), 2);
        let response = error.into_response("r1");
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
