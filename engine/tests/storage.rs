//! Storage behaviour through the public API, in the real environment.

use std::time::Duration;

use fazt_engine::env::{Deadline, Env};
use fazt_engine::storage::{
    FindOptions, Order, Scope, Storage, StorageConfig, StorageError, StoragePolicy, WritePath,
};
use serde_json::{json, Value};

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    storage: Storage,
}

async fn open_with(config: StorageConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fazt.db");
    let storage = Storage::open(&path, Env::real(), config).await.unwrap();
    Fixture {
        _dir: dir,
        path,
        storage,
    }
}

async fn open() -> Fixture {
    open_with(StorageConfig::default()).await
}

fn app(fixture: &Fixture, name: &str) -> Scope {
    fixture.storage.scope(name, Deadline::NONE)
}

#[tokio::test]
async fn every_pooled_connection_has_the_pragmas() {
    let fixture = open().await;
    let settings = fixture.storage.reader_settings().await.unwrap();
    assert_eq!(settings.len(), StoragePolicy::default().readers);
    for connection in settings {
        assert_eq!(connection.journal_mode, "wal");
        assert_eq!(connection.synchronous, 1, "NORMAL");
        assert!(connection.foreign_keys);
        assert_eq!(connection.busy_timeout_ms, 0);
    }
}

#[tokio::test]
async fn kv_round_trip_and_literal_prefixes() {
    let fixture = open().await;
    let kv = app(&fixture, "a");
    kv.kv_set("user:1", &json!({"n": 1}), None).await.unwrap();
    kv.kv_set("user%1", &json!("percent"), None).await.unwrap();
    kv.kv_set("user_1", &json!("underscore"), None)
        .await
        .unwrap();
    kv.kv_set("USER:2", &json!(2), None).await.unwrap();
    assert_eq!(kv.kv_get("user:1").await.unwrap(), Some(json!({"n": 1})));
    assert_eq!(kv.kv_get("missing").await.unwrap(), None);
    let keys = |entries: Vec<fazt_engine::storage::KvEntry>| -> Vec<String> {
        entries.into_iter().map(|e| e.key).collect()
    };
    assert_eq!(keys(kv.kv_list("user%").await.unwrap()), ["user%1"]);
    assert_eq!(keys(kv.kv_list("user_").await.unwrap()), ["user_1"]);
    assert_eq!(keys(kv.kv_list("user:").await.unwrap()), ["user:1"]);
    assert_eq!(kv.kv_list("").await.unwrap().len(), 4);
    assert!(kv.kv_delete("user:1").await.unwrap());
    assert!(!kv.kv_delete("user:1").await.unwrap());
    // Apps are isolated.
    assert_eq!(app(&fixture, "b").kv_get("user%1").await.unwrap(), None);
}

