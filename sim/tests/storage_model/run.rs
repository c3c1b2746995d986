//! Running a case: each operation against the engine and the model, answers compared,
//! then the final state.

use std::time::Duration;

use fazt_engine::env::{Clock, Deadline};
use fazt_engine::storage::{
    Blob, BlobMeta, FindOptions, KvEntry, Order, Scope, Storage, StorageConfig, StorageError,
};
use fazt_sim::env::{sim_env, EPOCH_MS};
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

use crate::model::*;
use crate::ops::*;

/// What an operation answered, engine and model alike; errors by kind.
#[derive(Debug, PartialEq)]
pub(crate) enum Reply {
    Done,
    Existed(bool),
    Id(String),
    Count(u64),
    Value(Option<Value>),
    Docs(Vec<Value>),
    Kv(Vec<KvEntry>),
    Blob(Option<Blob>),
    Blobs(Vec<BlobMeta>),
    Error(&'static str),
}

pub(crate) fn outcome<T>(result: Result<T, StorageError>, ok: impl FnOnce(T) -> Reply) -> Reply {
    match result {
        Ok(value) => ok(value),
        Err(error) => Reply::Error(error.kind()),
    }
}

pub(crate) fn run(seed: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fazt.db");
    runtime.block_on(async move {
        let env = sim_env(seed);
        let clock = env.clock.clone();
        let storage = Storage::open(&path, env, StorageConfig::default())
            .await
            .expect("open storage");
        let scopes: Vec<Scope> = APPS
            .iter()
            .map(|app| storage.scope(app, Deadline::NONE))
            .collect();
        let mut model = Model::default();
        let mut result = Ok(());
        for (i, op) in ops.iter().enumerate() {
            let now = clock.wall_ms();
            if let Err(mismatch) = step(&scopes, &mut model, now, op).await {
                result = Err(TestCaseError::fail(format!(
                    "seed {seed}: operation #{i} at wall {now} ms (epoch + {}): {op:?}\n{mismatch}",
                    now - EPOCH_MS
                )));
                break;
            }
        }
        if result.is_ok() {
            let now = clock.wall_ms();
            if let Err(mismatch) = final_state(&scopes, &model, clock.as_ref()).await {
                result = Err(TestCaseError::fail(format!(
                    "seed {seed}: final state (read from wall {now} ms on) differs\n{mismatch}"
                )));
            }
        }
        storage.shutdown().await;
        result
    })
}

pub(crate) fn same(got: Reply, want: Reply) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("engine: {got:?}\nmodel:  {want:?}"))
    }
}

