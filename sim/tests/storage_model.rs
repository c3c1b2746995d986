//! Model test of the storage engine: random sequences of kv / ds / s3 operations run
//! against the real engine (a fresh SQLite file, `StorageConfig::default()`, the
//! simulated environment) and against a small in-memory model written here from the
//! documented semantics (`fazt-reference.md` §3 and the top of
//! `engine/src/storage/query.rs`). Every operation must give the same answer in both
//! (errors compared by kind), and the final state must be the same. One answer is left
//! open: `kv.delete` of an expired entry reports whether the row was still there, which
//! depends on when the background sweep last ran.
//!
//! Each case runs on its own paused tokio runtime, so the engine's Clock is virtual:
//! the `Advance` operation sleeps on it to make kv TTLs expire, and the model reads the
//! same wall clock (`env.clock.wall_ms()`) just before each call, as the engine does.
//!
//! Deterministic: proptest draws from a fixed seed (override with
//! `PROPTEST_RNG_SEED=<u64>`; `PROPTEST_CASES=<n>` runs more cases), the engine gets the
//! case's own seed, and failures are kept in `storage_model.proptest-regressions` next
//! to this file (committed, replayed first on every run).

// `tokio::time::sleep` is banned in engine paths because it bypasses the Clock. Here it
// is the point: the test drives the paused runtime's virtual time, which is the
// simulated Clock the engine reads.
#![allow(clippy::disallowed_methods)]

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use fazt_engine::env::{Clock, Deadline};
use fazt_engine::storage::{
    Blob, BlobMeta, FindOptions, KvEntry, Order, Scope, Storage, StorageConfig, StorageError,
};
use fazt_sim::env::{sim_env, EPOCH_MS};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{FileFailurePersistence, RngSeed, TestCaseError};
use serde_json::{json, Map, Number, Value};
use sha2::{Digest, Sha256};

// ----- configuration -----

/// The proptest seed when `PROPTEST_RNG_SEED` is not set.
const PROPTEST_SEED: u64 = 0x00fa_2700_0de1;
const CASES: u32 = 128;
/// Inserts into the main collection first, so that queries have something to find...
const MAX_PREFILL: usize = 10;
/// ...then any operations.
const MAX_OPS: usize = 48;

fn config() -> ProptestConfig {
    // `default()` reads the PROPTEST_* environment variables.
    let base = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            base.cases
        } else {
            CASES
        },
        rng_seed: match base.rng_seed {
            RngSeed::Random => RngSeed::Fixed(PROPTEST_SEED),
            fixed => fixed,
        },
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..base
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn storage_behaves_like_the_model(seed in any::<u64>(), ops in ops()) {
        run(seed, &ops)?;
    }
}

// Cases this test found, kept as plain tests: proptest's regression file stores RNG
// seeds, which replay different operations once the generators change.

/// `$in: []` compiled to SQL that left the field's path parameter unused, so count,
/// update and delete failed with "wrong number of parameters".
#[test]
fn empty_in_list_matches_nothing() {
    let insert = Op::DsInsert {
        app: 0,
        coll: 0,
        doc: json!({"n": 1}),
    };
    // Alone in the query: a later parameter would have hidden the unused one.
    let query = json!({"n": {"$in": []}});
    let ops = [
        insert,
        Op::DsCount {
            app: 0,
            coll: 0,
            query: query.clone(),
        },
        Op::DsUpdate {
            app: 0,
            coll: 0,
            query: query.clone(),
            changes: json!({"$set": {"n": 2}}),
        },
        Op::DsDelete {
            app: 0,
            coll: 0,
            query,
        },
        Op::DsCount {
            app: 0,
            coll: 0,
            query: json!({"n": {"$nin": []}}),
        },
        Op::DsCount {
            app: 0,
            coll: 0,
            query: json!({"n": {"$in": [null]}, "missing": {"$in": [null]}}),
        },
    ];
    run(1, &ops).unwrap();
}

/// `session` equality used the indexed column (string sessions only), so a string
/// equal to the JSON text of an array or object `session` did not match it.
#[test]
fn session_equality_matches_json_text_of_non_string_sessions() {
    let mut ops = vec![
        Op::DsInsert {
            app: 0,
            coll: 0,
            doc: json!({"session": []}),
        },
        Op::DsInsert {
            app: 0,
            coll: 0,
            doc: json!({"session": {"n": 1}}),
        },
        Op::DsInsert {
            app: 0,
            coll: 0,
            doc: json!({"session": "s1"}),
        },
    ];
    for session in ["[]", "{\"n\":1}", "s1"] {
        ops.push(Op::DsCount {
            app: 0,
            coll: 0,
            query: json!({ "session": session }),
        });
    }
    run(1, &ops).unwrap();
}

// ----- the operations -----

