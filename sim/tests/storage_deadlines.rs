//! Deadlines on virtual time: refused up front, never started late, and a write whose
//! commit the caller could not wait for reported as outcome-unknown, not as a failure.

use std::time::Duration;

use fazt_engine::env::{Deadline, Env};
use fazt_engine::storage::{DeadlinePolicy, Storage, StorageConfig, StorageError, StoragePolicy};
use fazt_sim::env::{sim_env_with, CostModel};
use serde_json::json;

/// An environment whose SQLite statements are slow: 10 ms each.
fn slow_env() -> Env {
    let cost = CostModel {
        statement: Duration::from_millis(10),
        ..CostModel::default()
    };
    sim_env_with(9, cost)
}

async fn open(env: &Env, config: StorageConfig) -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&dir.path().join("x.db"), env.clone(), config)
        .await
        .unwrap();
    (dir, storage)
}

fn within(env: &Env, ms: u64) -> Deadline {
    env.clock.deadline_in(Duration::from_millis(ms))
}

#[tokio::test(start_paused = true)]
async fn a_commit_the_caller_cannot_wait_for_is_outcome_unknown_and_lands() {
    let env = slow_env();
    let (_dir, storage) = open(&env, StorageConfig::default()).await;
    // BEGIN, SAVEPOINT, INSERT, RELEASE, COMMIT: ~50 ms of statements; 20 ms budget.
    let error = storage
        .scope("a", within(&env, 20))
        .kv_set("k", &json!(1), None)
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::OutcomeUnknown), "{error}");
    assert!(
        !error.retryable(),
        "an outcome-unknown write is not blindly retryable"
    );
    // The writer is still applying it (its statements take virtual time); it commits.
    env.clock.sleep(Duration::from_millis(100)).await;
    let value = storage
        .scope("a", Deadline::NONE)
        .kv_get("k")
        .await
        .unwrap();
    assert_eq!(value, Some(json!(1)), "this write did land");
    storage.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn abandoning_at_the_deadline_reports_a_landed_write_as_failed() {
    let env = slow_env();
    let config = StorageConfig {
        policy: StoragePolicy {
            deadline: DeadlinePolicy::AbandonAtDeadline,
            ..StoragePolicy::default()
        },
        ..StorageConfig::default()
    };
    let (_dir, storage) = open(&env, config).await;
    // The same write as above: started, then the caller's 20 ms run out.
    let error = storage
        .scope("a", within(&env, 20))
        .kv_set("k", &json!(1), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::DeadlineExceeded { .. }),
        "fazt 0.10.10 said it failed: {error}"
    );
    env.clock.sleep(Duration::from_millis(100)).await;
    let value = storage
        .scope("a", Deadline::NONE)
        .kv_get("k")
        .await
        .unwrap();
    assert_eq!(value, Some(json!(1)), "a ghost write: it landed");
    storage.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_write_whose_deadline_passes_before_it_starts_is_never_applied() {
    let env = sim_env_with(9, CostModel::default());
    let (dir, storage) = open(&env, StorageConfig::default()).await;
    // Another connection holds the write lock for 100 ms: the writer meets SQLITE_BUSY
    // and waits with backoff on the clock; the write stays queued, never started.
    let other = fazt_engine::storage::Db::open(&dir.path().join("x.db")).unwrap();
    other.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
    let error = storage
        .scope("a", within(&env, 20))
        .kv_set("late", &json!(2), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::DeadlineExceeded { .. }),
        "{error}"
    );
    assert!(error.retryable());
    env.clock.sleep(Duration::from_millis(80)).await;
    other.conn().execute_batch("COMMIT").unwrap();
    let reader = storage.scope("a", Deadline::NONE);
    assert_eq!(reader.kv_get("late").await.unwrap(), None, "nothing landed");
    assert!(
        storage.stats().writer_busy > 0,
        "the writer did meet the lock"
    );
    // The writer is healthy once the lock is free.
    reader.kv_set("after", &json!(3), None).await.unwrap();
    storage.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_budget_below_the_expected_wait_is_refused_up_front() {
    let env = slow_env();
    let (_dir, storage) = open(&env, StorageConfig::default()).await;
    let unbounded = storage.scope("a", Deadline::NONE);
    unbounded.kv_set("warm", &json!(0), None).await.unwrap(); // the writer learns ~50 ms
    let before = env.clock.now();
    let error = storage
        .scope("a", within(&env, 5))
        .kv_set("k", &json!(1), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::InsufficientBudget { .. }),
        "{error}"
    );
    assert!(error.retryable());
    assert_eq!(env.clock.now(), before, "refused without waiting");
    assert_eq!(unbounded.kv_get("k").await.unwrap(), None);
    storage.shutdown().await;
}

