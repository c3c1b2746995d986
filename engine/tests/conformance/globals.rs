//! Runtime globals upstream has: `fazt.log.*`, `fazt.version`, and `console.log` at
//! info; and blobs in upstream's shapes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fazt_engine::env::Env;
use fazt_engine::runtime::{AppCode, HandlerRequest, LogLevel, RuntimeConfig, Workers};
use serde_json::json;

use crate::app::App;

/// The log lines of one execution of `source` (the server writes them to its log; the
/// runtime that runs it hands them over).
async fn logs(source: &str) -> Vec<(LogLevel, String)> {
    let env = Env::real();
    let workers = Workers::start(&env, None, &RuntimeConfig::default(), 1).unwrap();
    let app = AppCode {
        id: "t".into(),
        files: BTreeMap::from([(AppCode::MAIN.to_owned(), source.to_owned())]),
        ..AppCode::default()
    };
    let deadline = env.clock.deadline_in(Duration::from_secs(5));
    let execution = workers
        .execute(Arc::new(app), HandlerRequest::default(), deadline)
        .await;
    let executed = execution.outcome.unwrap();
    executed
        .logs
        .into_iter()
        .map(|entry| (entry.level, entry.message))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fazt_log_and_console_levels_as_upstream() {
    let logged = logs(
        "fazt.log.info('i'); fazt.log.warn('w', 'ignored'); fazt.log.error({a: 1}); fazt.log.debug('d'); fazt.log.info();\nconsole.log('c');",
    )
    .await;
    let expected = [
        (LogLevel::Info, "i"),
        (LogLevel::Warn, "w"),
        (LogLevel::Error, "[object Object]"),
        (LogLevel::Debug, "d"),
        (LogLevel::Info, "c"),
    ];
    let expected: Vec<(LogLevel, String)> = expected
        .iter()
        .map(|(level, text)| (*level, (*text).to_owned()))
        .collect();
    assert_eq!(logged, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fazt_version_is_a_string() {
    let app = App::new("({version: fazt.version})").await;
    assert_eq!(app.json("/api/x").await, json!({"version": "0.8.0"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_in_upstream_shapes() {
    let app = App::new(
        r#"
var s3 = fazt.storage.s3;
s3.put('/dir//bin', new Uint8Array([0, 200, 65]).buffer, 'application/octet-stream');
s3.put('view', new Uint16Array([65, 66]));
s3.put('text.txt', 'héllo', 'text/plain');
var bin = s3.get('dir/bin'), view = s3.get('/view'), text = s3.get('text.txt');
({bin: [bin.data, bin.encoding, bin.size], view: view.size, text: [text.data, text.encoding === undefined],
  listed: s3.list('/dir').map(function (b) { return b.path })})
"#,
    )
    .await;
    assert_eq!(
        app.json("/api/x").await,
        json!({"bin": ["AMhB", "base64", 3], "view": 4, "text": ["héllo", true], "listed": ["dir/bin"]})
    );
}
