//! Every error kind an execution can end with.

use super::*;

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
