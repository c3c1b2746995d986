//! The legacy storage policies of the profiles (`fazt-reference.md` §4), through the
//! public API, on tokio's paused clock: SQLite's real locks, the modelled waits.
//!
//! SQLite work runs inline on the test's thread (a thread pool would let the paused
//! clock jump ahead while a job runs), so virtual time moves only by the waits.

use std::sync::Arc;
use std::time::Duration;

use fazt_engine::config::Config;
use fazt_engine::env::{Deadline, Disk, Env, Executor, Job, RealClock, Rng};
use fazt_engine::storage::{
    AnalyticsEvent, AnalyticsFlush, BackgroundWrites, Db, QueueAdmission, RequestLogEntry, Storage,
    StorageConfig, StorageError,
};
use futures::future::BoxFuture;
use serde_json::json;

struct Fixture {
    dir: tempfile::TempDir,
    env: Env,
    storage: Storage,
}

/// Runs each job at once, on the calling thread.
struct Inline;

impl Executor for Inline {
    fn execute(&self, job: Job) -> BoxFuture<'static, ()> {
        job();
        Box::pin(std::future::ready(()))
    }

    fn interleave(&self, _rng: &fazt_engine::env::Rng) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }

    fn charge(&self, _work: fazt_engine::env::Work) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }
}

async fn open(config: StorageConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let env = Env {
        clock: Arc::new(RealClock::new()),
        rng: Rng::seeded(7),
        executor: Arc::new(Inline),
        recorder: fazt_engine::events::Recorder::tracing(),
        disk: Disk::Os,
    };
    let storage = Storage::open(&dir.path().join("fazt.db"), env.clone(), config)
        .await
        .unwrap();
    Fixture { dir, env, storage }
}

impl Fixture {
    /// Another connection, holding the write lock.
    fn hold_the_lock(&self) -> Db {
        let other = Db::open(&self.dir.path().join("fazt.db")).unwrap();
        other.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
        other
    }

    async fn sleep_ms(&self, ms: u64) {
        self.env.clock.sleep(Duration::from_millis(ms)).await;
    }
}

fn storage_of(profile: &str) -> StorageConfig {
    Config::preset(profile, 1).unwrap().storage
}

