//! Property-based workloads: clients sending register operations to the `registers`
//! fixture app (kv keys, ds documents, s3 blobs), with think times, as data that
//! proptest generates and shrinks and the regression corpus stores.

use fazt_chaos::{Action, Fault, Schedule};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// The fixture app the workloads talk to.
pub const APP: &str = "registers";

/// A second deployment of the same app code: its keys and collections share every name
/// with [`APP`]'s, so a storage call that loses its app scope reads or writes the other's.
pub const TWIN_APP: &str = "registers-twin";

/// The app the property search's probes go to (`fixtures/search-apps/probes`).
pub const PROBE_APP: &str = "probes";

/// Clients running at the same time, each with its own operations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    pub clients: Vec<Vec<Step>>,
}

/// One operation after a pause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub think_ms: u64,
    pub op: Operation,
}

/// Which store an operation acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    Kv,
    Ds,
    S3,
}

/// What to do to the register `key` of `space`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Get,
    /// kv.set / s3.put; ds.insert for documents.
    Put,
    /// ds.update ($set); kv.set / s3.put elsewhere.
    Update,
    Delete,
    /// ds.update setting two fields at once (`value` and `tag`, a function of it), or
    /// ds.insert of both when the document is absent; a plain update elsewhere.
    Pair,
    /// kv.list / s3.list of the keys starting with `key` (a prefix); a read of no register.
    List,
    /// ds.insert of a ledger entry in group `key` (whose count is not a number when the
    /// request id ends in an odd digit); touches no register.
    Enlist,
    /// One ds.update of every ledger entry of group `key` ($inc of the count, $set of
    /// `last`): fails partway on an entry whose count is not a number; touches no register.
    Bump,
    /// A probe of the storage API's rarer parts (`$unset`, `$in`/`$nin`, range
    /// operators, the conditions limit, client-chosen field names) named by `key`, sent
    /// to [`PROBE_APP`] on documents of its own; touches no register.
    Probe,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub space: Space,
    pub verb: Verb,
    pub key: String,
    /// The app it is sent to: [`APP`] when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

impl Operation {
    /// The register it acts on, as the invariants name it.
    pub fn register(&self) -> String {
        let space = match self.space {
            Space::Kv => "kv",
            Space::Ds => "ds",
            Space::S3 => "s3",
        };
        match (&self.app, self.verb) {
            (_, Verb::List) => format!("list:{space}:{}", self.key),
            (_, Verb::Probe) => format!("probe:{}", self.key),
            (_, Verb::Enlist | Verb::Bump) => format!("ledger:{}:{}", self.app(), self.key),
            (None, _) => format!("{space}:{}", self.key),
            (Some(app), _) => format!("{app}/{space}:{}", self.key),
        }
    }

    /// The app it is sent to.
    pub fn app(&self) -> &str {
        self.app.as_deref().unwrap_or(APP)
    }

    /// Method and path on the registers app.
    pub fn route(&self) -> (&'static str, String) {
        let space = match self.space {
            Space::Kv => "kv",
            Space::Ds => "ds",
            Space::S3 => "s3",
        };
        let method = match (self.space, self.verb) {
            (_, Verb::Get) => "GET",
            (_, Verb::List) => return ("GET", format!("/api/list/{space}/{}", self.key)),
            (Space::Ds, Verb::Pair) => return ("PATCH", format!("/api/pair/{}", self.key)),
            (_, Verb::Probe) => return ("POST", format!("/api/probe/{}", self.key)),
            (_, Verb::Enlist) => return ("POST", format!("/api/ledger/{}", self.key)),
            (_, Verb::Bump) => return ("PATCH", format!("/api/ledger/{}", self.key)),
            (_, Verb::Delete) => "DELETE",
            (Space::Ds, Verb::Put) => "POST",
            (Space::Ds, Verb::Update) => "PATCH",
            (_, Verb::Put | Verb::Update | Verb::Pair) => "PUT",
        };
        (method, format!("/api/{space}/{}", self.key))
    }

    pub fn writes(&self) -> bool {
        !matches!(self.verb, Verb::Get | Verb::List)
    }

    /// Whether it reads or writes a register of the history (lists and the ledger do not).
    pub fn on_register(&self) -> bool {
        !matches!(
            self.verb,
            Verb::List | Verb::Enlist | Verb::Bump | Verb::Probe
        )
    }
}

