//! Scripts compiled once per VM, run afresh by every execution.

use super::*;

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
