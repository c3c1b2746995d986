//! The JavaScript runtime through its public API, in the real environment: fazt's
//! handler contract (fazt-reference.md §2), error kinds, pool recovery, timeouts under
//! load, isolation between executions sharing a VM, and VMs never crossing apps.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use fazt_engine::env::{Deadline, Env};
use fazt_engine::runtime::{
    AppCode, ErrorKind, Executed, Execution, ExecutionError, HandlerRequest, LogEntry, LogLevel,
    Runtime, RuntimeConfig,
};
use fazt_engine::storage::Storage;
use serde_json::{json, Value};
use tokio::task::{spawn_local, LocalSet};

/// Generous budget for executions that are expected to finish.
const BUDGET: Duration = Duration::from_secs(10);

struct Fixture {
    _dir: tempfile::TempDir,
    env: Env,
    storage: Storage,
    runtime: Rc<Runtime>,
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture::with(RuntimeConfig::default()).await
    }

    /// A runtime with a single VM, so consecutive executions share it.
    async fn one_vm() -> Fixture {
        Fixture::with(RuntimeConfig {
            pool_size: 1,
            ..RuntimeConfig::default()
        })
        .await
    }

    async fn with(config: RuntimeConfig) -> Fixture {
        let env = Env::real();
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(&dir.path().join("fazt.db"), env.clone(), Default::default())
            .await
            .unwrap();
        let runtime = Runtime::new(env.clone(), Some(storage.clone()), config).unwrap();
        Fixture {
            _dir: dir,
            env,
            storage,
            runtime: Rc::new(runtime),
        }
    }

    fn deadline(&self, budget: Duration) -> Deadline {
        self.env.clock.deadline_in(budget)
    }

    async fn run_with(
        &self,
        app: &Arc<AppCode>,
        request: &HandlerRequest,
        budget: Duration,
    ) -> Execution {
        self.runtime
            .execute(app, request, self.deadline(budget))
            .await
    }

    async fn run(&self, app: &Arc<AppCode>) -> Execution {
        self.run_with(app, &get("/api"), BUDGET).await
    }

    async fn ok(&self, app: &Arc<AppCode>) -> Executed {
        match self.run(app).await.outcome {
            Ok(executed) => executed,
            Err(error) => panic!("app {:?} failed: {error} ({error:?})", app.id),
        }
    }

    async fn err(&self, app: &Arc<AppCode>) -> ExecutionError {
        match self.run(app).await.outcome {
            Ok(executed) => panic!("app {:?} succeeded: {executed:?}", app.id),
            Err(error) => error,
        }
    }

    /// The body of a successful execution of `source` as app `t`.
    async fn body(&self, source: &str) -> Value {
        self.ok(&app("t", source)).await.response.body
    }
}

/// Runs `future` in a `LocalSet` (a `Runtime` is not `Send`; `spawn_local` needs one).
async fn local<F: Future>(future: F) -> F::Output {
    LocalSet::new().run_until(future).await
}

fn app(id: &str, main: &str) -> Arc<AppCode> {
    app_files(id, &[("api/main.js", main)])
}

fn app_files(id: &str, files: &[(&str, &str)]) -> Arc<AppCode> {
    Arc::new(AppCode {
        id: id.into(),
        name: format!("App {id}"),
        files: files
            .iter()
            .map(|(path, source)| ((*path).to_owned(), (*source).to_owned()))
            .collect(),
        env: BTreeMap::new(),
    })
}

fn get(path: &str) -> HandlerRequest {
    HandlerRequest {
        method: "GET".into(),
        path: path.into(),
        ..HandlerRequest::default()
    }
}

fn log(level: LogLevel, message: &str) -> LogEntry {
    LogEntry {
        level,
        message: message.into(),
    }
}

fn script(name: &str) -> ErrorKind {
    ErrorKind::Script { name: name.into() }
}

// ----- 1. respond forms and completion values -----

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

// ----- 2. the request global -----

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

// ----- 3. console -----