const APPS: [&str; 2] = ["app1", "app2"];
const COLLECTIONS: [&str; 2] = ["tasks", "notes"];
/// kv keys, with LIKE wildcards that prefixes must take literally; "" is refused.
/// The non-ASCII ones check the prefix range across the surrogate gap (U+D7FF, U+E000).
const KEYS: &[&str] = &[
    "a",
    "ab",
    "a%",
    "a%b",
    "a_",
    "a_b",
    "%",
    "_a",
    "b",
    "aé",
    "a\u{D7FF}x",
    "a\u{E000}",
    "",
];
const KEY_PREFIXES: &[&str] = &[
    "",
    "a",
    "a%",
    "a_",
    "ab",
    "%",
    "_",
    "b",
    "x",
    "a\u{D7FF}",
    "aé",
];
/// s3 paths, likewise.
const PATHS: &[&str] = &["a", "a/b", "a%", "a_/x", "_x", ""];
const PATH_PREFIXES: &[&str] = &["", "a", "a/", "a%", "a_", "%", "_", "b"];
const MIMES: &[&str] = &["", "text/plain", "image/png"];
const DOC_IDS: &[&str] = &["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"];
/// Strings anywhere (the JSON-text-looking ones meet arrays compared as text).
const STRINGS: &[&str] = &["", "a", "b", "ab", "ba", "B", "é", "\"", "[1]", "[]"];
/// The usual strings and numbers of document fields: narrower, so that queries match.
const FIELD_STRINGS: &[&str] = &["", "a", "b", "ab"];
const FIELD_INTS: std::ops::RangeInclusive<i64> = -2..=2;
/// Fields a query may look at (`n.x` and `missing` mostly do not exist).
const QUERY_FIELDS: &[&str] = &[
    "n", "n", "s", "s", "b", "t", "t", "meta", "meta.n", "meta.s", "session", "missing", "n.x",
];
/// Fields an update may write.
const SET_FIELDS: &[&str] = &[
    "n",
    "s",
    "b",
    "t",
    "meta",
    "meta.n",
    "meta.s",
    "session",
    "extra",
    "n.x",
    "meta.deep.x",
];
const INC_FIELDS: &[&str] = &["n", "n", "meta.n", "extra", "s"];
const TOP_FIELDS: &[&str] = &["n", "s", "b", "t", "meta", "session", "extra"];

/// Which document `findOne(id)` asks for.
#[derive(Clone, Debug)]
enum IdRef {
    Literal(&'static str),
    /// The n-th document the model holds in that collection (modulo), so generated ids
    /// are reachable too.
    Known(usize),
}

#[derive(Clone, Debug)]
enum Op {
    /// Let virtual time pass.
    Advance(u64),
    KvSet {
        app: usize,
        key: &'static str,
        value: Value,
        ttl_ms: Option<u64>,
    },
    KvGet {
        app: usize,
        key: &'static str,
    },
    KvDelete {
        app: usize,
        key: &'static str,
    },
    KvList {
        app: usize,
        prefix: &'static str,
    },
    DsInsert {
        app: usize,
        coll: usize,
        doc: Value,
    },
    DsFind {
        app: usize,
        coll: usize,
        query: Value,
        options: FindOptions,
    },
    DsFindOneById {
        app: usize,
        coll: usize,
        id: IdRef,
    },
    DsFindOne {
        app: usize,
        coll: usize,
        query: Value,
    },
    DsCount {
        app: usize,
        coll: usize,
        query: Value,
    },
    DsUpdate {
        app: usize,
        coll: usize,
        query: Value,
        changes: Value,
    },
    DsDelete {
        app: usize,
        coll: usize,
        query: Value,
    },
    DsDeleteOldest {
        app: usize,
        coll: usize,
        keep: u64,
    },
    S3Put {
        app: usize,
        path: &'static str,
        data: Vec<u8>,
        mime: Option<&'static str>,
    },
    S3Get {
        app: usize,
        path: &'static str,
    },
    S3Delete {
        app: usize,
        path: &'static str,
    },
    S3List {
        app: usize,
        prefix: &'static str,
    },
}

// ----- generators: small domains, so that queries match things -----

fn app() -> BoxedStrategy<usize> {
    prop_oneof![6 => Just(0usize), 1 => Just(1usize)].boxed()
}

fn coll() -> BoxedStrategy<usize> {
    prop_oneof![6 => Just(0usize), 1 => Just(1usize)].boxed()
}

fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        2 => any::<bool>().prop_map(Value::Bool),
        5 => (-3i64..=3).prop_map(Value::from),
        1 => select(&[0.5f64, -1.5, 2.0][..]).prop_map(Value::from),
        4 => select(STRINGS).prop_map(Value::from),
    ]
    .boxed()
}

fn small_array() -> BoxedStrategy<Value> {
    vec(scalar(), 0..3).prop_map(Value::Array).boxed()
}

/// `{n?, s?}`: the `meta` object of documents.
fn meta_object() -> BoxedStrategy<Value> {
    (
        proptest::option::weighted(0.7, FIELD_INTS),
        proptest::option::weighted(0.5, select(FIELD_STRINGS)),
    )
        .prop_map(|(n, s)| {
            let mut meta = Map::new();
            if let Some(n) = n {
                meta.insert("n".into(), n.into());
            }
            if let Some(s) = s {
                meta.insert("s".into(), s.into());
            }
            Value::Object(meta)
        })
        .boxed()
}

fn value() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => scalar(),
        2 => small_array(),
        1 => meta_object(),
    ]
    .boxed()
}

fn document() -> BoxedStrategy<Value> {
    let id = prop_oneof![
        5 => Just(None),
        4 => select(DOC_IDS).prop_map(|id| Some(json!(id))),
        1 => select(vec![json!(""), json!(7), Value::Null]).prop_map(Some),
    ];
    let field = |typical: BoxedStrategy<Value>, p: f64| {
        proptest::option::weighted(p, prop_oneof![4 => typical, 1 => value()])
    };
    (
        id,
        field(FIELD_INTS.prop_map(Value::from).boxed(), 0.8),
        field(select(FIELD_STRINGS).prop_map(Value::from).boxed(), 0.7),
        field(any::<bool>().prop_map(Value::Bool).boxed(), 0.6),
        field(vec(scalar(), 0..4).prop_map(Value::Array).boxed(), 0.5),
        field(meta_object(), 0.6),
        field(select(&["s1", "s2"][..]).prop_map(Value::from).boxed(), 0.5),
        proptest::option::weighted(0.05, Just(json!(123))),
    )
        .prop_map(|(id, n, s, b, t, meta, session, created)| {
            let mut doc = Map::new();
            let fields = [
                ("id", id),
                ("n", n),
                ("s", s),
                ("b", b),
                ("t", t),
                ("meta", meta),
                ("session", session),
                ("_createdAt", created),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    doc.insert(name.into(), value);
                }
            }
            Value::Object(doc)
        })
        .boxed()
}