#[tokio::test]
async fn ds_queries_updates_and_deletes() {
    let fixture = open().await;
    let ds = app(&fixture, "cashflow");
    for (n, category) in [(10, "food"), (25, "rent"), (5, "food"), (40, "fun")] {
        ds.ds_insert(
            "tx",
            &json!({"amount": n, "category": category, "session": "s1", "meta": {"tags": [category, "x"]}}),
        )
        .await
        .unwrap();
    }
    ds.ds_insert("tx", &json!({"id": "other", "amount": 1, "session": "s2"}))
        .await
        .unwrap();
    let find = |query: Value| {
        let ds = ds.clone();
        async move {
            ds.ds_find("tx", &query, &FindOptions::default())
                .await
                .unwrap()
                .iter()
                .map(|d| d["amount"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(find(json!({"session": "s1"})).await, [40, 5, 25, 10]);
    assert_eq!(
        find(json!({"amount": {"$gte": 10, "$lte": 25}})).await,
        [25, 10]
    );
    assert_eq!(
        find(json!({"category": {"$in": ["fun", "rent"]}})).await,
        [40, 25]
    );
    assert_eq!(
        find(json!({"category": {"$nin": ["food"]}})).await,
        [1, 40, 25]
    );
    assert_eq!(
        find(json!({"meta.tags": {"$contains": "rent"}})).await,
        [25]
    );
    assert_eq!(
        find(json!({"category": {"$ne": "food"}, "session": "s1"})).await,
        [40, 25]
    );
    let ascending = FindOptions {
        limit: Some(2),
        offset: Some(1),
        order: Order::Asc,
    };
    let page = ds.ds_find("tx", &json!({}), &ascending).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["amount"], 25);

    let one = ds
        .ds_find_one("tx", &json!("other"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one["id"], "other");
    assert!(one["_createdAt"].as_i64().unwrap() > 1_700_000_000_000);
    let duplicate = ds
        .ds_insert("tx", &json!({"id": "other"}))
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, StorageError::DuplicateId { .. }),
        "{duplicate}"
    );

    let changed = ds
        .ds_update(
            "tx",
            &json!({"category": "food"}),
            &json!({"$inc": {"amount": 100, "visits": 1}, "$set": {"seen": true}}),
        )
        .await
        .unwrap();
    assert_eq!(changed, 2);
    assert_eq!(find(json!({"visits": 1, "seen": true})).await, [105, 110]);
    assert_eq!(
        ds.ds_count("tx", &json!({"session": "s1"})).await.unwrap(),
        4
    );
    assert_eq!(
        ds.ds_delete("tx", &json!({"amount": {"$gt": 100}}))
            .await
            .unwrap(),
        2
    );
    assert_eq!(ds.ds_delete_oldest("tx", 1).await.unwrap(), 2);
    assert_eq!(find(json!({})).await, [1]);
    assert_eq!(ds.ds_delete("tx", &json!({})).await.unwrap(), 1);
}

#[tokio::test]
async fn cursor_pagination_walks_a_large_collection_once() {
    let fixture = open().await;
    let ds = app(&fixture, "a");
    for n in 0..250 {
        ds.ds_insert("items", &json!({"n": n, "even": n % 2 == 0}))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = ds
            .ds_find_page(
                "items",
                &json!({"even": true}),
                cursor.as_deref(),
                40,
                Order::Asc,
            )
            .await
            .unwrap();
        seen.extend(page.documents.iter().map(|d| d["n"].as_i64().unwrap()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, (0..250).step_by(2).collect::<Vec<_>>());
    let bad = ds
        .ds_find_page("items", &json!({}), Some("x'; --"), 10, Order::Desc)
        .await
        .unwrap_err();
    assert!(matches!(bad, StorageError::InvalidArgument(_)), "{bad}");
}

#[tokio::test]
async fn expression_index_is_used_by_queries() {
    let fixture = open().await;
    let ds = app(&fixture, "a");
    ds.ds_insert("c", &json!({"amount": 3})).await.unwrap();
    ds.ds_create_index("amount").await.unwrap();
    assert_eq!(
        ds.ds_find("c", &json!({"amount": 3}), &FindOptions::default())
            .await
            .unwrap()
            .len(),
        1
    );
    // The planner picks the index for the literal path the query compiler renders.
    let conn = rusqlite::Connection::open(&fixture.path).unwrap();
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT id FROM app_docs
             WHERE app_id = 'a' AND collection = 'c' AND json_extract(data, '$.amount') = 3",
        )
        .unwrap()
        .query_map([], |row| row.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|step| step.contains("doc_field_amount")),
        "{plan:?}"
    );
    // Session queries use the session column's index.
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM app_docs
             WHERE app_id = 'a' AND collection = 'c' AND session_id = 's'",
            [],
            |row| row.get(3),
        )
        .unwrap();
    assert!(plan.contains("app_docs_session"), "{plan}");
}

#[tokio::test]
async fn s3_blobs_carry_hash_size_and_mime() {
    let fixture = open().await;
    let s3 = app(&fixture, "a");
    s3.s3_put("img/a.png", b"abc".to_vec(), Some("image/png"))
        .await
        .unwrap();
    s3.s3_put("img/b.bin", vec![0; 10], None).await.unwrap();
    let blob = s3.s3_get("img/a.png").await.unwrap().unwrap();
    assert_eq!(blob.data, b"abc");
    assert_eq!(blob.mime, "image/png");
    assert_eq!(blob.size, 3);
    assert_eq!(blob.hash, fazt_engine::storage::sha256_hex(b"abc"));
    let listed = s3.s3_list("img/").await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].mime, fazt_engine::storage::DEFAULT_MIME);
    assert!(s3.s3_delete("img/a.png").await.unwrap());
    assert_eq!(s3.s3_get("img/a.png").await.unwrap(), None);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let fixture = open().await;
    let ds = app(&fixture, "a");
    ds.ds_insert("c", &json!({"n": 1})).await.unwrap();
    let none = FindOptions::default();
    let unknown = ds
        .ds_find("c", &json!({"n": {"$regex": "."}}), &none)
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("unknown operator \"$regex\""),
        "{unknown}"
    );
    // Any name upstream accepts is a field name, bound as data: it matches nothing.
    let injected = ds
        .ds_find("c", &json!({"n') OR 1=1 --": 1}), &none)
        .await
        .unwrap();
    assert!(injected.is_empty(), "{injected:?}");
    let malformed = ds
        .ds_find("c", &json!({"n\"x": 1}), &none)
        .await
        .unwrap_err();
    assert!(
        malformed.to_string().contains("malformed field name"),
        "{malformed}"
    );
    let oversize = ds
        .ds_insert("c", &json!({"blob": "x".repeat(2 << 20)}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            oversize,
            StorageError::TooLarge {
                what: "document",
                ..
            }
        ),
        "{oversize}"
    );
    let bad_collection = ds
        .ds_insert("c; DROP TABLE app_docs", &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(bad_collection, StorageError::InvalidArgument(_)));
    let bad_update = ds
        .ds_update("c", &json!({}), &json!({"$inc": {"n": "one"}}))
        .await
        .unwrap_err();
    assert!(
        matches!(bad_update, StorageError::InvalidArgument(_)),
        "{bad_update}"
    );
    let long_key = app(&fixture, "a")
        .kv_set(&"k".repeat(600), &json!(1), None)
        .await
        .unwrap_err();
    assert!(matches!(
        long_key,
        StorageError::TooLarge { what: "key", .. }
    ));
    let big_blob = app(&fixture, "a")
        .s3_put("x", vec![0; 11 << 20], None)
        .await
        .unwrap_err();
    assert!(matches!(
        big_blob,
        StorageError::TooLarge { what: "blob", .. }
    ));
    let options = FindOptions::parse(&json!({"limit": 1, "sort": "x"})).unwrap_err();
    assert!(options.to_string().contains("sort"), "{options}");
    // Nothing changed.
    let all = ds.ds_find("c", &json!({}), &none).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["n"], 1);
}

