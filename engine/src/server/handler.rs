//! `/api` requests: the HTTP request becomes fazt's `request` global, the handler runs
//! on the execution workers behind the admission gate, and its `respond(...)` becomes
//! the HTTP response (fazt-reference.md §2).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use serde_json::Value;

use super::admission::Refused;
use super::arrival::Arrival;
use super::body::{parse_query, read_limited, Body, Timing};
use super::errors::ApiError;
use super::state::Server;
use super::traces::{micros, RequestTrace};
use super::{cookies, form, host, request_id};
use crate::events::{Event, RequestOutcome};
use crate::runtime::{AppCode, HandlerRequest, HandlerResponse, LogLevel};
use crate::storage::RequestLogEntry;

/// Response headers a handler may not set: the server frames the body itself and
/// owns the request id.
const RESERVED: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    request_id::HEADER,
];

/// True for the paths that go to the handler: `/api` and `/api/*`.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Runs `code`'s handler for the request, by its `arrival`'s deadline. Records where
/// the time went in `trace`.
pub async fn run<B>(
    server: &Server,
    code: Arc<AppCode>,
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
    let config = &server.config;
    let timing = Timing {
        clock: server.env.clock.as_ref(),
        started: arrival.at,
        pace: config.body_pace.clone(),
    };
    let body = read_limited(
        &parts.headers,
        body,
        config.body_bytes_max,
        "the request body",
        &timing,
    )
    .await?;
    let request = handler_request(parts, &body, request_id).await?;
    let clock = server.env.clock.as_ref();
    let queued = clock.now();
    trace.read_us = micros(queued.saturating_duration_since(arrival.at));
    let admitted = server.admission.enter(&code.id, clock).await;
    trace.admission_us = micros(clock.now().saturating_duration_since(queued));
    let _slot = match admitted {
        Ok(slot) => slot,
        Err(refused) => {
            server.env.recorder.emit(Event::RequestRefused {
                request_id: request_id.to_owned(),
                waited_us: trace.admission_us,
                cause: refused.cause(),
            });
            return Err(overloaded(server, refused));
        }
    };
    let app_id = code.id.clone();
    let execution = server
        .workers
        .execute(code, request, arrival.deadline)
        .await;
    let report = &execution.report;
    server.env.recorder.emit(Event::Request {
        request_id: request_id.to_owned(),
        app: app_id.as_str().to_owned(),
        execution: report.execution,
        outcome: match &execution.outcome {
            Ok(executed) => RequestOutcome::Status(executed.response.status),
            Err(error) => RequestOutcome::Error(error.kind.name().to_owned()),
        },
    });
    trace.vm = report.vm;
    trace.vm_wait_us = micros(report.vm_wait);
    trace.execute_us = micros(report.total.saturating_sub(report.vm_wait));
    trace.storage_us = micros(report.storage);
    trace.storage_calls = report.storage_calls;
    let (console_entries, failed) = match &execution.outcome {
        Ok(executed) => (executed.logs.len(), false),
        Err(error) => (error.logs.len(), true),
    };
    server.storage.log_execution(
        RequestLogEntry {
            app_id: app_id.as_str().to_owned(),
            request_id: request_id.to_owned(),
            method: parts.method.to_string(),
            path: trace.path.clone(),
            status: 0,
            duration_us: 0,
            at_ms: trace.at_ms,
        },
        console_entries,
        failed,
    );
    match execution.outcome {
        Ok(executed) => {
            for line in &executed.logs {
                log_line(&app_id, line.level, &line.message);
            }
            into_http(executed.response, &host::host_of(parts))
        }
        Err(error) => {
            for line in &error.logs {
                log_line(&app_id, line.level, &line.message);
            }
            let mut error = ApiError::from_execution(error, config.retry_after_secs);
            error.effects = report.writes.summary();
            Err(error)
        }
    }
}

/// The 503 of a request that got no execution slot within the admission wait.
fn overloaded(server: &Server, refused: Refused) -> ApiError {
    let wait_ms = server.config.admission_wait.as_millis();
    let message = match refused {
        Refused::AppConcurrencyLimit => format!(
            "this app already runs {} requests at once, its share of the execution slots, and none finished within {wait_ms} ms",
            server.admission.app_max()
        ),
        Refused::SlotsBusy => format!(
            "all {} execution slots are busy and none became free within {wait_ms} ms",
            server.admission.size()
        ),
    };
    let mut error = ApiError::retry_later(
        StatusCode::SERVICE_UNAVAILABLE,
        "Overloaded",
        message,
        server.config.retry_after_secs,
    );
    error.cause = Some(refused.cause().to_owned());
    error
}

fn log_line(app: &str, level: LogLevel, message: &str) {
    let message: String = message.chars().take(2000).collect();
    match level {
        LogLevel::Error | LogLevel::Warn => tracing::info!(app, ?level, message, "console"),
        _ => tracing::debug!(app, ?level, message, "console"),
    }
}