/// `{field: operand}` or `{field: {$op: operand, ...}}` with operands from `operand`
/// and lists for `$in`/`$nin` from `list`.
fn field_condition(
    operand: BoxedStrategy<Value>,
    list: BoxedStrategy<Value>,
) -> BoxedStrategy<Value> {
    let operator = prop_oneof![
        2 => (select(&["$eq", "$ne"][..]), operand.clone()),
        3 => (select(&["$gt", "$gte", "$lt", "$lte"][..]), operand.clone()),
        2 => (Just("$contains"), operand.clone()),
        2 => (select(&["$in", "$nin"][..]), list),
    ];
    prop_oneof![
        2 => operand,
        3 => vec(operator, 1..3).prop_map(|operators| {
            Value::Object(
                operators
                    .into_iter()
                    .map(|(op, operand)| (op.to_owned(), operand))
                    .collect(),
            )
        }),
    ]
    .boxed()
}

fn list_of(item: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    vec(item, 0..4).prop_map(Value::Array).boxed()
}

/// Operands mostly of the type the field usually holds (so that conditions match
/// something), sometimes of any type (so that cross-type comparison is exercised).
fn typical_operand(field: &str) -> BoxedStrategy<Value> {
    match field {
        "n" | "meta.n" => (-3i64..=3).prop_map(Value::from).boxed(),
        "s" | "meta.s" => select(STRINGS).prop_map(Value::from).boxed(),
        "b" => any::<bool>().prop_map(Value::Bool).boxed(),
        "session" => select(&["s1", "s2"][..]).prop_map(Value::from).boxed(),
        _ => scalar(),
    }
}

fn condition() -> BoxedStrategy<(String, Value)> {
    let field = select(QUERY_FIELDS).prop_flat_map(|field| {
        let any_operand = prop_oneof![
            10 => scalar(),
            1 => small_array(),
            1 => meta_object(),
        ];
        let operand = prop_oneof![3 => typical_operand(field), 2 => any_operand].boxed();
        let item = prop_oneof![
            6 => typical_operand(field),
            3 => scalar(),
            1 => Just(Value::Null),
            1 => small_array(),
        ]
        .boxed();
        (
            Just(field.to_owned()),
            field_condition(operand, list_of(item)),
        )
    });
    // `id` gets only strings (and null) and the timestamps only integers: these are
    // table columns, and SQLite's column affinity converts operands of the other type
    // (`{id: 5}` matches id "5"), unlike the documented json_extract comparison.
    let ids = select(&["d1", "d2", "d3", "d", "zz"][..])
        .prop_map(Value::from)
        .boxed();
    let id_operand = prop_oneof![8 => ids.clone(), 1 => Just(Value::Null)].boxed();
    let id_item = prop_oneof![8 => ids, 1 => Just(Value::Null)].boxed();
    let time = select(&[0i64, 1, 2, 5, 10, 50, 100, 1000, 5000, 70_000][..])
        .prop_map(|offset| json!(EPOCH_MS + offset))
        .boxed();
    prop_oneof![
        8 => field,
        1 => (Just("id".to_owned()), field_condition(id_operand, list_of(id_item))),
        1 => (
            select(&["_createdAt", "_updatedAt"][..]).prop_map(str::to_owned),
            field_condition(time.clone(), list_of(time)),
        ),
    ]
    .boxed()
}

/// Queries the engine must refuse.
fn invalid_query() -> BoxedStrategy<Value> {
    select(vec![
        json!({"$or": [{"n": 1}]}),
        json!({"n": {"$regex": "a"}}),
        json!({"n": {"$in": 3}}),
        json!({"n": {"$gt": null}}),
        json!({"s": {"$contains": [1]}}),
        json!({"meta": {"$eq": 1, "n": 1}}),
        json!({"bad-field": 1}),
        json!({"1n": 1}),
        json!({"meta..n": 1}),
        json!({"a.b.c.d.e.f.g.h.i": 1}),
        json!([1]),
    ])
    .boxed()
}

fn query() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(json!({})),
        1 => Just(Value::Null),
        10 => condition().prop_map(|(field, condition)| json!({ field: condition })),
        4 => vec(condition(), 2..4).prop_map(|conditions| Value::Object(conditions.into_iter().collect())),
        1 => invalid_query(),
    ]
    .boxed()
}

fn find_options() -> BoxedStrategy<FindOptions> {
    (
        proptest::option::weighted(0.4, 0u64..4),
        proptest::option::weighted(0.3, 0u64..3),
        prop_oneof![Just(Order::Desc), Just(Order::Asc)],
    )
        .prop_map(|(limit, offset, order)| FindOptions {
            limit,
            offset,
            order,
        })
        .boxed()
}

