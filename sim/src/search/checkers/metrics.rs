//! Metrics: the VM pool's figures the server serves (`/api/_debug/runtime`, which
//! `/metrics` and the capacity report read too) say what its runtime did, and a pool
//! configured to pre-warm created its VMs.
//!
//! The run's last client reads the figures after its workload ([`Scrape`]); they are
//! held against the typed events of the last server lifetime up to the scrape's answer.
//! The figures were taken between the scrape's arrival and its answer, so each count is
//! bounded by the events before its arrival and those up to its answer.
//!
//! Verifies: the scrape is answered, unless a fault was in effect meanwhile
//! (`metrics-unanswered`); the pool's `executions` (executions ended on a VM),
//! `timeouts` (failed as `TimeoutError`; a script may throw an error of that name
//! itself, so only those its VM's interrupt ended are certain), `interrupts`,
//! `discarded` (VMs returned to be dropped), `evicted`, `busy` (VMs checked out, not
//! returned) and `created` (at least the VMs numbered so far, ids counting from 0; at
//! most one more per refused checkout, a VM that could not be created) are what the
//! trace counts, and `size` is the runtime's configured pool size (the simulator runs
//! one worker) (`metrics-untrue`); under a pool that waits when every VM is busy, the
//! VMs alive (`idle` + `busy`) are at most `size`, and are the VMs created less those
//! discarded and evicted, less at most the refused checkouts
//! (`metrics-pool-unbalanced`); under a profile that pre-warms, `created` is at least
//! `size` (`pool-not-prewarmed`). Does not verify: figures of earlier lifetimes (a crash
//! takes them with it, and the scrape sees only the last), `waiters` and the other
//! figures the route serves (admission, storage), a sum over several workers, when a
//! pre-warming pool created its VMs (one that created `size` on demand passes; the
//! search's workloads need far fewer), nor which app's idle VM an eviction chose (the
//! search's workloads never fill the pool; `a_full_pool_evicts_another_apps_idle_vm`
//! in `sim/tests/properties.rs` does, and this checker holds its VMs alive to `size`).

use fazt_chaos::Violation;
use fazt_engine::runtime::WhenAllBusy;
use serde_json::Value;

use crate::causes::FaultWindows;
use crate::env::TIMER_RESOLUTION;
use crate::profile::Profile;
use crate::run::property::{Evidence, Scrape, SCRAPE_REQUEST};
use crate::search::events::{self, PoolTally};
use crate::trace::{Event, Trace};

pub fn check(profile: &Profile, evidence: &Evidence) -> Vec<Violation> {
    let Some(scrape) = evidence.scraped else {
        return Vec::new();
    };
    let figures = match &scrape.answer {
        Ok(figures) => &figures["pool"],
        Err(why) => return unanswered(scrape, why, evidence.trace),
    };
    let lifetimes = events::lifetimes(evidence.trace);
    let Some(lifetime) = lifetimes.last() else {
        return Vec::new();
    };
    // The scrape's answer is in the trace unless the server died answering it.
    let Some((answered, arrived_us)) = events::answered(lifetime, SCRAPE_REQUEST) else {
        return Vec::new();
    };
    let bounds = Bounds::of(&lifetime[..=answered], arrived_us);
    let mut violations = untrue(profile, figures, &bounds);
    violations.extend(unbalanced(profile, figures, &bounds));
    violations.extend(not_prewarmed(profile, figures));
    violations
}

fn violation(invariant: &'static str, detail: String) -> Violation {
    Violation {
        invariant,
        detail,
        involved: vec![SCRAPE_REQUEST.to_owned()],
    }
}

/// A failed scrape with no fault in effect while it ran.
fn unanswered(scrape: &Scrape, why: &str, trace: &Trace) -> Vec<Violation> {
    // The client's clock trails the engine's events by up to one timer tick.
    let tick_us = TIMER_RESOLUTION.as_micros() as u64;
    let faults = FaultWindows::new(trace);
    if faults
        .during(scrape.sent_us, scrape.answered_us + tick_us)
        .is_some()
    {
        return Vec::new();
    }
    vec![violation(
        "metrics-unanswered",
        format!(
            "the runtime's figures were not served, with no fault in effect: {why} (sent at {} µs)",
            scrape.sent_us
        ),
    )]
}