impl Workload {
    /// Operations in all.
    pub fn len(&self) -> usize {
        self.clients.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keys are drawn from a few, so that clients meet on the same registers.
const KEYS: &[&str] = &["a", "b", "c", "d", "e", "f"];

fn operation() -> impl Strategy<Value = Operation> {
    (
        prop_oneof![Just(Space::Kv), Just(Space::Ds), Just(Space::S3)],
        prop_oneof![
            3 => Just(Verb::Get),
            3 => Just(Verb::Put),
            2 => Just(Verb::Update),
            1 => Just(Verb::Delete)
        ],
        proptest::sample::select(KEYS),
    )
        .prop_map(|(space, verb, key)| Operation {
            space,
            verb,
            key: key.to_owned(),
            app: None,
        })
}

/// Workloads of 1–`clients_max` clients with up to `steps_max` operations each and
/// think times up to 50 ms.
pub fn workloads(clients_max: usize, steps_max: usize) -> impl Strategy<Value = Workload> {
    let step = (0u64..50, operation()).prop_map(|(think_ms, op)| Step { think_ms, op });
    proptest::collection::vec(
        proptest::collection::vec(step, 1..=steps_max),
        1..=clients_max,
    )
    .prop_map(|clients| Workload { clients })
}

/// Schedules of up to `faults_max` faults within `duration_ms`: storage and server
/// failpoints, network holds and partitions, and at most one server crash.
pub fn schedules(duration_ms: u64, faults_max: usize) -> impl Strategy<Value = Schedule> {
    schedules_over(
        duration_ms,
        faults_max,
        fazt_engine::failpoints::ALL,
        300,
        true,
    )
}

/// Schedules of up to `faults_max` faults within `duration_ms` from `points` only, with
/// arguments (a slow statement's hold, ...) below `argument_max`: longer than a request
/// budget lets a slow statement outlive its callers' deadlines.
pub fn failpoint_schedules(
    duration_ms: u64,
    faults_max: usize,
    points: &'static [&'static str],
    argument_max: u64,
) -> impl Strategy<Value = Schedule> {
    schedules_over(duration_ms, faults_max, points, argument_max, false)
}

fn schedules_over(
    duration_ms: u64,
    faults_max: usize,
    points: &'static [&'static str],
    argument_max: u64,
    network_and_crashes: bool,
) -> impl Strategy<Value = Schedule> {
    let others = if network_and_crashes { 1 } else { 0 };
    let points = proptest::sample::select(points);
    let failpoint =
        (points, 1u32..3, 1..argument_max.max(2)).prop_map(|(point, times, argument)| {
            let takes_argument =
                fazt_chaos::catalog::entry(point).is_some_and(|e| e.argument.is_some());
            Action::Failpoint {
                point: point.to_owned(),
                times,
                argument: takes_argument.then_some(argument),
            }
        });
    let action = prop_oneof![
        6 => failpoint,
        others => (1u64..100).prop_map(|ms| Action::Hold { ms }),
        others => (1u64..100).prop_map(|ms| Action::Partition { ms }),
        others => (1u64..50).prop_map(|down_ms| Action::Crash { down_ms }),
        others => (1u64..50).prop_map(|down_ms| Action::PowerLoss { down_ms }),
        others => (proptest::sample::select(&fazt_chaos::DiskFault::ALL[..]), 1u32..4)
            .prop_map(|(disk, times)| Action::Disk { disk, times }),
    ];
    proptest::collection::vec((0..duration_ms, action), 0..=faults_max).prop_map(|faults| {
        let mut crashed = false;
        let mut schedule = Schedule {
            faults: faults
                .into_iter()
                // One restart per run keeps the restart logic simple to read in traces.
                .filter(|(_, action)| {
                    !matches!(action, Action::Crash { .. } | Action::PowerLoss { .. })
                        || !std::mem::replace(&mut crashed, true)
                })
                .map(|(at_ms, action)| Fault { at_ms, action })
                .collect(),
        };
        schedule.sort();
        schedule
    })
}

impl Workload {
    /// A workload drawn from `rng`: `clients` clients with `steps` operations each on
    /// `keys`, `write_percent` of them writes, think times up to `think_max_ms`.
    pub fn seeded(
        rng: &fazt_engine::env::Rng,
        clients: usize,
        steps: usize,
        keys: &[&str],
        write_percent: u64,
        think_max_ms: u64,
    ) -> Workload {
        let spaces = [Space::Kv, Space::Ds, Space::S3];
        let writes = [Verb::Put, Verb::Update, Verb::Put, Verb::Delete];
        let clients = (0..clients)
            .map(|_| {
                (0..steps)
                    .map(|_| {
                        let verb = if rng.below(100) < write_percent {
                            writes[rng.below(writes.len() as u64) as usize]
                        } else {
                            Verb::Get
                        };
                        Step {
                            think_ms: rng.below(think_max_ms + 1),
                            op: Operation {
                                space: spaces[rng.below(3) as usize],
                                verb,
                                key: keys[rng.below(keys.len() as u64) as usize].to_owned(),
                                app: None,
                            },
                        }
                    })
                    .collect()
            })
            .collect();
        Workload { clients }
    }
}
