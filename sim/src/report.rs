//! The report of one run, computed from what the run observed.

use std::collections::BTreeMap;

use serde::Serialize;

/// The clock a latency was measured on: the two differ in resolution, and a reader must
/// know which one a figure is on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LatencyClock {
    /// A client host's clock: tokio's paused clock, which turmoil advances one tick
    /// ([`crate::run::harness::TICK`], 1 ms) at a time, so every figure is a whole
    /// number of ticks (send to answer, network and queueing included).
    #[default]
    #[serde(rename = "client-tick-1ms")]
    ClientTick1ms,
    /// The engine host's virtual clock: the tick refined by the modelled CPU's
    /// timeline, in microseconds. For HTTP requests, from the request's head read to
    /// its response handed to the connection (the engine's `Answered` event); for
    /// storage workloads, one call on the engine host.
    EngineVirtualUs,
}

/// Latency percentiles in virtual milliseconds, on one [`LatencyClock`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub clock: LatencyClock,
    /// How many samples the figures are over.
    pub samples: u64,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `samples_us` (microseconds) measured on `clock`.
    pub fn from_micros(samples_us: &[u64], clock: LatencyClock) -> Latency {
        let mut sorted = samples_us.to_vec();
        sorted.sort_unstable();
        let rank = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            let index = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[index.clamp(1, sorted.len()) - 1] as f64 / 1000.0
        };
        let mean = if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().sum::<u64>() as f64 / sorted.len() as f64 / 1000.0
        };
        Latency {
            clock,
            samples: sorted.len() as u64,
            mean,
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: rank(100.0),
        }
    }
}

/// What a run reports (DESIGN.md, Simulator).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub profile: String,
    pub seed: u64,
    pub cpus: u32,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    /// Failed requests by error kind.
    pub errors: BTreeMap<String, u64>,
    /// Failed requests by root cause, derived from the trace.
    pub causes: BTreeMap<String, u64>,
    /// Request latencies as the run's callers measured them (HTTP clients: on the
    /// client tick; storage workloads: on the engine's clock), labelled with their clock.
    pub latency_ms: Latency,
    /// HTTP runs: the same requests' latencies on the engine's clock (µs resolution),
    /// over the requests the server answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_latency_ms: Option<Latency>,
    /// Virtual time the workload took.
    pub virtual_ms: u64,
    /// Real time the run took (not part of the trace).
    pub wall_ms: u64,
    pub trace_hash: String,
    /// Scenario-specific figures (group commits, busy retries, ...).
    pub details: BTreeMap<String, u64>,
    /// Invariants checked after the run; each failure names what broke.
    pub violations: Vec<String>,
    /// Multi-phase scenarios: each phase's own figures, in the order they ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// The run's size options (`--requests N ...`), for its replay command.
    #[serde(skip)]
    pub replay_args: String,
    /// The fault schedule the run applied (scenarios that take one), to save and edit.
    #[serde(skip)]
    pub schedule: Option<fazt_chaos::Schedule>,
}

/// One phase of a multi-phase scenario (e.g. one test of a seed document's table).
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    pub name: String,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    pub errors: BTreeMap<String, u64>,
    pub causes: BTreeMap<String, u64>,
    /// As [`Report::latency_ms`], for the phase's requests.
    pub latency_ms: Latency,
    /// As [`Report::server_latency_ms`], for the phase's requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_latency_ms: Option<Latency>,
    /// Virtual time from the phase's first request to its last answer.
    pub virtual_ms: u64,
}

impl Phase {
    /// Its causes as `cause xN, ...`; `None` when nothing failed.
    pub fn causes_line(&self) -> Option<String> {
        let causes: Vec<String> = self
            .causes
            .iter()
            .map(|(cause, n)| format!("{cause} x{n}"))
            .collect();
        (!causes.is_empty()).then(|| causes.join(", "))
    }

