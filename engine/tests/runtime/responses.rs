//! The response forms and completion values of fazt's handler contract.

use super::*;

#[tokio::test]
async fn respond_with_status_body_and_headers() {
    local(async {
        let f = Fixture::new().await;
        let executed = f
            .ok(&app(
                "t",
                "respond(201, {id: 7}, {'x-custom': 'yes', 'content-type': 'application/json'})",
            ))
            .await;
        let response = executed.response;
        assert_eq!(response.status, 201);
        assert_eq!(response.body, json!({"id": 7}));
        assert!(!response.empty);
        assert_eq!(response.headers["x-custom"], "yes");
        assert_eq!(response.headers["content-type"], "application/json");
        assert_eq!(response.headers.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn respond_with_a_body_only_is_200() {
    local(async {
        let f = Fixture::new().await;
        for (source, body) in [
            ("respond({a: 1})", json!({"a": 1})),
            ("respond('text')", json!("text")),
            ("respond([1, 2])", json!([1, 2])),
        ] {
            let response = f.ok(&app("t", source)).await.response;
            assert_eq!(response.status, 200, "{source}");
            assert_eq!(response.body, body, "{source}");
            assert!(!response.empty, "{source}");
            assert!(response.headers.is_empty(), "{source}");
        }
    })
    .await;
}

#[tokio::test]
async fn respond_with_a_status_only_has_an_empty_body() {
    local(async {
        let f = Fixture::new().await;
        let response = f.ok(&app("t", "respond(404)")).await.response;
        assert_eq!(response.status, 404);
        assert!(response.empty);
        assert_eq!(response.body, Value::Null);
        assert!(response.headers.is_empty());
    })
    .await;
}

#[tokio::test]
async fn respond_without_arguments_is_an_empty_200() {
    local(async {
        let f = Fixture::new().await;
        let response = f.ok(&app("t", "respond()")).await.response;
        assert_eq!(response.status, 200);
        assert!(response.empty);
        assert_eq!(response.body, Value::Null);
    })
    .await;
}

#[tokio::test]
async fn a_plain_completion_value_is_a_200_json_body() {
    local(async {
        let f = Fixture::new().await;
        for (source, body) in [
            ("({ok: true, n: [1, 2]})", json!({"ok": true, "n": [1, 2]})),
            ("var a = 40; a + 2", json!(42)),
            ("'hello'", json!("hello")),
        ] {
            let response = f.ok(&app("t", source)).await.response;
            assert_eq!(response.status, 200, "{source}");
            assert_eq!(response.body, body, "{source}");
            assert!(!response.empty, "{source}");
        }
    })
    .await;
}

#[tokio::test]
async fn no_completion_value_is_an_empty_200() {
    local(async {
        let f = Fixture::new().await;
        for source in [
            "",
            "var a = 1;",
            "function handler() {}",
            "undefined",
            "null",
        ] {
            let response = f.ok(&app("t", source)).await.response;
            assert_eq!(response.status, 200, "{source:?}");
            assert!(response.empty, "{source:?}");
            assert_eq!(response.body, Value::Null, "{source:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_handler_function_idiom() {
    local(async {
        let f = Fixture::new().await;
        let source = "function handler(req) {\n  return respond(200, {path: req.path});\n}\nhandler(request)";
        let response = f.ok(&app("t", source)).await.response;
        assert_eq!(response.status, 200);
        assert_eq!(response.body, json!({"path": "/api"}));
    })
    .await;
}

#[tokio::test]
async fn a_top_level_return() {
    local(async {
        let f = Fixture::new().await;
        let source = "var who = 'world';\nif (request.method === 'GET') {\n  return respond(201, {hello: who});\n}\nreturn respond(500)";
        let response = f.ok(&app("t", source)).await.response;
        assert_eq!(response.status, 201);
        assert_eq!(response.body, json!({"hello": "world"}));
        // A plain value returned at top level is a 200 too.
        assert_eq!(f.body("return {plain: 1}").await, json!({"plain": 1}));
    })
    .await;
}

#[tokio::test]
async fn an_async_handler_resolves_to_its_response() {
    local(async {
        let f = Fixture::new().await;
        let source = "async function handler(req) {\n  await null;\n  var v = await Promise.resolve(req.method);\n  fazt.storage.kv.set('k', v);\n  return respond(202, {v: fazt.storage.kv.get('k')});\n}\nhandler(request)";
        let response = f.ok(&app("t", source)).await.response;
        assert_eq!(response.status, 202);
        assert_eq!(response.body, json!({"v": "GET"}));
        // A rejection is the execution's error.
        let error = f
            .err(&app(
                "t",
                "async function h() { await null; throw new TypeError('nope') } h()",
            ))
            .await;
        assert_eq!(error.kind, script("TypeError"));
        assert_eq!(error.message, "nope");
    })
    .await;
}
