//! Records the engine's trace events (`tracing` targets `fazt::*`) into a run's
//! [`Trace`], stamped with virtual time.
//!
//! The layer is installed as the thread's default subscriber for the duration of the
//! run; turmoil runs every host on this thread, so it sees every event, in order.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use fazt_engine::env::{Clock, Instant};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{filter, Layer};

use crate::trace::Trace;

/// Where events go, and the clock that stamps them (set once the simulated host has
/// made its environment).
#[derive(Clone, Default)]
pub struct Capture {
    trace: Arc<Mutex<Trace>>,
    clock: Arc<Mutex<Option<Stamp>>>,
}

/// The engine host's clock, the instant events are measured from, and the virtual
/// microseconds that instant stands for (non-zero after a restart).
type Stamp = (Arc<dyn Clock>, Instant, u64);

impl Capture {
    /// Stamps events from now on with `clock`, relative to its current time. A host
    /// restarted after a crash has a new clock: its events continue from the
    /// simulation's elapsed time.
    pub fn start_clock(&self, clock: Arc<dyn Clock>) {
        let origin = clock.now();
        let mut stamp = self.clock.lock().expect("capture clock");
        let offset = match &*stamp {
            None => 0,
            Some(_) => turmoil::sim_elapsed().map_or(0, |elapsed| {
                u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
            }),
        };
        *stamp = Some((clock, origin, offset));
    }

    /// Microseconds of virtual time since [`Capture::start_clock`], on the engine host's
    /// clock (call only from that host).
    fn now_us(&self) -> u64 {
        match &*self.clock.lock().expect("capture clock") {
            Some((clock, origin, offset)) => offset.saturating_add(
                u64::try_from(clock.now().saturating_duration_since(*origin).as_micros())
                    .unwrap_or(u64::MAX),
            ),
            None => 0,
        }
    }

    /// Records an event at `at_us` of virtual time. Each turmoil host has its own tokio
    /// clock (with its own base), so a workload host stamps its events with its own
    /// clock, relative to its own start: every host starts at virtual time zero.
    pub fn record_at(&self, at_us: u64, actor: impl Into<String>, what: impl Into<String>) {
        self.trace.lock().expect("trace").record(at_us, actor, what);
    }

    fn record(&self, actor: impl Into<String>, what: impl Into<String>) {
        let at = self.now_us();
        self.record_at(at, actor, what);
    }

    /// Runs `f` with the engine's events recorded.
    pub fn around<T>(&self, f: impl FnOnce() -> T) -> T {
        let layer = Recording {
            capture: self.clone(),
        }
        .with_filter(filter::filter_fn(|metadata| {
            metadata.target().starts_with("fazt::")
        }));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, f)
    }

    /// The trace recorded so far.
    pub fn trace(&self) -> Trace {
        self.trace.lock().expect("trace").clone()
    }
}

struct Recording {
    capture: Capture,
}

/// A recorded span's fields as ` key=value`, kept in the span's extensions.
struct SpanFields(String);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recording {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(SpanFields(fields.rest));
        }
    }

    /// The event's message and fields, then the fields of the spans it happened in,
    /// outermost first (e.g. the execution a storage event served).
    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some(scope) = context.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(rest)) = span.extensions().get::<SpanFields>() {
                    fields.rest.push_str(rest);
                }
            }
        }
        let what = if fields.rest.is_empty() {
            fields.message
        } else {
            format!("{}{}", fields.message, fields.rest)
        };
        self.capture.record(event.metadata().target(), what);
    }
}

/// An event's message, then its other fields as ` key=value`, in declaration order.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }
}
