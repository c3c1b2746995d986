//! The JavaScript runtime under the simulated environment: executions interleave only
//! at storage calls and time slices, in an order the seed decides; the legacy watchdog
//! poisons a pooled VM by its mechanism, and the hardened runtime never fails.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use fazt_engine::env::Env;
use fazt_engine::runtime::{
    AppCode, ErrorKind, HandlerRequest, Runtime, RuntimeConfig, WatcherEnd,
};
use fazt_engine::storage::{Storage, StorageConfig};
use fazt_sim::env::{sim_env_with, CostModel};
use serde_json::json;

fn app(id: &str, main: &str) -> Arc<AppCode> {
    let mut app = AppCode {
        id: id.into(),
        name: id.into(),
        ..AppCode::default()
    };
    app.files.insert(AppCode::MAIN.into(), main.into());
    Arc::new(app)
}

fn post(body: serde_json::Value) -> HandlerRequest {
    HandlerRequest {
        method: "POST".into(),
        path: "/api/tasks".into(),
        body,
        ..HandlerRequest::default()
    }
}

/// Runs `body` on a paused current-thread runtime with a LocalSet, storage open.
fn simulate<T>(seed: u64, body: impl AsyncFnOnce(Env, Storage) -> T) -> T {
    simulate_on(seed, CostModel::default(), body)
}

/// [`simulate`] on a machine costing `cost`.
fn simulate_on<T>(seed: u64, cost: CostModel, body: impl AsyncFnOnce(Env, Storage) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let env = sim_env_with(seed, cost);
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(
            &dir.path().join("x.db"),
            env.clone(),
            StorageConfig::default(),
        )
        .await
        .unwrap();
        let out = body(env, storage.clone()).await;
        storage.shutdown().await;
        out
    })
}

/// Two executions, each appending to a shared kv list in several storage calls; the
/// order of their appends is the interleaving.
fn interleaving(seed: u64) -> Vec<String> {
    simulate(seed, async |env, storage| {
        let runtime = Rc::new(
            Runtime::new(env.clone(), Some(storage.clone()), RuntimeConfig::default()).unwrap(),
        );
        let script = "for (var i = 0; i < 4; i++) { var log = fazt.storage.kv.get('log') || []; \
                      log.push(request.body.who + i); fazt.storage.kv.set('log', log); } 'done'";
        let code = app("interleave", script);
        let runs: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|who| {
                let (runtime, code, env) = (runtime.clone(), code.clone(), env.clone());
                tokio::task::spawn_local(async move {
                    let deadline = env.clock.deadline_in(Duration::from_secs(5));
                    runtime
                        .execute(&code, &post(json!({ "who": who })), deadline)
                        .await
                })
            })
            .collect();
        for run in runs {
            assert!(run.await.unwrap().outcome.is_ok());
        }
        let log = storage
            .scope("interleave", fazt_engine::env::Deadline::NONE)
            .kv_get("log")
            .await
            .unwrap();
        serde_json::from_value(log.unwrap()).unwrap()
    })
}

#[test]
fn storage_calls_interleave_in_an_order_the_seed_decides() {
    let mut orders = BTreeSet::new();
    for seed in 0..8 {
        let first = interleaving(seed);
        assert_eq!(
            first,
            interleaving(seed),
            "seed {seed}: same seed, same order"
        );
        orders.insert(first);
    }
    assert!(
        orders.len() > 1,
        "every seed gave the same interleaving: {orders:?}"
    );
}

#[test]
fn cpu_bound_handlers_are_time_sliced_on_virtual_time() {
    simulate(1, async |env, storage| {
        let runtime =
            Rc::new(Runtime::new(env.clone(), Some(storage), RuntimeConfig::default()).unwrap());
        let spin = app("spin", "while(true){}");
        let trivial = app("trivial", "respond(200, 'ok')");
        let started = env.clock.now();
        let looping = {
            let (runtime, env) = (runtime.clone(), env.clone());
            tokio::task::spawn_local(async move {
                let deadline = env.clock.deadline_in(Duration::from_millis(50));
                runtime.execute(&spin, &post(json!(null)), deadline).await
            })
        };
        tokio::task::yield_now().await;
        let quick = runtime
            .execute(
                &trivial,
                &post(json!(null)),
                env.clock.deadline_in(Duration::from_millis(50)),
            )
            .await;
        assert!(
            quick.outcome.is_ok(),
            "the trivial handler ran between the loop's slices"
        );
        let looped = looping.await.unwrap();
        assert_eq!(looped.outcome.unwrap_err().kind, ErrorKind::Timeout);
        let elapsed = env.clock.now() - started;
        assert!(
            elapsed >= Duration::from_millis(50) && elapsed < Duration::from_millis(52),
            "the loop ran its 50 ms of virtual CPU time: {elapsed:?}"
        );
        assert!(looped.report.fuel > 100, "fuel {}", looped.report.fuel);
    });
}