/// The trace's counts of a lifetime when the scrape arrived and when it was answered,
/// and the fewest and most VMs busy in between.
struct Bounds {
    arrived: PoolTally,
    answered: PoolTally,
    busy: (u64, u64),
}

impl Bounds {
    /// `events` ends with the scrape's answer; it arrived at `arrived_us`.
    fn of(events: &[Event], arrived_us: u64) -> Bounds {
        let mut tally = PoolTally::default();
        let mut arrived = None;
        let mut busy = (u64::MAX, 0);
        for event in events {
            // An event's time and the arrival's are each rounded down to the µs: one
            // stamped a µs before the arrival may have followed it.
            if arrived.is_none() && event.at_us + 1 >= arrived_us {
                arrived = Some(tally);
            }
            if let Some(engine) = event.engine() {
                tally.count(engine);
            }
            if arrived.is_some() {
                busy = (busy.0.min(tally.busy), busy.1.max(tally.busy));
            }
        }
        Bounds {
            // The answer's own event is at or after the arrival.
            arrived: arrived.unwrap_or(tally),
            answered: tally,
            busy,
        }
    }
}

/// A figure of the pool's, `None` when the answer lacks it.
fn figure(figures: &Value, name: &str) -> Option<u64> {
    figures[name].as_u64()
}

/// The figures that are not what the trace counts.
fn untrue(profile: &Profile, figures: &Value, bounds: &Bounds) -> Vec<Violation> {
    let (before, after) = (&bounds.arrived, &bounds.answered);
    let size = profile.config.runtime.pool_size.max(1) as u64;
    let created_max = after.numbered.max(prewarmed(profile)) + after.refused;
    let expected = [
        ("size", size, size),
        ("executions", before.executions, after.executions),
        ("timeouts", before.interrupted_timeouts, after.timeouts),
        ("interrupts", before.interrupts, after.interrupts),
        ("discarded", before.discarded, after.discarded),
        ("evicted", before.evicted, after.evicted),
        ("busy", bounds.busy.0, bounds.busy.1),
        ("created", before.numbered, created_max),
    ];
    expected
        .into_iter()
        .filter_map(|(name, low, high)| {
            let shown = figure(figures, name);
            let counted = if low == high {
                low.to_string()
            } else {
                format!("between {low} and {high}")
            };
            match shown {
                Some(shown) if (low..=high).contains(&shown) => None,
                Some(shown) => Some(format!("{name} is {shown}, the trace counts {counted}")),
                None => Some(format!("{name} is missing, the trace counts {counted}")),
            }
        })
        .map(|detail| violation("metrics-untrue", format!("the pool's figures: {detail}")))
        .collect()
}

/// VMs alive beyond the bound, or not the VMs created less those dropped.
fn unbalanced(profile: &Profile, figures: &Value, bounds: &Bounds) -> Vec<Violation> {
    if profile.config.runtime.when_all_busy != WhenAllBusy::Wait {
        return Vec::new();
    }
    let get = |name| figure(figures, name).unwrap_or(0);
    let (size, alive) = (get("size"), get("idle") + get("busy"));
    let kept = get("created").saturating_sub(get("discarded") + get("evicted"));
    let refused = bounds.answered.refused;
    let detail = if alive > size {
        format!("{alive} VMs alive (idle and busy) in a pool of {size}")
    } else if alive > kept || alive + refused < kept {
        format!(
            "{alive} VMs alive (idle and busy), {kept} created and neither discarded nor evicted ({refused} checkouts refused)"
        )
    } else {
        return Vec::new();
    };
    vec![violation("metrics-pool-unbalanced", detail)]
}

/// VMs a pool creates before its first checkout: all of them when it pre-warms.
fn prewarmed(profile: &Profile) -> u64 {
    let runtime = &profile.config.runtime;
    if runtime.prewarm {
        runtime.pool_size.max(1) as u64
    } else {
        0
    }
}

/// A pre-warming pool whose figures show fewer VMs created than it pre-warms.
fn not_prewarmed(profile: &Profile, figures: &Value) -> Vec<Violation> {
    let (created, wanted) = (figure(figures, "created").unwrap_or(0), prewarmed(profile));
    if created >= wanted {
        return Vec::new();
    }
    vec![violation(
        "pool-not-prewarmed",
        format!("the pool pre-warms {wanted} VMs, and has created {created}"),
    )]
}