#[tokio::test]
async fn console_lines_are_captured_per_request_with_their_level() {
    local(async {
        let f = Fixture::one_vm().await;
        let source = "console.log('a', 1, {b: 2}, [1, 'x'], null, undefined, true);\nconsole.info('info');\nconsole.warn('warn', 2);\nconsole.error('error');\nconsole.debug({deep: {x: [1]}});\n1";
        let executed = f.ok(&app("t", source)).await;
        assert_eq!(
            executed.logs,
            vec![
                log(LogLevel::Info, r#"a 1 {"b":2} [1,"x"] null undefined true"#),
                log(LogLevel::Info, "info"),
                log(LogLevel::Warn, "warn 2"),
                log(LogLevel::Error, "error"),
                log(LogLevel::Debug, r#"{"deep":{"x":[1]}}"#),
            ]
        );
        // The next execution (same VM) starts with no lines.
        let executed = f.ok(&app("t", "console.log('only me'); 1")).await;
        assert_eq!(executed.logs, vec![log(LogLevel::Info, "only me")]);
        let executed = f.ok(&app("t", "1")).await;
        assert!(executed.logs.is_empty());
    })
    .await;
}

#[tokio::test]
async fn logs_are_attached_to_errors() {
    local(async {
        let f = Fixture::new().await;
        let error = f
            .err(&app(
                "t",
                "console.log('step', 1);\nconsole.error('about to fail');\nthrow new Error('failed')",
            ))
            .await;
        assert_eq!(error.kind, script("Error"));
        assert_eq!(error.message, "failed");
        assert_eq!(
            error.logs,
            vec![
                log(LogLevel::Info, "step 1"),
                log(LogLevel::Error, "about to fail"),
            ]
        );
        // Also on a timeout.
        let execution = f
            .run_with(
                &app("t", "console.log('spinning'); while (true) {}"),
                &get("/api"),
                Duration::from_millis(20),
            )
            .await;
        let error = execution.outcome.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Timeout);
        assert_eq!(error.logs, vec![log(LogLevel::Info, "spinning")]);
    })
    .await;
}

// ----- 4. require -----

fn modular_app() -> Arc<AppCode> {
    app_files(
        "mods",
        &[
            (
                "api/main.js",
                "var lib = require('./lib');\nvar again = require('./lib.js');\nvar util = require('./util');\nrespond({sum: lib.add(2, 3), same: lib === again, twice: util.twice(4), viaLib: lib.quad(2)})",
            ),
            (
                "api/lib.js",
                "console.log('lib loaded');\nvar util = require('./util');\nmodule.exports = {\n  add: function (a, b) { return a + b },\n  quad: function (n) { return util.twice(util.twice(n)) },\n};",
            ),
            (
                "api/util.js",
                "console.log('util loaded');\nexports.twice = function (n) { return n * 2 };",
            ),
        ],
    )
}

#[tokio::test]
async fn require_loads_commonjs_modules_from_api() {
    local(async {
        let f = Fixture::new().await;
        let executed = f.ok(&modular_app()).await;
        assert_eq!(
            executed.response.body,
            json!({"sum": 5, "same": true, "twice": 8, "viaLib": 8})
        );
    })
    .await;
}

#[tokio::test]
async fn modules_are_cached_within_an_execution_only() {
    local(async {
        let f = Fixture::one_vm().await;
        let loaded = vec![
            log(LogLevel::Info, "lib loaded"),
            log(LogLevel::Info, "util loaded"),
        ];
        let first = f.run(&modular_app()).await;
        assert_eq!(first.outcome.unwrap().logs, loaded, "each module runs once");
        let second = f.run(&modular_app()).await;
        assert_eq!(first.report.vm, second.report.vm, "same VM");
        assert_eq!(
            second.outcome.unwrap().logs,
            loaded,
            "and again in the next execution"
        );
    })
    .await;
}

#[tokio::test]
async fn a_missing_module_is_an_error_naming_it() {
    local(async {
        let f = Fixture::new().await;
        let error = f.err(&app("t", "require('./nowhere')")).await;
        assert_eq!(error.kind, script("Error"));
        assert!(error.message.contains("nowhere"), "{}", error.message);
        // Catchable, like any error.
        let body = f
            .body("try { require('./nowhere'); 'loaded' } catch (e) { e instanceof Error && e.message }")
            .await;
        assert!(body.as_str().unwrap().contains("nowhere"), "{body}");
    })
    .await;
}

// ----- 5. error kinds -----

#[tokio::test]
async fn an_endless_loop_times_out() {
    local(async {
        let f = Fixture::new().await;
        let started = f.env.clock.now();
        let execution = f
            .run_with(
                &app("t", "while (true) {}"),
                &get("/api"),
                Duration::from_millis(50),
            )
            .await;
        let took = f.env.clock.now().saturating_duration_since(started);
        let error = execution.outcome.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Timeout);
        assert_eq!(error.message, "execution timeout");
        assert_eq!(error.to_string(), "TimeoutError: execution timeout");
        assert!(!error.kind.retryable());
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_secs(2), "stopped promptly: {took:?}");
    })
    .await;
}

#[tokio::test]
async fn the_runtime_timeout_caps_the_request_deadline() {
    local(async {
        let f = Fixture::with(RuntimeConfig {
            timeout: Duration::from_millis(30),
            ..RuntimeConfig::default()
        })
        .await;
        let started = f.env.clock.now();
        let execution = f
            .runtime
            .execute(&app("t", "while (true) {}"), &get("/api"), Deadline::NONE)
            .await;
        let took = f.env.clock.now().saturating_duration_since(started);
        assert_eq!(execution.outcome.unwrap_err().kind, ErrorKind::Timeout);
        assert!(took < Duration::from_secs(2), "{took:?}");
    })
    .await;
}

