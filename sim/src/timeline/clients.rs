//! The clients' tracks: one per client (or workload, adversary) with each request from
//! its sending to its answer, each operation of a workload calling storage directly;
//! a failed request carries its error kind and root cause ([`crate::causes`]) and is
//! marked with an instant; other notes are instants.

use std::collections::BTreeMap;

use fazt_engine::events::chrome::Timeline;
use serde_json::{json, Value};

use super::open::Open;
use crate::causes::{cause_class, Causes};
use crate::trace::Said;

/// The process the client tracks belong to.
const CLIENTS: &str = "clients";

/// Requests sent and not yet answered, by (actor, request).
#[derive(Default)]
pub struct Clients {
    requests: Open<(String, String)>,
}

impl Clients {
    /// `actor` said `said` at `at`; `served_by` maps request ids to executions.
    pub fn draw(
        &mut self,
        timeline: &mut Timeline,
        at: u64,
        (actor, said): (&str, &Said),
        causes: &Causes,
        served_by: &BTreeMap<String, u64>,
    ) {
        let track = timeline.track(CLIENTS, actor);
        match said {
            Said::Sent { request } => {
                let key = (actor.to_owned(), request.clone());
                self.requests
                    .begin(timeline, key, (track, request.clone()), at, json!({}));
            }
            Said::Answered {
                request,
                says,
                failure,
            } => {
                let mut args = json!({ "answer": says, "execution": served_by.get(request) });
                if let Some(kind) = failure {
                    let cause = causes.root_cause(request, kind);
                    timeline.instant(
                        track,
                        format!("failed: {}", cause_class(&cause)),
                        at,
                        json!({ "request": request, "cause": cause }),
                    );
                    args["failed"] = json!(kind);
                    args["cause"] = json!(cause);
                }
                let key = (actor.to_owned(), request.clone());
                self.requests.end(timeline, &key, at, &args);
            }
            Said::Attempted {
                label,
                started_us,
                failure,
            } => {
                if let Some(kind) = failure {
                    let failed = format!("failed: {kind}");
                    timeline.instant(track, failed, at, json!({ "operation": label }));
                }
                let args = json!({ "failed": failure });
                timeline.span(track, label.as_str(), *started_us, at, args);
            }
            Said::Other(text) => timeline.instant(track, text.as_str(), at, json!({})),
        }
    }

    /// Ends the requests still waiting for an answer at `at_us`.
    pub fn finish(&mut self, timeline: &mut Timeline, at_us: u64, why: &Value) {
        self.requests.end_all(timeline, at_us, why);
    }
}
