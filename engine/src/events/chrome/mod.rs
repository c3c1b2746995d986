//! Timelines in the Chrome trace-event format, which Perfetto (ui.perfetto.dev) and
//! `chrome://tracing` open: `{"traceEvents": [...], "displayTimeUnit": "ms"}`.
//!
//! Format-neutral: a caller names tracks (a process and a thread, e.g. `VMs` / `vm 3`)
//! and puts spans and instants on them; [`Timeline::to_json`] writes the metadata,
//! the complete (`X`) and instant (`i`) events. The simulator draws its typed trace
//! with it (`fazt-sim run --timeline`), the server its recent requests
//! (`/api/_debug/traces?format=chrome`). [`validate`] checks a file against the format.
//!
//! A viewer draws a thread's spans as a stack, so spans on one thread must nest. Spans
//! that overlap without nesting (two requests of one client over different
//! connections) go to further lanes of their track, `name (2)`, `name (3)`, ...

mod validate;

pub use validate::{validate, Checked};

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// Identifies a track of a [`Timeline`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackId(usize);

/// Spans and instants on named tracks, in microseconds. Processes are numbered from 1
/// (viewers treat pid 0 as the idle process), threads from 1 within their process.
#[derive(Default)]
pub struct Timeline {
    tracks: Vec<Track>,
    by_name: BTreeMap<(String, String), TrackId>,
    processes: Vec<String>,
}

struct Track {
    process: usize,
    thread: String,
    spans: Vec<Mark>,
    instants: Vec<Mark>,
}

/// A span (`end_us` set) or an instant.
struct Mark {
    name: String,
    start_us: u64,
    end_us: u64,
    args: Map<String, Value>,
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// A timeline whose processes are listed in this order (others after them, in the
    /// order they are first named).
    pub fn with_processes(processes: &[&str]) -> Timeline {
        Timeline {
            processes: processes.iter().map(|&p| p.to_owned()).collect(),
            ..Timeline::default()
        }
    }

    /// The track `thread` of `process`, made on first use. Processes and threads are
    /// listed in the order they were first named.
    pub fn track(&mut self, process: &str, thread: &str) -> TrackId {
        let key = (process.to_owned(), thread.to_owned());
        if let Some(track) = self.by_name.get(&key) {
            return *track;
        }
        let process = match self.processes.iter().position(|p| p == process) {
            Some(index) => index,
            None => {
                self.processes.push(process.to_owned());
                self.processes.len() - 1
            }
        };
        let track = TrackId(self.tracks.len());
        self.tracks.push(Track {
            process,
            thread: thread.to_owned(),
            spans: Vec::new(),
            instants: Vec::new(),
        });
        self.by_name.insert(key, track);
        track
    }

    /// A span from `start_us` to `end_us` (an end before the start is taken as the
    /// start). `args` (a JSON object; anything else is dropped) show when selected.
    pub fn span(
        &mut self,
        track: TrackId,
        name: impl Into<String>,
        start_us: u64,
        end_us: u64,
        args: Value,
    ) {
        self.tracks[track.0].spans.push(Mark {
            name: name.into(),
            start_us,
            end_us: end_us.max(start_us),
            args: object(args),
        });
    }

    /// An instant at `at_us`, drawn as a mark on its track.
    pub fn instant(&mut self, track: TrackId, name: impl Into<String>, at_us: u64, args: Value) {
        self.tracks[track.0].instants.push(Mark {
            name: name.into(),
            start_us: at_us,
            end_us: at_us,
            args: object(args),
        });
    }

    /// The timeline as Chrome trace-event JSON: per thread, its events in time order.
    pub fn to_json(&self) -> Value {
        let mut events = Vec::new();
        for (pid, process) in self.processes.iter().enumerate() {
            let pid = pid + 1;
            events.push(metadata(pid, 0, "process_name", json!({ "name": process })));
            events.push(metadata(
                pid,
                0,
                "process_sort_index",
                json!({ "sort_index": pid }),
            ));
        }
        let mut next_tid = vec![1; self.processes.len()];
        for track in &self.tracks {
            for (lane, marks) in lanes(track).into_iter().enumerate() {
                let tid = next_tid[track.process];
                next_tid[track.process] += 1;
                let (pid, category) = (track.process + 1, &self.processes[track.process]);
                let thread = match lane {
                    0 => track.thread.clone(),
                    n => format!("{} ({})", track.thread, n + 1),
                };
                events.push(metadata(pid, tid, "thread_name", json!({ "name": thread })));
                events.push(metadata(
                    pid,
                    tid,
                    "thread_sort_index",
                    json!({ "sort_index": tid }),
                ));
                events.extend(marks.into_iter().map(|(mark, span)| {
                    let mut event = json!({
                        "name": mark.name, "cat": category, "ts": mark.start_us,
                        "pid": pid, "tid": tid, "args": mark.args,
                    });
                    if span {
                        event["ph"] = json!("X");
                        event["dur"] = json!(mark.end_us - mark.start_us);
                    } else {
                        event["ph"] = json!("i");
                        event["s"] = json!("t");
                    }
                    event
                }));
            }
        }
        json!({ "traceEvents": events, "displayTimeUnit": "ms" })
    }
}

