//! Issue 15: no app's code ever runs on another app's VM, intrinsic state that
//! freezing does not lock is neutralised, a VM whose state cannot be proven clean is
//! discarded, and no request makes the host copy more than its byte budgets out of
//! JavaScript.

use std::collections::{BTreeMap, BTreeSet};

use fazt_engine::runtime::{ErrorKind, LogLevel, RuntimeConfig, CONSOLE_BYTES_MAX};
use serde_json::json;

use super::{app, local, script, Fixture};

/// A fixture whose runtime keeps at most `pool_size` VMs.
async fn pool_of(pool_size: usize) -> Fixture {
    Fixture::with(RuntimeConfig {
        pool_size,
        ..RuntimeConfig::default()
    })
    .await
}

// ----- VMs never cross apps -----

#[tokio::test]
async fn vms_never_cross_apps_while_the_pool_evicts() {
    local(async {
        never_crossing(pool_of(2).await).await;
        // fazt 0.10.5's pre-warmed FIFO pool too (fazt itself shared it across apps).
        let legacy = RuntimeConfig {
            pool_size: 2,
            ..RuntimeConfig::fazt_0_10_5(1)
        };
        never_crossing(Fixture::with(legacy).await).await;
    })
    .await;
}

/// Runs three apps in turn on `f`'s pool of two VMs: each VM serves one app only.
async fn never_crossing(f: Fixture) {
    let mut vms: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for round in 0..6 {
        for id in ["a", "b", "c"].iter().cycle().skip(round).take(3) {
            let execution = f.run(&app(id, "fazt.app.id")).await;
            // (The legacy model fails some executions by stale interrupts, its bug.)
            if let Ok(executed) = &execution.outcome {
                assert_eq!(executed.response.body, json!(id));
            }
            vms.entry(id)
                .or_default()
                .insert(execution.report.vm.unwrap());
        }
    }
    let all: Vec<u64> = vms.values().flatten().copied().collect();
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "no VM served two apps: {vms:?}");
    let metrics = f.runtime.metrics();
    assert!(metrics.evicted > 0, "{metrics:?}");
    assert!(metrics.idle <= 2, "the bound holds: {metrics:?}");
    assert_eq!(
        metrics.created,
        metrics.idle as u64 + metrics.discarded + metrics.evicted,
        "every VM created is idle, discarded or evicted: {metrics:?}"
    );
}

#[tokio::test]
async fn the_coldest_app_loses_its_idle_vm_first() {
    local(async {
        let f = pool_of(2).await;
        let vm = |execution: fazt_engine::runtime::Execution| execution.report.vm.unwrap();
        let a = vm(f.run(&app("a", "1")).await);
        let b = vm(f.run(&app("b", "1")).await);
        assert_eq!(vm(f.run(&app("a", "1")).await), a, "a reuses its VM");
        // The pool is full: c takes the place of b, used least recently.
        let c = vm(f.run(&app("c", "1")).await);
        assert!(c != a && c != b);
        assert_eq!(vm(f.run(&app("a", "1")).await), a, "a's VM survived");
        assert_ne!(vm(f.run(&app("b", "1")).await), b, "b's VM was evicted");
        assert_eq!(f.runtime.metrics().evicted, 2);
    })
    .await;
}

#[tokio::test]
async fn an_intrinsic_hook_of_one_app_never_runs_in_another() {
    local(async {
        // Issue 15's first reproduction: app A installs `Error.prepareStackTrace`;
        // app B's errors then ran A's hook with B's request and storage.
        let f = Fixture::one_vm().await;
        let attacker = app(
            "attacker",
            "try { Error.prepareStackTrace = function () { fazt.storage.kv.set('planted', 'pwned'); return 'hooked' } } catch (e) {}\ntry { Error.stackTraceLimit = 0 } catch (e) {}\n1",
        );
        f.ok(&attacker).await;
        let victim = app(
            "victim",
            "const stack = new Error('x').stack;\n({hooked: stack === 'hooked', frames: stack.includes('<input>'), planted: fazt.storage.kv.get('planted') === undefined ? null : 'planted'})",
        );
        let body = f.ok(&victim).await.response.body;
        assert_eq!(body, json!({"hooked": false, "frames": true, "planted": null}));
    })
    .await;
}