#[tokio::test]
async fn a_failing_write_does_not_fail_its_group() {
    // A queue big enough that many concurrent writes commit together.
    let fixture = open().await;
    let ds = app(&fixture, "a");
    ds.ds_insert("c", &json!({"id": "taken"})).await.unwrap();
    let mut writers = Vec::new();
    for n in 0..50 {
        let ds = ds.clone();
        writers.push(tokio::spawn(async move {
            let id = if n % 10 == 0 {
                "taken".to_owned()
            } else {
                format!("d{n}")
            };
            ds.ds_insert("c", &json!({"id": id})).await
        }));
    }
    let mut failed = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(_) => {}
            Err(StorageError::DuplicateId { .. }) => failed += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(failed, 5);
    assert_eq!(ds.ds_count("c", &json!({})).await.unwrap(), 46);
}

#[tokio::test]
async fn shutdown_drains_and_a_restart_loses_nothing_acknowledged() {
    let config = StorageConfig {
        policy: StoragePolicy {
            write_path: WritePath::GroupCommit {
                queue_depth: 64,
                batch_max: 8,
            },
            ..StoragePolicy::default()
        },
        ..StorageConfig::default()
    };
    let fixture = open_with(config.clone()).await;
    let kv = app(&fixture, "a");
    let mut writers = Vec::new();
    for n in 0..200 {
        let kv = kv.clone();
        writers.push(tokio::spawn(async move {
            kv.kv_set(&format!("k{n:03}"), &json!(n), None)
                .await
                .map(|()| n)
        }));
    }
    let acknowledged: Vec<i32> = futures::future::join_all(writers)
        .await
        .into_iter()
        .filter_map(|joined| joined.unwrap().ok())
        .collect();
    assert_eq!(acknowledged.len(), 200);
    fixture.storage.shutdown().await;
    let after = kv.kv_set("late", &json!(1), None).await.unwrap_err();
    assert!(matches!(after, StorageError::Closed), "{after}");

    let reopened = Storage::open(&fixture.path, Env::real(), config)
        .await
        .unwrap();
    let kv = reopened.scope("a", Deadline::NONE);
    assert_eq!(kv.kv_list("k").await.unwrap().len(), 200);
    reopened.shutdown().await;
}

