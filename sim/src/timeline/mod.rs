//! A run as a timeline a person can open: `fazt-sim run ... --timeline FILE` writes the
//! typed trace ([`crate::trace`]) as Chrome trace-event JSON for Perfetto
//! (ui.perfetto.dev) or `chrome://tracing`, drawn with the engine's format-neutral
//! [`fazt_engine::events::chrome::Timeline`].
//!
//! | process | tracks |
//! | --- | --- |
//! | `clients` | one per client: each request from sending to answer, failures flagged with their root cause ([`clients`]) |
//! | `VMs` | one per VM: executions, their storage calls nested, watcher ends and interrupts ([`runtime`]) |
//! | `server` | admission refusals (waits), failed requests |
//! | `storage` | one track per connection: the queue's writer (group commits), each reader (its reads), direct writes, the adversary's lock holds, the queue, busy, background writes ([`storage`]) |
//! | `faults` | the schedule's actions, the server's time down, failpoints ([`faults`]) |
//!
//! It reads only the trace: what is drawn is what the run recorded.

mod clients;
mod faults;
mod open;
mod runtime;
mod storage;

use fazt_chaos::Action;
use fazt_engine::events::chrome::Timeline;
use fazt_engine::events::Event as EngineEvent;
use serde_json::{json, Value};

use crate::causes::Causes;
use crate::trace::{Trace, What};

/// `trace` as Chrome trace-event JSON.
pub fn chrome(trace: &Trace) -> Value {
    let causes = Causes::new(trace);
    let mut timeline = Timeline::with_processes(&["clients", "server", "VMs", "storage", "faults"]);
    let mut clients = clients::Clients::default();
    let mut runtime = runtime::Runtime::default();
    let mut storage = storage::Storage::default();
    for event in &trace.events {
        let at = event.at_us;
        match &event.what {
            What::Engine { execution, event } => {
                if let EngineEvent::Fault { point, n } = event {
                    faults::failpoint(&mut timeline, at, point, *n);
                }
                runtime.draw(&mut timeline, at, event);
                storage.draw(&mut timeline, at, *execution, event);
            }
            What::Fault { action } => {
                if matches!(action, Action::Crash { .. } | Action::PowerLoss { .. }) {
                    let why = json!({ "cut": action.describe() });
                    runtime.cut(&mut timeline, at, &why);
                    storage.cut(&mut timeline, at, &why);
                }
                faults::action(&mut timeline, at, action);
            }
            What::FaultEnded { end } => faults::ended(&mut timeline, at, *end),
            What::AdversaryLock { taken } => storage.adversary_lock(&mut timeline, at, *taken),
            What::Note { actor, text } => {
                let said = (actor.as_str(), text);
                clients.draw(&mut timeline, at, said, &causes, &runtime.served_by);
            }
        }
    }
    let end = trace
        .events
        .iter()
        .map(|event| event.at_us)
        .max()
        .unwrap_or(0);
    let unfinished = json!({ "unfinished": true });
    clients.finish(&mut timeline, end, &unfinished);
    runtime.cut(&mut timeline, end, &unfinished);
    storage.finish(&mut timeline, end, &unfinished);
    timeline.to_json()
}

#[cfg(test)]
mod tests {
    use fazt_engine::events::chrome::validate;

    use super::*;
    use crate::trace::Said;
    use fazt_engine::runtime::Operation;

    #[test]
    fn a_failed_request_is_drawn_with_its_execution_and_cause() {
        let mut trace = Trace::default();
        let sent = Said::Sent {
            request: "r1".into(),
        };
        trace.note(0, "client", sent);
        trace.engine(
            10,
            None,
            EngineEvent::VmCheckout {
                execution: 1,
                vm: 2,
            },
        );
        let call = EngineEvent::StorageCall {
            execution: 1,
            operation: Operation::KvSet,
        };
        trace.engine(20, Some(1), call);
        trace.engine(25, Some(1), EngineEvent::GroupStarted { writes: 1 });
        trace.engine(
            30,
            Some(1),
            EngineEvent::GroupCommitted {
                writes: 1,
                applied: 1,
            },
        );
        let answer = EngineEvent::StorageAnswer {
            execution: 1,
            ok: true,
            took_us: 15,
        };
        trace.engine(35, Some(1), answer);
        let failed = EngineEvent::ExecutionFailed {
            execution: 1,
            vm: 2,
            kind: "TimeoutError".into(),
            cause: None,
            interrupted: true,
        };
        trace.engine(40, None, failed);
        trace.engine(
            41,
            None,
            EngineEvent::VmReturn {
                execution: 1,
                vm: 2,
                discarded: true,
            },
        );
        let request = EngineEvent::Request {
            request_id: "r1".into(),
            app: "a".into(),
            execution: 1,
            outcome: fazt_engine::events::RequestOutcome::Error("TimeoutError".into()),
        };
        trace.engine(42, None, request);
        let answered = Said::Answered {
            request: "r1".into(),
            says: "status=504".into(),
            failure: Some("TimeoutError".into()),
        };
        trace.note(50, "client", answered);
        let json = chrome(&trace);
        let checked = validate(&json.to_string()).expect("valid");
        assert_eq!(
            checked.threads,
            ["client", "vm 2", "writer (queue)", "failed requests"]
        );
        let events = json["traceEvents"].as_array().expect("events");
        let named = |name: &str| events.iter().find(|e| e["name"] == name).expect(name);
        assert_eq!(named("r1")["args"]["execution"], 1);
        assert_eq!(named("r1")["args"]["failed"], "TimeoutError");
        assert_eq!(named("kv.set")["dur"], 15);
        assert_eq!(named("execution 1")["args"]["discarded"], true);
        assert_eq!(named("group of 1")["dur"], 5);
    }

    #[test]
    fn reads_are_drawn_on_the_track_of_the_reader_connection_that_served_them() {
        let profile = crate::profile::by_name("hardened", 1).expect("the hardened profile");
        let finished = crate::run::storage::run(&profile, 1, |world| async move {
            let reads: Vec<_> = (0..8)
                .map(|n| {
                    let world = world.clone();
                    tokio::task::spawn_local(async move {
                        let scope = world.storage.scope("app", fazt_engine::env::Deadline::NONE);
                        world.attempt(format!("read {n}"), scope.kv_get("k")).await
                    })
                })
                .collect();
            let mut attempts = Vec::new();
            for read in reads {
                attempts.push(read.await.expect("a read ends"));
            }
            attempts
        });
        assert!(finished.outcomes.iter().all(|a| a.error.is_none()));
        let served: Vec<usize> = finished
            .trace
            .events
            .iter()
            .filter_map(|e| match e.engine()? {
                EngineEvent::ReaderCheckout { reader } => Some(*reader),
                _ => None,
            })
            .collect();
        assert_eq!(served.len(), 8);
        let json = chrome(&finished.trace);
        let checked = validate(&json.to_string()).expect("valid");
        let events = json["traceEvents"].as_array().expect("events");
        let thread = |e: &Value| {
            events
                .iter()
                .find(|m| {
                    m["name"] == "thread_name" && m["pid"] == e["pid"] && m["tid"] == e["tid"]
                })
                .and_then(|m| m["args"]["name"].as_str())
                .map(str::to_owned)
        };
        let reads: Vec<String> = events
            .iter()
            .filter(|e| e["name"] == "read" && e["ph"] == "X")
            .filter_map(thread)
            .collect();
        let expected: Vec<String> = served.iter().map(|r| format!("reader {r}")).collect();
        assert_eq!(reads, expected, "{:?}", checked.threads);
    }
}
