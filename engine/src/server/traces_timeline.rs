//! The recent requests of `/api/_debug/traces?format=chrome` as a timeline
//! ([`crate::events::chrome`]): one track per app with each request's span and, nested
//! in it, where its time went (reading, admission, VM wait, execution); one track per
//! VM with the executions it ran; failed requests flagged with their error kind.

use serde_json::{json, Value};

use super::traces::RequestTrace;
use crate::events::chrome::Timeline;

/// `traces` (any order) as Chrome trace-event JSON, on their arrival's wall clock.
pub fn chrome(traces: &[RequestTrace]) -> Value {
    let mut timeline = Timeline::new();
    for trace in traces {
        let start = u64::try_from(trace.at_ms).unwrap_or(0).saturating_mul(1000);
        let end = start.saturating_add(trace.duration_us);
        let app = trace.app.as_deref().unwrap_or("(no app)");
        let track = timeline.track("requests", app);
        let args = json!({
            "id": trace.id, "status": trace.status, "error": trace.error,
            "storage_us": trace.storage_us, "storage_calls": trace.storage_calls,
        });
        let name = format!("{} {}", trace.method, trace.path);
        timeline.span(track, name, start, end, args);
        let mut at = start;
        for (phase, took) in [
            ("read", trace.read_us),
            ("admission", trace.admission_us),
            ("vm wait", trace.vm_wait_us),
            ("execute", trace.execute_us),
        ] {
            // Inside the request's span even if the parts were rounded.
            let until = at.saturating_add(took).min(end);
            if took > 0 {
                timeline.span(track, phase, at, until, json!({}));
            }
            if phase == "execute" {
                if let Some(vm) = trace.vm {
                    let vm_track = timeline.track("VMs", &format!("vm {vm}"));
                    timeline.span(
                        vm_track,
                        format!("request {}", trace.id),
                        at,
                        until,
                        json!({ "error": trace.error }),
                    );
                }
            }
            at = until;
        }
        if let Some(kind) = &trace.error {
            timeline.instant(
                track,
                format!("failed: {kind}"),
                end,
                json!({ "id": trace.id }),
            );
        }
    }
    timeline.to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::chrome::validate;

    #[test]
    fn requests_nest_their_phases_and_failures_are_flagged() {
        let request = |id: &str, at_ms: i64, error: Option<&str>| RequestTrace {
            app: Some("shop".into()),
            duration_us: 4_000,
            read_us: 100,
            admission_us: 900,
            vm_wait_us: 1_000,
            execute_us: 2_500,
            vm: Some(1),
            error: error.map(str::to_owned),
            ..RequestTrace::new(id, "GET", "/api/x", at_ms)
        };
        let json = chrome(&[
            request("a", 10, None),
            request("b", 11, Some("TimeoutError")),
        ]);
        let checked = validate(&json.to_string()).expect("valid");
        // Overlapping requests of one app take two lanes; the VM's two executions too.
        assert_eq!(checked.threads, ["shop", "shop (2)", "vm 1", "vm 1 (2)"]);
        assert_eq!(checked.instants, 1);
        let events = json["traceEvents"].as_array().expect("events");
        let execute = events
            .iter()
            .find(|e| e["name"] == "execute")
            .expect("execute");
        // Clipped to the request's end: 10 ms + 100 + 900 + 1000 µs, until 14 ms.
        assert_eq!(
            (execute["ts"].as_u64(), execute["dur"].as_u64()),
            (Some(12_000), Some(2_000))
        );
    }
}
