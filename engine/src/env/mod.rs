//! The environment seams: everything the engine needs from the outside world that
//! would make a run unrepeatable if read directly.
//!
//! | seam | real ([`Env::real`]) | simulated (built by `fazt-sim`) |
//! | --- | --- | --- |
//! | [`Clock`] | tokio time + `SystemTime` | tokio's paused clock inside turmoil, pinned epoch |
//! | [`Rng`] | seeded from the OS | one seed per run, split per component |
//! | [`Executor`] | worker threads | inline on the sim thread, CPU cost as virtual time |
//! | [`Recorder`] | typed events to `tracing` | typed events kept in the run's trace |
//! | [`Disk`] | the OS's files (SQLite's default VFS) | a simulated disk (a VFS of its own) |
//!
//! The engine receives an [`Env`] at construction and never reads time, randomness or
//! threads any other way; `clippy.toml` bans the direct calls outside `env/`.

mod clock;
mod disk;
mod executor;
mod rng;

pub use clock::{timeout_at, Clock, Deadline, Elapsed, Instant, RealClock, Sleep};
pub use disk::Disk;
pub use executor::{run_blocking, run_read, Executor, Job, Syscall, ThreadPoolExecutor, Work};
pub use rng::Rng;

use std::sync::Arc;

pub use crate::events::Recorder;

/// The set of seams handed to every engine component.
#[derive(Clone)]
pub struct Env {
    pub clock: Arc<dyn Clock>,
    pub rng: Rng,
    pub executor: Arc<dyn Executor>,
    /// Where the engine's typed trace events go.
    pub recorder: Recorder,
    pub disk: Disk,
}

impl Env {
    /// The production environment: system clock, OS-seeded randomness and one SQLite
    /// worker thread per available core.
    pub fn real() -> Env {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Env {
            clock: Arc::new(RealClock::new()),
            rng: Rng::from_os(),
            executor: Arc::new(ThreadPoolExecutor::new(threads)),
            recorder: Recorder::tracing(),
            disk: Disk::Os,
        }
    }

    /// A copy whose Rng is split off for `component`, so that components draw from
    /// independent, reproducible streams.
    pub fn for_component(&self, component: &str) -> Env {
        Env {
            clock: self.clock.clone(),
            rng: self.rng.split(component),
            executor: self.executor.clone(),
            recorder: self.recorder.clone(),
            disk: self.disk.clone(),
        }
    }
}