#[tokio::test]
async fn a_past_deadline_starts_nothing() {
    let fixture = open().await;
    let clock = Env::real().clock;
    let past = Deadline::at(clock.now());
    tokio::task::yield_now().await;
    let scope = fixture.storage.scope("a", past);
    let write = scope.kv_set("k", &json!(1), None).await.unwrap_err();
    assert!(
        matches!(write, StorageError::DeadlineExceeded { .. }),
        "{write}"
    );
    assert!(write.retryable());
    let read = scope.kv_get("k").await.unwrap_err();
    assert!(
        matches!(read, StorageError::DeadlineExceeded { .. }),
        "{read}"
    );
    let generous = fixture
        .storage
        .scope("a", clock.deadline_in(Duration::from_secs(5)));
    assert_eq!(generous.kv_get("k").await.unwrap(), None);
}

#[tokio::test]
async fn a_failed_deploy_leaves_the_previous_version_serving() {
    use fazt_engine::storage::SiteFile;
    let fixture = open().await;
    let storage = &fixture.storage;
    // Files come back by path.
    let v1 = vec![
        SiteFile::new("api/main.js", b"respond(1)".to_vec(), "text/javascript"),
        SiteFile::new("index.html", b"v1".to_vec(), "text/html"),
    ];
    storage
        .deploy_site("app", v1.clone(), Deadline::NONE)
        .await
        .unwrap();
    // Two files with the same path: the insert fails inside the transaction.
    let broken = vec![
        SiteFile::new("index.html", b"v2".to_vec(), "text/html"),
        SiteFile::new("index.html", b"v2 again".to_vec(), "text/html"),
    ];
    assert!(storage
        .deploy_site("app", broken, Deadline::NONE)
        .await
        .is_err());
    assert_eq!(storage.site_files("app", Deadline::NONE).await.unwrap(), v1);
    let sites = storage.sites(Deadline::NONE).await.unwrap();
    assert_eq!((sites.len(), sites[0].version), (1, 1));
    let v2 = vec![SiteFile::new("index.html", b"v2".to_vec(), "text/html")];
    storage
        .deploy_site("app", v2.clone(), Deadline::NONE)
        .await
        .unwrap();
    assert_eq!(storage.site_files("app", Deadline::NONE).await.unwrap(), v2);
    assert_eq!(storage.sites(Deadline::NONE).await.unwrap()[0].version, 2);
}

