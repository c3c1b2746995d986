//! Graceful shutdown: in-flight requests finish, the write queue drains, and every
//! acknowledged write is in the database when it is reopened.

use std::collections::BTreeSet;

use fazt_engine::env::{Deadline, Env};
use fazt_engine::storage::Storage;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::support::{TestServer, DOMAIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_across_a_shutdown() {
    let mut server = TestServer::start().await;
    let client = server.client();
    let trigger = server.take_trigger();
    let task = server.take_task();
    let (acks, mut acked) = mpsc::unbounded_channel::<String>();
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let acks = acks.clone();
            tokio::spawn(async move {
                for n in 0..40 {
                    let body =
                        json!({"session": "durable", "text": format!("w{writer}-{n}")}).to_string();
                    let request = http::Request::post("/api/tasks")
                        .header("host", format!("momentum.{DOMAIN}"))
                        .header("content-type", "application/json")
                        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                        .unwrap();
                    match client.send(request).await {
                        Ok(reply) if reply.status == http::StatusCode::CREATED => {
                            let id: Value = reply.json()["id"].clone();
                            let _ = acks.send(id.as_str().unwrap().to_owned());
                        }
                        // Refused or cut off by the shutdown: not acknowledged.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    drop(acks);
    // Let some writes be acknowledged, then stop the server while others are in flight.
    let mut acknowledged = BTreeSet::new();
    while acknowledged.len() < 30 {
        acknowledged.insert(acked.recv().await.expect("writes are acknowledged"));
    }
    trigger.send(()).unwrap();
    let report = task.await.unwrap();
    assert!(
        report.drained,
        "in-flight requests finished within the drain timeout"
    );
    for writer in writers {
        writer.await.unwrap();
    }
    while let Some(id) = acked.recv().await {
        acknowledged.insert(id);
    }
    assert!(acknowledged.len() >= 30);

    let reopened = Storage::open(&server.db, Env::real(), Default::default())
        .await
        .unwrap();
    let scope = reopened.scope("momentum", Deadline::NONE);
    for id in &acknowledged {
        let found = scope.ds_find_one("tasks", &json!(id)).await.unwrap();
        assert!(found.is_some(), "acknowledged task {id} was lost");
    }
    let stored = scope
        .ds_count("tasks", &json!({"session": "durable"}))
        .await
        .unwrap();
    assert!(stored >= acknowledged.len() as u64);
    reopened.shutdown().await;
}
