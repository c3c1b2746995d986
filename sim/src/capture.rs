//! Records a run's events into its [`Trace`], stamped with virtual time: the engine's
//! typed events through the [`Recorder`] seam of its [`Env`], and the run's own
//! (faults, clients, workloads) through [`Capture::record_at`].

use std::sync::{Arc, Mutex};

use fazt_engine::env::{Clock, Env, Instant};
use fazt_engine::events::{Event as EngineEvent, Record, Recorder};

use crate::trace::{Said, Trace, What};

/// Where events go, and the clock that stamps them (set once the simulated host has
/// made its environment).
#[derive(Clone, Default)]
pub struct Capture {
    trace: Arc<Mutex<Trace>>,
    clock: Arc<Mutex<Option<Stamp>>>,
}

/// The engine host's clock, the instant events are measured from, and the virtual
/// microseconds that instant stands for (non-zero after a restart).
type Stamp = (Arc<dyn Clock>, Instant, u64);

impl Capture {
    /// `env` with its events recorded here, stamped with its clock from now on. A host
    /// restarted after a crash has a new clock: its events continue from the
    /// simulation's elapsed time.
    pub fn attach(&self, env: Env) -> Env {
        self.start_clock(env.clock.clone());
        Env {
            recorder: Recorder::new(Arc::new(self.clone())),
            ..env
        }
    }

    fn start_clock(&self, clock: Arc<dyn Clock>) {
        let origin = clock.now();
        let mut stamp = self.clock.lock().expect("capture clock");
        let offset = match &*stamp {
            None => 0,
            Some(_) => turmoil::sim_elapsed().map_or(0, |elapsed| {
                u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
            }),
        };
        *stamp = Some((clock, origin, offset));
    }

    /// Microseconds of virtual time since [`Capture::attach`], on the engine host's
    /// clock (call only from that host).
    fn now_us(&self) -> u64 {
        match &*self.clock.lock().expect("capture clock") {
            Some((clock, origin, offset)) => offset.saturating_add(
                u64::try_from(clock.now().saturating_duration_since(*origin).as_micros())
                    .unwrap_or(u64::MAX),
            ),
            None => 0,
        }
    }

    /// Records `what` at `at_us` of virtual time. Each turmoil host has its own tokio
    /// clock (with its own base), so a workload host stamps its events with its own
    /// clock, relative to its own start: every host starts at virtual time zero.
    pub fn record_at(&self, at_us: u64, what: What) {
        self.trace.lock().expect("trace").record(at_us, what);
    }

    /// Records a note of `actor` at `at_us`.
    pub fn note_at(&self, at_us: u64, actor: impl Into<String>, text: impl Into<Said>) {
        self.trace.lock().expect("trace").note(at_us, actor, text);
    }

    /// The trace recorded so far.
    pub fn trace(&self) -> Trace {
        self.trace.lock().expect("trace").clone()
    }
}

impl Record for Capture {
    fn record(&self, execution: Option<u64>, event: EngineEvent) {
        let at = self.now_us();
        self.record_at(at, What::Engine { execution, event });
    }
}
