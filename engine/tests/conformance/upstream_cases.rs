//! Upstream fazt's own unit tests (`internal/runtime/runtime_test.go`,
//! `internal/storage/storage_test.go` at its last MIT commit), each case rewritten as a
//! small app and run black-box through the server: the script, and what upstream's
//! test expects of the answer.

use serde_json::{json, Value};

use crate::app::App;

/// (upstream test, script, status, body): the body as JSON, `text:` and a string sent
/// as it is, `null` for none, `error` for an error answer.
const RUNTIME_CASES: &[(&str, &str, u16, &str)] = &[
    (
        "TestExecute_SimpleReturn",
        r#""hello world""#,
        200,
        "text:hello world",
    ),
    (
        "TestExecute_RequestObject",
        "request.method + ' ' + request.path",
        200,
        "text:GET /api/test",
    ),
    (
        "TestExecute_RequestQuery",
        "request.query.id",
        200,
        "text:456",
    ),
    (
        "TestExecute_Respond/body",
        "respond({message: 'hello'})",
        200,
        r#"{"message":"hello"}"#,
    ),
    (
        "TestExecute_Respond/status and body",
        "respond(201, {id: 1})",
        201,
        r#"{"id":1}"#,
    ),
    (
        "TestExecute_Respond/status only",
        "respond(204)",
        204,
        "null",
    ),
    (
        "TestExecuteWithFiles_Require",
        "var utils = require('./utils.js'); utils.add(1, 2);",
        200,
        "3",
    ),
    (
        "TestExecuteWithFiles_RequireCache",
        "var a = require('./counter.js'); var b = require('./counter.js'); a === b;",
        200,
        "true",
    ),
    (
        "TestExecute_RuntimeError",
        "undefinedFunction()",
        500,
        "error",
    ),
    ("TestExecute_SyntaxError", "function {", 500, "error"),
    (
        "TestExecuteWithFiles_RequireNotFound",
        "require('./nonexistent.js');",
        500,
        "error",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_runtime_cases() {
    for (name, source, status, body) in RUNTIME_CASES {
        let app = App::with_files(&[
            ("api/main.js", source),
            (
                "api/utils.js",
                "module.exports = { add: function(a, b) { return a + b; } };",
            ),
            ("api/counter.js", "module.exports = { count: 1 };"),
        ])
        .await;
        let reply = app.call("GET", "/api/test?id=456&name=test", None).await;
        assert_eq!(reply.status.as_u16(), *status, "{name}: {}", reply.text());
        match *body {
            "error" => assert!(reply.json()["error"].is_string(), "{name}"),
            "null" => assert!(reply.body.is_empty(), "{name}"),
            text if text.starts_with("text:") => assert_eq!(reply.text(), text[5..], "{name}"),
            expected => {
                let expected: Value = serde_json::from_str(expected).unwrap();
                assert_eq!(reply.json(), expected, "{name}");
            }
        }
    }
}

/// `TestKVStore` and `TestDocStore`, one app running every case and answering what each
/// upstream assertion looks at.
const STORAGE_CASES: &str = r#"
var kv = fazt.storage.kv, ds = fazt.storage.ds, s3 = fazt.storage.s3;
kv.set('key1', 'value1');
kv.set('json-key', {name: 'Alice', age: 30});
kv.set('to-delete', 'value'); kv.delete('to-delete');
kv.set('prefix:a', '1'); kv.set('prefix:b', '2'); kv.set('other:c', '3');
var id = ds.insert('users', {name: 'Alice', email: 'alice@example.com'});
ds.insert('users', {id: 'user-123', name: 'Bob'});
ds.insert('products', {name: 'Widget', price: 10});
ds.insert('products', {name: 'Gadget', price: 20});
ds.insert('products', {name: 'Doohickey', price: 30});
ds.update('products', {name: 'Widget'}, {$set: {price: 15}});
ds.insert('temp', {name: 'to-delete', type: 'temp'});
var deleted = ds.delete('temp', {name: 'to-delete'});
for (var i = 0; i < 10; i++) ds.insert('paged', {idx: i});
s3.put('files/a.txt', 'hello', 'text/plain');
({
  SetAndGet: kv.get('key1'), SetAndGetJSON: kv.get('json-key').name,
  GetNonExistent: kv.get('nonexistent') === undefined, Delete: kv.get('to-delete') === undefined,
  List: kv.list('prefix:').length,
  Insert: typeof id === 'string' && id.length > 0, FindOne: ds.findOne('users', 'user-123').name,
  Find: ds.find('products', {}).length, FindWithQuery: ds.find('products', {name: 'Gadget'}).length,
  FindWithOperator: ds.find('products', {price: {$gt: 15}}).length,
  Update: ds.findOne('products', {name: 'Widget'}).price, DocDelete: deleted,
  Limit: ds.find('paged', {}, {limit: 3}).length, Offset: ds.find('paged', {}, {limit: 3, offset: 5}).length,
  Count: ds.count('paged'), CountWithQuery: ds.count('paged', {idx: {$gte: 5}}),
  Blob: [s3.get('files/a.txt').data, s3.get('files/a.txt').mime, s3.list('files/').length]
})
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_storage_cases() {
    let app = App::new(STORAGE_CASES).await;
    assert_eq!(
        app.json("/api/x").await,
        json!({
            "SetAndGet": "value1", "SetAndGetJSON": "Alice", "GetNonExistent": true, "Delete": true,
            "List": 2, "Insert": true, "FindOne": "Bob", "Find": 3, "FindWithQuery": 1,
            "FindWithOperator": 2, "Update": 15, "DocDelete": 1, "Limit": 3, "Offset": 3,
            "Count": 10, "CountWithQuery": 5, "Blob": ["hello", "text/plain", 1]
        })
    );
}
