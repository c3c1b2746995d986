//! One request, from arrival to the response: request id, rate limit, Host routing,
//! then the app (handler or static files) or the admin API; on the way out the common
//! headers, the metrics, the trace, the analytics event and one log line.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderName, HeaderValue, Request, Response, StatusCode};
use tracing::Instrument;

use super::arrival::Arrival;
use super::body::Body;
use super::config::ServerConfig;
use super::connections::Pool;
use super::errors::ApiError;
use super::handler::{self, is_api_path};
use super::host::{self, Route};
use super::journal::{BodyCopy, TeeBody};
use super::rate_limit::Decision;
use super::state::Server;
use super::traces::{micros, RequestTrace};
use super::{admin, request_id, static_files};
use crate::env::Instant;
use crate::events::Event;
use crate::storage::{AnalyticsEvent, RequestLogEntry};

/// Headers on every response unless the handler chose its own.
const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "SAMEORIGIN"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
];

/// Answers one request from `peer`, on a connection of `pool`. Never fails: every
/// failure is a JSON error answer.
pub async fn handle<B>(
    server: Arc<Server>,
    peer: SocketAddr,
    pool: Pool,
    request: Request<B>,
) -> Result<Response<Body>, Infallible>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let arrived = server.env.clock.now();
    let request_id = request_id::choose(request.headers(), &server.request_ids);
    let span = tracing::info_span!("request", id = %request_id);
    let mut response = answer(&server, peer, pool, request, &request_id, arrived)
        .instrument(span)
        .await;
    if pool == Pool::Reserved {
        // One request per reserved connection: it is given back at once.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response)
}

async fn answer<B>(
    server: &Server,
    peer: SocketAddr,
    pool: Pool,
    request: Request<B>,
    request_id: &str,
    arrived: Instant,
) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let clock = server.env.clock.as_ref();
    let (parts, body) = request.into_parts();
    let mut trace = RequestTrace::new(
        request_id,
        parts.method.as_str(),
        parts.uri.path(),
        clock.wall_ms(),
    );
    // The body read so far, when the request is journaled.
    let mut journaled = None;
    let outcome = match server.limiter.check(peer.ip(), arrived) {
        _ if head_too_large(&parts, &server.config) => Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "HeadersTooLarge",
            format!(
                "the request head is over {} bytes or {} header fields",
                server.config.header_bytes_max, server.config.headers_max
            ),
        )),
        Decision::Limited { retry_after_secs } => Err(ApiError::retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimited",
            format!("too many requests from {}; slow down", peer.ip()),
            retry_after_secs,
        )),
        Decision::Allowed => {
            let route = host::route(&parts, &server.config.domain);
            let arrival = Arrival::new(arrived, &route, &parts, &server.config);
            journaled = match (&server.journal, &route) {
                (Some(journal), Route::App(app)) if journal.wants(app) => Some(BodyCopy::default()),
                _ => None,
            };
            if pool == Pool::Reserved && route != Route::Admin {
                Err(connections_full(server))
            } else if let Some(copy) = &journaled {
                let body = TeeBody::new(body, copy.clone(), server.config.body_bytes_max);
                dispatch(server, route, &parts, body, request_id, arrival, &mut trace).await
            } else {
                dispatch(server, route, &parts, body, request_id, arrival, &mut trace).await
            }
        }
    };
    let mut response = outcome.unwrap_or_else(|error| {
        trace.error = Some(error.kind.clone());
        if error.status.is_server_error() {
            tracing::warn!(kind = %error.kind, error = %error.message, "request failed");
        }
        error.into_response(request_id)
    });
    common_headers(server, &mut response, request_id);
    let duration = clock.now().saturating_duration_since(arrived);
    trace.status = response.status().as_u16();
    trace.duration_us = micros(duration);
    server.env.recorder.emit(Event::Answered {
        request_id: request_id.to_owned(),
        status: trace.status,
        took_us: trace.duration_us,
    });
    server
        .metrics
        .record(trace.app.as_deref(), trace.status, duration);
    tracing::info!(
        method = %parts.method,
        host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(""),
        path = %trace.path,
        status = trace.status,
        duration_us = trace.duration_us,
        "request"
    );
    server.storage.record_request(AnalyticsEvent {
        app_id: trace.app.clone().unwrap_or_default(),
        path: trace.path.clone(),
        status: trace.status,
        duration_us: trace.duration_us,
        at_ms: trace.at_ms,
    });
    server.storage.log_request(RequestLogEntry {
        app_id: trace.app.clone().unwrap_or_default(),
        request_id: request_id.to_owned(),
        method: parts.method.to_string(),
        path: trace.path.clone(),
        status: trace.status,
        duration_us: trace.duration_us,
        at_ms: trace.at_ms,
    });
    if let (Some(journal), Some(copy), Some(app)) = (&server.journal, &journaled, &trace.app) {
        let since_start = arrived.saturating_duration_since(server.started);
        journal.record_request(since_start, request_id, app, &parts, copy, trace.status);
    }
    server.traces.push(trace);
    response
}

async fn dispatch<B>(
    server: &Server,
    route: Route,
    parts: &Parts,
    body: B,
    request_id: &str,
    arrival: Arrival,
    trace: &mut RequestTrace,
) -> Result<Response<Body>, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let app_name = match route {
        Route::Admin => return admin::handle(server, parts, body, arrival).await,
        Route::Missing => {
            return Err(ApiError::bad_request(
                "MissingHost",
                "an HTTP/1.1 request must name its host in a Host header",
            ))
        }
        Route::Unknown(host) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "UnknownHost",
                format!("no app is served at host {host:?}"),
            ))
        }
        Route::App(name) => name,
    };
    let Some(app) = server.apps.get(&app_name) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "UnknownApp",
            format!("no app named {app_name:?} is deployed"),
        ));
    };
    trace.app = Some(app_name);
    if is_api_path(parts.uri.path()) {
        let Some(code) = app.code.clone() else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NoHandler",
                format!("app {:?} has no api/main.js", app.id),
            ));
        };
        return handler::run(server, code, parts, body, request_id, arrival, trace).await;
    }
    static_files::serve(&app, parts, server.config.spa_fallback)
}

/// 503 for a request other than admin on a reserved connection.
fn connections_full(server: &Server) -> ApiError {
    let mut error = ApiError::retry_later(
        StatusCode::SERVICE_UNAVAILABLE,
        "Overloaded",
        format!(
            "all {} connections are taken; the reserved ones serve the admin API only",
            server.config.connections_max
        ),
        server.config.retry_after_secs,
    );
    error.cause = Some("ConnectionLimit".into());
    error
}

/// True when the request line and headers are over the configured limits (counted as
/// sent: `name: value\r\n` per field).
fn head_too_large(parts: &Parts, config: &ServerConfig) -> bool {
    let target = parts
        .uri
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    let fields: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    parts.headers.len() > config.headers_max
        || parts.method.as_str().len() + target + fields > config.header_bytes_max
}

/// `X-Request-ID`, `Date` from the Clock (hyper's own is off: it reads the system
/// clock), and the security headers.
fn common_headers(server: &Server, response: &mut Response<Body>, request_id: &str) {
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert(request_id::HEADER, id);
    }
    let wall_ms = u64::try_from(server.env.clock.wall_ms()).unwrap_or(0);
    let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(wall_ms));
    headers.insert(
        header::DATE,
        HeaderValue::from_str(&date).expect("an HTTP date is ASCII"),
    );
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
}