fn object_of(entries: Vec<(&'static str, Value)>) -> Map<String, Value> {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

fn changes() -> BoxedStrategy<Value> {
    let amount = prop_oneof![4 => (-2i64..=2).prop_map(Value::from), 1 => Just(json!(0.5))];
    // Plain keys are top-level fields (a shallow set).
    let plain = vec((select(TOP_FIELDS), value()), 0..3)
        .prop_map(|fields| Value::Object(object_of(fields)));
    let operators = (
        vec((select(SET_FIELDS), value()), 0..3),
        vec(
            (
                select(SET_FIELDS),
                prop_oneof![Just(json!(1)), Just(json!(""))],
            ),
            0..2,
        ),
        vec((select(INC_FIELDS), amount), 0..3),
    )
        .prop_map(|(set, unset, inc)| {
            let mut changes = Map::new();
            for (operator, fields) in [("$set", set), ("$unset", unset), ("$inc", inc)] {
                if !fields.is_empty() {
                    changes.insert(operator.into(), Value::Object(object_of(fields)));
                }
            }
            if changes.is_empty() {
                changes.insert("$set".into(), json!({}));
            }
            Value::Object(changes)
        });
    let invalid = select(vec![
        json!({"$inc": {"n": "1"}}),
        json!({"$set": {"id": "x"}}),
        json!({"_createdAt": 5}),
        json!({"$push": {"t": 1}}),
        json!({"$set": {"n": 1}, "s": 2}),
        json!({"$set": 5}),
        json!({"bad-field": 1}),
        json!(7),
    ]);
    prop_oneof![2 => plain, 6 => operators, 1 => invalid].boxed()
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let prefill = document().prop_map(|doc| Op::DsInsert {
        app: 0,
        coll: 0,
        doc,
    });
    (vec(prefill, 0..=MAX_PREFILL), vec(op(), 1..=MAX_OPS)).prop_map(|(mut ops, more)| {
        ops.extend(more);
        ops
    })
}

fn op() -> impl Strategy<Value = Op> {
    let ttl = prop_oneof![
        3 => Just(None),
        1 => Just(Some(0u64)),
        4 => select(&[1u64, 3, 20, 1000][..]).prop_map(Some),
    ];
    let advance = prop_oneof![
        6 => select(&[1u64, 2, 5, 20, 100, 1000][..]),
        1 => Just(61_000u64),
    ];
    let id_ref = prop_oneof![
        1 => select(&["d1", "d2", "zz"][..]).prop_map(IdRef::Literal),
        2 => any::<usize>().prop_map(IdRef::Known),
    ];
    let data = vec(0u8..4, 0..5);
    let mime = prop_oneof![2 => Just(None), 3 => select(MIMES).prop_map(Some)];
    prop_oneof![
        3 => advance.prop_map(Op::Advance),
        5 => (app(), select(KEYS), value(), ttl).prop_map(|(app, key, value, ttl_ms)| Op::KvSet { app, key, value, ttl_ms }),
        3 => (app(), select(KEYS)).prop_map(|(app, key)| Op::KvGet { app, key }),
        1 => (app(), select(KEYS)).prop_map(|(app, key)| Op::KvDelete { app, key }),
        2 => (app(), select(KEY_PREFIXES)).prop_map(|(app, prefix)| Op::KvList { app, prefix }),
        10 => (app(), coll(), document()).prop_map(|(app, coll, doc)| Op::DsInsert { app, coll, doc }),
        7 => (app(), coll(), query(), find_options()).prop_map(|(app, coll, query, options)| Op::DsFind { app, coll, query, options }),
        2 => (app(), coll(), id_ref).prop_map(|(app, coll, id)| Op::DsFindOneById { app, coll, id }),
        1 => (app(), coll(), query()).prop_map(|(app, coll, query)| Op::DsFindOne { app, coll, query }),
        2 => (app(), coll(), query()).prop_map(|(app, coll, query)| Op::DsCount { app, coll, query }),
        4 => (app(), coll(), query(), changes()).prop_map(|(app, coll, query, changes)| Op::DsUpdate { app, coll, query, changes }),
        1 => (app(), coll(), query()).prop_map(|(app, coll, query)| Op::DsDelete { app, coll, query }),
        1 => (app(), coll(), 0u64..6).prop_map(|(app, coll, keep)| Op::DsDeleteOldest { app, coll, keep }),
        3 => (app(), select(PATHS), data, mime).prop_map(|(app, path, data, mime)| Op::S3Put { app, path, data, mime }),
        1 => (app(), select(PATHS)).prop_map(|(app, path)| Op::S3Get { app, path }),
        1 => (app(), select(PATHS)).prop_map(|(app, path)| Op::S3Delete { app, path }),
        1 => (app(), select(PATH_PREFIXES)).prop_map(|(app, prefix)| Op::S3List { app, prefix }),
    ]
}

// ----- running a case -----

/// What an operation answered, engine and model alike; errors by kind.
#[derive(Debug, PartialEq)]
enum Outcome {
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

fn outcome<T>(result: Result<T, StorageError>, ok: impl FnOnce(T) -> Outcome) -> Outcome {
    match result {
        Ok(value) => ok(value),
        Err(error) => Outcome::Error(error.kind()),
    }
}

fn run(seed: u64, ops: &[Op]) -> Result<(), TestCaseError> {
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

fn same(got: Outcome, want: Outcome) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("engine: {got:?}\nmodel:  {want:?}"))
    }
}

async fn step(scopes: &[Scope], model: &mut Model, now: i64, op: &Op) -> Result<(), String> {
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
                Outcome::Done
            }),
            model.apps[*app].kv_set(key, value, *ttl_ms, now),
        ),
        Op::KvGet { app, key } => same(
            outcome(scopes[*app].kv_get(key).await, Outcome::Value),
            model.apps[*app].kv_get(key, now),
        ),
        Op::KvDelete { app, key } => {
            let got = outcome(scopes[*app].kv_delete(key).await, Outcome::Existed);
            let (want, expired) = model.apps[*app].kv_delete(key, now);
            // An expired entry still exists until the background sweep removes it, and
            // `delete` reports whether the row existed: either answer is right then.
            if expired && matches!(got, Outcome::Existed(_)) {
                return Ok(());
            }
            same(got, want)
        }
        Op::KvList { app, prefix } => same(
            outcome(scopes[*app].kv_list(prefix).await, Outcome::Kv),
            model.apps[*app].kv_list(prefix, now),
        ),
        Op::DsInsert { app, coll, doc } => {
            let got = scopes[*app].ds_insert(COLLECTIONS[*coll], doc).await;
            let engine_id = got.as_ref().ok().map(String::as_str);
            let want = model.apps[*app].ds_insert(*coll, doc, now, engine_id);
            same(outcome(got, Outcome::Id), want)
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
                Outcome::Docs,
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
                    Outcome::Value,
                ),
                model.apps[*app].ds_find_one(*coll, &json!({ "id": id })),
            )
        }
        Op::DsFindOne { app, coll, query } => same(
            outcome(
                scopes[*app].ds_find_one(COLLECTIONS[*coll], query).await,
                Outcome::Value,
            ),
            model.apps[*app].ds_find_one(*coll, query),
        ),
        Op::DsCount { app, coll, query } => same(
            outcome(
                scopes[*app].ds_count(COLLECTIONS[*coll], query).await,
                Outcome::Count,
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
                Outcome::Count,
            ),
            model.apps[*app].ds_update(*coll, query, changes, now),
        ),
        Op::DsDelete { app, coll, query } => same(
            outcome(
                scopes[*app].ds_delete(COLLECTIONS[*coll], query).await,
                Outcome::Count,
            ),
            model.apps[*app].ds_delete(*coll, query),
        ),
        Op::DsDeleteOldest { app, coll, keep } => same(
            outcome(
                scopes[*app]
                    .ds_delete_oldest(COLLECTIONS[*coll], *keep)
                    .await,
                Outcome::Count,
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
                Outcome::Done
            }),
            model.apps[*app].s3_put(path, data, *mime, now),
        ),
        Op::S3Get { app, path } => same(
            outcome(scopes[*app].s3_get(path).await, Outcome::Blob),
            model.apps[*app].s3_get(path),
        ),
        Op::S3Delete { app, path } => same(
            outcome(scopes[*app].s3_delete(path).await, Outcome::Existed),
            model.apps[*app].s3_delete(path),
        ),
        Op::S3List { app, prefix } => same(
            outcome(scopes[*app].s3_list(prefix).await, Outcome::Blobs),
            model.apps[*app].s3_list(prefix),
        ),
    }
}

