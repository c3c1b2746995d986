//! `noisy-neighbor`: a hostile tenant beside two well-behaved ones on one server
//! (issue 15).
//!
//! The server hosts the fixture apps and the `attacker` (`fixtures/adversarial/apps`),
//! whose handler runs the JavaScript its request carries. Drawn from the seed
//! ([`crate::adversary::tenants`]):
//! - 3 attacker clients: between them, every corpus entry but the CPU loop once, in an
//!   order from the seed; then 8 more each, drawn from the entries that are not heavy;
//! - a storm: 6 CPU loops (`while (true) {}`) per execution slot, all at once, 100 ms
//!   in, once the escapes have had their chance (6 x 100 ms deadlines is more than the
//!   500 ms admission wait: a victim queued behind them may be refused);
//! - victims: 3 clients of `registers` (kv, ds, s3 under the keys `a`-`f`, which the
//!   attacker writes too; duplicate inserts make the engine raise errors) and 2 of
//!   `momentum` (tasks), 40 requests each (`--requests`), every request carrying
//!   canaries in its value, session, cookie and bearer token.
//!
//! Every execution's deadline is [`crate::adversary::DEADLINE`] (100 ms), for every
//! profile. Checked after the run (violations): `isolation` (no app's response or
//! stored row holds another app's canary), `victim-availability` and `victim-latency`
//! (each victim >= 99% ok, p99 <= 50 virtual ms), `host-memory` (VMs alive within the
//! pool's size at every sample, no response over 16 MiB), and the VM pool's
//! invariants. See [`crate::adversary::HARDENED_BOUNDS`] for why these bounds.

use crate::adversary::{self, Shape, Storm, HARDENED_BOUNDS};
use crate::profile::Profile;
use crate::run::Run;

pub const SUMMARY: &str =
    "an attacker app running the escape/exhaustion corpus and a CPU-loop storm beside registers and momentum with canaries";

/// Sizes of the workload.
#[derive(Clone, Debug)]
pub struct Options {
    pub shape: Shape,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            shape: Shape {
                registers_clients: 3,
                momentum_clients: 2,
                victim_requests: 40,
                attacker_clients: 3,
                attacks_per_client: 8,
                think_max_ms: 10,
                storm: Some(Storm {
                    at_ms: 100,
                    per_slot: 6,
                }),
            },
        }
    }
}

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let tenants = adversary::tenants(seed, &options.shape);
    adversary::run("noisy-neighbor", profile, seed, &tenants, &HARDENED_BOUNDS)
}
