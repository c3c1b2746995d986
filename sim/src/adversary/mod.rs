//! A hostile tenant beside well-behaved ones (issue 15): the `attacker` app
//! (`fixtures/adversarial/apps`) runs entries of the corpus of escape and exhaustion
//! primitives (`fixtures/adversarial/corpus`), concurrently with victim apps running
//! their normal workloads with canaries in everything they send; then the tenancy
//! invariants (`fazt_chaos::tenancy`) and the VM pool's are checked.
//!
//! | file | what lives there |
//! | --- | --- |
//! | `corpus.rs` | the corpus entries, and the request that sends one to the attacker |
//! | `tenants.rs` | the workload as data: attacker and victim clients, the storm; drawn from a seed or by proptest |
//! | `victims.rs` | the victims' requests: routes, bodies, cookies and tokens carrying canaries |
//! | `run.rs` | running a workload against the server and checking every invariant |
//! | `storage.rs` | each app's rows of the final database file, for the isolation check |

mod corpus;
mod run;
mod storage;
mod tenants;
mod victims;

pub use corpus::{corpus, corpus_dir, entry, Entry, CPU_LOOP, HEAVY, SIM_MB, SIM_N};
pub use run::{run, Bounds, DEADLINE, HARDENED_BOUNDS};
pub use tenants::{
    strategy, tenants, Attack, Shape, Storm, Tenants, VictimApp, VictimClient, VictimOp,
    VictimStep, KEYS,
};

/// The hostile app's name (its directory under `fixtures/adversarial/apps`).
pub const ATTACKER: &str = "attacker";