/// Everything each app holds, read back through the engine, against the model.
/// Reads the wall clock before each kv call: the reads themselves take virtual time.
async fn final_state(scopes: &[Scope], model: &Model, clock: &dyn Clock) -> Result<(), String> {
    let all = FindOptions {
        order: Order::Asc,
        ..FindOptions::default()
    };
    for (app, scope) in scopes.iter().enumerate() {
        let state = &model.apps[app];
        let now = clock.wall_ms();
        same(
            outcome(scope.kv_list("").await, Outcome::Kv),
            state.kv_list("", now),
        )
        .map_err(|e| format!("{}: kv.list(\"\")\n{e}", APPS[app]))?;
        for (coll, name) in COLLECTIONS.iter().enumerate() {
            same(
                outcome(scope.ds_find(name, &json!({}), &all).await, Outcome::Docs),
                state.ds_find(coll, &json!({}), &all),
            )
            .map_err(|e| format!("{}: ds.find({name:?}, {{}}, asc)\n{e}", APPS[app]))?;
        }
        same(
            outcome(scope.s3_list("").await, Outcome::Blobs),
            state.s3_list(""),
        )
        .map_err(|e| format!("{}: s3.list(\"\")\n{e}", APPS[app]))?;
    }
    Ok(())
}

// ----- the model -----

const INVALID_QUERY: &str = "InvalidQuery";
const INVALID_ARGUMENT: &str = "InvalidArgument";
const DEFAULT_MIME: &str = "application/octet-stream";

#[derive(Default)]
struct Model {
    apps: [AppModel; 2],
}

#[derive(Default)]
struct AppModel {
    /// key → (value, expires_at)
    kv: BTreeMap<String, (Value, Option<i64>)>,
    /// Per collection, documents in insertion order (oldest first).
    docs: [Vec<Doc>; 2],
    blobs: BTreeMap<String, StoredBlob>,
}

#[derive(Clone, Debug)]
struct Doc {
    id: String,
    body: Map<String, Value>,
    created_at: i64,
    updated_at: i64,
}

impl Doc {
    /// The document as `find` returns it.
    fn render(&self) -> Value {
        let mut out = self.body.clone();
        out.insert("id".into(), Value::String(self.id.clone()));
        out.insert("_createdAt".into(), Value::from(self.created_at));
        out.insert("_updatedAt".into(), Value::from(self.updated_at));
        Value::Object(out)
    }
}

struct StoredBlob {
    data: Vec<u8>,
    mime: String,
    updated_at: i64,
}

/// A kv key, s3 path or document id: non-empty, no NUL, at most 512 bytes.
fn check_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() || key.contains('\0') || key.len() > 512 {
        Err(INVALID_ARGUMENT)
    } else {
        Ok(())
    }
}

fn live(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_none_or(|at| now < at)
}

impl AppModel {
    // kv

    fn kv_set(&mut self, key: &str, value: &Value, ttl_ms: Option<u64>, now: i64) -> Outcome {
        if let Err(kind) = check_key(key) {
            return Outcome::Error(kind);
        }
        let expires_at = ttl_ms
            .filter(|ttl| *ttl > 0)
            .map(|ttl| now + i64::try_from(ttl).expect("small ttl"));
        self.kv.insert(key.to_owned(), (value.clone(), expires_at));
        Outcome::Done
    }

    fn kv_get(&self, key: &str, now: i64) -> Outcome {
        if let Err(kind) = check_key(key) {
            return Outcome::Error(kind);
        }
        Outcome::Value(
            self.kv
                .get(key)
                .filter(|(_, expires_at)| live(*expires_at, now))
                .map(|(value, _)| value.clone()),
        )
    }

    /// The answer, and whether the entry was there but expired (then the engine may
    /// still hold the row and answer either way).
    fn kv_delete(&mut self, key: &str, now: i64) -> (Outcome, bool) {
        if let Err(kind) = check_key(key) {
            return (Outcome::Error(kind), false);
        }
        match self.kv.remove(key) {
            Some((_, expires_at)) if live(expires_at, now) => (Outcome::Existed(true), false),
            Some(_) => (Outcome::Existed(false), true),
            None => (Outcome::Existed(false), false),
        }
    }

