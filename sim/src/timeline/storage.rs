//! The storage tracks: one per connection. The queue's writer with its group commits
//! (each a hold of the write lock), each reader connection with the read attempts it
//! served (from checkout to return: in the simulator a job runs at one instant and
//! its cost is charged after, so these are instants; the read's duration is its
//! storage call's, on its VM's track), the direct path's writes (from `BEGIN` to `COMMIT`, the lock held while
//! their statements apply), the adversary's own connection's lock holds, the queue's
//! admissions and refusals, busy meetings, busy timeouts, replaced connections and
//! the background writes.

use fazt_engine::events::chrome::Timeline;
use fazt_engine::events::Event;
use serde_json::{json, Value};

use super::open::Open;

/// The process the storage tracks belong to.
const STORAGE: &str = "storage";
/// The queue's writer's track.
const WRITER: &str = "writer (queue)";
/// The direct path's track.
const DIRECT: &str = "direct writes";

/// Lock holds in progress.
#[derive(Default)]
pub struct Storage {
    /// The queue's writer's group (one at a time).
    group: Open<()>,
    /// Direct writes by executor: an execution, or `None` for the server's own.
    direct: Open<Option<u64>>,
    /// The adversary's lock hold.
    adversary: Open<()>,
    /// Read attempts by reader connection.
    reads: Open<usize>,
}

impl Storage {
    pub fn draw(
        &mut self,
        timeline: &mut Timeline,
        at: u64,
        execution: Option<u64>,
        event: &Event,
    ) {
        let instant: (String, String, Value) = match event {
            Event::ReaderCheckout { reader } => {
                let span = (
                    timeline.track(STORAGE, &format!("reader {reader}")),
                    "read".to_owned(),
                );
                let args = json!({ "execution": execution });
                self.reads.begin(timeline, *reader, span, at, args);
                return;
            }
            Event::ReaderReturn { reader } => {
                self.reads.end(timeline, reader, at, &json!({}));
                return;
            }
            Event::GroupStarted { writes } => {
                let span = (
                    timeline.track(STORAGE, WRITER),
                    format!("group of {writes}"),
                );
                self.group
                    .begin(timeline, (), span, at, json!({ "writes": writes }));
                return;
            }
            Event::GroupCommitted { applied, .. } => {
                self.group
                    .end(timeline, &(), at, &json!({ "applied": applied }));
                return;
            }
            Event::CommitUnconfirmed { error, .. } => {
                self.group
                    .end(timeline, &(), at, &json!({ "unconfirmed": error }));
                (
                    WRITER.into(),
                    "commit unconfirmed".into(),
                    json!({ "error": error }),
                )
            }
            Event::WriterBusy {
                attempt,
                conn,
                busy_timeout_ms,
                lock_wait,
                ..
            } => {
                self.group.end(timeline, &(), at, &json!({ "busy": true }));
                let args = json!({ "attempt": attempt, "conn": conn, "busy_timeout_ms": busy_timeout_ms, "lock_wait": lock_wait });
                (WRITER.into(), "busy".into(), args)
            }
            Event::DirectWriteStarted { write } => {
                let span = (timeline.track(STORAGE, DIRECT), (*write).to_owned());
                self.direct.begin(
                    timeline,
                    execution,
                    span,
                    at,
                    json!({ "execution": execution }),
                );
                return;
            }
            Event::DirectWriteCommitting { .. } => {
                self.direct.end(timeline, &execution, at, &json!({}));
                return;
            }
            Event::DirectWriteBusy {
                write,
                attempt,
                conn,
                busy_timeout_ms,
                lock_wait,
            } => {
                self.direct
                    .end(timeline, &execution, at, &json!({ "busy": true }));
                let args = json!({ "write": write, "attempt": attempt, "conn": conn, "busy_timeout_ms": busy_timeout_ms, "lock_wait": lock_wait, "execution": execution });
                (DIRECT.into(), "busy".into(), args)
            }
            Event::BusyAtUpgrade { write } => (
                DIRECT.into(),
                "busy at upgrade".into(),
                json!({ "write": write, "execution": execution }),
            ),
            Event::BusyTimeoutExpired { waited_ms } => (
                "busy handler".into(),
                "busy timeout expired".into(),
                json!({ "waited_ms": waited_ms, "execution": execution }),
            ),
            Event::ConnectionReplaced { conn, generation } => (
                format!("connection {conn}"),
                "replaced, busy timeout lost".into(),
                json!({ "generation": generation }),
            ),
            Event::WriteQueued { write, waiting } => (
                "queue".into(),
                format!("queued {write}"),
                json!({ "waiting": waiting, "execution": execution }),
            ),
            Event::WriteRefused {
                write,
                waiting,
                remaining_us,
                needed_us,
            } => {
                let args = json!({ "waiting": waiting, "remaining_us": remaining_us, "needed_us": needed_us, "execution": execution });
                ("queue".into(), format!("refused {write}"), args)
            }
            Event::WriteAbandoned => (
                "queue".into(),
                "abandoned".into(),
                json!({ "execution": execution }),
            ),
            Event::AnalyticsFlushed { events, bypass } => (
                "background".into(),
                "analytics flushed".into(),
                json!({ "events": events, "bypass": bypass }),
            ),
            Event::AnalyticsFlushFailed {
                events,
                bypass,
                kind,
            } => {
                let args = json!({ "events": events, "bypass": bypass, "kind": kind });
                ("background".into(), "analytics flush failed".into(), args)
            }
            Event::RequestLogWriteFailed { kind } => (
                "background".into(),
                "request-log row failed".into(),
                json!({ "kind": kind }),
            ),
            _ => return,
        };
        let (thread, name, args) = instant;
        let track = timeline.track(STORAGE, &thread);
        timeline.instant(track, name, at, args);
    }

    /// The adversary's own connection took (`taken`) or released the write lock.
    pub fn adversary_lock(&mut self, timeline: &mut Timeline, at: u64, taken: bool) {
        if taken {
            let span = (
                timeline.track(STORAGE, "adversary connection"),
                "write lock held".to_owned(),
            );
            self.adversary.begin(timeline, (), span, at, json!({}));
        } else {
            self.adversary.end(timeline, &(), at, &json!({}));
        }
    }

    /// Ends the server's lock holds at `at_us`: it went down.
    pub fn cut(&mut self, timeline: &mut Timeline, at_us: u64, why: &Value) {
        self.group.end_all(timeline, at_us, why);
        self.direct.end_all(timeline, at_us, why);
        self.reads.end_all(timeline, at_us, why);
    }

    /// Ends every lock hold at `at_us`: the trace ends.
    pub fn finish(&mut self, timeline: &mut Timeline, at_us: u64, why: &Value) {
        self.cut(timeline, at_us, why);
        self.adversary.end_all(timeline, at_us, why);
    }
}