#[tokio::test]
async fn a_deadline_passing_during_a_storage_call_is_a_timeout() {
    local(async {
        let f = Fixture::new().await;
        // Storage calls that no longer fit are refused (caught here); the one the
        // deadline passes during fails with a TimeoutError, which the script cannot turn
        // into a success by catching it.
        let source = "for (;;) {\n  try { fazt.storage.kv.set('k', 1) }\n  catch (e) {\n    if (e.name !== 'StorageError') { console.log('caught', e.name); return respond(200, 'swallowed') }\n  }\n}";
        for _ in 0..5 {
            let execution = f
                .run_with(&app("t", source), &get("/api"), Duration::from_millis(20))
                .await;
            let error = execution.outcome.unwrap_err();
            assert_eq!(error.kind, ErrorKind::Timeout, "{error:?}");
            for line in &error.logs {
                assert_eq!(line.message, "caught TimeoutError");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_syntax_error_reports_its_line() {
    local(async {
        let f = Fixture::new().await;
        let error = f
            .err(&app("t", "var a = 1;\nvar b = 2;\nvar c = ;\nrespond(200)"))
            .await;
        assert_eq!(error.kind, ErrorKind::Syntax { line: Some(3) });
        assert_eq!(error.kind.name(), "SyntaxError");
        // Also in a template with a top-level return (run as a function body).
        let error = f.err(&app("t", "return respond(200);\n\n\nvar = 1;")).await;
        assert_eq!(error.kind, ErrorKind::Syntax { line: Some(4) });
    })
    .await;
}

#[tokio::test]
async fn an_uncaught_storage_error_has_its_kind() {
    local(async {
        let f = Fixture::new().await;
        let error = f
            .err(&app(
                "t",
                "fazt.storage.ds.find('posts', {likes: {$bogus: 1}})",
            ))
            .await;
        assert_eq!(
            error.kind,
            ErrorKind::Storage {
                retryable: false,
                storage_kind: "InvalidQuery".into()
            }
        );
        assert!(!error.kind.retryable());
        assert_eq!(error.kind.name(), "StorageError");
    })
    .await;
}

#[tokio::test]
async fn javascript_sees_storage_errors_with_name_and_retryable() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body(
                "try {\n  fazt.storage.ds.find('posts', {likes: {$bogus: 1}});\n  'no error'\n} catch (e) {\n  ({name: e.name, retryable: e.retryable, kind: e.kind, isError: e instanceof Error,\n    message: e.message})\n}",
            )
            .await;
        assert_eq!(body["name"], "StorageError");
        assert_eq!(body["retryable"], false);
        assert_eq!(body["kind"], "InvalidQuery");
        assert_eq!(body["isError"], true);
        assert!(
            body["message"].as_str().unwrap().contains("$bogus"),
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_retryable_storage_error_is_retryable_in_both_worlds() {
    local(async {
        let f = Fixture::new().await;
        f.storage.shutdown().await;
        let body = f
            .body("try { fazt.storage.kv.set('k', 1); 'stored' } catch (e) { ({name: e.name, retryable: e.retryable}) }")
            .await;
        assert_eq!(body, json!({"name": "StorageError", "retryable": true}));
        let error = f.err(&app("t", "fazt.storage.kv.set('k', 1)")).await;
        assert!(
            matches!(error.kind, ErrorKind::Storage { retryable: true, .. }),
            "{error:?}"
        );
        assert!(error.kind.retryable());
    })
    .await;
}

#[tokio::test]
async fn a_memory_bomb_is_a_memory_error() {
    local(async {
        let f = Fixture::new().await;
        let error = f
            .err(&app(
                "t",
                "var a = []; while (true) a.push('x'.repeat(1000))",
            ))
            .await;
        assert_eq!(error.kind, ErrorKind::Memory, "{error:?}");
        assert_eq!(error.kind.name(), "MemoryError");
    })
    .await;
}

#[tokio::test]
async fn a_thrown_error_is_a_script_error_with_its_name() {
    local(async {
        let f = Fixture::new().await;
        let error = f.err(&app("t", "throw new TypeError('x')")).await;
        assert_eq!(error.kind, script("TypeError"));
        assert_eq!(error.message, "x");
        assert_eq!(error.to_string(), "TypeError: x");
        // A runtime error from the engine itself.
        let error = f.err(&app("t", "var o = null; o.field")).await;
        assert_eq!(error.kind, script("TypeError"));
        let error = f.err(&app("t", "notDefinedAnywhere + 1")).await;
        assert_eq!(error.kind, script("ReferenceError"));
    })
    .await;
}

#[tokio::test]
async fn a_thrown_non_error_value_is_a_script_error() {
    local(async {
        let f = Fixture::new().await;
        let error = f.err(&app("t", "throw 'boom'")).await;
        assert_eq!(error.kind, script("Error"));
        assert_eq!(error.message, "boom");
        let error = f.err(&app("t", "throw 42")).await;
        assert_eq!(error.kind, script("Error"));
        assert_eq!(error.message, "42");
        let error = f.err(&app("t", "throw undefined")).await;
        assert_eq!(error.kind, script("Error"));
        // (`throw null` is classified as Memory: QuickJS throws null when it cannot even
        // allocate its out-of-memory error, and the two cannot be told apart.)
        let error = f.err(&app("t", "throw {code: 7}")).await;
        assert_eq!(error.kind, script("Error"));
    })
    .await;
}

#[tokio::test]
async fn an_app_without_main_has_no_handler() {
    local(async {
        let f = Fixture::new().await;
        let error = f
            .err(&app_files(
                "static",
                &[("api/lib.js", "module.exports = 1")],
            ))
            .await;
        assert_eq!(error.kind, ErrorKind::NoHandler);
        let error = f.err(&app_files("empty", &[])).await;
        assert_eq!(error.kind, ErrorKind::NoHandler);
    })
    .await;
}

#[tokio::test]
async fn a_full_pool_answers_overloaded_at_the_deadline() {
    local(async {
        let f = Fixture::one_vm().await;
        let long = spawn_local({
            let (runtime, deadline) = (f.runtime.clone(), f.deadline(Duration::from_millis(1500)));
            async move {
                runtime
                    .execute(&app("spin", "while (true) {}"), &get("/api"), deadline)
                    .await
            }
        });
        while f.runtime.metrics().busy == 0 {
            tokio::task::yield_now().await;
        }
        let started = f.env.clock.now();
        let execution = f
            .run_with(&app("b", "1"), &get("/api"), Duration::from_millis(30))
            .await;
        let waited = f.env.clock.now().saturating_duration_since(started);
        let error = execution.outcome.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Overloaded);
        assert!(error.kind.retryable());
        assert_eq!(execution.report.vm, None);
        assert!(
            waited < Duration::from_millis(750),
            "answered at its own deadline, not the running one's: {waited:?}"
        );
        assert!(!long.is_finished(), "the long execution still holds the VM");
        let long = long.await.unwrap();
        assert_eq!(long.outcome.unwrap_err().kind, ErrorKind::Timeout);
        // And the pool serves again.
        assert_eq!(f.body("'free'").await, json!("free"));
    })
    .await;
}

// ----- 6. the pool recovers -----

#[tokio::test]
async fn the_pool_recovers_from_memory_stack_and_time_exhaustion() {
    local(async {
        let f = Fixture::one_vm().await;
        let before = f.runtime.metrics();
        let trivial = app("t", "respond({fine: true})");

        let error = f
            .err(&app(
                "bomb",
                "var a = []; while (true) a.push('x'.repeat(1000))",
            ))
            .await;
        assert_eq!(error.kind, ErrorKind::Memory);
        assert_eq!(f.ok(&trivial).await.response.body, json!({"fine": true}));

        let error = f.err(&app("deep", "function f() { return f() } f()")).await;
        assert_eq!(error.kind, script("RangeError"));
        assert!(
            error.message.contains("stack"),
            "a clear message: {}",
            error.message
        );
        assert_eq!(f.ok(&trivial).await.response.body, json!({"fine": true}));

        let execution = f
            .run_with(
                &app("spin", "while (true) {}"),
                &get("/api"),
                Duration::from_millis(20),
            )
            .await;
        assert_eq!(execution.outcome.unwrap_err().kind, ErrorKind::Timeout);
        assert_eq!(f.ok(&trivial).await.response.body, json!({"fine": true}));

        let after = f.runtime.metrics();
        assert_eq!(after.discarded - before.discarded, 3, "{after:?}");
        assert_eq!(after.timeouts - before.timeouts, 1, "{after:?}");
        assert_eq!(after.interrupts - before.interrupts, 1, "{after:?}");
        assert_eq!(after.executions - before.executions, 6, "{after:?}");
        assert_eq!(after.busy, 0);
        assert_eq!(after.idle, 1);
    })
    .await;
}

// ----- 7. endless loops at short deadlines, interleaved with trivial handlers -----

/// A request whose handler must answer with its tag.
fn tagged(tag: &str) -> HandlerRequest {
    HandlerRequest {
        query: [("tag".to_owned(), tag.to_owned())].into(),
        ..get("/api")
    }
}

/// Runs the trivial handler for `tag`; `Ok(vm)` when it answered with the tag.
async fn trivial(runtime: &Runtime, env: &Env, tag: &str) -> Result<u64, String> {
    let code = app("trivial", "respond(200, {tag: request.query.tag})");
    let deadline = env.clock.deadline_in(Duration::from_secs(5));
    let execution = runtime.execute(&code, &tagged(tag), deadline).await;
    match execution.outcome {
        Ok(executed) if executed.response.body == json!({ "tag": tag }) => {
            Ok(execution.report.vm.expect("a VM ran it"))
        }
        other => Err(format!("trivial {tag}: {other:?}")),
    }
}

#[tokio::test]
async fn a_thousand_timeouts_interleaved_with_trivial_handlers() {
    // Lanes run concurrently on this thread, each alternating an endless loop at a 1-10
    // ms deadline with a trivial handler; one more lane runs trivial handlers until they
    // are done, on a VM that serves again and again meanwhile.
    const LANES: usize = 4;
    const LOOPS_PER_LANE: usize = 250;
    const LOOPS: usize = LANES * LOOPS_PER_LANE;
    local(async {
        let f = Fixture::with(RuntimeConfig {
            pool_size: LANES + 1,
            ..RuntimeConfig::default()
        })
        .await;
        let started = f.env.clock.now();
        let spin = app("spin", "while (true) {}");
        let done = Rc::new(Cell::new(0));
        let mut lanes = Vec::new();
        for lane in 0..LANES {
            let (runtime, env, spin, done) =
                (f.runtime.clone(), f.env.clone(), spin.clone(), done.clone());
            lanes.push(spawn_local(async move {
                let (mut timeouts, mut served) = (0, 0);
                let mut failures = Vec::new();
                for i in 0..LOOPS_PER_LANE {
                    // Deadlines of 1 to 10 ms, varying across lanes and iterations.
                    let ms = 1 + ((i * 7 + lane * 3) % 10) as u64;
                    let deadline = env.clock.deadline_in(Duration::from_millis(ms));
                    let execution = runtime.execute(&spin, &get("/api"), deadline).await;
                    match execution.outcome {
                        Err(error) if error.kind == ErrorKind::Timeout => timeouts += 1,
                        other => failures.push(format!("loop {lane}/{i} ({ms} ms): {other:?}")),
                    }
                    match trivial(&runtime, &env, &format!("{lane}/{i}")).await {
                        Ok(_) => served += 1,
                        Err(failure) => failures.push(failure),
                    }
                }
                done.set(done.get() + 1);
                (timeouts, served, failures)
            }));
        }
        let background = spawn_local({
            let (runtime, env, done) = (f.runtime.clone(), f.env.clone(), done.clone());
            async move {
                let (mut served, mut vms) = (0, BTreeSet::new());
                let mut failures = Vec::new();
                while done.get() < LANES {
                    match trivial(&runtime, &env, &format!("background/{served}")).await {
                        Ok(vm) => {
                            served += 1;
                            vms.insert(vm);
                        }
                        Err(failure) => failures.push(failure),
                    }
                    tokio::task::yield_now().await;
                }
                (served, vms, failures)
            }
        });
        let (mut timeouts, mut served) = (0, 0);
        let mut failures = Vec::new();
        for lane in lanes {
            let (t, s, mut failed) = lane.await.unwrap();
            timeouts += t;
            served += s;
            failures.append(&mut failed);
        }
        let (background_served, background_vms, mut failed) = background.await.unwrap();
        failures.append(&mut failed);
        let took = f.env.clock.now().saturating_duration_since(started);
        let metrics = f.runtime.metrics();
        println!(
            "{timeouts} loops, {served} alternating and {background_served} background trivial \
             handlers (on {} VMs) in {took:?}; {metrics:?}",
            background_vms.len()
        );
        let shown = &failures[..failures.len().min(20)];
        assert!(
            failures.is_empty(),
            "{} failures: {shown:#?}",
            failures.len()
        );
        assert_eq!(timeouts, LOOPS);
        assert_eq!(served, LOOPS);
        assert!(background_served > 0);
        let loops = LOOPS as u64;
        assert_eq!(metrics.timeouts, loops);
        assert_eq!(metrics.interrupts, loops);
        assert_eq!(metrics.discarded, loops, "only the interrupted VMs go");
        assert_eq!(metrics.executions, 2 * loops + background_served);
    })
    .await;
}

// ----- 8. isolation between apps and executions on one VM -----

/// What a script can see of earlier executions' attempts to leave state behind.
const INSPECT: &str = "({leaked: typeof leaked, x: typeof x, y: typeof y, f: typeof f, z: typeof z,\n  w: typeof w, K: typeof K, evil: typeof [].evil, polluted: typeof ({}).polluted,\n  json: typeof JSON, stringify: typeof JSON.stringify, log: typeof console.log,\n  kvGet: typeof fazt.storage.kv.get, appKvGet: typeof fazt.app.kv.get,\n  random: typeof Math.random, arrayKeys: Object.keys([]).length})";

fn clean_view() -> Value {
    json!({"leaked": "undefined", "x": "undefined", "y": "undefined", "f": "undefined",
        "z": "undefined", "w": "undefined", "K": "undefined", "evil": "undefined",
        "polluted": "undefined", "json": "object", "stringify": "function", "log": "function",
        "kvGet": "function", "appKvGet": "function", "random": "function", "arrayKeys": 0})
}

#[tokio::test]
async fn globals_and_builtins_do_not_leak_to_the_next_execution() {
    local(async {
        let f = Fixture::one_vm().await;
        let polluter = app(
            "polluter",
            "leaked = 1;\nvar x = 1;\nglobalThis.y = 2;\nfunction f() {}\nlet z = 3;\nconst w = 4;\nclass K {}\nArray.prototype.evil = 1;\nObject.prototype.polluted = 1;\nJSON = null;\nconsole.log = null;\nfazt.storage.kv.get = null;\nfazt.app.kv.get = null;\nMath.random = null;\n({leaked: typeof leaked, x: typeof x, y: typeof y, f: typeof f})",
        );
        let first = f.run(&polluter).await;
        // The script's own globals work while it runs.
        assert_eq!(
            first.outcome.unwrap().response.body,
            json!({"leaked": "number", "x": "number", "y": "number", "f": "function"})
        );
        let next = f.run(&app("polluter", INSPECT)).await;
        assert_eq!(next.report.vm, first.report.vm, "the same VM");
        assert_eq!(next.outcome.unwrap().response.body, clean_view());
        let other = f.run(&app("other", INSPECT)).await;
        assert_ne!(other.report.vm, first.report.vm, "never another app's VM");
        assert_eq!(other.outcome.unwrap().response.body, clean_view());
        let metrics = f.runtime.metrics();
        assert_eq!(metrics.discarded, 0, "the VM was reset, not discarded");
        assert_eq!(metrics.evicted, 1, "the polluter's idle VM made room");
    })
    .await;
}

#[tokio::test]
async fn builtins_are_frozen_while_the_script_runs() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("Array.prototype.evil = 1;\nObject.prototype.polluted = 1;\nJSON = null;\nconsole.log = null;\n({evil: typeof [].evil, polluted: typeof ({}).polluted, json: typeof JSON,\n  log: typeof console.log, frozen: Object.isFrozen(Array.prototype)})")
            .await;
        assert_eq!(
            body,
            json!({"evil": "undefined", "polluted": "undefined", "json": "object",
                "log": "function", "frozen": true})
        );
    })
    .await;
}

#[tokio::test]
async fn strict_mode_writes_to_builtins_throw() {
    local(async {
        let f = Fixture::one_vm().await;
        for source in [
            "'use strict'; Array.prototype.evil = 1",
            "'use strict'; Object.prototype.polluted = 1",
            "'use strict'; JSON = null",
            "'use strict'; console.log = null",
            "'use strict'; fazt.storage.kv.get = null",
        ] {
            let error = f.err(&app("strict", source)).await;
            assert_eq!(error.kind, script("TypeError"), "{source}: {error:?}");
        }
        let next = f.ok(&app("other", INSPECT)).await;
        assert_eq!(next.response.body, clean_view());
    })
    .await;
}

#[tokio::test]
async fn error_names_can_still_be_assigned() {
    local(async {
        let f = Fixture::one_vm().await;
        let error = f
            .err(&app(
                "t",
                "var e = new Error('m');\ne.name = 'MyError';\nthrow e",
            ))
            .await;
        assert_eq!(error.kind, script("MyError"));
        assert_eq!(error.message, "m");
        let error = f
            .err(&app(
                "t",
                "class MyError extends Error {\n  constructor(m) { super(m); this.name = 'MyError'; }\n}\nthrow new MyError('custom')",
            ))
            .await;
        assert_eq!(error.kind, script("MyError"));
        assert_eq!(error.message, "custom");
        let body = f
            .body("'use strict';\nclass MyError extends Error {\n  constructor(m) { super(m); this.name = 'MyError'; }\n}\nvar e = new TypeError('t');\ne.name = 'Custom';\ne.message = 'changed';\nvar m = new MyError('x');\n({str: String(e), mine: String(m), isError: m instanceof Error,\n  plain: new Error('p').name, type: new TypeError('q').name})")
            .await;
        assert_eq!(
            body,
            json!({"str": "Custom: changed", "mine": "MyError: x", "isError": true,
                "plain": "Error", "type": "TypeError"})
        );
        // Error.prototype itself stays as it is.
        let body = f
            .body("try { Error.prototype.name = 'Hacked' } catch (e) {}\nnew Error('z').name")
            .await;
        assert_eq!(body, json!("Error"));
    })
    .await;
}

#[tokio::test]
async fn standard_globals_live_behind_the_global_object() {
    local(async {
        let f = Fixture::one_vm().await;
        // The global object holds the contract's globals only (the engine lists its
        // keys after every execution); the standard ones are inherited and frozen.
        let body = f
            .body("const own = Reflect.ownKeys(globalThis).map(String).sort();\n({own, json: typeof JSON, inherited: 'JSON' in globalThis && !Object.hasOwn(globalThis, 'JSON'),\n  frozen: Object.isFrozen(Object.getPrototypeOf(globalThis))})")
            .await;
        assert_eq!(
            body,
            json!({"own": ["Infinity", "NaN", "console", "fazt", "globalThis", "request",
                "require", "respond", "undefined"], "json": "object", "inherited": true,
                "frozen": true})
        );
        // A script's own `var` may shadow a standard global while it runs; the next
        // execution on the same VM has the builtin back.
        let first = f
            .run(&app("shadow", "var JSON = 1;\nvar Map = 'mine';\n[JSON, Map]"))
            .await;
        assert_eq!(first.outcome.unwrap().response.body, json!([1, "mine"]));
        let next = f
            .run(&app("shadow", "[typeof JSON.stringify, typeof new Map().set]"))
            .await;
        assert_eq!(next.report.vm, first.report.vm, "the same VM");
        assert_eq!(
            next.outcome.unwrap().response.body,
            json!(["function", "function"])
        );
    })
    .await;
}

#[tokio::test]
async fn a_global_that_cannot_be_deleted_costs_the_vm_not_the_isolation() {
    local(async {
        let f = Fixture::one_vm().await;
        let first = f
            .run(&app(
                "sticky",
                "Object.defineProperty(globalThis, 'sticky', {value: 1, configurable: false}); 1",
            ))
            .await;
        assert!(first.outcome.is_ok());
        let next = f.run(&app("other", "typeof sticky")).await;
        assert_eq!(next.outcome.unwrap().response.body, json!("undefined"));
        assert_ne!(next.report.vm, first.report.vm, "a fresh VM");
        assert_eq!(f.runtime.metrics().discarded, 1);
    })
    .await;
}

#[tokio::test]
async fn the_global_object_itself_cannot_be_tampered_with() {
    local(async {
        let f = Fixture::one_vm().await;
        for source in [
            "Object.setPrototypeOf(globalThis, {inherited: 1}); 1",
            "globalThis.__proto__ = {inherited: 1}; 1",
            "Object.preventExtensions(globalThis); 1",
            "Object.seal(globalThis); 1",
            "Object.freeze(globalThis); 1",
        ] {
            let _ = f.run(&app("tamper", source)).await;
            let next = f
                .run(&app(
                    "other",
                    "var mine = 1;\n({inherited: typeof inherited, mine: typeof mine})",
                ))
                .await;
            assert_eq!(
                next.outcome.as_ref().map(|e| &e.response.body).ok(),
                Some(&json!({"inherited": "undefined", "mine": "number"})),
                "after {source}: {:?}",
                next.outcome
            );
        }
    })
    .await;
}

#[tokio::test]
async fn intrinsics_not_reachable_from_globals_are_frozen_too() {
    local(async {
        let f = Fixture::one_vm().await;
        let prototypes = [
            "Object.getPrototypeOf(async function () {})",
            "Object.getPrototypeOf(function* () {})",
            "Object.getPrototypeOf(function* () {}).prototype",
            "Object.getPrototypeOf(async function* () {})",
            "Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()))",
            "Object.getPrototypeOf([][Symbol.iterator]())",
            "Object.getPrototypeOf(''[Symbol.iterator]())",
            "Object.getPrototypeOf(new Map()[Symbol.iterator]())",
            "Object.getPrototypeOf(new Set()[Symbol.iterator]())",
            "Object.getPrototypeOf(/x/[Symbol.matchAll](''))",
            "Object.getPrototypeOf([].values().map(x => x))",
            "Object.getPrototypeOf(Iterator.from({next() {}}))",
        ];
        for prototype in prototypes {
            let _ = f
                .run(&app("tamper", &format!("({prototype}).evil = 1; 1")))
                .await;
            let next = f
                .ok(&app(
                    "other",
                    &format!("({{frozen: Object.isFrozen({prototype}), evil: typeof ({prototype}).evil}})"),
                ))
                .await;
            assert_eq!(
                next.response.body,
                json!({"frozen": true, "evil": "undefined"}),
                "{prototype}"
            );
        }
    })
    .await;
}

// ----- 9. time and randomness -----

#[tokio::test]
async fn date_performance_and_random_work() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var p1 = performance.now();\nvar rs = [];\nfor (var i = 0; i < 1000; i++) rs.push(Math.random());\n({now: Date.now(), date: new Date().getTime(), isDate: new Date() instanceof Date,\n  string: typeof Date(), epoch: new Date(0).toISOString(), parsed: Date.parse('2020-01-02T00:00:00Z'),\n  utc: Date.UTC(2020, 0, 2), p1: p1, p2: performance.now(),\n  min: Math.min.apply(null, rs), max: Math.max.apply(null, rs),\n  distinct: new Set(rs).size})")
            .await;
        let wall = f.env.clock.wall_ms() as f64;
        let now = body["now"].as_f64().unwrap();
        assert!((now - wall).abs() < 5_000.0, "Date.now {now} vs wall {wall}");
        let date = body["date"].as_f64().unwrap();
        assert!((date - wall).abs() < 5_000.0, "new Date {date} vs wall {wall}");
        assert_eq!(body["isDate"], true);
        assert_eq!(body["string"], "string");
        assert_eq!(body["epoch"], "1970-01-01T00:00:00.000Z");
        assert_eq!(body["parsed"], json!(1_577_923_200_000i64));
        assert_eq!(body["utc"], json!(1_577_923_200_000i64));
        let (p1, p2) = (body["p1"].as_f64().unwrap(), body["p2"].as_f64().unwrap());
        assert!(0.0 <= p1 && p1 <= p2 && p2 < 10_000.0, "performance.now {p1} {p2}");
        let (min, max) = (body["min"].as_f64().unwrap(), body["max"].as_f64().unwrap());
        assert!((0.0..1.0).contains(&min) && (0.0..1.0).contains(&max), "{min} {max}");
        assert!(body["distinct"].as_u64().unwrap() > 990, "{body}");
    })
    .await;
}

