//! `/api/envvars` on the admin host: upstream fazt's endpoint for app environment
//! variables (`EnvVarsHandler` in its `internal/handlers/hosting.go`), same payloads:
//!
//! | request | answers |
//! | --- | --- |
//! | `GET /api/envvars?site_id=APP` | `{"data": {"vars": [{"id", "name"}]}}` (never values) |
//! | `POST /api/envvars` `{"site_id", "name", "value"}` | `{"data": {}}`, set or replaced |
//! | `DELETE /api/envvars?id=N` | `{"data": {}}` |
//!
//! Names are upstream's: `[A-Z][A-Z0-9_]*`, at most 128 characters, not a system
//! variable. A change reaches the app's next execution. Values are secrets: they are
//! neither logged nor traced.

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::arrival::Arrival;
use super::body::{json_response, parse_query, read_limited, Body, Timing};
use super::deploy::check_site_name;
use super::errors::ApiError;
use super::state::Server;

/// Longest variable name, as upstream (`validateEnvVarName`).
const NAME_CHARS_MAX: usize = 128;

/// Names upstream refuses, lest an app's settings pass for the system's.
const RESERVED: [&str; 15] = [
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "HOME",
    "USER",
    "SHELL",
    "PWD",
    "TERM",
    "LANG",
    "LC_ALL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "NODE_OPTIONS",
    "NODE_PATH",
];

#[derive(Deserialize)]
struct SetVar {
    site_id: String,
    name: String,
    #[serde(default)]
    value: String,
}

/// Answers `/api/envvars` (the caller has checked the admin token).
pub async fn handle<B>(
    server: &Server,
    parts: &Parts,
    body: B,
    arrival: Arrival,
) -> Result<Response<Body>, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let query = parse_query(parts.uri.query());
    let deadline = arrival.deadline;
    let storage_error = |error| ApiError::from_storage(&error, server.config.retry_after_secs);
    let done = || json_response(StatusCode::OK, &json!({ "data": {} }));
    match parts.method {
        Method::GET => {
            let app = query.get("site_id").map(String::as_str).unwrap_or_default();
            site(app)?;
            let (names, _) = server
                .storage
                .env_vars(app, deadline)
                .await
                .map_err(storage_error)?;
            Ok(json_response(
                StatusCode::OK,
                &json!({ "data": { "vars": names } }),
            ))
        }
        Method::POST => {
            let timing = Timing {
                clock: server.env.clock.as_ref(),
                started: arrival.at,
                pace: server.config.body_pace.clone(),
            };
            let body = read_limited(
                &parts.headers,
                body,
                server.config.body_bytes_max,
                "the request body",
                &timing,
            )
            .await?;
            let set: SetVar = serde_json::from_slice(&body).map_err(|error| {
                ApiError::bad_request(
                    "InvalidJson",
                    format!("expected {{site_id, name, value}}: {error}"),
                )
            })?;
            site(&set.site_id)?;
            check_name(&set.name)?;
            server
                .storage
                .env_set(&set.site_id, &set.name, &set.value, deadline)
                .await
                .map_err(storage_error)?;
            server
                .apps
                .refresh_env(&server.storage, &set.site_id)
                .await
                .map_err(storage_error)?;
            Ok(done())
        }
        Method::DELETE => {
            let id = query
                .get("id")
                .and_then(|id| id.parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request("InvalidArgument", "id required"))?;
            let owner = server
                .storage
                .env_var_owner(id, deadline)
                .await
                .map_err(storage_error)?;
            if let Some(app) = owner {
                server
                    .storage
                    .env_delete(id, deadline)
                    .await
                    .map_err(storage_error)?;
                server
                    .apps
                    .refresh_env(&server.storage, &app)
                    .await
                    .map_err(storage_error)?;
            }
            Ok(done())
        }
        _ => Err(ApiError::not_found(format!(
            "no admin endpoint {} /api/envvars",
            parts.method
        ))),
    }
}

fn site(app: &str) -> Result<(), ApiError> {
    if app.is_empty() {
        return Err(ApiError::bad_request("InvalidArgument", "site_id required"));
    }
    check_site_name(app)
        .map_err(|error| ApiError::bad_request("InvalidSiteName", error.to_string()))
}

/// Upstream's `validateEnvVarName`.
fn check_name(name: &str) -> Result<(), ApiError> {
    let refuse = |message: String| Err(ApiError::bad_request("InvalidEnvVarName", message));
    let mut bytes = name.bytes();
    let pattern = matches!(bytes.next(), Some(b'A'..=b'Z'))
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if name.len() > NAME_CHARS_MAX {
        return refuse(format!(
            "environment variable name too long (max {NAME_CHARS_MAX} chars)"
        ));
    }
    if !pattern {
        return refuse("environment variable name must be uppercase letters, numbers, and underscores, starting with a letter".into());
    }
    if RESERVED.contains(&name) {
        return refuse(format!(
            "cannot set reserved system environment variable: {name}"
        ));
    }
    Ok(())
}
