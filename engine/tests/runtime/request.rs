//! The `request` global.

use super::*;

#[tokio::test]
async fn the_request_global() {
    local(async {
        let f = Fixture::new().await;
        let request = HandlerRequest {
            method: "POST".into(),
            path: "/api/items/3".into(),
            query: [("page".to_owned(), "2".to_owned())].into(),
            headers: [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-request-id".to_owned(), "abc".to_owned()),
            ]
            .into(),
            body: json!({"name": "widget", "tags": ["a", "b"], "n": 1.5}),
            files: Default::default(),
        };
        let source = "({method: request.method, path: request.path, page: request.query.page,\n  missing: typeof request.query.nope, type: request.headers['content-type'],\n  id: request.headers['x-request-id'], name: request.body.name,\n  tags: request.body.tags.length, n: request.body.n * 2})";
        let execution = f.run_with(&app("t", source), &request, BUDGET).await;
        assert_eq!(
            execution.outcome.unwrap().response.body,
            json!({"method": "POST", "path": "/api/items/3", "page": "2", "missing": "undefined",
                "type": "application/json", "id": "abc", "name": "widget", "tags": 2, "n": 3})
        );
        // Each execution sees its own request.
        let source = "({method: request.method, path: request.path, query: request.query,\n  headers: request.headers, body: request.body})";
        let execution = f.run_with(&app("t", source), &get("/api/x"), BUDGET).await;
        assert_eq!(
            execution.outcome.unwrap().response.body,
            json!({"method": "GET", "path": "/api/x", "query": {}, "headers": {}, "body": null})
        );
    })
    .await;
}