fn object(args: Value) -> Map<String, Value> {
    match args {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn metadata(pid: usize, tid: usize, name: &str, args: Value) -> Value {
    json!({ "name": name, "ph": "M", "pid": pid, "tid": tid, "args": args })
}

/// One lane of a track: its marks in time order (`true`: a span), and the ends of its
/// spans still open at the latest start.
#[derive(Default)]
struct Lane<'a> {
    marks: Vec<(&'a Mark, bool)>,
    open: Vec<u64>,
}

impl Lane<'_> {
    /// Whether a span from `start_us` to `end_us` nests in or follows this lane's
    /// spans (spans come in order of their start).
    fn fits(&mut self, start_us: u64, end_us: u64) -> bool {
        while self.open.last().is_some_and(|&end| end <= start_us) {
            self.open.pop();
        }
        self.open.last().is_none_or(|&end| end >= end_us)
    }
}

/// `track`'s marks split into lanes whose spans nest, each lane in time order
/// (`true`: a span). Instants go to the first lane. A span goes to the first lane where
/// it nests in or follows the spans still open at its start.
fn lanes(track: &Track) -> Vec<Vec<(&Mark, bool)>> {
    let mut spans: Vec<&Mark> = track.spans.iter().collect();
    // Outer spans first when two start together.
    spans.sort_by_key(|span| (span.start_us, std::cmp::Reverse(span.end_us)));
    let mut lanes = vec![Lane::default()];
    for span in spans {
        let fitting = lanes
            .iter_mut()
            .position(|lane| lane.fits(span.start_us, span.end_us));
        let lane = match fitting {
            Some(lane) => lane,
            None => {
                lanes.push(Lane::default());
                lanes.len() - 1
            }
        };
        lanes[lane].open.push(span.end_us);
        lanes[lane].marks.push((span, true));
    }
    let mut lanes: Vec<Vec<(&Mark, bool)>> = lanes.into_iter().map(|lane| lane.marks).collect();
    lanes[0].extend(track.instants.iter().map(|instant| (instant, false)));
    // Stable: a span stays before the spans it encloses and the instants at its start.
    lanes[0].sort_by_key(|(mark, _)| mark.start_us);
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_spans_take_further_lanes_and_the_file_is_valid() {
        let mut timeline = Timeline::new();
        let client = timeline.track("clients", "client");
        timeline.span(client, "a", 0, 100, json!({}));
        timeline.span(client, "a.1", 10, 20, json!({}));
        timeline.span(client, "b", 50, 150, json!({}));
        timeline.instant(client, "failed", 100, json!({ "cause": "x" }));
        let vm = timeline.track("VMs", "vm 1");
        timeline.span(vm, "execution 1", 5, 5, json!(null));
        let text = timeline.to_json().to_string();
        let checked = validate(&text).expect("valid");
        assert_eq!(checked.threads, ["client", "client (2)", "vm 1"]);
        assert_eq!((checked.spans, checked.instants), (4, 1));
    }

    #[test]
    fn a_span_enclosing_one_that_starts_with_it_comes_first() {
        let mut timeline = Timeline::new();
        let track = timeline.track("p", "t");
        timeline.span(track, "inner", 0, 5, json!({}));
        timeline.span(track, "outer", 0, 10, json!({}));
        let json = timeline.to_json();
        let names: Vec<&str> = json["traceEvents"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|event| event["ph"] == "X")
            .filter_map(|event| event["name"].as_str())
            .collect();
        assert_eq!(names, ["outer", "inner"]);
        validate(&json.to_string()).expect("valid");
    }
}
