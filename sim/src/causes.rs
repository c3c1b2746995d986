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
    let waited_on_storage = matches!(
        (f.get("kind").copied(), f.get("interrupted").copied()),
        (Some("StorageError"), _) | (Some("TimeoutError"), Some("true"))
    );
    if waited_on_storage {
        if let Some(events) = analytics_flush_in_the_way(trace, &execution_text) {
            return format!(
                "analytics-flush (the write of execution {execution} waited on the write lock of an analytics batch of {events} events flushed outside the queue)"
            );
        }
    }
    match (f.get("kind").copied(), f.get("interrupted").copied()) {
        (Some("TimeoutError"), Some("false")) => match previous_watcher_on(trace, vm, execution) {
            Some((previous, end)) if end == "LateInterruptedPooledVm" => {
                format!("stale-interrupt (watcher of execution {previous} fired after VM {vm} returned to the pool)")
            }
            _ => "TimeoutError before running (no stale interrupt in the trace)".to_owned(),
        },
        (Some("TimeoutError"), _) => "deadline (the execution ran out of time)".to_owned(),
        (Some("StorageError"), _) => match direct_write_lock_holders(trace, &execution_text) {
            Some(holders) if !holders.is_empty() => format!(
                "sqlite-busy (DEFERRED write of execution {execution} met the write lock held by execution {})",
                holders.join(", ")
            ),
            Some(_) => "sqlite-busy (lock holder not in trace)".to_owned(),
            None => kind.to_owned(),
        },
        (Some(other), _) => other.to_owned(),
        (None, _) => kind.to_owned(),
    }
}

/// The storage layer's direct-write events (the legacy write path, `direct_writes.rs`)
/// and the execution each served (`-` for the server's own writes).
fn direct_write_events(trace: &Trace) -> Vec<(&str, &str)> {
    trace
        .events
        .iter()
        .filter(|event| event.actor == "fazt::storage")
        .filter_map(|event| {
            let step = ["started", "committing", "busy"]
                .into_iter()
                .find(|step| event.what.starts_with(&format!("direct write {step}")))?;
            Some((
                step,
                fields(&event.what).get("execution").copied().unwrap_or("-"),
            ))
        })
        .collect()
}

/// When `execution`'s last direct write failed with SQLITE_BUSY: the executions whose
/// DEFERRED transaction held the write lock as that write began (began before it, had
/// not committed yet, and went on to commit: a write that itself met BUSY held
/// nothing). `None` when the execution met no BUSY on the direct path.
///
/// In simulation each job runs as it is submitted, right after its event, so the order
/// of these events is the order in which SQLite saw the transactions.
fn direct_write_lock_holders(trace: &Trace, execution: &str) -> Option<Vec<String>> {
    let events = direct_write_events(trace);
    let busy = events
        .iter()
        .rposition(|&(step, who)| step == "busy" && who == execution)?;
    let started = events[..busy]
        .iter()
        .rposition(|&(step, who)| step == "started" && who == execution)?;
    let mut holders = Vec::new();
    for (index, &(step, who)) in events[..started].iter().enumerate() {
        if step != "started" || who == execution {
            continue;
        }
        let next = events[index + 1..]
            .iter()
            .position(|&(_, other)| other == who)
            .map(|offset| (index + 1 + offset, events[index + 1 + offset].0));
        if let Some((at, "committing")) = next {
            if at > started && !holders.iter().any(|h: &String| h == who) {
                holders.push(who.to_owned());
            }
        }
    }
    Some(holders)
}

/// Whether the analytics batch flushed outside the write queue (fazt 0.10.10's bypass
/// connection, `write=analytics.flush` on the direct-write path) holds the write lock
/// at each event of the trace: the batch's size then (`?` when not traced), or `None`.
fn analytics_lock_held(trace: &Trace) -> Vec<Option<&str>> {
    let mut held = None;
    let mut states = Vec::with_capacity(trace.events.len());
    for event in &trace.events {
        if event.actor == "fazt::storage" {
            let what = event.what.as_str();
            let analytics = fields(what).get("write") == Some(&"analytics.flush");
            if analytics && what.starts_with("direct write started") {
                held = Some("?");
            } else if analytics
                && (what.starts_with("direct write committing")
                    || what.starts_with("direct write busy"))
            {
                held = None;
            }
        }
        states.push(held);
    }
    // The batch size is only traced after the flush ("analytics flushed events=N").
    let mut size = None;
    for (state, event) in states.iter_mut().zip(&trace.events).rev() {
        if event.what.starts_with("analytics flushed")
            || event.what.starts_with("analytics flush failed")
        {
            size = fields(&event.what).get("events").copied();
        }
        if state.is_some() {
            *state = Some(size.unwrap_or("?"));
        }
    }
    states
}

