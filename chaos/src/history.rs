//! What clients observed: operations on registers (a kv key, a document id, a blob
//! path), each with the real-time window it ran in and how it ended.
//!
//! Every write carries a value no other write uses, so any value read back names the
//! write that produced it.

/// How an operation ended, as its client knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged: it took effect between its invocation and completion.
    Ok,
    /// Definitely failed: the server said nothing was written.
    Failed,
    /// The client cannot know (timeout, dropped connection, outcome-unknown): it took
    /// effect at some time after its invocation, or never.
    Unknown,
}

/// What an operation did to its register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Read the register's value (`None`: absent).
    Read(Option<String>),
    /// Set the value, or delete it (`None`).
    Write(Option<String>),
    /// Create the value; only allowed while the register is absent.
    Insert(String),
    /// Replace the value if present (`matched`), or find it absent (`!matched`).
    Update { value: String, matched: bool },
}

/// One operation by one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The request's id (named in violations).
    pub request: String,
    pub client: String,
    /// Which register: `kv:<key>`, `ds:<id>`, `s3:<path>`.
    pub register: String,
    pub kind: OpKind,
    /// Virtual microseconds when the client sent it.
    pub invoked_us: u64,
    /// Virtual microseconds when the client had its answer.
    pub completed_us: u64,
    pub outcome: Outcome,
}

impl Op {
    /// The value this operation writes, if it writes one.
    pub fn written(&self) -> Option<&str> {
        match &self.kind {
            OpKind::Write(value) => value.as_deref(),
            OpKind::Insert(value) => Some(value),
            OpKind::Update {
                value,
                matched: true,
            } => Some(value),
            _ => None,
        }
    }

    /// The value it observed, if it is a read.
    pub fn observed(&self) -> Option<Option<&str>> {
        match &self.kind {
            OpKind::Read(value) => Some(value.as_deref()),
            _ => None,
        }
    }
}