/// The estimate learns a group's time only when it finishes; a group still running is
/// expected to run about as long again as it has run, so a write that arrives while a
/// group has already outlasted the write's whole budget is refused up front, not queued
/// behind it to wait out its deadline.
#[tokio::test(start_paused = true)]
async fn a_write_behind_a_group_that_outlasted_its_budget_is_refused_up_front() {
    let env = slow_env();
    let (dir, storage) = open(&env, StorageConfig::default()).await;
    let unbounded = storage.scope("a", Deadline::NONE);
    unbounded.kv_set("warm", &json!(0), None).await.unwrap(); // the writer learns ~50 ms
                                                              // Another connection holds the write lock: the next group backs off, running.
    let other = fazt_engine::storage::Db::open(&dir.path().join("x.db")).unwrap();
    other.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
    let one = json!(1);
    let held = unbounded.kv_set("held", &one, None);
    let late = async {
        env.clock.sleep(Duration::from_millis(100)).await;
        let before = env.clock.now();
        let result = storage
            .scope("a", within(&env, 80))
            .kv_set("late", &json!(2), None)
            .await;
        (result, env.clock.now().saturating_duration_since(before))
    };
    let (_held, (late, waited)) = tokio::join!(held, late);
    let error = late.unwrap_err();
    assert!(
        matches!(error, StorageError::InsufficientBudget { .. }),
        "{error}"
    );
    assert_eq!(waited, Duration::ZERO, "refused without waiting");
    other.conn().execute_batch("ROLLBACK").unwrap();
    assert_eq!(unbounded.kv_get("late").await.unwrap(), None);
    storage.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_profile_that_ignores_deadlines_outlives_them() {
    let env = slow_env();
    let config = StorageConfig {
        policy: StoragePolicy {
            deadline: DeadlinePolicy::Ignore,
            ..StoragePolicy::default()
        },
        ..StorageConfig::default()
    };
    let (_dir, storage) = open(&env, config).await;
    let started = env.clock.now();
    storage
        .scope("a", within(&env, 20))
        .kv_set("k", &json!(1), None)
        .await
        .unwrap();
    assert!(env.clock.now() - started > Duration::from_millis(20));
    storage.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn expired_kv_entries_are_invisible_then_swept() {
    let env = slow_env();
    let config = StorageConfig {
        policy: StoragePolicy {
            kv_sweep_interval: Duration::from_secs(1),
            ..StoragePolicy::default()
        },
        ..StorageConfig::default()
    };
    let (dir, storage) = open(&env, config).await;
    let kv = storage.scope("a", Deadline::NONE);
    kv.kv_set("short", &json!(1), Some(500)).await.unwrap();
    kv.kv_set("long", &json!(2), Some(60_000)).await.unwrap();
    kv.kv_set("forever", &json!(3), None).await.unwrap();
    assert_eq!(kv.kv_get("short").await.unwrap(), Some(json!(1)));
    env.clock.sleep(Duration::from_millis(600)).await;
    assert_eq!(kv.kv_get("short").await.unwrap(), None);
    assert_eq!(kv.kv_list("").await.unwrap().len(), 2);
    env.clock.sleep(Duration::from_secs(2)).await;
    let raw = rusqlite::Connection::open(dir.path().join("x.db")).unwrap();
    let rows: i64 = raw
        .query_row("SELECT count(*) FROM app_kv WHERE app_id = 'a'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        rows, 2,
        "the sweep deleted the expired row through the writer"
    );
    storage.shutdown().await;
}