// ----- 10. storage, app identity and env from JavaScript -----

#[tokio::test]
async fn kv_from_javascript() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var kv = fazt.storage.kv;\nkv.set('user:1', {name: 'ann'});\nkv.set('user:2', {name: 'bob'});\nkv.set('other', 3);\nvar got = kv.get('user:1');\nvar missing = kv.get('nope');\nvar listed = kv.list('user:');\nvar all = kv.list().length;\nvar deleted = kv.delete('user:2');\nvar deletedAgain = kv.delete('user:2');\n({got: got, missing: missing === undefined, listed: listed, all: all, deleted: deleted,\n  deletedAgain: deletedAgain, after: kv.get('user:2') === undefined, other: kv.get('other')})")
            .await;
        assert_eq!(
            body,
            json!({"got": {"name": "ann"}, "missing": true,
                "listed": [{"key": "user:1", "value": {"name": "ann"}},
                           {"key": "user:2", "value": {"name": "bob"}}],
                "all": 3, "deleted": true, "deletedAgain": false, "after": true, "other": 3})
        );
        // It is in storage, under the app's id.
        let scope = f.storage.scope("t", Deadline::NONE);
        assert_eq!(
            scope.kv_get("user:1").await.unwrap(),
            Some(json!({"name": "ann"}))
        );
        assert_eq!(
            f.storage
                .scope("someone-else", Deadline::NONE)
                .kv_get("user:1")
                .await
                .unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test]
