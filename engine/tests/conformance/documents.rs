//! Document updates as upstream applies them: managed fields ignored, plain fields and
//! operators together, field names with a dash in queries and updates.

use serde_json::json;

use crate::app::App;

const SOURCE: &str = r#"
var ds = fazt.storage.ds;
var body = request.body;
if (request.method === 'POST') ds.insert('c', body);
else if (request.method === 'PUT') ({updated: ds.update('c', body.query, body.changes)});
else ds.find('c', JSON.parse(request.query.q || '{}'));
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_ignore_managed_fields_and_apply_mixes() {
    let app = App::new(SOURCE).await;
    app.call(
        "POST",
        "/api/c",
        Some(json!({"id": "a", "name": "n", "n": 1})),
    )
    .await;
    let fetched = app.json("/api/c").await[0].clone();
    let created = fetched["_createdAt"].clone();
    // A client PUTs back what it fetched, with a change and an operator.
    let mut changes = fetched.clone();
    changes["name"] = json!("renamed");
    changes["$inc"] = json!({"n": 2});
    changes["_createdAt"] = json!(1);
    let reply = app
        .call(
            "PUT",
            "/api/c",
            Some(json!({"query": {"id": "a"}, "changes": changes})),
        )
        .await;
    assert_eq!(reply.json(), json!({"updated": 1}), "{}", reply.text());
    let stored = app.json("/api/c").await[0].clone();
    assert_eq!(
        (
            &stored["id"],
            &stored["name"],
            &stored["n"],
            &stored["_createdAt"]
        ),
        (&json!("a"), &json!("renamed"), &json!(3), &created)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_names_with_a_dash_work_in_queries_and_updates() {
    let app = App::new(SOURCE).await;
    app.call(
        "POST",
        "/api/c",
        Some(json!({"id": "a", "first-name": "Ada", "o": {"x-y": 1}})),
    )
    .await;
    app.call(
        "POST",
        "/api/c",
        Some(json!({"id": "b", "first-name": "Bob"})),
    )
    .await;
    let q = |query: serde_json::Value| {
        format!(
            "/api/c?q={}",
            crate::storage_arguments::urlencode(&query.to_string())
        )
    };
    let found = app.json(&q(json!({"first-name": "Ada"}))).await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let nested = app.json(&q(json!({"o.x-y": {"$gte": 1}}))).await;
    assert_eq!(nested[0]["id"], "a");
    let reply = app
        .call(
            "PUT",
            "/api/c",
            Some(json!({"query": {"first-name": "Bob"}, "changes": {"$set": {"last-name": "B"}, "first-name": "Rob"}})),
        )
        .await;
    assert_eq!(reply.json(), json!({"updated": 1}), "{}", reply.text());
    let rob = app.json(&q(json!({"first-name": "Rob"}))).await;
    assert_eq!(rob[0]["last-name"], "B");
    // A crafted name is data, never SQL: it matches nothing.
    let crafted = app.json(&q(json!({"a') OR 1=1 --": 1}))).await;
    assert_eq!(crafted, json!([]));
}
