//! Request ids, and the admin endpoints: runtime, traces, capacity, metrics.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use serde_json::json;

use crate::support::{fixture_names, Client, TestServer, DOMAIN, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_request_ids_are_reused_when_sane() {
    let server = TestServer::start().await;
    let client = server.client();
    let with_id = |id: &str| {
        Request::get("/api/tasks?session=a")
            .header("host", format!("momentum.{DOMAIN}"))
            .header("x-request-id", id)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let reused = client.send(with_id("client-42.retry_1")).await.unwrap();
    assert_eq!(reused.status, StatusCode::OK);
    assert_eq!(reused.header("x-request-id"), "client-42.retry_1");

    for insane in ["has spaces", "semi;colon", &"x".repeat(65)] {
        let replaced = client.send(with_id(insane)).await.unwrap();
        let id = replaced.header("x-request-id");
        assert_ne!(id, insane);
        assert_eq!(id.len(), 20, "{id}");
    }
    let error = client
        .send(
            Request::get("/missing")
                .header("host", format!("momentum.{DOMAIN}"))
                .header("x-request-id", "trace-me")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(error.json()["requestId"], "trace-me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_capacity_and_metrics_endpoints() {
    let server = TestServer::start().await;
    let client = server.client();
    let host = format!("momentum.{DOMAIN}");
    create_task(&client, "the-write").await;
    client.get(&host, "/").await;
    client.get("nowhere.test", "/").await;

    for path in [
        "/api/_debug/runtime",
        "/api/_debug/traces",
        "/api/system/capacity",
        "/metrics",
    ] {
        assert_eq!(
            client.admin("GET", path, None).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }

    let runtime = client
        .admin("GET", "/api/_debug/runtime", Some(TOKEN))
        .await;
    assert_eq!(runtime.status, StatusCode::OK);
    let runtime = runtime.json();
    assert_eq!(runtime["pool"]["size"], 16, "{runtime}");
    assert!(runtime["pool"]["executions"].as_u64().unwrap() >= 1);
    assert_eq!(runtime["admission"]["slots"], 16);
    assert!(runtime["storage"]["writesCommitted"].as_u64().unwrap() >= 1);
    assert_eq!(runtime["storage"]["queueDepth"], 1024);

    let traces = client
        .admin("GET", "/api/_debug/traces?limit=3", Some(TOKEN))
        .await
        .json();
    let traces = traces["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 3);
    assert_eq!(
        traces[0]["path"], "/api/_debug/runtime",
        "newest first: {traces:?}"
    );
    let write = client
        .admin("GET", "/api/_debug/traces?limit=50", Some(TOKEN))
        .await
        .json()["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "the-write")
        .cloned()
        .expect("the write is traced");
    assert_eq!(
        (write["app"].clone(), write["status"].clone()),
        (json!("momentum"), json!(201))
    );
    assert_eq!(write["path"], "/api/tasks");
    assert!(write["storageCalls"].as_u64().unwrap() >= 1);
    for field in [
        "durationUs",
        "admissionUs",
        "vmWaitUs",
        "executeUs",
        "storageUs",
    ] {
        assert!(write[field].is_u64(), "{field}: {write}");
    }
    assert!(write["durationUs"].as_u64() >= write["executeUs"].as_u64());

    let capacity = client
        .admin("GET", "/api/system/capacity", Some(TOKEN))
        .await
        .json();
    assert!(capacity["cores"].as_u64().unwrap() >= 1, "{capacity}");
    assert!(capacity["memoryTotalBytes"].as_u64().unwrap() > 0);
    assert!(capacity["processRssBytes"].as_u64().unwrap() > 0);
    assert_eq!(capacity["writeQueue"]["depthMax"], 1024);
    assert_eq!(capacity["readerPoolSize"], 4);
    assert_eq!(capacity["vmPoolSize"], 16);
    assert_eq!(capacity["limits"]["bodyBytesMax"], 1 << 20);

    let metrics = client.admin("GET", "/metrics", Some(TOKEN)).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.header("content-type").starts_with("text/plain"));
    let text = metrics.text();
    for expected in [
        "fazt_http_requests_total{app=\"momentum\",class=\"2xx\"} 2",
        "fazt_http_requests_total{app=\"-\",class=\"4xx\"}",
        "# TYPE fazt_http_request_duration_seconds histogram",
        "fazt_http_request_duration_seconds_bucket{le=\"+Inf\"}",
        "fazt_vm_pool_size 16",
        "fazt_storage_writes_total",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let apps = format!("fazt_apps {}", fixture_names().len());
    assert!(text.contains(&apps), "missing {apps:?} in\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traces_open_as_a_chrome_timeline() {
    let server = TestServer::start().await;
    let client = server.client();
    create_task(&client, "a-write").await;
    client.get("nowhere.test", "/").await;

    let timeline = client
        .admin("GET", "/api/_debug/traces?format=chrome", Some(TOKEN))
        .await;
    assert_eq!(timeline.status, StatusCode::OK);
    let text = timeline.json().to_string();
    let checked = fazt_engine::events::chrome::validate(&text).expect("a valid trace-event file");
    assert!(
        checked.threads.iter().any(|t| t == "momentum"),
        "{checked:?}"
    );
    assert!(
        checked.threads.iter().any(|t| t.starts_with("vm ")),
        "{checked:?}"
    );
    // The write's span with its phases nested, the failed request flagged.
    assert!(checked.spans >= 4, "{checked:?}");
    assert!(text.contains("\"failed: "), "{text}");

    let refused = client
        .admin("GET", "/api/_debug/traces?format=xml", Some(TOKEN))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

/// `POST /api/tasks` to momentum as request `id`, which must create the task.
async fn create_task(client: &Client, id: &str) {
    let created = client
        .send(
            Request::post("/api/tasks")
                .header("host", format!("momentum.{DOMAIN}"))
                .header("content-type", "application/json")
                .header("x-request-id", id)
                .body(Full::new(Bytes::from(
                    json!({"session": "m", "text": "t"}).to_string(),
                )))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(created.status, StatusCode::CREATED);
}
