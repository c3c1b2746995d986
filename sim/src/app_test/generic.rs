//! The engine's own promises, checked on any app's run: no 5xx unless a fault explains
//! it, no answer after the request's deadline, no VM left poisoned.
//!
//! Not checked (yet): per-key linearizability. The chaos checkers need to know which
//! key each request reads or writes, which an arbitrary app's routes do not say.

use fazt_chaos::Violation;
use fazt_engine::events::Event as EngineEvent;
use fazt_engine::failpoints;

use super::run::{Exchange, Ran};
use super::Verdict;
use crate::causes::{Causes, FaultWindows};
use crate::env::TIMER_RESOLUTION;
use crate::profile::Profile;
use crate::run::property::{self, Evidence};
use crate::search::checkers::vm_hygiene;
use crate::search::events::network_faulted;
use crate::search::faults::Scale;
use crate::trace::Trace;

/// The generic invariants' names, in report order.
pub const NAMES: [&str; 3] = [UNEXPLAINED_5XX, LATE_ANSWER, POISONED_VM];
const UNEXPLAINED_5XX: &str = "no-unexplained-5xx";
const LATE_ANSWER: &str = "no-answer-after-deadline";
const POISONED_VM: &str = "no-poisoned-vm";

/// An answer may reach its client, beyond the time CPU slowdowns stalled the machine
/// while it ran, this share of the request budget (in percent) after
/// the deadline: the answer's own trip back and the timer tick it waits for; more is
/// work the engine did past a budget it promised to keep.
const DEADLINE_SLACK_PERCENT: u64 = 10;

/// The generic verdicts of `ran` under `profile`.
pub fn check(profile: &Profile, ran: &Ran) -> Vec<Verdict> {
    let faults = FaultWindows::new(&ran.trace);
    let causes = Causes::new(&ran.trace);
    let tick_us = TIMER_RESOLUTION.as_micros() as u64;
    let unexplained: Vec<String> = ran
        .history
        .iter()
        .filter(|e| e.status.is_some_and(|status| status >= 500))
        .filter(|e| faults.during(e.sent_us, e.answered_us + tick_us).is_none())
        .map(|e| {
            let kind = e.response["kind"].as_str().unwrap_or("HTTP 5xx");
            format!(
                "{} answered {} with no fault in effect: {}",
                describe(e),
                e.status.unwrap_or(0),
                causes.root_cause(&e.request, kind)
            )
        })
        .collect();

    let budget_us = profile.config.request_timeout.as_micros() as u64;
    let limit_us = budget_us + budget_us * DEADLINE_SLACK_PERCENT / 100;
    let network = network_faulted(&ran.trace);
    let late: Vec<String> = ran
        .history
        .iter()
        .filter(|e| {
            let stalled = cpu_stalls_us(&ran.trace, profile, e.sent_us, e.answered_us);
            e.status.is_some() && e.answered_us - e.sent_us > limit_us + stalled
        })
        .filter(|e| {
            !network
                .iter()
                .any(|&(from, to)| from < e.answered_us && e.sent_us < to)
        })
        .map(|e| {
            format!(
                "{} answered {} ms after it was sent, past its {} ms budget",
                describe(e),
                (e.answered_us - e.sent_us) / 1000,
                budget_us / 1000
            )
        })
        .collect();

    let db = std::path::Path::new("");
    let evidence = Evidence {
        answers: &[],
        trace: &ran.trace,
        db,
        scraped: None,
    };
    let mut poisoned = property::vm_pool(&ran.trace);
    poisoned.extend(vm_hygiene::check(&evidence));
    let poisoned = poisoned.iter().map(Violation::to_string).collect();

    [
        (UNEXPLAINED_5XX, unexplained),
        (LATE_ANSWER, late),
        (POISONED_VM, poisoned),
    ]
    .into_iter()
    .map(|(name, failures)| Verdict {
        name: name.to_owned(),
        failure: (!failures.is_empty()).then(|| failures.join("; ")),
    })
    .collect()
}

/// The time CPU slowdowns stalled the machine within `[from_us, until_us]`: the engine
/// charges one before an execution starts, where no deadline can cut it short (no timer
/// fires on a machine whose CPU is stalled), and requests queued behind it wait too.
fn cpu_stalls_us(trace: &Trace, profile: &Profile, from_us: u64, until_us: u64) -> u64 {
    let tick_us = Scale::of(profile).js_tick_us;
    trace
        .events
        .iter()
        .filter_map(|event| match event.engine()? {
            EngineEvent::Fault { point, n } if *point == failpoints::RUNTIME_SLOW_CPU => {
                let stall_end = event.at_us + n.unwrap_or(0) * tick_us;
                Some(
                    stall_end
                        .min(until_us)
                        .saturating_sub(event.at_us.max(from_us)),
                )
            }
            _ => None,
        })
        .sum()
}

/// `c0-3 POST /api/x`.
pub fn describe(exchange: &Exchange) -> String {
    format!("{} {} {}", exchange.request, exchange.method, exchange.path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn late_answer(budget_us: u64) -> Exchange {
        Exchange {
            request: "c0-0".into(),
            client: 0,
            template: "t".into(),
            method: "POST".into(),
            path: "/api".into(),
            body: None,
            sent_us: 1_000,
            answered_us: 1_000 + budget_us * 2,
            status: Some(504),
            response: Value::Null,
            effects: "none",
        }
    }

    fn late(profile: &Profile, trace: Trace) -> Option<String> {
        let budget_us = profile.config.request_timeout.as_micros() as u64;
        let ran = Ran {
            history: vec![late_answer(budget_us)],
            trace,
            storage: Value::Null,
        };
        let verdicts = check(profile, &ran);
        verdicts
            .into_iter()
            .find(|v| v.name == LATE_ANSWER)?
            .failure
    }

    #[test]
    fn a_late_answer_breaks_the_deadline_unless_the_cpu_was_stalled_meanwhile() {
        let profile = crate::profile::by_name("hardened", 1).unwrap();
        let failure = late(&profile, Trace::default()).expect("twice the budget is late");
        assert!(failure.contains("past its"), "{failure}");
        let budget_us = profile.config.request_timeout.as_micros() as u64;
        let ticks = budget_us * 2 / Scale::of(&profile).js_tick_us;
        let mut stalled = Trace::default();
        let fault = EngineEvent::Fault {
            point: failpoints::RUNTIME_SLOW_CPU,
            n: Some(ticks),
        };
        // Fired before the request was sent: the request queued behind the stall.
        stalled.engine(500, None, fault);
        assert_eq!(late(&profile, stalled), None);
    }
}