    /// A phase with its request latencies (`latency_ms`, with `server_latency_ms` set
    /// by HTTP runs); then [`Phase::count`] each request.
    pub fn new(name: &str, latency_ms: Latency, virtual_ms: u64) -> Phase {
        Phase {
            name: name.into(),
            requests: 0,
            ok: 0,
            failed: 0,
            errors: BTreeMap::new(),
            causes: BTreeMap::new(),
            latency_ms,
            server_latency_ms: None,
            virtual_ms,
        }
    }

    /// The latencies on the engine's clock, when the run has them.
    pub fn engine_latency(&self) -> Option<&Latency> {
        engine_latency(&self.latency_ms, self.server_latency_ms.as_ref())
    }

    /// Counts one request: succeeded (`None`), or failed with its error kind and cause.
    pub fn count(&mut self, failure: Option<(&str, String)>) {
        tally(
            failure,
            &mut self.requests,
            &mut self.ok,
            &mut self.failed,
            &mut self.errors,
            &mut self.causes,
        );
    }

    pub fn success_percent(&self) -> f64 {
        percent(self.ok, self.requests)
    }
}

/// The figures on the engine's clock: the server-side ones, else the callers' own
/// when they were measured on that clock (storage workloads).
fn engine_latency<'a>(callers: &'a Latency, server: Option<&'a Latency>) -> Option<&'a Latency> {
    server.or((callers.clock == LatencyClock::EngineVirtualUs).then_some(callers))
}

/// `latency`'s `pick`ed figure with three decimals, or `-` when there is none.
pub fn ms_or_dash(latency: Option<&Latency>, pick: fn(&Latency) -> f64) -> String {
    latency.map_or_else(|| "-".to_owned(), |l| format!("{:.3}", pick(l)))
}

/// The phases as a table in the shape of seed 000's (test, success rate, root cause),
/// with requests and mean latency (on the engine's clock, µs resolution) added.
fn render_phases(phases: &[Phase]) -> String {
    let mut out = format!(
        "| {:<24} | {:>8} | {:>12} | {:>12} | root cause\n",
        "test", "requests", "success rate", "srv mean ms"
    );
    for phase in phases {
        out += &format!(
            "| {:<24} | {:>8} | {:>11.1}% | {:>12} | {}\n",
            phase.name,
            phase.requests,
            phase.success_percent(),
            ms_or_dash(phase.engine_latency(), |l| l.mean),
            phase
                .causes_line()
                .unwrap_or_else(|| "- (no failures)".to_owned())
        );
    }
    out
}

/// Adds one request's outcome to a report's or a phase's counters.
fn tally(
    failure: Option<(&str, String)>,
    requests: &mut u64,
    ok: &mut u64,
    failed: &mut u64,
    errors: &mut BTreeMap<String, u64>,
    causes: &mut BTreeMap<String, u64>,
) {
    *requests += 1;
    match failure {
        None => *ok += 1,
        Some((kind, cause)) => {
            *failed += 1;
            *errors.entry(kind.to_owned()).or_default() += 1;
            *causes.entry(cause).or_default() += 1;
        }
    }
}

fn percent(ok: u64, requests: u64) -> f64 {
    if requests == 0 {
        return 100.0;
    }
    ok as f64 * 100.0 / requests as f64
}

impl Report {
    /// The report of `scenario` under `profile` with `seed`: its trace hash and request
    /// latencies (`latency_ms`); the scenario then [`Report::count`]s each request.
    pub fn new(
        scenario: &str,
        profile: &crate::profile::Profile,
        seed: u64,
        trace: &crate::trace::Trace,
        latency_ms: Latency,
        virtual_ms: u64,
    ) -> Report {
        Report {
            scenario: scenario.into(),
            profile: profile.name.into(),
            seed,
            cpus: profile.cpus,
            requests: 0,
            ok: 0,
            failed: 0,
            errors: BTreeMap::new(),
            causes: BTreeMap::new(),
            latency_ms,
            server_latency_ms: None,
            virtual_ms,
            wall_ms: 0,
            trace_hash: trace.hash(),
            details: BTreeMap::new(),
            violations: Vec::new(),
            phases: Vec::new(),
            replay_args: String::new(),
            schedule: None,
        }
    }