/// The `request` global: method, path, first query value per key, lowercase headers
/// (repeated ones joined by ", "), and the body, parsed when it is JSON or a form.
async fn handler_request(
    parts: &Parts,
    body: &Bytes,
    request_id: &str,
) -> Result<HandlerRequest, ApiError> {
    let mut headers = BTreeMap::new();
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined: &mut String| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    headers.insert(request_id::HEADER.to_owned(), request_id.to_owned());
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(form::boundary);
    let (body, files) = match boundary {
        Some(boundary) => form::read(body.clone(), boundary).await?,
        None => (parse_body(&parts.headers, body)?, BTreeMap::new()),
    };
    Ok(HandlerRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parse_query(parts.uri.query()),
        body,
        headers,
        files,
    })
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_json_media_type);
    if is_json {
        serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(
                "InvalidJson",
                format!("the request body is not valid JSON: {error}"),
            )
        })
    } else {
        Ok(Value::String(String::from_utf8_lossy(body).into_owned()))
    }
}

/// True for `application/json` and the `+json` structured-syntax types (RFC 6839,
/// `application/ld+json`), parameters and case aside. fazt looks for the substring
/// `application/json`, which also matches `text/notapplication/jsonreally`; this reads
/// the media type itself, and adds the `+json` types fazt leaves unparsed.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    !kind.is_empty() && (essence == "application/json" || subtype.ends_with("+json"))
}

/// The handler's response as HTTP: a string body as text, anything else as JSON.
/// `Set-Cookie` is confined to `own_host`, the app's host (see `cookies.rs`).
fn into_http(response: HandlerResponse, own_host: &str) -> Result<Response<Body>, ApiError> {
    let status = StatusCode::from_u16(response.status)
        .ok()
        .filter(|status| (200..=599).contains(&status.as_u16()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InvalidResponse",
                format!(
                    "the handler responded with status {}, outside 200-599",
                    response.status
                ),
            )
        })?;
    let bodyless =
        response.empty || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let (bytes, content_type) = match response.body {
        _ if bodyless => (Bytes::new(), None),
        Value::String(text) => (Bytes::from(text), Some("text/plain; charset=utf-8")),
        value => (
            Bytes::from(serde_json::to_vec(&value).expect("a JSON value serializes")),
            Some("application/json"),
        ),
    };
    let mut http = Response::new(Body::new(bytes));
    *http.status_mut() = status;
    let headers = http.headers_mut();
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    for (name, value) in &response.headers {
        let name = name.to_ascii_lowercase();
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        let confined;
        let value = if name == "set-cookie" {
            confined = cookies::confine_to_host(value, own_host);
            &confined
        } else {
            value
        };
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.insert(name, value);
            }
            _ => tracing::debug!(header = name, "handler set an invalid header; dropped"),
        }
    }
    Ok(http)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use serde_json::json;

    #[tokio::test]
    async fn the_request_global() {
        let (parts, ()) = Request::builder()
            .method("POST")
            .uri("/api/tasks?session=s1&session=s2")
            .header("Content-Type", "application/json")
            .header("X-Multi", "a")
            .header("X-Multi", "b")
            .body(())
            .unwrap()
            .into_parts();
        let request = handler_request(&parts, &Bytes::from_static(br#"{"text":"hi"}"#), "rid")
            .await
            .unwrap();
        assert_eq!(request.path, "/api/tasks");
        assert_eq!(request.query["session"], "s1");
        assert_eq!(request.headers["x-multi"], "a, b");
        assert_eq!(request.headers["x-request-id"], "rid");
        assert_eq!(request.body, json!({"text": "hi"}));
        let error = handler_request(&parts, &Bytes::from_static(b"{oops"), "rid")
            .await
            .unwrap_err();
        assert_eq!(
            (error.status, error.kind.as_str()),
            (StatusCode::BAD_REQUEST, "InvalidJson")
        );
    }

    #[test]
    fn json_media_types() {
        for json in [
            "application/json",
            "APPLICATION/JSON ; charset=utf-8",
            "application/ld+json",
            "application/problem+json; x=1",
        ] {
            assert!(is_json_media_type(json), "{json}");
        }
        for other in [
            "text/notjsonreally",
            "text/json-ish",
            "application/jsonp",
            "application/x-json-stream",
            "json",
            "+json",
            "",
        ] {
            assert!(!is_json_media_type(other), "{other}");
        }
    }

    #[test]
    fn responses_become_http() {
        let response = |status, body, empty| HandlerResponse {
            status,
            headers: BTreeMap::from([
                ("X-Custom".into(), "1".into()),
                ("Content-Length".into(), "9".into()),
            ]),
            body,
            empty,
        };
        let http = into_http(response(201, json!({"id": "a"}), false), "a.test").unwrap();
        assert_eq!(http.status(), StatusCode::CREATED);
        assert_eq!(http.headers()["content-type"], "application/json");
        assert_eq!(http.headers()["x-custom"], "1");
        assert!(http.headers().get("content-length").is_none());
        let text = into_http(response(200, json!("plain"), false), "a.test").unwrap();
        assert_eq!(text.headers()["content-type"], "text/plain; charset=utf-8");
        assert!(into_http(response(99, Value::Null, true), "a.test").is_err());
        assert!(is_api_path("/api") && is_api_path("/api/x") && !is_api_path("/apix"));
    }
}
