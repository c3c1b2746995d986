//! Tenant isolation at the HTTP layer: one app's CPU loops cannot take every execution
//! slot (issue 15, item 6).

use std::time::Duration;

use fazt_engine::runtime::RuntimeConfig;
use http::StatusCode;

use crate::support::{Setup, TestServer, DOMAIN, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_app_spinning_leaves_slots_for_the_others() {
    let mut setup = Setup::new();
    setup.runtime = RuntimeConfig {
        pool_size: 4,
        timeout: Duration::from_secs(3),
        ..RuntimeConfig::default()
    };
    setup.config.admission_wait = Duration::from_millis(100);
    let server = TestServer::with(setup).await;
    let client = server.client();
    let spin_host = format!("spin.{DOMAIN}");
    let spinning: Vec<_> = (0..6)
        .map(|_| {
            let host = spin_host.clone();
            tokio::spawn(async move { client.get(&host, "/api/spin?forever=1").await })
        })
        .collect();
    // Wait until the spinning app holds its share: 3 of the 4 slots, one kept for others.
    let mut runtime = serde_json::Value::Null;
    for _ in 0..500 {
        runtime = client
            .admin("GET", "/api/_debug/runtime", Some(TOKEN))
            .await
            .json();
        if runtime["admission"]["byApp"]["spin"]["inUse"] == 3 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        runtime["admission"]["byApp"]["spin"]["inUse"], 3,
        "{runtime}"
    );
    assert_eq!(runtime["admission"]["appMax"], 3, "{runtime}");
    let other = client
        .get(&format!("momentum.{DOMAIN}"), "/api/tasks?session=a")
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text());
    let mut capped = 0;
    for reply in spinning {
        let reply = reply.await.unwrap();
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            let body = reply.json();
            assert_eq!(body["kind"], "Overloaded", "{body}");
            assert_eq!(body["cause"], "AppConcurrencyLimit", "{body}");
            assert!(!reply.header("retry-after").is_empty());
            capped += 1;
        } else {
            assert_eq!(
                reply.status,
                StatusCode::GATEWAY_TIMEOUT,
                "{}",
                reply.text()
            );
        }
    }
    assert_eq!(capped, 3, "all but the app's share were refused");
}