// ----- intrinsic state within one app's VM -----

#[tokio::test]
async fn error_stack_hooks_cannot_be_installed() {
    local(async {
        let f = Fixture::one_vm().await;
        let hook = app(
            "t",
            "try { Error.prepareStackTrace = () => 'hooked' } catch (e) {}\ntry { Error.stackTraceLimit = 0 } catch (e) {}\nconst d = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');\n({stack: new Error('x').stack === 'hooked', limit: Error.stackTraceLimit,\n  prepare: typeof Error.prepareStackTrace, data: 'value' in d, writable: d.writable})",
        );
        let expected = json!({"stack": false, "limit": 10, "prepare": "undefined",
            "data": true, "writable": false});
        for _ in 0..2 {
            assert_eq!(f.ok(&hook).await.response.body, expected);
        }
        let error = f
            .err(&app("t", "'use strict'; Error.prepareStackTrace = () => 'hooked'"))
            .await;
        assert_eq!(error.kind, script("TypeError"), "{error:?}");
    })
    .await;
}

#[tokio::test]
async fn there_are_no_finalizers_or_weak_references() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("[typeof WeakRef, typeof FinalizationRegistry, 'WeakRef' in globalThis]")
            .await;
        assert_eq!(body, json!(["undefined", "undefined", false]));
    })
    .await;
}

#[tokio::test]
async fn a_private_field_on_the_global_object_discards_the_vm() {
    local(async {
        // The return-override trick: a base constructor returning `globalThis` lets
        // the subclass stamp its private field on it, invisible to the key listing.
        let f = Fixture::one_vm().await;
        let stamp = app(
            "t",
            "class S { constructor(o) { return o } }\nclass P extends S { #keep; constructor(o, v) { super(o); this.#keep = v } }\nnew P(globalThis, { kept: 'x'.repeat(1000) });\n'stamped'",
        );
        let first = f.run(&stamp).await;
        assert_eq!(first.outcome.unwrap().response.body, json!("stamped"));
        assert_eq!(f.runtime.metrics().discarded, 1, "the VM cannot be proven clean");
        let next = f.run(&app("t", "1")).await;
        assert_ne!(next.report.vm, first.report.vm);
        // A private method stamps a brand the same way.
        let brand = app(
            "t",
            "class S { constructor(o) { return o } }\nclass P extends S { #m() {} constructor(o) { super(o) } }\nnew P(globalThis);\n'branded'",
        );
        f.ok(&brand).await;
        assert_eq!(f.runtime.metrics().discarded, 2);
    })
    .await;
}

#[tokio::test]
async fn a_thrown_value_that_exhausts_memory_while_described_discards_the_vm() {
    local(async {
        let f = Fixture::one_vm().await;
        let error = f
            .err(&app(
                "t",
                "throw { get message() { for (var a = [];;) a.push('x'.repeat(1000)) } }",
            ))
            .await;
        assert_eq!(error.kind, ErrorKind::Memory, "{error:?}");
        let error = f
            .err(&app(
                "t",
                "throw { get message() { return (function f() { return f() })() } }",
            ))
            .await;
        assert_eq!(error.message, "unreadable error", "{error:?}");
        assert_eq!(f.runtime.metrics().discarded, 2);
        assert_eq!(f.body("'still serving'").await, json!("still serving"));
    })
    .await;
}

#[tokio::test]
async fn a_huge_error_message_is_cut() {
    local(async {
        let f = Fixture::new().await;
        let error = f.err(&app("t", "throw new Error('m'.repeat(1e7))")).await;
        assert_eq!(error.kind, script("Error"));
        assert_eq!(error.message.len(), 16384);
    })
    .await;
}

// ----- byte budgets -----

