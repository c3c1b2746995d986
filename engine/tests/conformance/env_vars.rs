//! App environment variables through upstream's admin endpoint (`/api/envvars`):
//! persisted, visible to their app alone through `fazt.env`, listed without values.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::{json, Value};

use crate::app::App;
use crate::support::{Client, Reply, Setup, TestServer, DOMAIN, TOKEN};

const SOURCE: &str = "({key: fazt.env.get('API_KEY', 'none'), has: fazt.env.has('API_KEY')})";

async fn set(client: &Client, body: Value) -> Reply {
    let request = Request::builder()
        .method("POST")
        .uri("/api/envvars")
        .header("host", format!("admin.{DOMAIN}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    client.send(request).await.unwrap()
}

async fn env_of(client: &Client, app: &str) -> Value {
    client
        .get(&format!("{app}.{DOMAIN}"), "/api/x")
        .await
        .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_list_read_delete_and_survive_a_restart() {
    let app = App::new(SOURCE).await;
    app.server.deploy("other", &[("api/main.js", SOURCE)]).await;
    let client = app.server.client();
    let reply = set(
        &client,
        json!({"site_id": "t", "name": "API_KEY", "value": "s3cret"}),
    )
    .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()),
        (200, json!({"data": {}}))
    );
    assert_eq!(
        env_of(&client, "t").await,
        json!({"key": "s3cret", "has": true})
    );
    // Another app does not see it.
    assert_eq!(
        env_of(&client, "other").await,
        json!({"key": "none", "has": false})
    );
    // Replaced in place; listed by name, never by value.
    set(
        &client,
        json!({"site_id": "t", "name": "API_KEY", "value": "v2"}),
    )
    .await;
    let listed = client
        .admin("GET", "/api/envvars?site_id=t", Some(TOKEN))
        .await;
    assert!(!listed.text().contains("v2"), "{}", listed.text());
    let vars = listed.json()["data"]["vars"].clone();
    assert_eq!(vars.as_array().unwrap().len(), 1);
    assert_eq!(vars[0]["name"], "API_KEY");
    // Refused names change nothing.
    for name in ["lower", "PATH", "1A", ""] {
        let refused = set(&client, json!({"site_id": "t", "name": name, "value": "x"})).await;
        assert_eq!(refused.status.as_u16(), 400, "{name}");
    }

    // Persisted: a restart on the same database still has it.
    let db = app.server.db.clone();
    let (_, _dir) = app.server.stop().await;
    let mut setup = Setup::new();
    setup.fixtures = false;
    setup.db = Some(db);
    let restarted = TestServer::with(setup).await;
    let client = restarted.client();
    assert_eq!(
        env_of(&client, "t").await,
        json!({"key": "v2", "has": true})
    );

    let id = vars[0]["id"].as_i64().unwrap();
    let deleted = client
        .admin("DELETE", &format!("/api/envvars?id={id}"), Some(TOKEN))
        .await;
    assert_eq!(deleted.status.as_u16(), 200);
    assert_eq!(
        env_of(&client, "t").await,
        json!({"key": "none", "has": false})
    );
}
