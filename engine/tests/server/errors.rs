//! Every error status, with the JSON body `{error, kind, retryable, requestId, logs}`.

use std::time::Duration;

use bytes::Bytes;
use fazt_engine::runtime::RuntimeConfig;
use http::{Request, StatusCode};
use http_body_util::Full;
use serde_json::json;

use crate::support::{Reply, Setup, TestServer, DOMAIN, TOKEN};

fn assert_error_shape(reply: &Reply, status: StatusCode, kind: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["kind"], kind, "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert!(body["retryable"].is_boolean(), "{body}");
    assert!(body["logs"].is_array(), "{body}");
    assert_eq!(body["requestId"], reply.header("x-request-id"), "{body}");
    assert_eq!(reply.header("content-type"), "application/json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_400_401_404_413() {
    let server = TestServer::start().await;
    let client = server.client();
    let host = format!("momentum.{DOMAIN}");

    let invalid_json = client
        .send(
            Request::post("/api/tasks")
                .header("host", &host)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(b"{not json")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_error_shape(&invalid_json, StatusCode::BAD_REQUEST, "InvalidJson");

    let unauthorized = client
        .admin("GET", "/api/_debug/runtime", Some("nope"))
        .await;
    assert_error_shape(&unauthorized, StatusCode::UNAUTHORIZED, "Unauthorized");

    assert_error_shape(
        &client.get("nowhere.test", "/").await,
        StatusCode::NOT_FOUND,
        "UnknownHost",
    );
    assert_error_shape(
        &client.get(&host, "/missing").await,
        StatusCode::NOT_FOUND,
        "NotFound",
    );

    let huge = vec![b'x'; (1 << 20) + 1];
    let too_large = client
        .send(
            Request::post("/api/tasks")
                .header("host", &host)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(huge)))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_error_shape(&too_large, StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
    // Just under the limit is read (and refused by the app as invalid input).
    let text = "x".repeat(1000);
    let fine = client
        .call(
            "POST",
            &host,
            "/api/tasks",
            Some(json!({"session": "s", "text": text})),
        )
        .await;
    assert_eq!(
        fine.status,
        StatusCode::BAD_REQUEST,
        "the app's own validation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_429_with_retry_after() {
    let mut setup = Setup::new();
    setup.config.rate_limit.per_second = 1;
    setup.config.rate_limit.burst = 3;
    let server = TestServer::with(setup).await;
    let client = server.client();
    let host = format!("momentum.{DOMAIN}");
    for _ in 0..3 {
        assert_eq!(client.get(&host, "/").await.status, StatusCode::OK);
    }
    let limited = client.get(&host, "/").await;
    assert_error_shape(&limited, StatusCode::TOO_MANY_REQUESTS, "RateLimited");
    assert_eq!(limited.json()["retryable"], true);
    assert!(limited.header("retry-after").parse::<u64>().unwrap() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_failures_500_with_logs() {
    let server = TestServer::start().await;
    server
        .deploy("broken", &[("api/main.js", "respond(200, {")])
        .await;
    server
        .deploy(
            "throws",
            &[(
                "api/main.js",
                "console.log('before the throw'); throw new TypeError('boom')",
            )],
        )
        .await;
    server.deploy("static-only", &[("index.html", "hi")]).await;
    let client = server.client();

    let syntax = client.get(&format!("broken.{DOMAIN}"), "/api").await;
    assert_error_shape(&syntax, StatusCode::INTERNAL_SERVER_ERROR, "SyntaxError");
    let thrown = client.get(&format!("throws.{DOMAIN}"), "/api/x").await;
    assert_error_shape(&thrown, StatusCode::INTERNAL_SERVER_ERROR, "TypeError");
    let body = thrown.json();
    assert!(body["error"].as_str().unwrap().contains("boom"), "{body}");
    assert_eq!(body["logs"][0]["message"], "before the throw");
    let no_handler = client.get(&format!("static-only.{DOMAIN}"), "/api").await;
    assert_error_shape(&no_handler, StatusCode::NOT_FOUND, "NoHandler");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_504() {
    let mut setup = Setup::new();
    setup.runtime = RuntimeConfig {
        timeout: Duration::from_millis(300),
        ..RuntimeConfig::default()
    };
    let server = TestServer::with(setup).await;
    server
        .deploy("spin", &[("api/main.js", "while (true) {}")])
        .await;
    let reply = server.client().get(&format!("spin.{DOMAIN}"), "/api").await;
    assert_error_shape(&reply, StatusCode::GATEWAY_TIMEOUT, "TimeoutError");
    assert!(reply.json()["error"]
        .as_str()
        .unwrap()
        .contains("execution timeout"));
    // The VM was discarded and replaced: the next request is served normally.
    let next = server
        .client()
        .get(&format!("momentum.{DOMAIN}"), "/api/tasks?session=a")
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_exhaustion_503_quickly_with_retry_after() {
    let mut setup = Setup::new();
    setup.runtime = RuntimeConfig {
        pool_size: 1,
        ..RuntimeConfig::default()
    };
    setup.threads = 1;
    setup.config.admission_wait = Duration::from_millis(50);
    let server = TestServer::with(setup).await;
    let slow = "var end = Date.now() + 1500; while (Date.now() < end) {} respond({slept: true})";
    server.deploy("slow", &[("api/main.js", slow)]).await;
    let client = server.client();
    let host = format!("slow.{DOMAIN}");

    let first = tokio::spawn({
        let host = host.clone();
        async move { client.get(&host, "/api").await }
    });
    // Wait until the first request holds the only execution slot.
    let mut held = false;
    for _ in 0..500 {
        let runtime = client
            .admin("GET", "/api/_debug/runtime", Some(TOKEN))
            .await
            .json();
        if runtime["admission"]["inUse"] == 1 {
            held = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(held, "the slow request never started");
    let clock = fazt_engine::env::RealClock::new();
    let asked = fazt_engine::env::Clock::now(&clock);
    let refused = client.get(&host, "/api").await;
    let took = fazt_engine::env::Clock::now(&clock) - asked;
    assert_error_shape(&refused, StatusCode::SERVICE_UNAVAILABLE, "Overloaded");
    assert_eq!(refused.json()["retryable"], true);
    assert_eq!(refused.header("retry-after"), "1");
    assert!(
        took < Duration::from_millis(1000),
        "refused in {took:?}, not after a timeout"
    );
    let first = first.await.unwrap();
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
}