pub(crate) async fn step(
    scopes: &[Scope],
    model: &mut Model,
    now: i64,
    op: &Op,
) -> Result<(), String> {
    match op {
        Op::Advance(ms) => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            Ok(())
        }
        Op::KvSet {
            app,
            key,
            value,
            ttl_ms,
        } => same(
            outcome(scopes[*app].kv_set(key, value, *ttl_ms).await, |()| {
                Reply::Done
            }),
            model.apps[*app].kv_set(key, value, *ttl_ms, now),
        ),
        Op::KvGet { app, key } => same(
            outcome(scopes[*app].kv_get(key).await, Reply::Value),
            model.apps[*app].kv_get(key, now),
        ),
        Op::KvDelete { app, key } => {
            let got = outcome(scopes[*app].kv_delete(key).await, Reply::Existed);
            let (want, expired) = model.apps[*app].kv_delete(key, now);
            // An expired entry still exists until the background sweep removes it, and
            // `delete` reports whether the row existed: either answer is right then.
            if expired && matches!(got, Reply::Existed(_)) {
                return Ok(());
            }
            same(got, want)
        }
        Op::KvList { app, prefix } => same(
            outcome(scopes[*app].kv_list(prefix).await, Reply::Kv),
            model.apps[*app].kv_list(prefix, now),
        ),
        Op::DsInsert { app, coll, doc } => {
            let got = scopes[*app].ds_insert(COLLECTIONS[*coll], doc).await;
            let engine_id = got.as_ref().ok().map(String::as_str);
            let want = model.apps[*app].ds_insert(*coll, doc, now, engine_id);
            same(outcome(got, Reply::Id), want)
        }
        Op::DsFind {
            app,
            coll,
            query,
            options,
        } => same(
            outcome(
                scopes[*app]
                    .ds_find(COLLECTIONS[*coll], query, options)
                    .await,
                Reply::Docs,
            ),
            model.apps[*app].ds_find(*coll, query, options),
        ),
        Op::DsFindOneById { app, coll, id } => {
            let id = match id {
                IdRef::Literal(id) => (*id).to_owned(),
                IdRef::Known(n) => model.apps[*app].known_id(*coll, *n),
            };
            same(
                outcome(
                    scopes[*app]
                        .ds_find_one(COLLECTIONS[*coll], &Value::String(id.clone()))
                        .await,
                    Reply::Value,
                ),
                model.apps[*app].ds_find_one(*coll, &json!({ "id": id })),
            )
        }
        Op::DsFindOne { app, coll, query } => same(
            outcome(
                scopes[*app].ds_find_one(COLLECTIONS[*coll], query).await,
                Reply::Value,
            ),
            model.apps[*app].ds_find_one(*coll, query),
        ),
        Op::DsCount { app, coll, query } => same(
            outcome(
                scopes[*app].ds_count(COLLECTIONS[*coll], query).await,
                Reply::Count,
            ),
            model.apps[*app].ds_count(*coll, query),
        ),
        Op::DsUpdate {
            app,
            coll,
            query,
            changes,
        } => same(
            outcome(
                scopes[*app]
                    .ds_update(COLLECTIONS[*coll], query, changes)
                    .await,
                Reply::Count,
            ),
            model.apps[*app].ds_update(*coll, query, changes, now),
        ),
        Op::DsDelete { app, coll, query } => same(
            outcome(
                scopes[*app].ds_delete(COLLECTIONS[*coll], query).await,
                Reply::Count,
            ),
            model.apps[*app].ds_delete(*coll, query),
        ),
        Op::DsDeleteOldest { app, coll, keep } => same(
            outcome(
                scopes[*app]
                    .ds_delete_oldest(COLLECTIONS[*coll], *keep)
                    .await,
                Reply::Count,
            ),
            model.apps[*app].ds_delete_oldest(*coll, *keep),
        ),
        Op::S3Put {
            app,
            path,
            data,
            mime,
        } => same(
            outcome(scopes[*app].s3_put(path, data.clone(), *mime).await, |()| {
                Reply::Done
            }),
            model.apps[*app].s3_put(path, data, *mime, now),
        ),
        Op::S3Get { app, path } => same(
            outcome(scopes[*app].s3_get(path).await, Reply::Blob),
            model.apps[*app].s3_get(path),
        ),
        Op::S3Delete { app, path } => same(
            outcome(scopes[*app].s3_delete(path).await, Reply::Existed),
            model.apps[*app].s3_delete(path),
        ),
        Op::S3List { app, prefix } => same(
            outcome(scopes[*app].s3_list(prefix).await, Reply::Blobs),
            model.apps[*app].s3_list(prefix),
        ),
    }
}

/// Everything each app holds, read back through the engine, against the model.
/// Reads the wall clock before each kv call: the reads themselves take virtual time.
pub(crate) async fn final_state(
    scopes: &[Scope],
    model: &Model,
    clock: &dyn Clock,
) -> Result<(), String> {
    let all = FindOptions {
        order: Order::Asc,
        ..FindOptions::default()
    };
    for (app, scope) in scopes.iter().enumerate() {
        let state = &model.apps[app];
        let now = clock.wall_ms();
        same(
            outcome(scope.kv_list("").await, Reply::Kv),
            state.kv_list("", now),
        )
        .map_err(|e| format!("{}: kv.list(\"\")\n{e}", APPS[app]))?;
        for (coll, name) in COLLECTIONS.iter().enumerate() {
            same(
                outcome(scope.ds_find(name, &json!({}), &all).await, Reply::Docs),
                state.ds_find(coll, &json!({}), &all),
            )
            .map_err(|e| format!("{}: ds.find({name:?}, {{}}, asc)\n{e}", APPS[app]))?;
        }
        same(
            outcome(scope.s3_list("").await, Reply::Blobs),
            state.s3_list(""),
        )
        .map_err(|e| format!("{}: s3.list(\"\")\n{e}", APPS[app]))?;
    }
    Ok(())
}
