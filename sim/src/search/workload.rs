//! Broad workloads: several clients on two apps that share every key and collection
//! name, over kv, ds and s3, with single- and two-field updates, deletes, multi-document
//! updates that fail partway (the ledger, on the keys' first letters), and prefix lists whose prefixes hold the
//! characters a query builder must escape (`_`, `'`), and probes of the rarer parts of
//! the storage API (`$unset`, `$in`/`$nin`, range operators, the conditions limit,
//! hostile field names; see [`super::checkers::probes`]).

use proptest::prelude::*;

use crate::search::checkers::probes::KINDS;
use crate::workload::{Operation, Space, Step, Verb, Workload, PROBE_APP, TWIN_APP};

/// Keys: few, so that clients and apps meet on them; some are prefixes of others and
/// hold `_` (a LIKE wildcard) and `'` (a SQL quote), and `b` lies just past every `a`
/// prefix's range.
pub const KEYS: &[&str] = &["a", "a_", "a'", "ab", "b"];

/// Think times up to this many ms: requests overlap, and faults drawn over the span
/// meet them.
pub const THINK_MAX_MS: u64 = 40;

/// A probe of the storage API's rarer parts, to the probes app.
fn probe() -> impl Strategy<Value = Operation> {
    proptest::sample::select(KINDS).prop_map(|kind| Operation {
        space: Space::Ds,
        verb: Verb::Probe,
        key: kind.to_owned(),
        app: Some(PROBE_APP.to_owned()),
    })
}

/// One operation: a register operation, or (one in [`PROBE_ONE_IN`]) a probe.
fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![PROBE_ONE_IN - 1 => register_operation(), 1 => probe()]
}

/// One operation in this many is a probe: enough that each of the five kinds is sent
/// in most CI cases, few enough that the registers stay contended.
const PROBE_ONE_IN: u32 = 6;

fn register_operation() -> impl Strategy<Value = Operation> {
    (
        prop_oneof![Just(Space::Kv), Just(Space::Ds), Just(Space::S3)],
        prop_oneof![
            3 => Just(Verb::Get),
            3 => Just(Verb::Put),
            2 => Just(Verb::Update),
            2 => Just(Verb::Pair),
            2 => Just(Verb::Delete),
            2 => Just(Verb::List),
            2 => Just(Verb::Enlist),
            2 => Just(Verb::Bump),
        ],
        proptest::sample::select(KEYS),
        prop_oneof![2 => Just(None), 1 => Just(Some(TWIN_APP.to_owned()))],
    )
        .prop_map(|(space, verb, key, app)| {
            // The ledger's groups are fewer than the keys, so that a group gathers
            // entries of both kinds before it is bumped.
            let key = match verb {
                Verb::Enlist | Verb::Bump => &key[..1],
                _ => key,
            };
            // Lists are of kv and s3 (documents are read by id).
            let space = if verb == Verb::List && space == Space::Ds {
                Space::Kv
            } else {
                space
            };
            Operation {
                space,
                verb,
                key: key.to_owned(),
                app,
            }
        })
}

/// Workloads of 1–`clients_max` clients with 1–`steps_max` operations each.
pub fn broad(clients_max: usize, steps_max: usize) -> impl Strategy<Value = Workload> {
    let step = (0..THINK_MAX_MS, operation()).prop_map(|(think_ms, op)| Step { think_ms, op });
    proptest::collection::vec(
        proptest::collection::vec(step, 1..=steps_max),
        1..=clients_max,
    )
    .prop_map(|clients| Workload { clients })
}

/// Writes only, of every kind the registers and the ledger take.
fn write_operation() -> impl Strategy<Value = Operation> {
    register_operation().prop_filter("a write", |op| op.writes())
}

/// A burst's write: half of them two-field updates of documents (`pair`: an update,
/// then an insert when no document matched), whose second write comes with what its
/// first left of the budget, and deletes that make their documents missing again.
fn burst_write() -> impl Strategy<Value = Operation> {
    let ds = |verb: Verb| {
        proptest::sample::select(KEYS).prop_map(move |key| Operation {
            space: Space::Ds,
            verb,
            key: key.to_owned(),
            app: None,
        })
    };
    prop_oneof![3 => ds(Verb::Pair), 1 => ds(Verb::Delete), 2 => write_operation()]
}

/// Bursts: `clients` clients (8–16 in the deep-queue search) each sending 1–`steps_max`
/// writes within a few ms of each other, so that writes queue several groups deep
/// behind a slow group and the admission estimate decides, some of them late in their
/// budget.
pub fn burst(
    clients: std::ops::RangeInclusive<usize>,
    steps_max: usize,
) -> impl Strategy<Value = Workload> {
    let step =
        (0..BURST_THINK_MAX_MS, burst_write()).prop_map(|(think_ms, op)| Step { think_ms, op });
    proptest::collection::vec(proptest::collection::vec(step, 1..=steps_max), clients)
        .prop_map(|clients| Workload { clients })
}

/// A burst's think times: under a request's time, so that the clients' writes overlap.
const BURST_THINK_MAX_MS: u64 = 10;