async fn ds_from_javascript() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var ds = fazt.storage.ds;\nvar id = ds.insert('posts', {title: 'a', likes: 1});\nvar named = ds.insert('posts', {id: 'p2', title: 'b', likes: 5});\nvar found = ds.find('posts', {likes: {$gte: 1}}, {order: 'asc'});\nvar one = ds.findOne('posts', id);\nvar updated = ds.update('posts', {title: 'a'}, {$inc: {likes: 2}});\nvar likes = ds.findOne('posts', {title: 'a'}).likes;\nvar count = ds.count('posts', {});\nvar big = ds.count('posts', {likes: {$gt: 4}});\nvar removed = ds.delete('posts', {title: 'b'});\n({idType: typeof id, named: named, titles: found.map(function (d) { return d.title }),\n  hasMeta: typeof found[0]._createdAt === 'number' && found[0].id === id,\n  one: one.title, updated: updated, likes: likes, count: count, big: big, removed: removed,\n  countAfter: ds.count('posts'), none: ds.findOne('posts', 'p2')})")
            .await;
        assert_eq!(
            body,
            json!({"idType": "string", "named": "p2", "titles": ["a", "b"], "hasMeta": true,
                "one": "a", "updated": 1, "likes": 3, "count": 2, "big": 1, "removed": 1,
                "countAfter": 1, "none": null})
        );
    })
    .await;
}

