//! Building a turmoil simulation the same way for every run.

use std::time::{Duration, UNIX_EPOCH};

use crate::env::EPOCH_MS;

/// Virtual time per simulation step: tokio's timer resolution, below which a finer
/// step would change nothing.
pub const TICK: Duration = Duration::from_millis(1);

/// One-way network latency between hosts: fixed, so that time spent in the network is
/// not a source of noise in latencies (turmoil's default draws up to 100 ms).
pub const NETWORK_LATENCY: Duration = Duration::ZERO;

/// Longest virtual time a run may take before turmoil stops it as stuck.
pub const RUN_LIMIT: Duration = Duration::from_secs(600);

/// Capacity of a host's TCP buffers, the listen backlog included: Linux's default
/// `somaxconn` (4096). turmoil's default (64) panics when more clients connect at once.
pub const TCP_CAPACITY: usize = 4096;

/// A simulation with pinned epoch, seed, tick, network latency and duration.
pub fn build<'a>(seed: u64) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_MS as u64))
        .tick_duration(TICK)
        .min_message_latency(NETWORK_LATENCY)
        .max_message_latency(NETWORK_LATENCY)
        .simulation_duration(RUN_LIMIT)
        .tcp_capacity(TCP_CAPACITY)
        .rng_seed(seed)
        .build()
}
