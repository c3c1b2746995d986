//! Production traffic, replayed (issue 21): the real server (real tokio, loopback TCP)
//! with a journal drives the lost-update example under concurrent requests; `fazt-sim
//! replay` then sends the journal's requests to the app in the simulator, the same
//! ones (method, path, body) in the order they arrived, at their arrival times.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use fazt_engine::engine::{Engine, EngineConfig, ExecutionThreads};
use fazt_engine::env::{Deadline, Env};
use fazt_engine::server::journal::journal_files;
use fazt_engine::server::{read_apps_dir, serve, JournalConfig, JournalEntry, ServerConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const APP: &str = "lost-update";
const CLIENTS: usize = 8;
const REQUESTS_PER_CLIENT: usize = 4;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/examples")
        .join(APP)
}

/// One request on its own connection; the answer's status.
async fn send(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {APP}.localhost\r\nContent-Type: application/json\r\n\
         Authorization: Bearer secret-do-not-journal\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer}"))
}

/// Serves the lost-update app with a journal in `journal` while `CLIENTS` clients
/// send increments and reads at once.
fn record(journal: &Path, db: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let env = Env::real();
        let mut server = ServerConfig::new("localhost", "test-admin-token");
        server.journal = Some(JournalConfig::new(journal));
        let profile = fazt_engine::config::Config::preset("hardened", 2).unwrap();
        let config = EngineConfig {
            db: db.to_owned(),
            profile,
            server,
            threads: ExecutionThreads::Threads(2),
        };
        let server = Engine::build(&env, &config).await.unwrap();
        let files = read_apps_dir(example().parent().unwrap(), &server.config().deploy)
            .unwrap()
            .into_iter()
            .find(|(name, _)| name == APP)
            .unwrap()
            .1;
        server.deploy(APP, files, Deadline::NONE).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(serve(listener, Arc::clone(&server), async {
            let _ = stopped.await;
        }));
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            clients.push(tokio::spawn(async move {
                for n in 0..REQUESTS_PER_CLIENT {
                    let body = format!("{{\"visitor\":\"c{client}-{n}\"}}");
                    send(addr, "POST", "/api/increment", &body).await;
                }
                send(addr, "GET", "/api/count", "").await;
            }));
        }
        for client in clients {
            client.await.unwrap();
        }
        let _ = stop.send(());
        serving.await.unwrap();
        server.journal().unwrap().flush();
    });
}

#[test]
fn a_journal_from_the_real_server_replays_the_same_requests() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    record(&journal, &dir.path().join("fazt.db"));

    let mut recorded: Vec<JournalEntry> = Vec::new();
    for (_, file) in journal_files(&journal).unwrap() {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            recorded.push(serde_json::from_str(line).unwrap());
        }
    }
    assert_eq!(recorded.len(), CLIENTS * (REQUESTS_PER_CLIENT + 1));
    for entry in &recorded {
        assert_eq!(entry.app, APP);
        assert!(
            entry
                .headers
                .iter()
                .all(|(name, _)| name != "authorization"),
            "secrets stay out of the journal: {:?}",
            entry.headers
        );
    }
    recorded.sort_by_key(|entry| entry.at_us);

    let output = Command::new(env!("CARGO_BIN_EXE_fazt-sim"))
        .args(["replay", journal.to_str().unwrap(), "--app"])
        .arg(example())
        .args(["--json", "--cases"])
        .arg(dir.path().join("cases"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "the replay ran: {stderr}"
    );
    let summary: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("a JSON summary ({error}): {stderr}"));
    let statuses = summary["statuses"].as_array().unwrap();
    assert_eq!(statuses.len(), recorded.len(), "every request replayed");
    let first_us = recorded[0].at_us;
    let mut previous_sent = 0;
    for (status, entry) in statuses.iter().zip(&recorded) {
        assert_eq!(status["method"], entry.method.as_str());
        assert_eq!(status["path"], entry.path.as_str());
        let body = entry
            .body
            .as_deref()
            .map(|body| serde_json::from_str::<Value>(body).unwrap())
            .unwrap_or(Value::Null);
        assert_eq!(status["body"], body);
        assert_eq!(status["recorded"], entry.status);
        // Sent in arrival order, at the arrival time (to the ms; the client's send
        // follows within the tick).
        let sent = status["sent_us"].as_u64().expect("sent");
        assert!(sent >= previous_sent, "in arrival order: {status}");
        previous_sent = sent;
        let arrival_ms = (entry.at_us - first_us) / 1000;
        assert!(
            sent / 1000 >= arrival_ms && sent / 1000 <= arrival_ms + 2,
            "sent at {sent} µs for an arrival at {arrival_ms} ms"
        );
    }
    // The app's own invariant ran on the replay, by the name of its workload's template.
    let invariants = &summary["profiles"][0]["invariants"];
    assert!(
        invariants
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "countEqualsAcknowledgedIncrements"),
        "{summary}"
    );
    if output.status.code() == Some(1) {
        let replay = summary["failure"]["replay"].as_str().unwrap();
        assert!(replay.starts_with("fazt-sim replay "), "{replay}");
    }
}

#[test]
fn a_corrupt_journal_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal-1.jsonl");
    std::fs::write(
        &path,
        "{\"run\":1,\"at_us\":0,\"request_id\":\"a\",\"app\":\"lost-update\",\"method\":\"GET\",\
         \"path\":\"/api/count\",\"headers\":[],\"status\":200}\n<script>alert(1)</script>\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fazt-sim"))
        .args(["replay", path.to_str().unwrap(), "--app"])
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("journal-1.jsonl:2: not a journal entry"),
        "{stderr}"
    );
}
