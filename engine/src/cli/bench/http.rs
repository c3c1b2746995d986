//! `fazt bench http`: a closed-loop HTTP/1.1 load generator. Each of the C tasks owns
//! one keep-alive connection and sends the same request on it back to back; the
//! figures are [`load::run`]'s, plus the count of every status received.
//!
//! Outcomes of one request:
//! - a 2xx response, whole body read: succeeded;
//! - any other status: failed, kind `HTTP <status>` (the connection is kept);
//! - the connection could not be opened: failed, kind `Connect`;
//! - the connection broke while sending or reading (the server closed it, say):
//!   failed, kind `Io`, and the task's next request opens a new connection;
//! - no answer within [`REQUEST_TIMEOUT`]: failed, kind `Timeout`, connection dropped.
//!
//! A connection the server closed between two requests (seen before sending) is
//! reopened without failing anything; the report counts the connections opened.
//!
//! Nothing here is random: `--seed` only keeps the replay line the same shape as the
//! other benchmarks'.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{header, HeaderMap, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use serde::Serialize;

use super::load::{self, format_duration, ErrorKind, Length, Workload};
use super::report::{thousands, Report};
use crate::cli::client::{self, Sender, Target};
use fazt_engine::env::{timeout_at, Clock, Env};

/// Longest wait for one response (connecting included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of one `fazt bench http` run.
#[derive(Clone, Debug)]
pub struct HttpBench {
    /// `http://host[:port]/path?query`.
    pub url: String,
    /// The `Host` header; `None` is the URL's `host[:port]`.
    pub host: Option<String>,
    pub method: Method,
    /// A JSON body, sent as given with `Content-Type: application/json`.
    pub body: Option<String>,
    /// Connections, one per task (at least 1).
    pub concurrency: usize,
    pub length: Length,
}

/// The parameters of an HTTP run, as they appear in the JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct HttpParams {
    pub benchmark: &'static str,
    pub url: String,
    pub host: String,
    pub method: String,
    pub body: Option<String>,
    pub concurrency: usize,
    pub requests: Option<u64>,
    pub duration_ms: Option<u64>,
    pub seed: u64,
    pub cpus: usize,
    /// Connections opened in all (first ones and reopened ones).
    pub connections_opened: u64,
    /// Responses by status code, failed ones included.
    pub statuses: BTreeMap<String, u64>,
}

/// One task's connection and what came back on it.
#[derive(Default)]
struct Connection {
    sender: Option<Sender>,
    opened: u64,
    statuses: BTreeMap<u16, u64>,
}

/// Each operation: one request on the task's own connection.
struct Requests {
    address: SocketAddr,
    method: Method,
    path: PathAndQuery,
    headers: HeaderMap,
    body: Bytes,
    clock: Arc<dyn Clock>,
    /// Indexed by task; each is locked only by its own task, so never contended.
    connections: Vec<tokio::sync::Mutex<Connection>>,
}

impl Workload for Requests {
    async fn operate(&self, worker: usize, _sequence: u64) -> Result<(), ErrorKind> {
        let mut connection = self.connections[worker].lock().await;
        let deadline = self.clock.deadline_in(REQUEST_TIMEOUT);
        match timeout_at(
            self.clock.as_ref(),
            deadline,
            self.exchange(&mut connection),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_elapsed) => {
                connection.sender = None;
                Err("Timeout".into())
            }
        }
    }
}

