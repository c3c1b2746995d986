//! The fixture apps through HTTP: momentum's CRUD with ownership, cashflow's endpoints,
//! spin's trivial and CPU-bound handlers.

use http::StatusCode;
use serde_json::json;

use crate::support::{TestServer, DOMAIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn momentum_create_list_update_delete_with_ownership() {
    let server = TestServer::start().await;
    let client = server.client();
    let host = format!("momentum.{DOMAIN}");

    let created = client
        .call(
            "POST",
            &host,
            "/api/tasks",
            Some(json!({"session": "s1", "text": "write tests"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let task = created.json();
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (task["text"].clone(), task["done"].clone()),
        (json!("write tests"), json!(false))
    );
    client
        .call(
            "POST",
            &host,
            "/api/tasks",
            Some(json!({"session": "s1", "text": "second"})),
        )
        .await;
    client
        .call(
            "POST",
            &host,
            "/api/tasks",
            Some(json!({"session": "s2", "text": "other's"})),
        )
        .await;

    let listed = client.get(&host, "/api/tasks?session=s1").await.json();
    let texts: Vec<&str> = listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["write tests", "second"]);

    let updated = client
        .call(
            "PUT",
            &host,
            &format!("/api/tasks/{id}"),
            Some(json!({"session": "s1", "done": true, "text": "tests written"})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert_eq!(updated.json()["done"], true);
    assert_eq!(updated.json()["text"], "tests written");

    // Another session can neither change nor delete it: 404, and nothing changes.
    let stolen = client
        .call(
            "PUT",
            &host,
            &format!("/api/tasks/{id}"),
            Some(json!({"session": "s2", "done": false})),
        )
        .await;
    assert_eq!(stolen.status, StatusCode::NOT_FOUND);
    let not_deleted = client
        .call(
            "DELETE",
            &host,
            &format!("/api/tasks/{id}?session=s2"),
            None,
        )
        .await;
    assert_eq!(not_deleted.status, StatusCode::NOT_FOUND);
    let still = client
        .get(&host, &format!("/api/tasks/{id}?session=s1"))
        .await
        .json();
    assert_eq!(still["done"], true);

    let deleted = client
        .call(
            "DELETE",
            &host,
            &format!("/api/tasks/{id}?session=s1"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_empty());
    let again = client
        .call(
            "DELETE",
            &host,
            &format!("/api/tasks/{id}?session=s1"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let left = client.get(&host, "/api/tasks?session=s1").await.json();
    assert_eq!(left["tasks"].as_array().unwrap().len(), 1);

    let no_session = client
        .call("POST", &host, "/api/tasks", Some(json!({"text": "x"})))
        .await;
    assert_eq!(no_session.status, StatusCode::BAD_REQUEST);
    let no_text = client
        .call("POST", &host, "/api/tasks", Some(json!({"session": "s1"})))
        .await;
    assert_eq!(no_text.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cashflow_categories_transactions_and_ranges() {
    let server = TestServer::start().await;
    let client = server.client();
    let host = format!("cashflow.{DOMAIN}");

    let categories = client.get(&host, "/api/categories?session=alice").await;
    assert_eq!(categories.status, StatusCode::OK, "{}", categories.text());
    let categories = categories.json()["categories"].as_array().unwrap().clone();
    assert_eq!(categories.len(), 12);
    assert!(categories.iter().all(|c| c["totalSpent"] == 0));
    // Seeding is idempotent.
    let again = client
        .get(&host, "/api/categories?session=alice")
        .await
        .json();
    assert_eq!(again["categories"].as_array().unwrap().len(), 12);

    for (amount, category, date) in [
        (12.5, "groceries", "2025-01-05"),
        (7.5, "groceries", "2025-01-20"),
        (30.0, "dining", "2025-02-01"),
    ] {
        let body =
            json!({"session": "alice", "amount": amount, "category": category, "date": date});
        let reply = client
            .call("POST", &host, "/api/transactions", Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        assert!(reply.json()["id"].is_string());
    }
    let totals = client
        .get(&host, "/api/categories?session=alice")
        .await
        .json();
    let total = |name: &str| {
        totals["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["totalSpent"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(
        (total("groceries"), total("dining"), total("travel")),
        (20.0, 30.0, 0.0)
    );

    let january = client
        .get(
            &host,
            "/api/transactions?session=alice&from=2025-01-01&to=2025-01-31",
        )
        .await
        .json();
    let amounts: Vec<f64> = january["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["amount"].as_f64().unwrap())
        .collect();
    assert_eq!(amounts, [12.5, 7.5]);
    let from_mid = client
        .get(&host, "/api/transactions?session=alice&from=2025-01-10")
        .await
        .json();
    assert_eq!(from_mid["transactions"].as_array().unwrap().len(), 2);
    let all = client
        .get(&host, "/api/transactions?session=alice")
        .await
        .json();
    assert_eq!(all["transactions"].as_array().unwrap().len(), 3);
    let bob = client
        .get(&host, "/api/transactions?session=bob")
        .await
        .json();
    assert!(bob["transactions"].as_array().unwrap().is_empty());

    let write = client
        .call(
            "POST",
            &host,
            "/api/test-write",
            Some(json!({"session": "stress"})),
        )
        .await;
    assert_eq!(write.status, StatusCode::CREATED, "{}", write.text());
    let stress = client
        .get(&host, "/api/categories?session=stress")
        .await
        .json();
    let other = stress["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "other")
        .unwrap()
        .clone();
    assert_eq!(other["totalSpent"], 1);

    let bad = client
        .call(
            "POST",
            &host,
            "/api/transactions",
            Some(json!({"session": "alice", "amount": -1, "category": "dining"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad_range = client
        .get(&host, "/api/transactions?session=alice&from=yesterday")
        .await;
    assert_eq!(bad_range.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_pings_loops_and_refuses_bad_counts() {
    let server = TestServer::start().await;
    let client = server.client();
    let host = format!("spin.{DOMAIN}");

    let ping = client.get(&host, "/api/ping").await;
    assert_eq!(ping.status, StatusCode::OK, "{}", ping.text());
    assert_eq!(ping.json(), json!({"ok": true}));
    let looped = client.get(&host, "/api/spin?loops=1000").await.json();
    assert_eq!(looped["loops"], 1000);
    for bad in [
        "",
        "?loops=0",
        "?loops=1.5",
        "?loops=x",
        "?loops=2000000000",
    ] {
        let refused = client.get(&host, &format!("/api/spin{bad}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