#[tokio::test]
async fn columns_compare_by_type_like_every_other_field() {
    let fixture = open().await;
    let ds = app(&fixture, "a");
    ds.ds_insert("c", &json!({"id": "5"})).await.unwrap();
    let count = |query: Value| {
        let ds = ds.clone();
        async move { ds.ds_count("c", &query).await.unwrap() }
    };
    assert_eq!(count(json!({"id": "5"})).await, 1);
    assert_eq!(
        count(json!({"id": 5})).await,
        0,
        "a number never equals text"
    );
    assert_eq!(
        count(json!({"id": {"$gt": 6}})).await,
        1,
        "numbers sort before text"
    );
    assert_eq!(count(json!({"id": {"$in": [5, "x"]}})).await, 0);
    let created = ds.ds_find_one("c", &json!("5")).await.unwrap().unwrap()["_createdAt"].clone();
    assert_eq!(count(json!({ "_createdAt": created })).await, 1);
    assert_eq!(count(json!({ "_createdAt": created.to_string() })).await, 0);
    assert_eq!(count(json!({"_createdAt": {"$contains": "17"}})).await, 0);
}

/// A config whose apps may store `quota` bytes.
fn with_quota(quota: u64) -> StorageConfig {
    let mut config = StorageConfig::default();
    config.limits.app_quota_bytes = quota;
    config
}

