//! Recent requests for `/api/_debug/traces`: a bounded ring buffer, newest last, with
//! where each request's time went.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// Longest path kept in a trace.
const PATH_CHARS_MAX: usize = 256;

/// Where one finished request's time went, for `/api/_debug/traces` (not the
/// simulator's run trace, `fazt_sim::trace::Trace`). Durations in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestTrace {
    pub id: String,
    /// The app, when the Host named a deployed one.
    pub app: Option<String>,
    pub method: String,
    /// The URL path (no query string: it may carry session ids).
    pub path: String,
    pub status: u16,
    /// Wall-clock milliseconds at the request's arrival.
    pub at_ms: i64,
    pub duration_us: u64,
    /// Reading the request's head and body, before the admission gate (handler
    /// requests).
    pub read_us: u64,
    /// Waiting for an execution slot (the admission gate).
    pub admission_us: u64,
    /// Waiting for a VM inside a worker.
    pub vm_wait_us: u64,
    /// The VM that ran the handler.
    pub vm: Option<u64>,
    /// Running the handler, storage waits included.
    pub execute_us: u64,
    /// Waiting on storage calls.
    pub storage_us: u64,
    pub storage_calls: u64,
    /// The error kind, for failed requests.
    pub error: Option<String>,
}

impl RequestTrace {
    pub fn new(id: &str, method: &str, path: &str, at_ms: i64) -> RequestTrace {
        RequestTrace {
            id: id.to_owned(),
            method: method.to_owned(),
            path: path.chars().take(PATH_CHARS_MAX).collect(),
            at_ms,
            ..RequestTrace::default()
        }
    }
}

/// Microseconds, saturating.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The last `capacity` traces.
pub struct TraceRing {
    capacity: usize,
    traces: Mutex<VecDeque<RequestTrace>>,
}

impl TraceRing {
    pub fn new(capacity: usize) -> TraceRing {
        TraceRing {
            capacity: capacity.max(1),
            traces: Mutex::new(VecDeque::new()),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Adds `trace`, dropping the oldest when full.
    pub fn push(&self, trace: RequestTrace) {
        let mut traces = self.traces.lock().expect("trace ring");
        if traces.len() == self.capacity {
            traces.pop_front();
        }
        traces.push_back(trace);
    }

    /// Up to `limit` traces, newest first.
    pub fn recent(&self, limit: usize) -> Vec<RequestTrace> {
        let traces = self.traces.lock().expect("trace ring");
        traces.iter().rev().take(limit).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest() {
        let ring = TraceRing::new(3);
        for n in 0..5 {
            ring.push(RequestTrace::new(&n.to_string(), "GET", "/", 0));
        }
        let ids: Vec<String> = ring.recent(10).into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["4", "3", "2"]);
        assert_eq!(ring.recent(1).len(), 1);
        assert_eq!(
            RequestTrace::new("x", "GET", &"p".repeat(1000), 0)
                .path
                .len(),
            PATH_CHARS_MAX
        );
    }
}