impl Requests {
    /// Sends one request on `connection` (opening it first if needed) and reads the
    /// whole response. A broken connection is dropped, to be reopened next time.
    async fn exchange(&self, connection: &mut Connection) -> Result<(), ErrorKind> {
        let mut sender = match connection.sender.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => {
                let sender = client::connect(self.address)
                    .await
                    .map_err(|_| ErrorKind::from("Connect"))?;
                connection.opened += 1;
                sender
            }
        };
        let io = |_: hyper::Error| ErrorKind::from("Io");
        sender.ready().await.map_err(io)?;
        let response = sender.send_request(self.request()).await.map_err(io)?;
        let status = response.status();
        response.into_body().collect().await.map_err(io)?;
        connection.sender = Some(sender);
        *connection.statuses.entry(status.as_u16()).or_default() += 1;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()).into())
        }
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.path.clone().into();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Runs the benchmark on `env` on the current multi-thread tokio runtime.
pub async fn run(options: &HttpBench, env: Env) -> anyhow::Result<Report<HttpParams>> {
    anyhow::ensure!(options.concurrency >= 1, "--concurrency must be at least 1");
    let target = Target::parse(&options.url)?;
    let address = target.resolve().await?;
    let host = match &options.host {
        Some(host) => HeaderValue::from_str(host)
            .map_err(|_| anyhow::anyhow!("--host {host:?} is not a valid Host header"))?,
        None => target.host_header(),
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, host.clone());
    if let Some(body) = &options.body {
        serde_json::from_str::<serde_json::Value>(body)
            .map_err(|error| anyhow::anyhow!("--body is not valid JSON: {error}"))?;
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let workload = Arc::new(Requests {
        address,
        method: options.method.clone(),
        path: target.path.clone(),
        headers,
        body: Bytes::from(options.body.clone().unwrap_or_default()),
        clock: env.clock.clone(),
        connections: (0..options.concurrency)
            .map(|_| tokio::sync::Mutex::default())
            .collect(),
    });
    let measured = load::run(
        env.clock.clone(),
        workload.clone(),
        options.concurrency,
        options.length,
    )
    .await;
    let (mut opened, mut statuses) = (0, BTreeMap::<u16, u64>::new());
    for connection in &workload.connections {
        let mut connection = connection.lock().await;
        connection.sender = None;
        opened += connection.opened;
        for (status, count) in &connection.statuses {
            *statuses.entry(*status).or_default() += count;
        }
    }

    let host = host.to_str().unwrap_or("(not UTF-8)").to_owned();
    let seed = env.rng.seed();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (requests, duration_ms) = match options.length {
        Length::Ops(n) => (Some(n), None),
        Length::Duration(d) => (None, Some(d.as_millis() as u64)),
    };
    let length = match options.length {
        Length::Ops(n) => format!("--requests {n}"),
        Length::Duration(d) => format!("--duration {}", format_duration(d)),
    };
    let body = options
        .body
        .as_deref()
        .map(|body| format!(" --body {}", shell_quote(body)))
        .unwrap_or_default();
    let mut status_lines: Vec<String> = statuses
        .iter()
        .map(|(status, count)| format!("{status}: {}", thousands(*count)))
        .collect();
    if status_lines.is_empty() {
        status_lines.push("(none)".into());
    }
    Ok(Report {
        title: format!("HTTP Benchmark: {} {}", options.method, options.url),
        header: vec![
            format!(
                "Host: {host} | Address: {address} | Concurrency: {} | {} | {cpus} cores",
                options.concurrency, options.length
            ),
            format!(
                "Replay: fazt bench http --url {} --host {} --method {}{body} --concurrency {} {length} --seed {seed}",
                shell_quote(&options.url),
                shell_quote(&host),
                options.method,
                options.concurrency
            ),
        ],
        params: HttpParams {
            benchmark: "http",
            url: options.url.clone(),
            host,
            method: options.method.to_string(),
            body: options.body.clone(),
            concurrency: options.concurrency,
            requests,
            duration_ms,
            seed,
            cpus,
            connections_opened: opened,
            statuses: statuses
                .iter()
                .map(|(status, count)| (status.to_string(), *count))
                .collect(),
        },
        figures: measured.recorder.figures(measured.elapsed),
        sections: vec![
            ("Statuses".into(), status_lines),
            (
                "Connections".into(),
                vec![format!(
                    "opened {} for {} tasks",
                    thousands(opened),
                    options.concurrency
                )],
            ),
        ],
    })
}

/// `text` as one shell word: unchanged when plain, else single-quoted.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_words_are_quoted_only_when_needed() {
        assert_eq!(
            shell_quote("http://a.localhost:80/api?x=1"),
            "'http://a.localhost:80/api?x=1'"
        );
        assert_eq!(
            shell_quote("http://a.localhost:80/api"),
            "http://a.localhost:80/api"
        );
        assert_eq!(shell_quote(r#"{"a":1}"#), r#"'{"a":1}'"#);
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