#[tokio::test]
async fn s3_from_javascript() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var s3 = fazt.storage.s3;\ns3.put('img/a.txt', 'hello', 'text/plain');\ns3.put('img/b.txt', 'bye');\ns3.put('doc/c.txt', 'other');\nvar blob = s3.get('img/a.txt');\n({data: blob.data, mime: blob.mime, size: blob.size, hashed: typeof blob.hash,\n  listed: s3.list('img/').map(function (b) { return b.path + ':' + b.size }),\n  missing: s3.get('nope'), deleted: s3.delete('img/b.txt'), left: s3.list().length})")
            .await;
        assert_eq!(
            body,
            json!({"data": "hello", "mime": "text/plain", "size": 5, "hashed": "string",
                "listed": ["img/a.txt:5", "img/b.txt:3"], "missing": null, "deleted": true,
                "left": 2})
        );
    })
    .await;
}

#[tokio::test]
async fn fazt_app_aliases_the_storage_namespaces() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var a = fazt.app;\na.kv.set('k', 'via app');\na.ds.insert('c', {id: 'd1', v: 1});\na.s3.put('f.txt', 'blob');\n({same: a.kv === fazt.storage.kv && a.ds === fazt.storage.ds && a.s3 === fazt.storage.s3,\n  kv: fazt.storage.kv.get('k'), ds: fazt.storage.ds.findOne('c', 'd1').v,\n  s3: fazt.storage.s3.get('f.txt').data})")
            .await;
        assert_eq!(
            body,
            json!({"same": true, "kv": "via app", "ds": 1, "s3": "blob"})
        );
        // Across executions too.
        assert_eq!(f.body("fazt.app.kv.get('k')").await, json!("via app"));
    })
    .await;
}

