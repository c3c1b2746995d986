//! The event trace of a run and its hash: same inputs, same bytes, same hash.

use serde::Serialize;

/// One event, with its virtual time in microseconds since the run started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub at_us: u64,
    pub actor: String,
    pub what: String,
}

/// Events in the order they happened.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trace {
    pub events: Vec<Event>,
}

impl Trace {
    pub fn record(&mut self, at_us: u64, actor: impl Into<String>, what: impl Into<String>) {
        self.events.push(Event {
            at_us,
            actor: actor.into(),
            what: what.into(),
        });
    }

    /// sha256 over the events as JSON lines, first 16 hex digits.
    pub fn hash(&self) -> String {
        let lines: String = self
            .events
            .iter()
            .map(|event| serde_json::to_string(event).expect("events serialize") + "\n")
            .collect();
        fazt_engine::storage::sha256_hex(lines.as_bytes())[..16].to_owned()
    }

    /// The trace as JSON lines.
    pub fn to_json_lines(&self) -> String {
        self.events
            .iter()
            .map(|event| serde_json::to_string(event).expect("events serialize") + "\n")
            .collect()
    }
}