    fn kv_list(&self, prefix: &str, now: i64) -> Outcome {
        Outcome::Kv(
            self.kv
                .iter()
                .filter(|(key, (_, expires_at))| key.starts_with(prefix) && live(*expires_at, now))
                .map(|(key, (value, expires_at))| KvEntry {
                    key: key.clone(),
                    value: value.clone(),
                    expires_at: *expires_at,
                })
                .collect(),
        )
    }

    // ds

    fn known_id(&self, coll: usize, n: usize) -> String {
        let docs = &self.docs[coll];
        if docs.is_empty() {
            "d1".to_owned()
        } else {
            docs[n % docs.len()].id.clone()
        }
    }

    /// `engine_id` is what the engine answered, used as the id of a document without
    /// one (generated ids come from the engine's seeded Rng).
    fn ds_insert(
        &mut self,
        coll: usize,
        doc: &Value,
        now: i64,
        engine_id: Option<&str>,
    ) -> Outcome {
        let Value::Object(fields) = doc else {
            return Outcome::Error(INVALID_ARGUMENT);
        };
        let docs = &mut self.docs[coll];
        let mut body = fields.clone();
        let id = match body.remove("id") {
            Some(Value::String(id)) if !id.is_empty() => id,
            // A given id is used or refused, never replaced (issue 15).
            Some(other) if !other.is_null() => return Outcome::Error(INVALID_ARGUMENT),
            _ => match engine_id {
                Some(id) if !id.is_empty() && docs.iter().all(|doc| doc.id != id) => id.to_owned(),
                _ => return Outcome::Id("<a fresh generated id>".into()),
            },
        };
        if let Err(kind) = check_key(&id) {
            return Outcome::Error(kind);
        }
        body.remove("_createdAt");
        body.remove("_updatedAt");
        if docs.iter().any(|doc| doc.id == id) {
            return Outcome::Error("DuplicateId");
        }
        docs.push(Doc {
            id: id.clone(),
            body,
            created_at: now,
            updated_at: now,
        });
        Outcome::Id(id)
    }

    /// Indexes (oldest first) of the documents matching `query`.
    fn select(&self, coll: usize, query: &Value) -> Result<Vec<usize>, &'static str> {
        let conditions = parse_query(query)?;
        Ok(self.docs[coll]
            .iter()
            .enumerate()
            .filter(|(_, doc)| conditions.iter().all(|c| c.matches(doc)))
            .map(|(i, _)| i)
            .collect())
    }

    fn find(
        &self,
        coll: usize,
        query: &Value,
        options: &FindOptions,
    ) -> Result<Vec<Value>, &'static str> {
        let mut matches = self.select(coll, query)?;
        if options.order == Order::Desc {
            matches.reverse();
        }
        let offset = usize::try_from(options.offset.unwrap_or(0)).expect("small offset");
        let limit = options.limit.map_or(usize::MAX, |limit| {
            usize::try_from(limit).expect("small limit")
        });
        Ok(matches
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|i| self.docs[coll][i].render())
            .collect())
    }

    fn ds_find(&self, coll: usize, query: &Value, options: &FindOptions) -> Outcome {
        self.find(coll, query, options)
            .map_or_else(Outcome::Error, Outcome::Docs)
    }

    fn ds_find_one(&self, coll: usize, query: &Value) -> Outcome {
        let options = FindOptions {
            limit: Some(1),
            ..FindOptions::default()
        };
        self.find(coll, query, &options)
            .map_or_else(Outcome::Error, |docs| {
                Outcome::Value(docs.into_iter().next())
            })
    }

    fn ds_count(&self, coll: usize, query: &Value) -> Outcome {
        self.select(coll, query)
            .map_or_else(Outcome::Error, |m| Outcome::Count(m.len() as u64))
    }

    fn ds_update(&mut self, coll: usize, query: &Value, changes: &Value, now: i64) -> Outcome {
        let matches = match self.select(coll, query) {
            Ok(matches) => matches,
            Err(kind) => return Outcome::Error(kind),
        };
        let changes = match parse_changes(changes) {
            Ok(changes) => changes,
            Err(kind) => return Outcome::Error(kind),
        };
        // All or nothing: one document that cannot take the changes fails the update.
        let mut updated = Vec::new();
        for &i in &matches {
            let mut body = self.docs[coll][i].body.clone();
            if let Err(kind) = changes.apply(&mut body) {
                return Outcome::Error(kind);
            }
            updated.push((i, body));
        }
        for (i, body) in updated {
            let doc = &mut self.docs[coll][i];
            doc.body = body;
            doc.updated_at = now;
        }
        Outcome::Count(matches.len() as u64)
    }

    fn ds_delete(&mut self, coll: usize, query: &Value) -> Outcome {
        let matches = match self.select(coll, query) {
            Ok(matches) => matches,
            Err(kind) => return Outcome::Error(kind),
        };
        let mut i = 0;
        self.docs[coll].retain(|_| {
            let keep = !matches.contains(&i);
            i += 1;
            keep
        });
        Outcome::Count(matches.len() as u64)
    }

    fn ds_delete_oldest(&mut self, coll: usize, keep: u64) -> Outcome {
        let docs = &mut self.docs[coll];
        let keep = usize::try_from(keep).expect("small keep");
        let gone = docs.len().saturating_sub(keep);
        docs.drain(..gone);
        Outcome::Count(gone as u64)
    }

    // s3

    fn s3_put(&mut self, path: &str, data: &[u8], mime: Option<&str>, now: i64) -> Outcome {
        if let Err(kind) = check_key(path) {
            return Outcome::Error(kind);
        }
        let mime = mime.filter(|m| !m.is_empty()).unwrap_or(DEFAULT_MIME);
        self.blobs.insert(
            path.to_owned(),
            StoredBlob {
                data: data.to_vec(),
                mime: mime.to_owned(),
                updated_at: now,
            },
        );
        Outcome::Done
    }

    fn s3_get(&self, path: &str) -> Outcome {
        if let Err(kind) = check_key(path) {
            return Outcome::Error(kind);
        }
        Outcome::Blob(self.blobs.get(path).map(|blob| {
            Blob {
                data: blob.data.clone(),
                mime: blob.mime.clone(),
                size: blob.data.len() as u64,
                hash: Sha256::digest(&blob.data)
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect(),
            }
        }))
    }

    fn s3_delete(&mut self, path: &str) -> Outcome {
        if let Err(kind) = check_key(path) {
            return Outcome::Error(kind);
        }
        Outcome::Existed(self.blobs.remove(path).is_some())
    }

    fn s3_list(&self, prefix: &str) -> Outcome {
        Outcome::Blobs(
            self.blobs
                .iter()
                .filter(|(path, _)| path.starts_with(prefix))
                .map(|(path, blob)| BlobMeta {
                    path: path.clone(),
                    mime: blob.mime.clone(),
                    size: blob.data.len() as u64,
                    updated_at: blob.updated_at,
                })
                .collect(),
        )
    }
}