#[tokio::test]
async fn fazt_app_identity_and_env() {
    local(async {
        let f = Fixture::new().await;
        let mut code = AppCode {
            id: "blog".into(),
            name: "My Blog".into(),
            ..AppCode::default()
        };
        code.files.insert(
            AppCode::MAIN.into(),
            "({id: fazt.app.id, name: fazt.app.name, key: fazt.env.get('API_KEY'),\n  fallback: fazt.env.get('MISSING', 'dflt'), undef: fazt.env.get('MISSING') === undefined,\n  has: fazt.env.has('API_KEY'), hasNot: fazt.env.has('MISSING')})"
                .into(),
        );
        code.env.insert("API_KEY".into(), "secret".into());
        let body = f.ok(&Arc::new(code)).await.response.body;
        assert_eq!(
            body,
            json!({"id": "blog", "name": "My Blog", "key": "secret", "fallback": "dflt",
                "undef": true, "has": true, "hasNot": false})
        );
        // Another app on the same runtime sees its own identity and env.
        let body = f
            .body("({id: fazt.app.id, key: fazt.env.get('API_KEY', 'none')})")
            .await;
        assert_eq!(body, json!({"id": "t", "key": "none"}));
    })
    .await;
}

// ----- 11. compiled once per VM, run afresh by every execution -----

#[tokio::test]
async fn a_final_expression_after_declarations_is_still_the_completion_value() {
    local(async {
        let f = Fixture::one_vm().await;
        let cases = [
            (
                "handler(request);\nfunction handler(req) { return respond(201, {path: req.path}) }",
                201,
                json!({"path": "/api"}),
            ),
            (
                "respond(202, 'x');\nfunction a() {}\nfunction* b() {}\n;\n// the end",
                202,
                json!("x"),
            ),
            ("var n = 1;\nn + 1;\nvar m = 5;\nlet k = 6;", 200, json!(2)),
            ("if (true) { 'inside' }", 200, json!("inside")),
        ];
        for run in 0..3 {
            for (source, status, body) in &cases {
                let response = f.ok(&app("t", source)).await.response;
                assert_eq!(response.status, *status, "run {run}: {source}");
                assert_eq!(&response.body, body, "run {run}: {source}");
            }
        }
        assert_eq!(f.runtime.metrics().discarded, 0);
    })
    .await;
}

