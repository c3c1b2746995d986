//! The operations a case is made of, and their generators: small domains, so that
//! queries match things.

use fazt_engine::storage::{FindOptions, Order};
use fazt_sim::env::EPOCH_MS;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

/// Inserts into the main collection first, so that queries have something to find...
pub(crate) const MAX_PREFILL: usize = 10;
/// ...then any operations.
pub(crate) const MAX_OPS: usize = 48;

pub(crate) const APPS: [&str; 2] = ["app1", "app2"];
pub(crate) const COLLECTIONS: [&str; 2] = ["tasks", "notes"];
/// kv keys, with LIKE wildcards that prefixes must take literally; "" is refused.
/// The non-ASCII ones check the prefix range across the surrogate gap (U+D7FF, U+E000).
pub(crate) const KEYS: &[&str] = &[
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
pub(crate) const KEY_PREFIXES: &[&str] = &[
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
pub(crate) const PATHS: &[&str] = &["a", "a/b", "a%", "a_/x", "_x", ""];
pub(crate) const PATH_PREFIXES: &[&str] = &["", "a", "a/", "a%", "a_", "%", "_", "b"];
pub(crate) const MIMES: &[&str] = &["", "text/plain", "image/png"];
pub(crate) const DOC_IDS: &[&str] = &["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"];
/// Strings anywhere (the JSON-text-looking ones meet arrays compared as text).
pub(crate) const STRINGS: &[&str] = &["", "a", "b", "ab", "ba", "B", "é", "\"", "[1]", "[]"];
/// The usual strings and numbers of document fields: narrower, so that queries match.
pub(crate) const FIELD_STRINGS: &[&str] = &["", "a", "b", "ab"];
pub(crate) const FIELD_INTS: std::ops::RangeInclusive<i64> = -2..=2;
/// Fields a query may look at (`n.x` and `missing` mostly do not exist).
pub(crate) const QUERY_FIELDS: &[&str] = &[
    "n", "n", "s", "s", "b", "t", "t", "meta", "meta.n", "meta.s", "session", "missing", "n.x",
];
/// Fields an update may write.
pub(crate) const SET_FIELDS: &[&str] = &[
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
pub(crate) const INC_FIELDS: &[&str] = &["n", "n", "meta.n", "extra", "s"];
pub(crate) const TOP_FIELDS: &[&str] = &["n", "s", "b", "t", "meta", "session", "extra"];

/// Which document `findOne(id)` asks for.
#[derive(Clone, Debug)]
pub(crate) enum IdRef {
    Literal(&'static str),
    /// The n-th document the model holds in that collection (modulo), so generated ids
    /// are reachable too.
    Known(usize),
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
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

pub(crate) fn app() -> BoxedStrategy<usize> {
    prop_oneof![6 => Just(0usize), 1 => Just(1usize)].boxed()
}

pub(crate) fn coll() -> BoxedStrategy<usize> {
    prop_oneof![6 => Just(0usize), 1 => Just(1usize)].boxed()
}

pub(crate) fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        2 => any::<bool>().prop_map(Value::Bool),
        5 => (-3i64..=3).prop_map(Value::from),
        1 => select(&[0.5f64, -1.5, 2.0][..]).prop_map(Value::from),
        4 => select(STRINGS).prop_map(Value::from),
    ]
    .boxed()
}

pub(crate) fn small_array() -> BoxedStrategy<Value> {
    vec(scalar(), 0..3).prop_map(Value::Array).boxed()
}

/// `{n?, s?}`: the `meta` object of documents.
pub(crate) fn meta_object() -> BoxedStrategy<Value> {
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

pub(crate) fn value() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => scalar(),
        2 => small_array(),
        1 => meta_object(),
    ]
    .boxed()
}

pub(crate) fn document() -> BoxedStrategy<Value> {
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
pub(crate) fn field_condition(
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

pub(crate) fn list_of(item: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    vec(item, 0..4).prop_map(Value::Array).boxed()
}

/// Operands mostly of the type the field usually holds (so that conditions match
/// something), sometimes of any type (so that cross-type comparison is exercised).
pub(crate) fn typical_operand(field: &str) -> BoxedStrategy<Value> {
    match field {
        "n" | "meta.n" => (-3i64..=3).prop_map(Value::from).boxed(),
        "s" | "meta.s" => select(STRINGS).prop_map(Value::from).boxed(),
        "b" => any::<bool>().prop_map(Value::Bool).boxed(),
        "session" => select(&["s1", "s2"][..]).prop_map(Value::from).boxed(),
        _ => scalar(),
    }
}

pub(crate) fn condition() -> BoxedStrategy<(String, Value)> {
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
pub(crate) fn invalid_query() -> BoxedStrategy<Value> {
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

pub(crate) fn query() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(json!({})),
        1 => Just(Value::Null),
        10 => condition().prop_map(|(field, condition)| json!({ field: condition })),
        4 => vec(condition(), 2..4).prop_map(|conditions| Value::Object(conditions.into_iter().collect())),
        1 => invalid_query(),
    ]
    .boxed()
}

pub(crate) fn find_options() -> BoxedStrategy<FindOptions> {
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

pub(crate) fn object_of(entries: Vec<(&'static str, Value)>) -> Map<String, Value> {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

pub(crate) fn changes() -> BoxedStrategy<Value> {
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

pub(crate) fn ops() -> impl Strategy<Value = Vec<Op>> {
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

pub(crate) fn op() -> impl Strategy<Value = Op> {
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