// ----- the query language, from its documentation -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QueryOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
    Contains,
}

fn query_op(name: &str) -> Result<QueryOp, &'static str> {
    Ok(match name {
        "$eq" => QueryOp::Eq,
        "$ne" => QueryOp::Ne,
        "$gt" => QueryOp::Gt,
        "$gte" => QueryOp::Gte,
        "$lt" => QueryOp::Lt,
        "$lte" => QueryOp::Lte,
        "$in" => QueryOp::In,
        "$nin" => QueryOp::Nin,
        "$contains" => QueryOp::Contains,
        _ => return Err(INVALID_QUERY),
    })
}

#[derive(Debug)]
enum Target {
    Id,
    CreatedAt,
    UpdatedAt,
    Field(Vec<String>),
}

#[derive(Debug)]
struct Condition {
    target: Target,
    op: QueryOp,
    operand: Value,
}

/// A dotted path of `[A-Za-z_][A-Za-z0-9_]*` segments (at most 64 bytes each, at most 8).
fn field_path(text: &str) -> Result<Vec<String>, &'static str> {
    let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
    // Any name upstream accepts: non-empty segments of at most 64 bytes, without `"`
    // or control characters (they are quoted as JSON paths, never spliced into SQL).
    let valid = |segment: &String| {
        !segment.is_empty()
            && segment.len() <= 64
            && !segment.chars().any(|c| c == '"' || c.is_control())
    };
    if segments.len() > 8 || !segments.iter().all(valid) {
        return Err(INVALID_QUERY);
    }
    Ok(segments)
}

fn parse_query(query: &Value) -> Result<Vec<Condition>, &'static str> {
    let object = match query {
        Value::Null => return Ok(Vec::new()),
        Value::Object(object) => object,
        _ => return Err(INVALID_QUERY),
    };
    let mut conditions = Vec::new();
    for (key, value) in object {
        if key.starts_with('$') {
            return Err(INVALID_QUERY);
        }
        let operators: Vec<(QueryOp, Value)> = match value {
            Value::Object(map) if map.keys().any(|k| k.starts_with('$')) => {
                if !map.keys().all(|k| k.starts_with('$')) {
                    return Err(INVALID_QUERY);
                }
                map.iter()
                    .map(|(op, operand)| Ok((query_op(op)?, operand.clone())))
                    .collect::<Result<_, &'static str>>()?
            }
            plain => vec![(QueryOp::Eq, plain.clone())],
        };
        for (op, operand) in operators {
            let scalar = matches!(
                operand,
                Value::Bool(_) | Value::Number(_) | Value::String(_)
            );
            let valid = match op {
                QueryOp::In | QueryOp::Nin => operand.is_array(),
                QueryOp::Gt | QueryOp::Gte | QueryOp::Lt | QueryOp::Lte | QueryOp::Contains => {
                    scalar
                }
                QueryOp::Eq | QueryOp::Ne => true,
            };
            if !valid {
                return Err(INVALID_QUERY);
            }
            let target = match key.as_str() {
                "id" => Target::Id,
                "_createdAt" => Target::CreatedAt,
                "_updatedAt" => Target::UpdatedAt,
                // `session` equality uses an indexed column in the engine; by the
                // documentation that is an optimisation with the same meaning.
                field => Target::Field(field_path(field)?),
            };
            conditions.push(Condition {
                target,
                op,
                operand,
            });
        }
    }
    if conditions.len() > 64 {
        return Err(INVALID_QUERY);
    }
    Ok(conditions)
}

/// A value as SQLite sees `json_extract` of it: JSON null and missing fields are NULL,
/// booleans 1/0, numbers integer or real, strings text, arrays and objects their JSON
/// text.
#[derive(Clone, Debug, PartialEq)]
enum Sql {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

fn sql(value: Option<&Value>) -> Sql {
    match value {
        None | Some(Value::Null) => Sql::Null,
        Some(Value::Bool(b)) => Sql::Integer(i64::from(*b)),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Sql::Integer(i),
            None => Sql::Real(n.as_f64().expect("finite")),
        },
        Some(Value::String(s)) => Sql::Text(s.clone()),
        Some(composite) => Sql::Text(composite.to_string()),
    }
}

/// SQLite's comparison: NULL compares to nothing; numbers < text; numbers by value;
/// text by bytes.
fn compare(a: &Sql, b: &Sql) -> Option<Ordering> {
    match (a, b) {
        (Sql::Null, _) | (_, Sql::Null) => None,
        (Sql::Integer(x), Sql::Integer(y)) => Some(x.cmp(y)),
        (Sql::Integer(x), Sql::Real(y)) => (*x as f64).partial_cmp(y),
        (Sql::Real(x), Sql::Integer(y)) => x.partial_cmp(&(*y as f64)),
        (Sql::Real(x), Sql::Real(y)) => x.partial_cmp(y),
        (Sql::Text(x), Sql::Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Sql::Text(_), _) => Some(Ordering::Greater),
        (_, Sql::Text(_)) => Some(Ordering::Less),
    }
}

