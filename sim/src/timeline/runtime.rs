//! The runtime's tracks: one per VM with the executions it ran and, nested in them,
//! their storage calls; the legacy watchers' ends and interrupts as instants; the
//! admission gate's refusals as waits.

use std::collections::BTreeMap;

use fazt_engine::events::chrome::Timeline;
use fazt_engine::events::{Event, RequestOutcome};
use fazt_engine::runtime::WatcherEnd;
use serde_json::{json, Value};

use super::open::Open;

/// The process the VM tracks belong to.
const VMS: &str = "VMs";
/// The process of the server's own tracks (admission).
const SERVER: &str = "server";

/// Executions and storage calls in progress, and what is known of each execution
/// before its VM goes back.
#[derive(Default)]
pub struct Runtime {
    executions: Open<u64>,
    storage_calls: Open<u64>,
    /// Execution → its failure, until its VM goes back.
    failed: BTreeMap<u64, Value>,
    /// Request id → the execution that served it.
    pub served_by: BTreeMap<String, u64>,
}

impl Runtime {
    pub fn draw(&mut self, timeline: &mut Timeline, at: u64, event: &Event) {
        let vm_track = |timeline: &mut Timeline, vm: u64| timeline.track(VMS, &format!("vm {vm}"));
        match event {
            Event::VmCheckout { execution, vm } => {
                let track = vm_track(timeline, *vm);
                let span = (track, format!("execution {execution}"));
                self.executions.begin(
                    timeline,
                    *execution,
                    span,
                    at,
                    json!({ "execution": execution }),
                );
            }
            Event::ExecutionFailed {
                execution,
                kind,
                cause,
                interrupted,
                ..
            } => {
                self.failed.insert(
                    *execution,
                    json!({ "failed": kind, "cause": cause, "interrupted": interrupted }),
                );
                if let Some(track) = self.executions.track(execution) {
                    timeline.instant(
                        track,
                        format!("failed: {kind}"),
                        at,
                        json!({ "execution": execution, "cause": cause }),
                    );
                }
            }
            Event::Watcher { execution, vm, end } => {
                let name = match end {
                    WatcherEnd::InTime => "watcher in time",
                    WatcherEnd::LatePickedDone => "watcher late, picked done",
                    WatcherEnd::LateInterruptedPooledVm => "interrupt left on the pooled VM",
                };
                let track = vm_track(timeline, *vm);
                timeline.instant(track, name, at, json!({ "execution": execution }));
            }
            Event::VmReturn {
                execution,
                discarded,
                ..
            } => {
                let mut args = self.failed.remove(execution).unwrap_or_else(|| json!({}));
                args["discarded"] = json!(discarded);
                self.storage_calls
                    .end(timeline, execution, at, &json!({ "unfinished": true }));
                self.executions.end(timeline, execution, at, &args);
            }
            Event::VmEvicted { vm } => {
                let track = vm_track(timeline, *vm);
                timeline.instant(track, "evicted", at, json!({}));
            }
            Event::StorageCall {
                execution,
                operation,
            } => {
                if let Some(track) = self.executions.track(execution) {
                    let span = (track, operation.to_string());
                    self.storage_calls
                        .begin(timeline, *execution, span, at, json!({}));
                }
            }
            Event::StorageAnswer {
                execution,
                ok,
                took_us,
            } => {
                self.storage_calls.end(
                    timeline,
                    execution,
                    at,
                    &json!({ "ok": ok, "took_us": took_us }),
                );
            }
            Event::Overloaded { execution } => {
                let track = timeline.track(SERVER, "admission");
                timeline.instant(
                    track,
                    "no VM free in time",
                    at,
                    json!({ "execution": execution }),
                );
            }
            Event::RequestRefused {
                request_id,
                waited_us,
                cause,
            } => {
                let track = timeline.track(SERVER, "admission");
                let args = json!({ "request": request_id, "cause": cause });
                timeline.span(
                    track,
                    format!("refused {request_id}"),
                    at.saturating_sub(*waited_us),
                    at,
                    args,
                );
            }
            Event::Request {
                request_id,
                execution,
                outcome,
                ..
            } => {
                self.served_by.insert(request_id.clone(), *execution);
                if let RequestOutcome::Error(kind) = outcome {
                    let track = timeline.track(SERVER, "failed requests");
                    timeline.instant(
                        track,
                        format!("{request_id}: {kind}"),
                        at,
                        json!({ "execution": execution }),
                    );
                }
            }
            _ => {}
        }
    }

    /// Ends every span in progress at `at_us`: the server went down.
    pub fn cut(&mut self, timeline: &mut Timeline, at_us: u64, why: &Value) {
        self.storage_calls.end_all(timeline, at_us, why);
        self.executions.end_all(timeline, at_us, why);
        self.failed.clear();
    }
}