#[tokio::test(start_paused = true)]
async fn busy_timeout_once_through_the_pool_covers_one_connection_until_its_lifetime() {
    let fixture = open(storage_of("fazt-0.10.6")).await;
    let holder = fixture.hold_the_lock();
    // The first write gets the first connection, which has the busy timeout: it waits.
    let waiting = tokio::spawn({
        let scope = fixture.storage.scope("a", Deadline::NONE);
        async move { scope.kv_set("first", &json!(1), None).await }
    });
    fixture.sleep_ms(5).await;
    // Meanwhile a second write gets another connection, without one: BUSY at once.
    let second = fixture
        .storage
        .scope("a", Deadline::NONE)
        .kv_set("second", &json!(2), None)
        .await
        .unwrap_err();
    assert!(matches!(second, StorageError::Busy { .. }), "{second}");
    fixture.sleep_ms(100).await;
    holder.conn().execute_batch("COMMIT").unwrap();
    waiting.await.unwrap().unwrap();

    // Past the 5-minute lifetime the pool replaced it: nobody waits any more.
    fixture.sleep_ms(300_000).await;
    let holder = fixture.hold_the_lock();
    let late = fixture
        .storage
        .scope("a", Deadline::NONE)
        .kv_set("late", &json!(3), None)
        .await
        .unwrap_err();
    assert!(matches!(late, StorageError::Busy { .. }), "{late}");
    holder.conn().execute_batch("ROLLBACK").unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_deferred_read_then_write_fails_at_once_where_a_plain_write_waits() {
    let fixture = open(storage_of("mech-deferred-upgrade")).await;
    let scope = fixture.storage.scope("a", Deadline::NONE);
    scope
        .ds_insert("items", &json!({"id": "x", "n": 1}))
        .await
        .unwrap();
    let holder = fixture.hold_the_lock();
    let update = scope
        .ds_update("items", &json!({"id": "x"}), &json!({"$inc": {"n": 1}}))
        .await
        .unwrap_err();
    assert!(matches!(update, StorageError::Busy { .. }), "{update}");
    // A write whose first statement writes waits for the lock (the engine's backoff
    // stands where SQLite would call its busy handler).
    let write = tokio::spawn({
        let scope = scope.clone();
        async move { scope.kv_set("k", &json!(1), None).await }
    });
    fixture.sleep_ms(20).await;
    holder.conn().execute_batch("COMMIT").unwrap();
    write.await.unwrap().unwrap();
    fixture.storage.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn fazts_admission_refuses_writes_the_queue_could_still_serve() {
    for (admission, refusals_expected) in [
        (QueueAdmission::Estimate, false),
        (QueueAdmission::fazt(), true),
    ] {
        let mut config = StorageConfig::default();
        config.policy.admission = admission;
        let fixture = open(config).await;
        let holder = fixture.hold_the_lock();
        let deadline = fixture.env.clock.deadline_in(Duration::from_millis(600));
        let writes: Vec<_> = (0..10)
            .map(|n| {
                let scope = fixture.storage.scope("a", deadline);
                tokio::spawn(async move { scope.kv_set(&format!("k{n}"), &json!(n), None).await })
            })
            .collect();
        fixture.sleep_ms(10).await;
        holder.conn().execute_batch("COMMIT").unwrap();
        let mut refused = 0;
        for write in writes {
            match write.await.unwrap() {
                Ok(()) => {}
                Err(StorageError::InsufficientBudget { .. }) => refused += 1,
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(
            refused > 0,
            refusals_expected,
            "{admission:?}: {refused} refused"
        );
        fixture.storage.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_busy_timeout_as_long_as_the_budget_waits_out_a_long_lock() {
    let fixture = open(storage_of("mech-timeout-hierarchy")).await;
    let holder = fixture.hold_the_lock();
    let started = fixture.env.clock.now();
    let write = tokio::spawn({
        let scope = fixture.storage.scope("a", Deadline::NONE);
        async move { scope.kv_set("k", &json!(1), None).await }
    });
    fixture.sleep_ms(1500).await;
    holder.conn().execute_batch("COMMIT").unwrap();
    write.await.unwrap().unwrap();
    let waited = fixture.env.clock.now().saturating_duration_since(started);
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    fixture.storage.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_analytics_buffer_flushes_a_full_batch_by_either_path() {
    for background in [
        BackgroundWrites::ThroughQueue,
        BackgroundWrites::BypassQueue,
    ] {
        let mut config = StorageConfig::default();
        config.policy.background = background;
        config.policy.analytics = AnalyticsFlush {
            flush_interval: Duration::from_secs(30),
            flush_events: 3,
        };
        let fixture = open(config).await;
        for n in 0..4 {
            fixture.storage.record_request(AnalyticsEvent {
                app_id: "a".into(),
                path: format!("/{n}"),
                status: 200,
                duration_us: 10,
                at_ms: n,
            });
        }
        fixture.sleep_ms(10).await;
        assert_eq!(fixture.storage.analytics_buffered(), 1, "{background:?}");
        fixture.sleep_ms(30_000).await;
        assert_eq!(fixture.storage.analytics_buffered(), 0, "{background:?}");
        fixture.storage.shutdown().await;
        let db = Db::open(&fixture.dir.path().join("fazt.db")).unwrap();
        let rows: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM analytics_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 4, "{background:?}");
    }
}

fn request_log_entry(n: u32) -> RequestLogEntry {
    RequestLogEntry {
        app_id: "a".into(),
        request_id: format!("r-{n}"),
        method: "GET".into(),
        path: "/api".into(),
        status: 200,
        duration_us: 10,
        at_ms: 0,
    }
}

fn request_log_rows(fixture: &Fixture) -> i64 {
    let db = Db::open(&fixture.dir.path().join("fazt.db")).unwrap();
    db.conn()
        .query_row("SELECT count(*) FROM request_log", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn fazt_0_10_10_writes_a_log_row_per_console_entry_and_failure_outside_the_queue() {
    // hardened: the request log stays in memory.
    let fixture = open(StorageConfig::default()).await;
    fixture.storage.log_request(request_log_entry(1));
    fixture.storage.log_execution(request_log_entry(1), 2, true);
    fixture.sleep_ms(10).await;
    assert_eq!(request_log_rows(&fixture), 0);
    fixture.storage.shutdown().await;

    // §4.7's mechanism: a row per request.
    let fixture = open(storage_of("mech-writers-bypass-queue")).await;
    fixture.storage.log_request(request_log_entry(1));
    fixture.sleep_ms(10).await;
    assert_eq!(request_log_rows(&fixture), 1);
    fixture.storage.shutdown().await;

    // fde8041's `persistLogs`: none for a quiet success, one per console entry and one
    // for a failure.
    let fixture = open(storage_of("fazt-0.10.10")).await;
    fixture.storage.log_request(request_log_entry(1));
    fixture
        .storage
        .log_execution(request_log_entry(1), 0, false);
    fixture.sleep_ms(10).await;
    assert_eq!(request_log_rows(&fixture), 0);
    fixture.storage.log_execution(request_log_entry(2), 1, true);
    fixture.sleep_ms(10).await;
    assert_eq!(request_log_rows(&fixture), 2);
    // Outside the queue, no retry: while another connection holds the write lock, the
    // row meets SQLITE_BUSY and is dropped; the queue never saw it.
    let holder = fixture.hold_the_lock();
    fixture.storage.log_execution(request_log_entry(3), 0, true);
    fixture.sleep_ms(10).await;
    holder.conn().execute_batch("COMMIT").unwrap();
    fixture.sleep_ms(10).await;
    assert_eq!(request_log_rows(&fixture), 2);
    assert_eq!(fixture.storage.stats().groups_committed, 0);
    fixture.storage.shutdown().await;
}

/// The direct-write path (pooled connections, each its own transaction) enforces the
/// app quota too: every writer connection carries the quota trigger.
#[tokio::test(start_paused = true)]
async fn the_direct_write_path_enforces_the_app_quota() {
    let mut config = storage_of("fazt-0.10.6");
    config.limits.app_quota_bytes = 3_000;
    let fixture = open(config).await;
    let a = fixture.storage.scope("a", Deadline::NONE);
    let writes = (0..6).map(|n| {
        let a = a.clone();
        async move { a.s3_put(&format!("p{n}"), vec![0; 998], None).await }
    });
    let results = futures::future::join_all(writes).await;
    let stored = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(stored, 3, "{results:?}");
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(StorageError::QuotaExceeded { .. }))));
    assert_eq!(a.usage_bytes().await.unwrap(), 3_000);
    assert_eq!(
        fixture
            .storage
            .usage_mismatches(Deadline::NONE)
            .await
            .unwrap(),
        vec![]
    );
}