#[tokio::test]
async fn top_level_declarations_do_not_survive_into_the_next_run_of_the_same_script() {
    local(async {
        let f = Fixture::one_vm().await;
        let source = "var seen = {v: typeof v, f: typeof f, implicit: typeof implicit, g: typeof globalThis.g};\nvar v = 1;\nlet l = 2;\nconst c = 3;\nclass K {}\nfunction f() {}\nimplicit = 4;\nglobalThis.g = 5;\n({seen: seen, sum: v + l + c + implicit + g, k: typeof K})";
        let mut vms = BTreeSet::new();
        for run in 0..3 {
            let execution = f.run(&app("t", source)).await;
            vms.insert(execution.report.vm);
            assert_eq!(
                execution.outcome.unwrap().response.body,
                json!({"seen": {"v": "undefined", "f": "function", "implicit": "undefined",
                    "g": "undefined"}, "sum": 15, "k": "function"}),
                "run {run}"
            );
        }
        assert_eq!(vms.len(), 1, "one VM ran them all");
        assert_eq!(f.runtime.metrics().discarded, 0, "reset, not discarded");
        // Another app on the VM sees none of them.
        assert_eq!(
            f.body("[typeof v, typeof l, typeof c, typeof K, typeof f, typeof implicit, typeof g].join()")
                .await,
            json!("undefined,undefined,undefined,undefined,undefined,undefined,undefined")
        );
    })
    .await;
}

#[tokio::test]
async fn strict_scripts_run_again_and_keep_their_rules() {
    local(async {
        let f = Fixture::one_vm().await;
        for _ in 0..3 {
            let source = "'use strict';\nvar s = 1;\nlet t = 2;\n({sum: s + t, self: (function () { return this })() === undefined})";
            assert_eq!(f.body(source).await, json!({"sum": 3, "self": true}));
            let error = f.err(&app("t", "'use strict';\nundeclared = 1")).await;
            assert_eq!(error.kind, script("ReferenceError"));
        }
        assert_eq!(
            f.body("[typeof s, typeof t, typeof undeclared].join()").await,
            json!("undefined,undefined,undefined")
        );
    })
    .await;
}

#[tokio::test]
async fn each_run_gets_fresh_functions_for_top_level_return_and_modules() {
    local(async {
        let f = Fixture::one_vm().await;
        let template = app(
            "t",
            "arguments.callee.runs = (arguments.callee.runs || 0) + 1;\nreturn respond({runs: arguments.callee.runs})",
        );
        let modules = app_files(
            "mods",
            &[
                ("api/main.js", "require('./lib').calls"),
                (
                    "api/lib.js",
                    "exports.calls = arguments.callee.calls = (arguments.callee.calls || 0) + 1;",
                ),
            ],
        );
        for run in 0..3 {
            let response = f.ok(&template).await.response;
            assert_eq!(response.body, json!({"runs": 1}), "run {run}");
            let response = f.ok(&modules).await.response;
            assert_eq!(response.body, json!(1), "run {run}");
        }
    })
    .await;
}

#[tokio::test]
async fn syntax_errors_keep_their_line_on_every_run_and_in_modules() {
    local(async {
        let f = Fixture::one_vm().await;
        for _ in 0..2 {
            let error = f.err(&app("t", "var a = 1;\nvar c = ;")).await;
            assert_eq!(error.kind, ErrorKind::Syntax { line: Some(2) });
            let error = f.err(&app("t", "return 1;\n\nvar = 1;")).await;
            assert_eq!(error.kind, ErrorKind::Syntax { line: Some(3) });
            let error = f
                .err(&app_files(
                    "mods",
                    &[
                        ("api/main.js", "require('./bad')"),
                        ("api/bad.js", "\n\nvar = 1"),
                    ],
                ))
                .await;
            assert_eq!(error.kind, ErrorKind::Syntax { line: Some(3) });
        }
    })
    .await;
}

#[tokio::test]
async fn a_redeployed_script_runs_its_new_source() {
    local(async {
        let f = Fixture::one_vm().await;
        assert_eq!(f.body("'first'").await, json!("first"));
        assert_eq!(f.body("'second'").await, json!("second"));
        assert_eq!(f.body("return 'third'").await, json!("third"));
        assert_eq!(f.body("'first'").await, json!("first"));
    })
    .await;
}

#[tokio::test]
async fn every_kind_of_added_global_is_deleted() {
    local(async {
        let f = Fixture::one_vm().await;
        let adder = app(
            "adder",
            "globalThis[0] = 'index';\nglobalThis[Symbol.for('fazt.test')] = 'symbol';\nObject.defineProperty(globalThis, 'hidden', {value: 1, configurable: true, enumerable: false});\nObject.defineProperty(globalThis, 'getter', {get() { return 2 }, configurable: true});\n[globalThis[0], globalThis[Symbol.for('fazt.test')], hidden, getter].join()",
        );
        let inspect = app(
            "other",
            "[typeof globalThis[0], typeof globalThis[Symbol.for('fazt.test')], typeof hidden, typeof getter].join()",
        );
        for _ in 0..2 {
            assert_eq!(f.ok(&adder).await.response.body, json!("index,symbol,1,2"));
            assert_eq!(
                f.ok(&inspect).await.response.body,
                json!("undefined,undefined,undefined,undefined")
            );
        }
        assert_eq!(f.runtime.metrics().discarded, 0);
    })
    .await;
}

// ----- 9. tenant isolation and byte budgets (issue 15) -----

#[path = "runtime/isolation.rs"]
mod isolation;
