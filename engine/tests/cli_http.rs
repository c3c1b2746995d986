//! `fazt bench http` and `fazt deploy` end to end: the built binary against a real
//! server started in-process on 127.0.0.1:0 with the fixture apps (the server tests'
//! `support.rs`).

use std::process::{Command, Output};

use http::StatusCode;

#[allow(dead_code)] // shared with tests/server.rs, which uses all of it
#[path = "server/support.rs"]
mod support;

use support::{TestServer, DOMAIN, TOKEN};

/// Runs the binary off the runtime's threads, so that the server keeps serving.
async fn fazt(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_fazt"))
            .args(&args)
            .env_remove("FAZT_ADMIN_TOKEN")
            .output()
            .expect("the fazt binary runs")
    })
    .await
    .unwrap()
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_http_posts_tasks_on_keep_alive_connections() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("http.json");
    let mut args = words(&format!(
        "bench http --url http://{}/api/tasks --host momentum.{DOMAIN} --concurrency 4 --requests 200 --seed 7 --report",
        server.addr
    ));
    args.push(report.to_str().unwrap().into());
    args.extend([
        "--body".into(),
        r#"{"session":"bench","text":"hello"}"#.into(),
    ]);
    let output = fazt(args).await;
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for heading in [
        "HTTP Benchmark: POST",
        "Operations:",
        "Latency (ms):",
        "Throughput:",
        "Errors:",
        "Statuses:\n  201: 200\n",
        "Connections:\n  opened 4 for 4 tasks\n",
        "Replay: fazt bench http",
    ] {
        assert!(
            stdout.contains(heading),
            "{heading:?} missing from\n{stdout}"
        );
    }

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for key in [
        "benchmark",
        "url",
        "host",
        "method",
        "concurrency",
        "requests",
        "seed",
        "total",
        "succeeded",
        "failed",
        "latency_ms",
        "throughput",
        "errors",
        "statuses",
        "connections_opened",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(json["benchmark"], "http");
    assert_eq!(
        (json["total"].as_u64(), json["failed"].as_u64()),
        (Some(200), Some(0))
    );
    assert_eq!(json["statuses"], serde_json::json!({ "201": 200 }));
    assert_eq!(json["errors"], serde_json::json!({}));
    assert_eq!(
        json["connections_opened"], 4,
        "keep-alive: one connection per task"
    );
    assert_eq!(json["seed"], 7);

    // Every POST landed.
    let listed = server
        .client()
        .get(&format!("momentum.{DOMAIN}"), "/api/tasks?session=bench")
        .await;
    assert_eq!(listed.json()["tasks"].as_array().unwrap().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_http_counts_non_2xx_as_failed_by_status() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("http.json");
    // No session: momentum answers 400.
    let mut args = words(&format!(
        "bench http --url http://momentum.localhost:{}/api/tasks --requests 10 --report",
        server.addr.port()
    ));
    args.push(report.to_str().unwrap().into());
    let output = fazt(args).await;
    assert!(output.status.success(), "{}", describe(&output));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["method"], "GET");
    assert_eq!(json["failed"], 10, "{json}");
    assert_eq!(json["errors"], serde_json::json!({ "HTTP 400": 10 }));
    assert_eq!(json["statuses"], serde_json::json!({ "400": 10 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_uploads_a_folder_that_then_serves() {
    let server = TestServer::start().await;
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("api")).unwrap();
    std::fs::create_dir_all(site.path().join("assets/css")).unwrap();
    std::fs::write(site.path().join("index.html"), "<h1>from the cli</h1>").unwrap();
    std::fs::write(site.path().join("assets/css/site.css"), "h1{}").unwrap();
    std::fs::write(
        site.path().join("api/main.js"),
        "respond({deployed: true, path: request.path})",
    )
    .unwrap();
    let to = format!("http://admin.localhost:{}", server.addr.port());
    let mut args = vec![
        "deploy".to_owned(),
        site.path().to_str().unwrap().to_owned(),
    ];
    args.extend(words(&format!("--name cli-site --to {to} --token {TOKEN}")));
    let output = fazt(args).await;
    assert!(output.status.success(), "{}", describe(&output));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", describe(&output)));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["files"], 3, "{answer}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("deployed cli-site (3 files"),
        "{}",
        describe(&output)
    );

    let client = server.client();
    let host = format!("cli-site.{DOMAIN}");
    let page = client.get(&host, "/").await;
    assert_eq!(
        (page.status, page.text().as_str()),
        (StatusCode::OK, "<h1>from the cli</h1>")
    );
    assert_eq!(
        client.get(&host, "/assets/css/site.css").await.text(),
        "h1{}"
    );
    let api = client.get(&host, "/api/hello").await;
    assert_eq!(api.json()["deployed"], true, "{}", api.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_with_a_bad_token_fails_with_the_server_message() {
    let server = TestServer::start().await;
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "x").unwrap();
    let to = format!("http://admin.localhost:{}", server.addr.port());
    let mut args = vec![
        "deploy".to_owned(),
        site.path().to_str().unwrap().to_owned(),
    ];
    args.extend(words(&format!("--name nope --to {to} --token wrong-token")));
    let output = fazt(args).await;
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the server refused the deploy (HTTP 401 Unauthorized)")
            && stderr.contains("(Unauthorized)"),
        "{}",
        describe(&output)
    );
    let missing = server.client().get(&format!("nope.{DOMAIN}"), "/").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // No token at all: refused before any request.
    let mut args = vec![
        "deploy".to_owned(),
        site.path().to_str().unwrap().to_owned(),
    ];
    args.extend(words(&format!("--name nope --to {to}")));
    let output = fazt(args).await;
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no admin token"),
        "{}",
        describe(&output)
    );
}
