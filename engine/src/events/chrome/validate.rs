//! Checks a file against the Chrome trace-event format, as far as a viewer depends on
//! it: the JSON parses; every event has its phase's required fields; each thread's
//! events are in time order; its `B`/`E` pairs match and its spans nest; every thread
//! with events is named. It does not check phases this crate never writes (flows,
//! counters, async events) beyond their common fields.

use std::collections::BTreeMap;

use serde_json::Value;

/// What a valid file holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Complete (`X`) spans and `B`/`E` pairs.
    pub spans: usize,
    pub instants: usize,
    /// The named threads, in the order their names appear.
    pub threads: Vec<String>,
}

/// Per thread: the last timestamp seen, the ends of the open `X` spans, the names of
/// the open `B` spans.
#[derive(Default)]
struct Thread {
    last_us: f64,
    open_complete: Vec<f64>,
    open_begun: Vec<String>,
    named: bool,
    has_events: bool,
}

/// Checks `text`; the error names the first offending event by its index.
pub fn validate(text: &str) -> Result<Checked, String> {
    let file: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let events = file["traceEvents"]
        .as_array()
        .ok_or("no traceEvents array")?;
    if let Some(unit) = file.get("displayTimeUnit") {
        if unit != "ms" && unit != "ns" {
            return Err(format!(
                "displayTimeUnit {unit} is neither \"ms\" nor \"ns\""
            ));
        }
    }
    let mut checked = Checked::default();
    let mut threads: BTreeMap<(u64, u64), Thread> = BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        let fail = |what: &str| format!("event {index} ({event}): {what}");
        let phase = event["ph"].as_str().ok_or_else(|| fail("no ph"))?;
        let pid = event["pid"]
            .as_u64()
            .ok_or_else(|| fail("no integer pid"))?;
        let tid = event["tid"]
            .as_u64()
            .ok_or_else(|| fail("no integer tid"))?;
        let name = event["name"].as_str();
        let thread = threads.entry((pid, tid)).or_default();
        if phase == "M" {
            let args = event["args"]
                .as_object()
                .ok_or_else(|| fail("metadata without args"))?;
            if name == Some("thread_name") {
                let thread_name = args["name"]
                    .as_str()
                    .ok_or_else(|| fail("no thread name"))?;
                checked.threads.push(thread_name.to_owned());
                thread.named = true;
            }
            continue;
        }
        let name = name.ok_or_else(|| fail("no name"))?;
        let at = event["ts"].as_f64().ok_or_else(|| fail("no numeric ts"))?;
        if at < thread.last_us {
            return Err(fail(&format!("ts goes back from {}", thread.last_us)));
        }
        thread.last_us = at;
        thread.has_events = true;
        while thread.open_complete.last().is_some_and(|&end| end <= at) {
            thread.open_complete.pop();
        }
        match phase {
            "X" => {
                let end = at
                    + event["dur"]
                        .as_f64()
                        .filter(|d| *d >= 0.0)
                        .ok_or_else(|| fail("X without a dur >= 0"))?;
                if thread
                    .open_complete
                    .last()
                    .is_some_and(|&outer| outer < end)
                {
                    return Err(fail("span overlaps the enclosing span without nesting"));
                }
                thread.open_complete.push(end);
                checked.spans += 1;
            }
            "B" => thread.open_begun.push(name.to_owned()),
            "E" => {
                thread
                    .open_begun
                    .pop()
                    .ok_or_else(|| fail("E without a B"))?;
                checked.spans += 1;
            }
            "i" | "I" => {
                let scope = event.get("s").and_then(Value::as_str).unwrap_or("t");
                if !matches!(scope, "g" | "p" | "t") {
                    return Err(fail("instant scope is not g, p or t"));
                }
                checked.instants += 1;
            }
            _ => {}
        }
    }
    for ((pid, tid), thread) in &threads {
        if let Some(name) = thread.open_begun.last() {
            return Err(format!("thread {pid}/{tid}: B {name:?} never ends"));
        }
        if !thread.named && thread.has_events {
            return Err(format!("thread {pid}/{tid} has events but no thread_name"));
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(events: &str) -> Result<Checked, String> {
        validate(&format!(
            r#"{{"traceEvents":[{{"name":"thread_name","ph":"M","pid":0,"tid":1,"args":{{"name":"t"}}}},{events}]}}"#
        ))
    }

    #[test]
    fn the_format_s_rules_are_checked() {
        let x = |ts: u64, dur: u64| {
            format!(r#"{{"name":"s","ph":"X","ts":{ts},"dur":{dur},"pid":0,"tid":1}}"#)
        };
        assert!(check(&format!("{},{}", x(0, 10), x(2, 3))).is_ok());
        let overlap = check(&format!("{},{}", x(0, 10), x(5, 10)));
        assert!(overlap.unwrap_err().contains("without nesting"));
        let back = check(&format!("{},{}", x(5, 1), x(2, 1)));
        assert!(back.unwrap_err().contains("goes back"));
        let unended = check(r#"{"name":"s","ph":"B","ts":1,"pid":0,"tid":1}"#);
        assert!(unended.unwrap_err().contains("never ends"));
        let no_dur = check(r#"{"name":"s","ph":"X","ts":1,"pid":0,"tid":1}"#);
        assert!(no_dur.unwrap_err().contains("dur"));
        let unnamed = check(r#"{"name":"s","ph":"i","ts":1,"pid":0,"tid":2,"s":"t"}"#);
        assert!(unnamed.unwrap_err().contains("no thread_name"));
        assert!(validate("{").unwrap_err().contains("not JSON"));
    }
}
