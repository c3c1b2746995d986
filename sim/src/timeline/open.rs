//! Spans begun by one event and ended by a later one, keyed by what pairs them (an
//! execution, a client's request, the writer).

use std::collections::BTreeMap;

use fazt_engine::events::chrome::{Timeline, TrackId};
use serde_json::Value;

/// The spans begun and not yet ended, by key.
pub struct Open<K: Ord> {
    spans: BTreeMap<K, Pending>,
}

struct Pending {
    track: TrackId,
    name: String,
    start_us: u64,
    args: Value,
}

impl<K: Ord> Default for Open<K> {
    fn default() -> Self {
        Open {
            spans: BTreeMap::new(),
        }
    }
}

impl<K: Ord> Open<K> {
    /// Begins the span `name` on `track` at `at_us`. A span still open under `key`
    /// ends here, marked unfinished (its end event never came).
    pub fn begin(
        &mut self,
        timeline: &mut Timeline,
        key: K,
        (track, name): (TrackId, String),
        at_us: u64,
        args: Value,
    ) {
        let pending = Pending {
            track,
            name,
            start_us: at_us,
            args,
        };
        if let Some(old) = self.spans.insert(key, pending) {
            old.draw(timeline, at_us, &serde_json::json!({ "unfinished": true }));
        }
    }

    /// Ends the span open under `key` at `at_us`, adding `more` to its args; whether
    /// one was open.
    pub fn end(&mut self, timeline: &mut Timeline, key: &K, at_us: u64, more: &Value) -> bool {
        match self.spans.remove(key) {
            Some(pending) => {
                pending.draw(timeline, at_us, more);
                true
            }
            None => false,
        }
    }

    /// The track of the span open under `key`.
    pub fn track(&self, key: &K) -> Option<TrackId> {
        self.spans.get(key).map(|pending| pending.track)
    }

    /// Ends every open span at `at_us` (a crash, the end of the trace).
    pub fn end_all(&mut self, timeline: &mut Timeline, at_us: u64, more: &Value) {
        for (_, pending) in std::mem::take(&mut self.spans) {
            pending.draw(timeline, at_us, more);
        }
    }
}

impl Pending {
    fn draw(self, timeline: &mut Timeline, end_us: u64, more: &Value) {
        let mut args = self.args;
        if let (Value::Object(args), Value::Object(more)) = (&mut args, more) {
            args.extend(more.clone());
        }
        timeline.span(self.track, self.name, self.start_us, end_us, args);
    }
}
