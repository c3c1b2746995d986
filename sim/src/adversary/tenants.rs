//! The adversarial-tenant workload as data: which corpus entries the attacker's
//! clients send, what the victims' clients do, and the storm of CPU loops; drawn from a
//! seed (the `noisy-neighbor` scenario) or generated and shrunk by proptest (the
//! property tests), and stored in the regression corpus.

use fazt_engine::env::Rng;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::corpus::{corpus, CPU_LOOP, HEAVY};
use crate::workload::{Operation, Space, Verb};

/// Several apps on one server: one attacker, victims beside it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenants {
    /// The attacker's clients, each its corpus entries one after another.
    pub attackers: Vec<Vec<Attack>>,
    /// The victims' clients.
    pub victims: Vec<VictimClient>,
    /// Many CPU loops at once, each from its own client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storm: Option<Storm>,
}

/// One corpus entry (by name) after a pause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attack {
    pub think_ms: u64,
    pub entry: String,
}

/// [`CPU_LOOP`] sent at once by `per_slot` clients per execution slot of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storm {
    /// When it starts, in virtual ms after the server answers.
    pub at_ms: u64,
    pub per_slot: u64,
}

/// A victim app: a fixture of `fixtures/apps`, deployed under its own name, whose
/// keys and collections the attacker's entries write under the same names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VictimApp {
    Registers,
    Momentum,
}

impl VictimApp {
    pub fn name(self) -> &'static str {
        match self {
            VictimApp::Registers => "registers",
            VictimApp::Momentum => "momentum",
        }
    }
}

/// One victim client: its app and its requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VictimClient {
    pub app: VictimApp,
    pub steps: Vec<VictimStep>,
}

/// One victim request after a pause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VictimStep {
    pub think_ms: u64,
    pub op: VictimOp,
}

/// What a victim request does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VictimOp {
    /// A `registers` operation (a duplicate ds insert makes the engine raise an error).
    Register(Operation),
    /// `momentum`: `POST /api/tasks` in the client's session.
    PostTask,
    /// `momentum`: `GET /api/tasks` of the client's session.
    ListTasks,
}

/// The keys the victims use, and the attacker's entries write too.
pub const KEYS: &[&str] = &["a", "b", "c", "d", "e", "f"];

/// The shape of a workload drawn from a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub registers_clients: u64,
    pub momentum_clients: u64,
    pub victim_requests: u64,
    pub attacker_clients: u64,
    /// Entries each attacker client draws after its share of the whole corpus.
    pub attacks_per_client: u64,
    /// Longest pause before a request (uniform, from the seed).
    pub think_max_ms: u64,
    pub storm: Option<Storm>,
}

/// The workload of `shape` drawn from `seed`: every entry but [`CPU_LOOP`] once, in
/// an order drawn from the seed, dealt round-robin to the attacker clients; then each
/// of them draws `attacks_per_client` more (with replacement) from the entries not
/// [`HEAVY`]. Each victim client draws its operations.
pub fn tenants(seed: u64, shape: &Shape) -> Tenants {
    let rng = Rng::seeded(seed).split("tenants");
    let think = |rng: &Rng| rng.below(shape.think_max_ms + 1);
    let every: Vec<&str> = corpus()
        .iter()
        .map(|entry| entry.name.as_str())
        .filter(|name| *name != CPU_LOOP)
        .collect();
    let light: Vec<&str> = every
        .iter()
        .copied()
        .filter(|name| !HEAVY.contains(name))
        .collect();
    let clients = shape.attacker_clients.max(1) as usize;
    let mut attackers: Vec<Vec<Attack>> = vec![Vec::new(); clients];
    for (n, entry) in shuffled(&rng.split("order"), &every)
        .into_iter()
        .enumerate()
    {
        attackers[n % clients].push(Attack {
            think_ms: think(&rng),
            entry: entry.to_owned(),
        });
    }
    for (client, attacks) in attackers.iter_mut().enumerate() {
        let rng = rng.split(&format!("attacker-{client}"));
        for _ in 0..shape.attacks_per_client {
            attacks.push(Attack {
                think_ms: think(&rng),
                entry: light[rng.below(light.len() as u64) as usize].to_owned(),
            });
        }
    }
    let mut victims = Vec::new();
    let apps = std::iter::repeat_n(VictimApp::Registers, shape.registers_clients as usize).chain(
        std::iter::repeat_n(VictimApp::Momentum, shape.momentum_clients as usize),
    );
    for (client, app) in apps.enumerate() {
        let rng = rng.split(&format!("victim-{client}"));
        let steps = (0..shape.victim_requests)
            .map(|_| VictimStep {
                think_ms: think(&rng),
                op: victim_op(&rng, app),
            })
            .collect();
        victims.push(VictimClient { app, steps });
    }
    Tenants {
        attackers,
        victims,
        storm: shape.storm,
    }
}