/// For each time the queue's writer met SQLITE_BUSY (index of its `writer busy`
/// event): the size of the analytics batch flushed outside the queue that held the
/// write lock when that attempt began (its `group started` event), if one did.
fn writer_busy_by_analytics(trace: &Trace) -> Vec<(usize, &str)> {
    let held = analytics_lock_held(trace);
    let mut group_started = None;
    let mut found = Vec::new();
    for (at, event) in trace.events.iter().enumerate() {
        if is(event, "fazt::storage", "group started") {
            group_started = Some(at);
        } else if is(event, "fazt::storage", "writer busy") {
            if let Some(size) = group_started.and_then(|g| held[g]) {
                found.push((at, size));
            }
        }
    }
    found
}

/// When the queue's writer met the write lock of an analytics batch flushed outside
/// the queue between `execution`'s first queued write and its end: the batch's size.
fn analytics_flush_in_the_way<'a>(trace: &'a Trace, execution: &str) -> Option<&'a str> {
    let events = &trace.events;
    let of_execution = |event: &Event| fields(&event.what).get("execution") == Some(&execution);
    let queued = events
        .iter()
        .position(|e| is(e, "fazt::storage", "write queued") && of_execution(e))?;
    let ended = events
        .iter()
        .position(|e| is(e, "fazt::server", "request") && of_execution(e))
        .unwrap_or(events.len());
    writer_busy_by_analytics(trace)
        .into_iter()
        .find(|&(at, _)| (queued..ended).contains(&at))
        .map(|(_, size)| size)
}

/// Times the queue's writer met the write lock of an analytics batch flushed outside
/// the queue.
pub fn writer_busy_during_analytics_flush(trace: &Trace) -> u64 {
    writer_busy_by_analytics(trace).len() as u64
}

/// A cause without the per-request details (which execution, which VM), for counting:
/// `stale-interrupt (watcher of execution 3 ...)` counts as `stale-interrupt`.
pub fn cause_class(cause: &str) -> String {
    cause.split(" (").next().unwrap_or(cause).to_owned()
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

    #[test]
    fn a_write_stalled_by_an_analytics_batch_outside_the_queue_is_blamed_on_it() {
        let mut trace = Trace::default();
        for (actor, what) in [
            (
                "fazt::storage",
                "write queued write=ds.insert waiting=1 execution=5",
            ),
            (
                "fazt::storage",
                "direct write started write=analytics.flush",
            ),
            ("fazt::storage", "group started writes=1"),
            (
                "fazt::storage",
                "direct write committing write=analytics.flush",
            ),
            ("fazt::storage", "analytics flushed events=1000 path=bypass"),
            ("fazt::storage", "writer busy writes=1 attempt=1"),
            (
                "fazt::runtime",
                "execution failed execution=5 vm=1 kind=StorageError cause=- interrupted=false",
            ),
            (
                "fazt::server",
                "request request_id=w-5 execution=5 outcome=StorageError",
            ),
        ] {
            trace.record(1, actor, what);
        }
        assert_eq!(writer_busy_during_analytics_flush(&trace), 1);
        let cause = root_cause(&trace, "w-5", "StorageError");
        assert!(
            cause.starts_with("analytics-flush (the write of execution 5 waited on the write lock of an analytics batch of 1000 events"),
            "{cause}"
        );
    }

    #[test]
    fn sqlite_busy_names_the_transaction_that_held_the_lock() {
        let mut trace = Trace::default();
        for what in [
            "direct write started write=ds.insert execution=29",
            "direct write started write=ds.insert execution=26",
            "direct write started write=ds.insert execution=22",
            "direct write busy write=ds.insert attempt=1 execution=26",
            "direct write busy write=ds.insert attempt=1 execution=22",
            "direct write committing write=ds.insert execution=29",
        ] {
            trace.record(1, "fazt::storage", what);
        }
        trace.record(
            2,
            "fazt::runtime",
            "execution failed execution=22 vm=2 kind=StorageError cause=- interrupted=false",
        );
        trace.record(
            3,
            "fazt::server",
            "request request_id=c-2 app=cashflow execution=22 outcome=StorageError",
        );
        assert_eq!(
            root_cause(&trace, "c-2", "StorageError"),
            "sqlite-busy (DEFERRED write of execution 22 met the write lock held by execution 29)"
        );
    }
}
