//! The event trace of a run and its hash: same inputs, same bytes, same hash.
//!
//! Events are typed: the engine's [`fazt_engine::events::Event`]s as the engine emitted
//! them, the fault schedule's actions, and notes from the run's own actors (clients,
//! workloads, adversaries). Checkers match on the variants; nothing parses text.

use fazt_chaos::Action;
use fazt_engine::events::Event as EngineEvent;
use fazt_engine::storage::StorageError;
use serde::Serialize;

/// One event, with its virtual time in microseconds since the run started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub at_us: u64,
    #[serde(flatten)]
    pub what: What,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum What {
    /// An engine event; `execution` is the execution whose task emitted it (a storage
    /// event inside that execution's storage call), when there was one.
    Engine {
        execution: Option<u64>,
        event: EngineEvent,
    },
    /// The fault schedule applied `action`.
    Fault { action: Action },
    /// A timed fault of the schedule ended.
    FaultEnded { end: FaultEnd },
    /// The adversary's own connection took (`taken`) or released the write lock.
    AdversaryLock { taken: bool },
    /// A client, workload or adversary of the run did something (for people reading
    /// the trace and for the run's own bookkeeping).
    Note { actor: String, text: Said },
}

/// What a note says: a client's request and its answer, typed for the timeline and
/// checkers, or free text. Serialized as the text people read (`send c0-1`,
/// `answer c0-1 Ok`), so the trace's bytes and hash do not depend on the typing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Said {
    /// The actor sent `request`.
    Sent { request: String },
    /// The actor got its answer to `request`: `says` as the trace shows it
    /// (`status=200`, `Ok`), `failure` the error kind it saw when the request failed.
    Answered {
        request: String,
        says: String,
        failure: Option<String>,
    },
    /// The actor's operation `label`, begun at `started_us`, ended now: ok, or
    /// failed with error kind `failure` (workloads calling storage directly).
    Attempted {
        label: String,
        started_us: u64,
        failure: Option<String>,
    },
    /// Anything else.
    Other(String),
}

impl Said {
    /// The note of a storage operation `label` begun at `started_us` that ended with
    /// `result`.
    pub fn attempted<T>(label: String, started_us: u64, result: &Result<T, StorageError>) -> Said {
        Said::Attempted {
            label,
            started_us,
            failure: result.as_ref().err().map(|error| error.kind().to_owned()),
        }
    }
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Said::Sent { request } => write!(f, "send {request}"),
            Said::Answered { request, says, .. } => write!(f, "answer {request} {says}"),
            Said::Attempted {
                label,
                failure: None,
                ..
            } => write!(f, "{label} ok"),
            Said::Attempted {
                label,
                failure: Some(kind),
                ..
            } => write!(f, "{label} failed {kind}"),
            Said::Other(text) => f.write_str(text),
        }
    }
}

impl Serialize for Said {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl From<String> for Said {
    fn from(text: String) -> Said {
        Said::Other(text)
    }
}

impl From<&str> for Said {
    fn from(text: &str) -> Said {
        Said::Other(text.to_owned())
    }
}

/// How a timed fault ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultEnd {
    Released,
    Repaired,
    LatencyRestored,
    ServerRestarted,
}

impl Event {
    /// The engine event, when this is one.
    pub fn engine(&self) -> Option<&EngineEvent> {
        match &self.what {
            What::Engine { event, .. } => Some(event),
            _ => None,
        }
    }

    /// The execution an engine event belongs to: the one it names, else the one whose
    /// task emitted it.
    pub fn execution(&self) -> Option<u64> {
        match &self.what {
            What::Engine { execution, event } => event.execution().or(*execution),
            _ => None,
        }
    }

    /// Whether this is a note of `actor` saying exactly `text`.
    pub fn is_note(&self, of: &str, says: &str) -> bool {
        matches!(&self.what, What::Note { actor, text } if actor == of && text.to_string() == says)
    }
}

/// Events in the order they happened.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trace {
    pub events: Vec<Event>,
}

impl Trace {
    pub fn record(&mut self, at_us: u64, what: What) {
        self.events.push(Event { at_us, what });
    }

    /// Records an engine event (tests build traces with it).
    pub fn engine(&mut self, at_us: u64, execution: Option<u64>, event: EngineEvent) {
        self.record(at_us, What::Engine { execution, event });
    }

    /// Records a note of `actor`.
    pub fn note(&mut self, at_us: u64, actor: impl Into<String>, text: impl Into<Said>) {
        self.record(
            at_us,
            What::Note {
                actor: actor.into(),
                text: text.into(),
            },
        );
    }

    /// sha256 over the typed events serialized as JSON lines, first 16 hex digits.
    pub fn hash(&self) -> String {
        fazt_engine::storage::sha256_hex(self.to_json_lines().as_bytes())[..16].to_owned()
    }

    /// The trace as JSON lines.
    pub fn to_json_lines(&self) -> String {
        self.events
            .iter()
            .map(|event| serde_json::to_string(event).expect("events serialize") + "\n")
            .collect()
    }
}