fn quota_exceeded(result: Result<impl std::fmt::Debug, StorageError>) {
    match result {
        Err(StorageError::QuotaExceeded { .. }) => {}
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn an_app_is_held_to_its_quota_and_others_are_not_affected() {
    let fixture = open_with(with_quota(10_000)).await;
    let a = app(&fixture, "a");
    a.s3_put("b1", vec![1; 4000], None).await.unwrap();
    a.s3_put("b2", vec![2; 4000], None).await.unwrap();
    assert_eq!(a.usage_bytes().await.unwrap(), 8004);
    // Each kind of write is refused past the quota, and writes nothing.
    let big = json!("x".repeat(3000));
    quota_exceeded(a.kv_set("k", &big, None).await);
    quota_exceeded(a.ds_insert("c", &json!({"id": "d", "text": big})).await);
    quota_exceeded(a.s3_put("b3", vec![3; 3000], None).await);
    a.ds_insert("c", &json!({"id": "d", "n": 1})).await.unwrap();
    quota_exceeded(
        a.ds_update("c", &json!({}), &json!({"$set": {"text": big}}))
            .await,
    );
    let error = a.kv_set("k", &big, None).await.unwrap_err();
    assert!(!error.retryable(), "{error}");
    assert!(error.to_string().contains("10000 bytes"), "{error}");
    assert_eq!(a.kv_get("k").await.unwrap(), None);
    assert_eq!(a.s3_get("b3").await.unwrap(), None);
    let doc = a.ds_find_one("c", &json!("d")).await.unwrap().unwrap();
    assert_eq!((doc["n"].clone(), doc.get("text")), (json!(1), None));
    // Another app has its own quota.
    let b = app(&fixture, "b");
    b.s3_put("b1", vec![1; 9000], None).await.unwrap();
    // Shrinking passes; a delete frees room.
    a.s3_put("b1", vec![1; 10], None).await.unwrap();
    a.s3_delete("b2").await.unwrap();
    a.kv_set("k", &big, None).await.unwrap();
    assert_eq!(
        fixture
            .storage
            .usage_mismatches(Deadline::NONE)
            .await
            .unwrap(),
        vec![]
    );
}

/// Many writes of one app racing for the last room commit together in groups: exactly
/// as many as fit succeed, and the count stays right.
#[tokio::test]
async fn concurrent_writes_in_one_group_share_the_quota_exactly() {
    let fixture = open_with(with_quota(10_000)).await;
    let a = app(&fixture, "a");
    let writers: Vec<_> = (0..40)
        .map(|n| {
            let a = a.clone();
            // Each blob is 998 + 2 bytes of path: ten fit.
            tokio::spawn(async move { a.s3_put(&format!("{n:02}"), vec![0; 998], None).await })
        })
        .collect();
    let mut stored = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(()) => stored += 1,
            Err(StorageError::QuotaExceeded { .. }) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(stored, 10);
    assert_eq!(a.usage_bytes().await.unwrap(), 10_000);
    assert!(fixture.storage.stats().groups_committed < 40, "grouped");
}

#[tokio::test]
async fn a_restart_keeps_the_usage_count() {
    let config = with_quota(5_000);
    let fixture = open_with(config.clone()).await;
    let a = app(&fixture, "a");
    a.kv_set("k", &json!("v".repeat(2000)), None).await.unwrap();
    a.ds_insert("c", &json!({"id": "d", "t": "w".repeat(2000)}))
        .await
        .unwrap();
    a.kv_delete("k").await.unwrap();
    a.kv_set("k2", &json!("v".repeat(2000)), None)
        .await
        .unwrap();
    let before = a.usage_bytes().await.unwrap();
    fixture.storage.shutdown().await;

    let reopened = Storage::open(&fixture.path, Env::real(), config)
        .await
        .unwrap();
    let a = reopened.scope("a", Deadline::NONE);
    assert_eq!(a.usage_bytes().await.unwrap(), before);
    quota_exceeded(a.kv_set("k3", &json!("v".repeat(2000)), None).await);
    assert_eq!(
        reopened.usage_mismatches(Deadline::NONE).await.unwrap(),
        vec![]
    );
    reopened.shutdown().await;
}

/// 40 fields, each `$nin` of 1,000 values, passed every per-field check and failed
/// inside SQLite (too many SQL variables) with the statement in the error. It is an
/// `InvalidQuery` now, refused before SQLite sees it.
#[tokio::test]
async fn a_query_binding_too_many_values_is_refused_up_front() {
    let fixture = open().await;
    let ds = app(&fixture, "a");
    ds.ds_insert("c", &json!({"f0": 1})).await.unwrap();
    let list: Vec<i64> = (0..1000).collect();
    let query: serde_json::Map<String, Value> = (0..40)
        .map(|i| (format!("f{i}"), json!({ "$nin": list })))
        .collect();
    let query = Value::Object(query);
    let none = FindOptions::default();
    for error in [
        ds.ds_find("c", &query, &none).await.unwrap_err(),
        ds.ds_count("c", &query).await.unwrap_err(),
        ds.ds_delete("c", &query).await.unwrap_err(),
        ds.ds_update("c", &query, &json!({"n": 1}))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(error.kind(), "InvalidQuery", "{error}");
        assert!(error.is_caller_error());
        let text = error.to_string();
        assert!(
            !text.contains("SELECT") && !text.contains("json_extract"),
            "{text}"
        );
    }
    assert_eq!(ds.ds_count("c", &json!({})).await.unwrap(), 1);
}

#[tokio::test]
async fn kv_ttls_past_the_maximum_are_refused() {
    let fixture = open().await;
    let kv = app(&fixture, "a");
    let error = kv
        .kv_set(
            "k",
            &json!(1),
            Some(fazt_engine::storage::KV_TTL_MAX_MS + 1),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "InvalidArgument", "{error}");
    assert_eq!(kv.kv_get("k").await.unwrap(), None);
    kv.kv_set("k", &json!(1), Some(60_000)).await.unwrap();
    assert!(kv.kv_list("k").await.unwrap()[0].expires_at.is_some());
}

/// Upstream fazt uses a non-empty string `id` and silently replaced any other one
/// with a fresh id; a given id is now used or refused, never replaced.
#[tokio::test]
async fn an_explicit_document_id_is_used_or_refused() {
    let fixture = open().await;
    let ds = app(&fixture, "a");
    assert_eq!(
        ds.ds_insert("c", &json!({"id": "mine"})).await.unwrap(),
        "mine"
    );
    for id in [
        json!(5),
        json!(""),
        json!({"x": 1}),
        json!(["a"]),
        json!(true),
    ] {
        let error = ds
            .ds_insert("c", &json!({"id": id, "n": 1}))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), "InvalidArgument", "{id}: {error}");
        assert!(error.to_string().contains("document id"), "{error}");
    }
    let generated = ds
        .ds_insert("c", &json!({"id": null, "n": 2}))
        .await
        .unwrap();
    assert!(!generated.is_empty() && generated != "null");
    assert_eq!(ds.ds_count("c", &json!({})).await.unwrap(), 2);
}