fn lookup<'a>(body: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = body.get(first)?;
    for segment in rest {
        value = value.as_object()?.get(segment)?;
    }
    Some(value)
}

impl Condition {
    fn matches(&self, doc: &Doc) -> bool {
        let raw = match &self.target {
            Target::Id => Some(Value::String(doc.id.clone())),
            Target::CreatedAt => Some(Value::from(doc.created_at)),
            Target::UpdatedAt => Some(Value::from(doc.updated_at)),
            Target::Field(path) => lookup(&doc.body, path).cloned(),
        };
        let field = sql(raw.as_ref());
        let operand = &self.operand;
        let order = compare(&field, &sql(Some(operand)));
        match self.op {
            QueryOp::Eq if operand.is_null() => field == Sql::Null,
            QueryOp::Eq => order == Some(Ordering::Equal),
            QueryOp::Ne if operand.is_null() => field != Sql::Null,
            QueryOp::Ne => field == Sql::Null || order != Some(Ordering::Equal),
            QueryOp::Gt => order == Some(Ordering::Greater),
            QueryOp::Gte => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
            QueryOp::Lt => order == Some(Ordering::Less),
            QueryOp::Lte => matches!(order, Some(Ordering::Less | Ordering::Equal)),
            QueryOp::In | QueryOp::Nin => {
                let items = operand.as_array().expect("checked at parse");
                let has_null = items.iter().any(Value::is_null);
                let member = items
                    .iter()
                    .any(|item| compare(&field, &sql(Some(item))) == Some(Ordering::Equal));
                let in_list = member || (has_null && field == Sql::Null);
                if self.op == QueryOp::In {
                    in_list
                } else {
                    !in_list
                }
            }
            QueryOp::Contains => match raw {
                Some(Value::Array(items)) => items.iter().any(|item| {
                    compare(&sql(Some(item)), &sql(Some(operand))) == Some(Ordering::Equal)
                }),
                Some(Value::String(text)) => {
                    operand.as_str().is_some_and(|needle| text.contains(needle))
                }
                _ => false,
            },
        }
    }
}

// ----- update operators, from their documentation -----

/// Sets, then unsets, then increments.
#[derive(Default)]
struct Changes {
    set: Vec<(Vec<String>, Value)>,
    unset: Vec<Vec<String>>,
    inc: Vec<(Vec<String>, Number)>,
}

/// The path a change addresses, or None for a field storage manages (ignored, as upstream).
fn change_path(field: &str) -> Result<Option<Vec<String>>, &'static str> {
    let path = field_path(field)?;
    Ok((!["id", "_createdAt", "_updatedAt"].contains(&path[0].as_str())).then_some(path))
}

fn parse_changes(changes: &Value) -> Result<Changes, &'static str> {
    let Value::Object(object) = changes else {
        return Err(INVALID_ARGUMENT);
    };
    let mut parsed = Changes::default();
    for (operator, fields) in object {
        if !operator.starts_with('$') {
            // A plain key, alone or beside operators: a shallow set.
            if let Some(path) = change_path(operator)? {
                parsed.set.push((path, fields.clone()));
            }
            continue;
        }
        let Value::Object(fields) = fields else {
            return Err(INVALID_ARGUMENT);
        };
        for (field, value) in fields {
            let Some(path) = change_path(field)? else {
                continue;
            };
            match (operator.as_str(), value) {
                ("$set", _) => parsed.set.push((path, value.clone())),
                ("$unset", _) => parsed.unset.push(path),
                ("$inc", Value::Number(amount)) => parsed.inc.push((path, amount.clone())),
                ("$inc", _) => return Err(INVALID_ARGUMENT),
                _ => return Err(INVALID_QUERY),
            }
        }
    }
    Ok(parsed)
}

/// The slot at `path`, created (with objects on the way, replacing nulls) when missing.
fn slot<'a>(
    body: &'a mut Map<String, Value>,
    path: &[String],
) -> Result<&'a mut Value, &'static str> {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut object = body;
    for segment in parents {
        let child = object
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if child.is_null() {
            *child = Value::Object(Map::new());
        }
        object = child.as_object_mut().ok_or(INVALID_ARGUMENT)?;
    }
    Ok(object.entry(last.clone()).or_insert(Value::Null))
}

/// Removes the field at `path`, if every object on the way is there.
fn remove(body: &mut Map<String, Value>, path: &[String]) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut object = body;
    for segment in parents {
        match object.get_mut(segment).and_then(Value::as_object_mut) {
            Some(child) => object = child,
            None => return,
        }
    }
    object.remove(last);
}

impl Changes {
    fn apply(&self, body: &mut Map<String, Value>) -> Result<(), &'static str> {
        for (path, value) in &self.set {
            *slot(body, path)? = value.clone();
        }
        for path in &self.unset {
            remove(body, path);
        }
        for (path, amount) in &self.inc {
            let target = slot(body, path)?;
            *target = match target {
                Value::Null => Value::Number(amount.clone()),
                Value::Number(current) => {
                    let sum = match (current.as_i64(), amount.as_i64()) {
                        (Some(a), Some(b)) => a.checked_add(b).map(Number::from),
                        _ => None,
                    };
                    let sum = sum.or_else(|| {
                        Number::from_f64(
                            current.as_f64().expect("finite") + amount.as_f64().expect("finite"),
                        )
                    });
                    Value::Number(sum.ok_or(INVALID_ARGUMENT)?)
                }
                _ => return Err(INVALID_ARGUMENT),
            };
        }
        Ok(())
    }
}
