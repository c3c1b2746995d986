//! The admin API on `admin.<domain>`: deploy, debug and metrics endpoints. Every one
//! but `/api/system/health` needs `Authorization: Bearer <token>`.
//!
//! | endpoint | answers |
//! | --- | --- |
//! | `GET /api/system/health` | liveness (no token) |
//! | `POST /api/deploy` | deploy a zip (`upload.rs`) |
//! | `GET /api/apps` | deployed apps |
//! | `GET /api/_debug/runtime` | VM pool, admission gate, storage numbers |
//! | `GET /api/_debug/traces?limit=N` | recent requests with their time breakdown |
//! | `GET /api/_debug/traces?format=chrome` | the same as a Chrome trace-event timeline (Perfetto) |
//! | `GET /api/system/capacity` | measured facts of this process (`capacity.rs`) |
//! | `GET /metrics` | Prometheus text (`metrics.rs`) |
//! | `GET, POST, DELETE /api/envvars` | app environment variables (`env_vars.rs`) |

use bytes::Bytes;
use http::request::Parts;
use http::{header, Method, Response, StatusCode};
use serde_json::json;

use super::arrival::{Arrival, DEPLOY_PATH};
use super::body::{json_response, parse_query, text_response, Body};
use super::capacity::{self, Capacity};
use super::env_vars;
use super::errors::ApiError;
use super::metrics::Gauges;
use super::state::Server;
use super::traces_timeline;
use super::upload;
use crate::storage::StorageStats;

/// Traces returned when `limit` is not given.
const TRACES_DEFAULT: usize = 100;

/// Answers an admin request.
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
    let path = parts.uri.path();
    let read = parts.method == Method::GET || parts.method == Method::HEAD;
    if read && path == "/api/system/health" {
        return Ok(health(server));
    }
    if !authorized(&parts.headers, &server.config.admin_token) {
        return Err(ApiError::unauthorized());
    }
    match (read, parts.method == Method::POST, path) {
        (_, _, "/api/envvars") => env_vars::handle(server, parts, body, arrival).await,
        (_, true, DEPLOY_PATH) => upload::deploy(server, parts, body, arrival).await,
        (true, _, "/api/apps") => Ok(json_response(
            StatusCode::OK,
            &json!({ "apps": server.app_ids() }),
        )),
        (true, _, "/api/_debug/runtime") => Ok(runtime(server).await),
        (true, _, "/api/_debug/traces") => traces(server, parts),
        (true, _, "/api/system/capacity") => Ok(capacity(server).await),
        (true, _, "/metrics") => Ok(metrics(server).await),
        _ => Err(ApiError::not_found(format!(
            "no admin endpoint {} {path}",
            parts.method
        ))),
    }
}

/// Compares the bearer token in constant time (no early exit on the first difference).
fn authorized(headers: &http::HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (given, token) = (given.trim().as_bytes(), token.as_bytes());
    let difference = given
        .iter()
        .zip(token)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    given.len() == token.len() && difference == 0
}

fn health(server: &Server) -> Response<Body> {
    let uptime = server
        .env
        .clock
        .now()
        .saturating_duration_since(server.started);
    json_response(
        StatusCode::OK,
        &json!({
            "status": "ok",
            "uptimeMs": u64::try_from(uptime.as_millis()).unwrap_or(u64::MAX),
            "apps": server.app_ids().len(),
        }),
    )
}

fn storage_json(stats: &StorageStats) -> serde_json::Value {
    json!({
        "groupsCommitted": stats.groups_committed,
        "writesCommitted": stats.writes_committed,
        "writerBusy": stats.writer_busy,
        "queueWaiting": stats.queue_waiting,
        "queueDepth": stats.queue_depth,
        "readers": stats.readers,
        "readersBusy": stats.readers_busy,
    })
}

async fn runtime(server: &Server) -> Response<Body> {
    let pool = server.workers.metrics().await;
    json_response(
        StatusCode::OK,
        &json!({
            "pool": pool,
            "admission": {
                "slots": server.admission.size(),
                "inUse": server.admission.in_use(),
                "appMax": server.admission.app_max(),
                "byApp": server.admission.by_app().into_iter().map(|(app, (in_use, waiting))| {
                    (app, json!({ "inUse": in_use, "waiting": waiting }))
                }).collect::<serde_json::Map<_, _>>(),
                "waitMs": u64::try_from(server.config.admission_wait.as_millis()).unwrap_or(u64::MAX),
            },
            "storage": storage_json(&server.storage.stats()),
            "rateLimit": { "trackedClients": server.limiter.tracked() },
            "apps": server.app_ids(),
        }),
    )
}

fn traces(server: &Server, parts: &Parts) -> Result<Response<Body>, ApiError> {
    let query = parse_query(parts.uri.query());
    let limit = query
        .get("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .unwrap_or(TRACES_DEFAULT)
        .min(server.traces.capacity());
    let recent = server.traces.recent(limit);
    match query.get("format").map(String::as_str) {
        Some("chrome") => Ok(json_response(
            StatusCode::OK,
            &traces_timeline::chrome(&recent),
        )),
        None | Some("json") => Ok(json_response(
            StatusCode::OK,
            &json!({ "capacity": server.traces.capacity(), "traces": recent }),
        )),
        Some(other) => Err(ApiError::bad_request(
            "BadFormat",
            format!("format must be json or chrome, not {other:?}"),
        )),
    }
}

async fn capacity(server: &Server) -> Response<Body> {
    let config = &server.config;
    let millis =
        |duration: std::time::Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let limits = capacity::Limits {
        body_bytes_max: config.body_bytes_max,
        deploy_body_bytes_max: config.deploy.body_bytes_max,
        deploy_unpacked_bytes_max: config.deploy.unpacked_bytes_max,
        connections_max: config.connections_max,
        rate_limit_per_second: config.rate_limit.per_second,
        rate_limit_burst: config.rate_limit.burst,
        request_timeout_ms: millis(config.request_timeout),
        admission_wait_ms: millis(config.admission_wait),
    };
    let pool = server.workers.metrics().await;
    let measured = Capacity::measure(
        &pool,
        &server.storage.stats(),
        server.admission.size(),
        limits,
    );
    json_response(
        StatusCode::OK,
        &serde_json::to_value(measured).expect("capacity serializes"),
    )
}

async fn metrics(server: &Server) -> Response<Body> {
    let pool = server.workers.metrics().await;
    let storage = server.storage.stats();
    let text = server.metrics.render(&Gauges {
        pool: &pool,
        storage: &storage,
        admission_slots: server.admission.size(),
        admission_in_use: server.admission.in_use(),
        apps: server.app_ids().len(),
        uptime: server
            .env
            .clock
            .now()
            .saturating_duration_since(server.started),
    });
    text_response(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let with = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(authorized(&with("Bearer secret"), "secret"));
        assert!(!authorized(&with("Bearer secre"), "secret"));
        assert!(!authorized(&with("Bearer secrets"), "secret"));
        assert!(!authorized(&with("Basic secret"), "secret"));
        assert!(!authorized(&http::HeaderMap::new(), "secret"));
    }
}
