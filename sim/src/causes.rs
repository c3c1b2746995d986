//! Root causes of failed requests, derived from the trace.
//!
//! The engine's events (see `fazt_engine::runtime::TRACE`) tell which execution served
//! a request, on which VM, and how each legacy watcher ended; a cause names the
//! mechanism and the earlier actor responsible, e.g. `stale-interrupt` naming the
//! execution whose watcher fired on the VM before it served this request.

use std::collections::BTreeMap;

use crate::trace::{Event, Trace};

/// The `key=value` fields of an event's text.
pub fn fields(what: &str) -> BTreeMap<&str, &str> {
    what.split(' ')
        .filter_map(|part| part.split_once('='))
        .collect()
}

fn is(event: &Event, actor: &str, message: &str) -> bool {
    event.actor == actor && event.what.starts_with(message)
}

/// The execution that served request `request_id`, from the server's request event.
pub fn execution_of(trace: &Trace, request_id: &str) -> Option<u64> {
    trace.events.iter().find_map(|event| {
        let f = fields(&event.what);
        (is(event, "fazt::server", "request") && f.get("request_id") == Some(&request_id))
            .then(|| f.get("execution")?.parse().ok())
            .flatten()
    })
}

/// The cause of a failed request with error `kind` (the JSON body's `kind`).
pub fn root_cause(trace: &Trace, request_id: &str, kind: &str) -> String {
    let Some(execution) = execution_of(trace, request_id) else {
        return format!("{kind} (no execution)");
    };
    let execution_text = execution.to_string();
    let failed = trace.events.iter().find(|event| {
        is(event, "fazt::runtime", "execution failed")
            && fields(&event.what).get("execution") == Some(&execution_text.as_str())
    });
    let Some(failed) = failed else {
        return kind.to_owned();
    };
    let f = fields(&failed.what);
    let vm = f.get("vm").copied().unwrap_or("?");
    match (f.get("kind").copied(), f.get("interrupted").copied()) {
        (Some("TimeoutError"), Some("false")) => match previous_watcher_on(trace, vm, execution) {
            Some((previous, end)) if end == "LateInterruptedPooledVm" => {
                format!("stale-interrupt (watcher of execution {previous} fired after VM {vm} returned to the pool)")
            }
            _ => "TimeoutError before running (no stale interrupt in the trace)".to_owned(),
        },
        (Some("TimeoutError"), _) => "deadline (the execution ran out of time)".to_owned(),
        (Some(other), _) => other.to_owned(),
        (None, _) => kind.to_owned(),
    }
}

/// The execution that used `vm` last before `execution`, and how its watcher ended.
fn previous_watcher_on(trace: &Trace, vm: &str, execution: u64) -> Option<(u64, String)> {
    trace
        .events
        .iter()
        .rev()
        .filter(|event| is(event, "fazt::runtime", "watcher"))
        .filter_map(|event| {
            let f = fields(&event.what);
            let earlier: u64 = f.get("execution")?.parse().ok()?;
            (f.get("vm") == Some(&vm) && earlier < execution)
                .then(|| (earlier, f.get("end").copied().unwrap_or("").to_owned()))
        })
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_interrupt_names_the_watcher_that_fired() {
        let mut trace = Trace::default();
        trace.record(
            1,
            "fazt::runtime",
            "watcher execution=3 vm=3 end=LateInterruptedPooledVm",
        );
        trace.record(
            2,
            "fazt::runtime",
            "watcher execution=7 vm=7 end=LatePickedDone",
        );
        trace.record(
            3,
            "fazt::runtime",
            "execution failed execution=13 vm=3 kind=TimeoutError cause=- interrupted=false",
        );
        trace.record(
            4,
            "fazt::server",
            "request request_id=r-13 status=504 execution=13",
        );
        let cause = root_cause(&trace, "r-13", "TimeoutError");
        assert!(
            cause.starts_with("stale-interrupt (watcher of execution 3"),
            "{cause}"
        );
        assert_eq!(
            root_cause(&trace, "r-99", "TimeoutError"),
            "TimeoutError (no execution)"
        );
    }
}
