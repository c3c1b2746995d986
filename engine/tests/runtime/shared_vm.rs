//! Isolation between apps and executions sharing one VM.

use super::*;

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