/// `items` in an order drawn from `rng` (Fisher-Yates).
fn shuffled<'a>(rng: &Rng, items: &[&'a str]) -> Vec<&'a str> {
    let mut items = items.to_vec();
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
    items
}

fn victim_op(rng: &Rng, app: VictimApp) -> VictimOp {
    match app {
        VictimApp::Momentum if rng.chance(1, 2) => VictimOp::PostTask,
        VictimApp::Momentum => VictimOp::ListTasks,
        VictimApp::Registers => {
            let space = [Space::Kv, Space::Ds, Space::S3][rng.below(3) as usize];
            let verb =
                [Verb::Get, Verb::Get, Verb::Put, Verb::Put, Verb::Update][rng.below(5) as usize];
            VictimOp::Register(Operation {
                space,
                verb,
                key: KEYS[rng.below(KEYS.len() as u64) as usize].to_owned(),
                app: None,
            })
        }
    }
}

/// Adversarial workloads for the property tests: 1-2 attacker clients of 1 to
/// `max_attacks` entries each (any entry but [`CPU_LOOP`], which the storm covers and
/// which costs a whole deadline), 1-3 victim clients of 1 to `max_steps` requests, no
/// storm.
pub fn strategy(max_attacks: usize, max_steps: usize) -> impl Strategy<Value = Tenants> {
    let names: Vec<String> = corpus()
        .iter()
        .map(|entry| entry.name.clone())
        .filter(|name| name != CPU_LOOP)
        .collect();
    let attack = (0u64..8, proptest::sample::select(names))
        .prop_map(|(think_ms, entry)| Attack { think_ms, entry });
    let register = (
        prop_oneof![Just(Space::Kv), Just(Space::Ds), Just(Space::S3)],
        prop_oneof![Just(Verb::Get), Just(Verb::Put), Just(Verb::Update)],
        proptest::sample::select(KEYS),
    )
        .prop_map(|(space, verb, key)| {
            VictimOp::Register(Operation {
                space,
                verb,
                key: key.to_owned(),
                app: None,
            })
        });
    let registers = proptest::collection::vec(
        (0u64..8, register).prop_map(|(think_ms, op)| VictimStep { think_ms, op }),
        1..=max_steps,
    )
    .prop_map(|steps| VictimClient {
        app: VictimApp::Registers,
        steps,
    });
    let momentum = proptest::collection::vec(
        (
            0u64..8,
            prop_oneof![Just(VictimOp::PostTask), Just(VictimOp::ListTasks)],
        )
            .prop_map(|(think_ms, op)| VictimStep { think_ms, op }),
        1..=max_steps,
    )
    .prop_map(|steps| VictimClient {
        app: VictimApp::Momentum,
        steps,
    });
    (
        proptest::collection::vec(proptest::collection::vec(attack, 1..=max_attacks), 1..=2),
        proptest::collection::vec(prop_oneof![registers, momentum], 1..=3),
    )
        .prop_map(|(attackers, victims)| Tenants {
            attackers,
            victims,
            storm: None,
        })
}
