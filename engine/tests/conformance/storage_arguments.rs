//! Storage calls short of arguments throw upstream's error and change nothing
//! (upstream's `internal/storage/bindings.go` counts arguments).

use serde_json::json;

use crate::app::App;

/// Seeds two documents, a kv entry and a blob, then runs `call` inside a try and
/// answers the error message and what is left.
const SOURCE: &str = r#"
var s = fazt.storage;
if (request.path === '/api/seed') {
  s.ds.insert('c', {id: 'a', n: 1}); s.ds.insert('c', {id: 'b', n: 2});
  s.kv.set('k', 'v');
} else {
  var error = null;
  try { eval(request.query.call); } catch (e) { error = e.message; }
  ({error: error, docs: s.ds.count('c'), kv: s.kv.get('k')});
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_short_of_arguments_throw_and_change_nothing() {
    let app = App::new(SOURCE).await;
    app.call("POST", "/api/seed", None).await;
    for (call, message) in [
        (
            "s.ds.delete('c')",
            "ds.delete requires collection and query",
        ),
        (
            "s.ds.delete('c', undefined)",
            "ds.delete requires a query object",
        ),
        (
            "s.ds.delete('c', null)",
            "ds.delete requires a query object",
        ),
        (
            "s.ds.findOne('c')",
            "ds.findOne requires collection and query",
        ),
        (
            "s.ds.findOne('c', 5)",
            "ds.findOne requires query object or string ID",
        ),
        (
            "s.ds.update('c', {n: 1})",
            "ds.update requires collection, query, and changes",
        ),
        (
            "s.ds.update('c', null, {n: 9})",
            "ds.update requires a query object",
        ),
        (
            "s.ds.update('c', {}, 'x')",
            "ds.update requires a changes object",
        ),
        (
            "s.ds.insert('c')",
            "ds.insert requires collection and document",
        ),
        (
            "s.ds.insert('c', 'text')",
            "ds.insert requires a document object",
        ),
        (
            "s.ds.deleteOldest('c')",
            "ds.deleteOldest requires collection and keepCount",
        ),
        ("s.kv.set('k')", "kv.set requires key and value"),
        ("s.kv.get()", "kv.get requires a key"),
        ("s.kv.delete()", "kv.delete requires a key"),
        ("s.s3.put('p')", "s3.put requires path and data"),
        (
            "s3 = s.s3; s3.put('p', {a: 1})",
            "s3.put data must be string or ArrayBuffer",
        ),
        ("s.s3.get()", "s3.get requires a path"),
        ("s.ds.find()", "ds.find requires collection"),
        ("s.ds.count()", "ds.count requires collection"),
    ] {
        let path = format!("/api/try?call={}", urlencode(call));
        let answer = app.json(&path).await;
        let error = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{call}: {answer}"));
        assert!(error.contains(message), "{call}: {error}");
        assert_eq!(
            (answer["docs"].clone(), answer["kv"].clone()),
            (json!(2), json!("v")),
            "{call}"
        );
    }
    // An explicit empty query is a request for everything, as upstream.
    let answer = app
        .json(&format!(
            "/api/try?call={}",
            urlencode("s.ds.delete('c', {})")
        ))
        .await;
    assert_eq!(answer["docs"], 0);
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
