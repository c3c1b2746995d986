//! The one seam through which the engine reports its [`Event`]s.

use std::future::Future;
use std::sync::Arc;

use super::{Event, Source};

/// Where events go. The real server's sink is [`TracingRecorder`]; the simulator's
/// keeps the typed events, stamped with virtual time, for its causes and invariants.
pub trait Record: Send + Sync {
    /// Takes one event; `execution` is the execution whose task emitted it (a storage
    /// event inside a storage call), when the event happened inside one.
    fn record(&self, execution: Option<u64>, event: Event);
}

/// The handle the engine emits through, carried on [`crate::env::Env`]. Cheap to clone.
#[derive(Clone)]
pub struct Recorder(Arc<dyn Record>);

impl Recorder {
    /// A recorder that hands every event to `sink`.
    pub fn new(sink: Arc<dyn Record>) -> Recorder {
        Recorder(sink)
    }

    /// The production recorder: events go to `tracing` at debug level.
    pub fn tracing() -> Recorder {
        Recorder(Arc::new(TracingRecorder))
    }

    /// Reports `event`, tagged with the execution being served on this task, if any.
    pub fn emit(&self, event: Event) {
        self.0.record(current_execution(), event);
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

/// Writes events to `tracing` under their source's target (`fazt::storage`, ...),
/// formatted only when a subscriber wants debug events of that target.
pub struct TracingRecorder;

impl Record for TracingRecorder {
    fn record(&self, execution: Option<u64>, event: Event) {
        // `target:` must be a constant, hence one arm per source.
        match event.source() {
            Source::Runtime => tracing::debug!(target: "fazt::runtime", ?execution, "{event}"),
            Source::Storage => tracing::debug!(target: "fazt::storage", ?execution, "{event}"),
            Source::Fault => tracing::debug!(target: "fazt::fault", ?execution, "{event}"),
            Source::Server => tracing::debug!(target: "fazt::server", ?execution, "{event}"),
        }
    }
}

tokio::task_local! {
    /// The execution whose storage call this task is serving.
    static EXECUTION: u64;
}

/// Runs `future` as the work of `execution`: the events it emits carry that id, so a
/// trace can tell whose write held a lock.
pub async fn serving<F: Future>(execution: u64, future: F) -> F::Output {
    EXECUTION.scope(execution, future).await
}

/// The execution being served on this task (see [`serving`]).
pub fn current_execution() -> Option<u64> {
    EXECUTION.try_with(|execution| *execution).ok()
}
