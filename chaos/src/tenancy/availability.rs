//! Invariants `victim-availability` and `victim-latency`: an app that behaves keeps its
//! success rate and its tail latency while another app misbehaves.
//!
//! What it verifies: over one victim app's requests, the share that succeeded is at
//! least [`Bounds::success_percent_min`], and the nearest-rank 99th percentile of their
//! latency (all of them, failed ones included) is at most [`Bounds::p99_ms_max`].
//!
//! What it does not verify: that a request's answer is right (the history and
//! isolation checks do); latency below the 99th percentile; fairness between two
//! victims; anything of the misbehaving app's own requests, which may well fail. The
//! bounds are the caller's: each scenario states its own and why.

use crate::invariants::Violation;

/// What a victim must keep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// Least share of its requests that succeed, in percent.
    pub success_percent_min: f64,
    /// Largest 99th-percentile latency, in milliseconds (virtual, in the simulator).
    pub p99_ms_max: f64,
}

/// One request of the victim as its client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub request: String,
    pub ok: bool,
    pub latency_us: u64,
}

/// Requests named in a violation; the rest are counted.
const LISTED_MAX: usize = 5;

/// The violations of `app`'s answers against `bounds` (none when it sent nothing).
pub fn check_availability(app: &str, answers: &[Answer], bounds: &Bounds) -> Vec<Violation> {
    let mut violations = Vec::new();
    if answers.is_empty() {
        return violations;
    }
    let failed: Vec<&Answer> = answers.iter().filter(|a| !a.ok).collect();
    let percent = (answers.len() - failed.len()) as f64 * 100.0 / answers.len() as f64;
    if percent < bounds.success_percent_min {
        violations.push(Violation {
            invariant: "victim-availability",
            detail: format!(
                "app {app}: {percent:.1}% of {} requests succeeded, below {}%",
                answers.len(),
                bounds.success_percent_min
            ),
            involved: failed
                .iter()
                .take(LISTED_MAX)
                .map(|a| a.request.clone())
                .collect(),
        });
    }
    let mut by_latency: Vec<&Answer> = answers.iter().collect();
    by_latency.sort_by_key(|a| a.latency_us);
    let rank = (answers.len() * 99).div_ceil(100).clamp(1, answers.len());
    let p99_ms = by_latency[rank - 1].latency_us as f64 / 1000.0;
    if p99_ms > bounds.p99_ms_max {
        violations.push(Violation {
            invariant: "victim-latency",
            detail: format!(
                "app {app}: p99 {p99_ms:.3} ms over {} requests, above {} ms",
                answers.len(),
                bounds.p99_ms_max
            ),
            involved: by_latency
                .iter()
                .rev()
                .take(LISTED_MAX)
                .map(|a| a.request.clone())
                .collect(),
        });
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(failed: usize, slow: usize) -> Vec<Answer> {
        (0..100)
            .map(|n| Answer {
                request: format!("r{n}"),
                ok: n >= failed,
                latency_us: if n < slow { 900_000 } else { 1_000 },
            })
            .collect()
    }

    const BOUNDS: Bounds = Bounds {
        success_percent_min: 99.0,
        p99_ms_max: 50.0,
    };

    #[test]
    fn within_bounds_is_fine() {
        assert!(check_availability("v", &answers(1, 1), &BOUNDS).is_empty());
        assert!(check_availability("v", &[], &BOUNDS).is_empty());
    }

    #[test]
    fn failures_and_a_slow_tail_are_named() {
        let violations = check_availability("v", &answers(2, 2), &BOUNDS);
        let names: Vec<&str> = violations.iter().map(|v| v.invariant).collect();
        assert_eq!(names, ["victim-availability", "victim-latency"]);
        assert!(violations[0].involved.contains(&"r0".to_owned()));
        assert!(
            violations[1].detail.contains("p99 900.000 ms"),
            "{}",
            violations[1]
        );
    }
}