    /// Counts one request: succeeded (`None`), or failed with its error kind and cause.
    pub fn count(&mut self, failure: Option<(&str, String)>) {
        tally(
            failure,
            &mut self.requests,
            &mut self.ok,
            &mut self.failed,
            &mut self.errors,
            &mut self.causes,
        );
    }

    /// The latencies on the engine's clock, when the run has them.
    pub fn engine_latency(&self) -> Option<&Latency> {
        engine_latency(&self.latency_ms, self.server_latency_ms.as_ref())
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        if self.scenario.starts_with("regression:") {
            return "cargo test -p fazt-sim --test regressions".to_owned();
        }
        format!(
            "cargo run --release --bin fazt-sim -- run {} --profile {} --seed {} --cpus {}{}",
            self.scenario, self.profile, self.seed, self.cpus, self.replay_args
        )
    }

    /// Human-readable summary.
    pub fn render(&self) -> String {
        let mut out = format!(
            "scenario {}  profile {}  seed {}  cpus {}\n\
             requests {}  ok {}  failed {}  ({:.1}% ok)\n",
            self.scenario,
            self.profile,
            self.seed,
            self.cpus,
            self.requests,
            self.ok,
            self.failed,
            self.success_percent(),
        );
        for latency in std::iter::once(&self.latency_ms).chain(&self.server_latency_ms) {
            out += &format!(
                "latency (virtual ms, {}, {} samples)  mean {:.3}  p50 {:.3}  p95 {:.3}  p99 {:.3}  max {:.3}\n",
                clock_name(latency.clock),
                latency.samples,
                latency.mean,
                latency.p50,
                latency.p95,
                latency.p99,
                latency.max,
            );
        }
        out += &format!(
            "virtual {} ms  wall {} ms  trace_hash {}\n",
            self.virtual_ms, self.wall_ms, self.trace_hash
        );
        for (kind, n) in &self.errors {
            out += &format!("error {kind}: {n}\n");
        }
        for (cause, n) in &self.causes {
            out += &format!("cause {cause}: {n}\n");
        }
        for (name, n) in &self.details {
            out += &format!("{name}: {n}\n");
        }
        if !self.phases.is_empty() {
            out += &render_phases(&self.phases);
        }
        for violation in &self.violations {
            out += &format!("VIOLATION {violation}\n");
        }
        out += &format!("replay: {}\n", self.replay_command());
        out
    }

    pub fn success_percent(&self) -> f64 {
        percent(self.ok, self.requests)
    }
}

/// The clock's name as the JSON report spells it.
fn clock_name(clock: LatencyClock) -> String {
    serde_json::to_value(clock)
        .ok()
        .and_then(|name| name.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Milliseconds of real time since `started`: reported as `wall_ms`, never fed into a run.
#[allow(clippy::disallowed_methods)] // wall clock for the report only
pub fn wall_clock_ms_since(started: std::time::Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Now, in real time, for [`wall_clock_ms_since`].
#[allow(clippy::disallowed_methods)] // wall clock for the report only
pub fn wall_clock_start() -> std::time::Instant {
    std::time::Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        let latency = Latency::from_micros(&samples, LatencyClock::ClientTick1ms);
        assert_eq!(latency.p50, 50.0);
        assert_eq!(latency.p99, 99.0);
        assert_eq!(latency.max, 100.0);
        assert_eq!(latency.samples, 100);
        assert_eq!(
            Latency::from_micros(&[], LatencyClock::EngineVirtualUs).max,
            0.0
        );
    }

    #[test]
    fn clocks_are_named_in_the_json() {
        assert_eq!(clock_name(LatencyClock::ClientTick1ms), "client-tick-1ms");
        assert_eq!(
            clock_name(LatencyClock::EngineVirtualUs),
            "engine-virtual-us"
        );
    }
}