/// Sequential momentum-like POSTs: one kv write each.
const MOMENTUM_POST: &str = "var id = fazt.storage.ds.insert('tasks', {session: request.body.session, text: request.body.text}); \
                             respond(201, {id: id})";

#[test]
fn the_legacy_watchdog_poisons_a_pooled_vm_and_the_next_request_on_it_fails_at_once() {
    simulate(7, async |env, storage| {
        let runtime =
            Runtime::new(env.clone(), Some(storage), RuntimeConfig::fazt_0_10_5(1)).unwrap();
        let code = app("momentum", MOMENTUM_POST);
        let mut history = Vec::new();
        for n in 0..60 {
            let deadline = env.clock.deadline_in(Duration::from_secs(5));
            let run = runtime
                .execute(&code, &post(json!({"session": "s", "text": n})), deadline)
                .await;
            history.push(run);
        }
        // The exact sequence: execution k runs on VM k % 10 (FIFO of 10). On one CPU
        // the watcher is always late; when Go's select picks the timeout, the VM goes
        // back to the pool carrying the interrupt, and the execution 10 later on the same
        // VM fails at once, naming the execution whose watcher fired.
        let mut poisoned = 0;
        for (n, run) in history.iter().enumerate() {
            assert_eq!(run.report.vm, Some(n as u64 % 10), "FIFO pool of 10");
            assert_ne!(
                run.report.watcher,
                Some(WatcherEnd::InTime),
                "one CPU: the watcher is always late"
            );
            let previous = n.checked_sub(10).map(|p| &history[p]);
            let stale = previous
                .is_some_and(|p| p.report.watcher == Some(WatcherEnd::LateInterruptedPooledVm));
            match &run.outcome {
                Ok(_) => assert!(!stale, "execution {n} should have failed"),
                Err(error) => {
                    assert!(
                        stale,
                        "execution {n} failed without a stale interrupt: {error:?}"
                    );
                    assert_eq!(error.kind, ErrorKind::Timeout);
                    assert_eq!(error.message, "execution timeout");
                    let origin = n - 10;
                    assert_eq!(
                        error.cause.as_deref(),
                        Some(format!("stale-interrupt from execution {origin}").as_str())
                    );
                    assert_eq!(
                        run.report.storage_calls, 0,
                        "it failed before running any code"
                    );
                    poisoned += 1;
                }
            }
        }
        assert!(
            (15..=35).contains(&poisoned),
            "about half of executions 10..60 fail: {poisoned}"
        );
    });
}

#[test]
fn the_hardened_runtime_never_fails_the_same_sequence() {
    simulate(7, async |env, storage| {
        let runtime = Runtime::new(env.clone(), Some(storage), RuntimeConfig::default()).unwrap();
        let code = app("momentum", MOMENTUM_POST);
        for n in 0..60 {
            let deadline = env.clock.deadline_in(Duration::from_secs(5));
            let run = runtime
                .execute(&code, &post(json!({"session": "s", "text": n})), deadline)
                .await;
            assert!(run.outcome.is_ok(), "execution {n}: {:?}", run.outcome);
            assert_eq!(run.report.watcher, None);
        }
    });
}

/// At goja's speed (the watcher's delay is then often shorter than the handler).
#[test]
fn with_several_cpus_the_watcher_is_usually_in_time() {
    simulate_on(3, CostModel::fazt_go(), async |env, storage| {
        let runtime =
            Runtime::new(env.clone(), Some(storage), RuntimeConfig::fazt_0_10_5(4)).unwrap();
        let code = app("momentum", MOMENTUM_POST);
        let mut ends = std::collections::BTreeMap::new();
        for n in 0..200 {
            let deadline = env.clock.deadline_in(Duration::from_secs(5));
            let run = runtime
                .execute(&code, &post(json!({"session": "s", "text": n})), deadline)
                .await;
            *ends.entry(format!("{:?}", run.report.watcher)).or_insert(0) += 1;
        }
        let in_time = ends.get("Some(InTime)").copied().unwrap_or(0);
        assert!(in_time > 0 && in_time < 200, "{ends:?}");
    });
}