/// 50 references to one 20 MB string: 1 GB once copied per reference.
const FIFTY_REFERENCES: &str =
    "const s = 'x'.repeat(20e6); const a = []; for (let i = 0; i < 50; i++) a.push(s);";

#[tokio::test]
async fn a_response_over_its_budget_is_refused_before_it_is_copied() {
    local(async {
        let f = Fixture::one_vm().await;
        for source in [
            format!("{FIFTY_REFERENCES}\nrespond(200, a)"),
            format!("{FIFTY_REFERENCES}\nrespond(200, 'ok', {{big: s}})"),
            // Not plain data (a getter): read through JSON.stringify's text.
            "const s = 'x'.repeat(9 << 20);\n({ get g() { return 1 }, s })".to_owned(),
        ] {
            let error = f.err(&app("t", &source)).await;
            assert_eq!(error.kind, ErrorKind::ResponseTooLarge, "{error:?}");
            assert_eq!(error.kind.name(), "ResponseTooLarge");
        }
        // Just under the budget is fine, and the VM serves on.
        let body = f.body("'y'.repeat(4 << 20).length").await;
        assert_eq!(body, json!(4 << 20));
        let body = f.body("respond(200, 'y'.repeat(4 << 20))").await;
        assert_eq!(body.as_str().map(str::len), Some(4 << 20));
        assert_eq!(f.runtime.metrics().discarded, 0);
    })
    .await;
}

#[tokio::test]
async fn storage_arguments_over_the_value_limit_are_refused_before_they_are_copied() {
    local(async {
        let f = Fixture::new().await;
        let source = format!(
            "{FIFTY_REFERENCES}\nlet caught;\ntry {{ fazt.storage.kv.set('k', a) }} catch (e) {{ caught = {{name: e.name, kind: e.kind, retryable: e.retryable}} }}\n({{caught, stored: fazt.storage.kv.get('k') === undefined ? null : 'stored'}})"
        );
        let body = f.body(&source).await;
        assert_eq!(
            body,
            json!({"caught": {"name": "StorageError", "kind": "ValueTooLarge", "retryable": false},
                "stored": null})
        );
        // Uncaught, it is the request's storage error.
        let error = f
            .err(&app("t", &format!("{FIFTY_REFERENCES}\nfazt.storage.ds.insert('c', {{a}})")))
            .await;
        assert_eq!(
            error.kind,
            ErrorKind::Storage {
                retryable: false,
                storage_kind: "ValueTooLarge".into()
            }
        );
        // A blob may be as large as the blob limit.
        let body = f
            .body("fazt.storage.s3.put('b', 'z'.repeat(2 << 20)); fazt.storage.s3.get('b').size")
            .await;
        assert_eq!(body, json!(2 << 20));
    })
    .await;
}

#[tokio::test]
async fn console_output_is_truncated_at_its_budget() {
    local(async {
        let f = Fixture::new().await;
        for source in [
            "const s = 'l'.repeat(1e6); for (let i = 0; i < 1000; i++) console.log(s); 'done'",
            "for (let i = 0; i < 1e5; i++) console.log(''); 'done'",
            "for (let i = 0; i < 1e4; i++) console.log('line', i); 'done'",
        ] {
            let executed = f.ok(&app("t", source)).await;
            let logs = executed.logs;
            let bytes: usize = logs.iter().map(|line| line.message.len() + 32).sum();
            assert!(bytes <= CONSOLE_BYTES_MAX + 100, "{bytes} bytes captured");
            let last = logs.last().unwrap();
            assert_eq!(last.level, LogLevel::Warn);
            assert!(last.message.contains("truncated"), "{last:?}");
            let markers = logs
                .iter()
                .filter(|line| line.message.contains("truncated"))
                .count();
            assert_eq!(markers, 1);
        }
        // Lines within the budget are all kept.
        let logs = f
            .ok(&app("t", "console.log('a'); console.warn('b'); 1"))
            .await
            .logs;
        assert_eq!(logs.len(), 2);
    })
    .await;
}
