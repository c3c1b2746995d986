//! The simulated environment: the engine's seams on virtual time.
//!
//! Build it inside a turmoil host (or a paused tokio runtime): the clock reads tokio's
//! paused time, which turmoil advances.

mod clock;
mod cost;
mod cpu;
mod executor;

pub use clock::SimClock;
pub use cost::{CostModel, RuntimeStack};
pub use cpu::{SimCpu, TIMER_RESOLUTION};
pub use executor::SimExecutor;

use std::sync::Arc;

use fazt_engine::env::{Clock, Disk, Env, Rng};

use crate::disk::SimDisk;

/// The wall-clock time at virtual time zero: 2026-01-20T00:00:00Z, the day of seed 001.
/// Pinned so that stored timestamps are the same in every run.
pub const EPOCH_MS: i64 = 1_768_867_200_000;

/// A simulated environment for `seed`: virtual clock from [`EPOCH_MS`], the run's Rng,
/// and the inline executor with the default cost model.
pub fn sim_env(seed: u64) -> Env {
    sim_env_with(seed, CostModel::default())
}

/// [`sim_env`] with another cost model (tests that need slow work).
pub fn sim_env_with(seed: u64, cost: CostModel) -> Env {
    sim_env_on(seed, cost, None)
}

/// [`sim_env_with`] whose storage opens its database on `disk` (the simulated disk,
/// its latencies charged by the executor), or the OS's files when `None`.
pub fn sim_env_on(seed: u64, cost: CostModel, disk: Option<SimDisk>) -> Env {
    let cpu = Arc::new(SimCpu::default());
    let clock: Arc<dyn Clock> = Arc::new(SimClock::new(EPOCH_MS, cpu.clone()));
    let seam = disk.as_ref().map_or(Disk::Os, |_| SimDisk::seam());
    Env {
        executor: Arc::new(SimExecutor::new(clock.clone(), cpu, cost).on_disk(disk)),
        clock,
        rng: Rng::seeded(seed),
        recorder: fazt_engine::events::Recorder::tracing(),
        disk: seam,
    }
}
