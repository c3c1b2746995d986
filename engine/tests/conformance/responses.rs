//! The completion value as upstream reads it: a `{status, body, headers}` object is the
//! response, no value is 200 with no body, and a function-body script's last
//! `respond(...)` answers.

use crate::app::App;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_shaped_values_and_empty_completions() {
    let app = App::new(
        r#"
var p = request.path;
if (p === '/api/shaped') ({status: 201, body: {ok: true}, headers: {'X-A': 'b'}});
else if (p === '/api/text') ({status: 202, body: 'plain'});
else if (p === '/api/null') null;
else if (p === '/api/plain') ({status: 'fine', items: 1});
"#,
    )
    .await;
    let shaped = app.call("GET", "/api/shaped", None).await;
    assert_eq!((shaped.status.as_u16(), shaped.header("x-a")), (201, "b"));
    assert_eq!(shaped.json(), serde_json::json!({"ok": true}));
    let text = app.call("GET", "/api/text", None).await;
    assert_eq!(
        (text.status.as_u16(), text.text()),
        (202, "plain".to_owned())
    );
    for path in ["/api/null", "/api/undefined"] {
        let empty = app.call("GET", path, None).await;
        assert_eq!(
            (empty.status.as_u16(), empty.body.len()),
            (200, 0),
            "{path}"
        );
    }
    // Not the response shape: a JSON body.
    let plain = app.call("GET", "/api/plain", None).await;
    assert_eq!(plain.json()["status"], "fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_script_ending_in_respond_answers_it() {
    let app = App::new(
        "if (request.query.early) return respond(400, {e: 1});\nrespond(404, {error: 'Not found'})",
    )
    .await;
    assert_eq!(app.call("GET", "/api/x", None).await.status.as_u16(), 404);
    assert_eq!(
        app.call("GET", "/api/x?early=1", None)
            .await
            .status
            .as_u16(),
        400
    );
}
