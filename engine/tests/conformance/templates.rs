//! Upstream's own template apps, deployed unchanged (`fixtures/upstream/`).

use serde_json::json;

use crate::app::App;

fn upstream(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/upstream")
        .join(name)
        .join("api/main.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vue_api_create_list_get_put_back_delete() {
    let app = App::new(&upstream("vue-api")).await;
    let created = app
        .call("POST", "/api/items", Some(json!({"name": "first"})))
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let listed = app.json("/api/items").await;
    assert_eq!(listed["items"][0]["name"], "first");
    let mut item = app.json(&format!("/api/items/{id}")).await;
    item["name"] = json!("renamed");
    // PUT of the fetched item, managed fields and all, as the template's client does.
    let put = app
        .call("PUT", &format!("/api/items/{id}"), Some(item))
        .await;
    assert_eq!(put.json(), json!({"updated": 1}), "{}", put.text());
    assert_eq!(
        app.json(&format!("/api/items/{id}")).await["name"],
        "renamed"
    );
    let deleted = app.call("DELETE", &format!("/api/items/{id}"), None).await;
    assert_eq!(deleted.json(), json!({"deleted": 1}));
    let gone = app.call("GET", &format!("/api/items/{id}"), None).await;
    assert_eq!(gone.status.as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_base_crud_template_answers_404_from_its_last_statement() {
    let app = App::new(&upstream("kb-crud")).await;
    assert_eq!(
        app.call("GET", "/api/items", None).await.status.as_u16(),
        400
    );
    let created = app
        .call("POST", "/api/items?session=s", Some(json!({"name": "x"})))
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let put = app
        .call(
            "PUT",
            &format!("/api/items/{id}?session=s"),
            Some(json!({"name": "y"})),
        )
        .await;
    assert_eq!(put.json()["name"], "y");
    let stats = app.json("/api/stats?session=s").await;
    assert_eq!(stats["total"], 1);
    let unknown = app.call("GET", "/api/nothing?session=s", None).await;
    assert_eq!(unknown.status.as_u16(), 404, "{}", unknown.text());
}
