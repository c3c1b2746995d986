//! The CPU cost model: how much virtual time blocking work takes.
//!
//! The simulator runs SQLite work inline, taking no virtual time by itself; the cost
//! model turns the work a job reports into virtual time that passes after it. Two
//! software stacks have their own parameters ([`RuntimeStack`]): this engine's QuickJS
//! and rusqlite (the hardened and mechanism profiles) and fazt 0.10.x's goja and
//! database/sql over modernc's SQLite (the `fazt-*` version profiles).

use std::time::Duration;

use fazt_engine::env::Work;

/// Virtual time per unit of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CostModel {
    /// Fixed cost of one job (handing work to a thread, locking a connection).
    /// Default 5 µs.
    pub job: Duration,
    /// Cost of one SQL statement (prepare from cache, bind, step, reset; a COMMIT's WAL
    /// append). Default 4 µs: a point read on these machines takes 2–4 µs.
    pub statement: Duration,
    /// Cost of one SQLite progress tick (100 VM operations). Default 1 µs.
    pub sqlite_tick: Duration,
    /// Cost of one JavaScript interrupt tick (QuickJS calls the interrupt handler about
    /// every 10k of its ticks). Default 300 µs: a tight loop measured 300 µs per tick
    /// on these machines (release build).
    pub js_tick: Duration,
    /// Fixed cost of one JavaScript execution started (VM checkout, the `request` and
    /// `fazt` globals; for QuickJS also compiling from the cache, running a small
    /// script and the reset). Default 20 µs: a trivial handler measured 5–20 µs on
    /// these machines.
    pub js_execution: Duration,
    /// Compile cost per KB (1,000 bytes) of script ([`Work::script_bytes`]). Default zero: the
    /// engine compiles each app once per VM (its script cache).
    pub compile_per_kb: Duration,
    /// Fixed cost of running a script past its first instruction ([`Work::js_runs`]).
    /// Default zero: part of `js_execution` for QuickJS.
    pub js_run: Duration,
}

/// The software stack a profile's server runs, for its costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum RuntimeStack {
    /// This engine: QuickJS with a compile cache, rusqlite with cached statements.
    QuickJs,
    /// fazt 0.10.x: goja compiling the handler at every execution, database/sql over
    /// modernc's SQLite (SQLite transpiled to Go).
    GojaGo,
}

impl RuntimeStack {
    /// The cost model of this stack.
    pub fn costs(self) -> CostModel {
        match self {
            RuntimeStack::QuickJs => CostModel::default(),
            RuntimeStack::GojaGo => CostModel::fazt_go(),
        }
    }
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            job: Duration::from_micros(5),
            statement: Duration::from_micros(4),
            sqlite_tick: Duration::from_micros(1),
            js_tick: Duration::from_micros(300),
            js_execution: Duration::from_micros(20),
            compile_per_kb: Duration::ZERO,
            js_run: Duration::ZERO,
        }
    }
}

/// goja's speed relative to QuickJS on the same script: 2–3× slower on published
/// benchmarks (goja's README and the `js-engine-benchmarks` comparisons of Go engines);
/// the middle, 2.5×, as tenths.
pub const GOJA_OVER_QUICKJS_TENTHS: u32 = 25;

/// modernc's SQLite (C transpiled to Go) relative to C SQLite per statement and VM
/// step: 2–3× slower on `cvilsmeier/go-sqlite-bench`'s point queries and inserts; 2.5×,
/// as tenths.
pub const MODERNC_OVER_C_TENTHS: u32 = 25;

impl CostModel {
    /// fazt 0.10.x's stack (goja, database/sql, modernc SQLite) on the same machine,
    /// each parameter from a measurement of that stack (issue 20):
    /// - `js_execution` 47 µs: goja's injection of fazt's globals (`request`, `fazt.*`,
    ///   `respond`), median of an old goja build measured on momentum's POST
    ///   (min 19 µs);
    /// - `compile_per_kb` 115 µs: goja's compile of momentum's 3.4 KB script, median
    ///   387 µs (min 185 µs) on that build, per KB; fazt compiled at every execution;
    /// - `js_run` 47 µs: the same script's run, median (min 17 µs);
    /// - `js_tick` ×[`GOJA_OVER_QUICKJS_TENTHS`]: a long script's run;
    /// - `job` 25 µs: database/sql's connection checkout and a prepare per call (fazt
    ///   passed SQL text with arguments: database/sql prepares, executes and closes a
    ///   statement each time; modernc parses the SQL in Go), against rusqlite's cached
    ///   statement;
    /// - `statement`, `sqlite_tick` ×[`MODERNC_OVER_C_TENTHS`].
    pub fn fazt_go() -> CostModel {
        let quickjs = CostModel::default();
        let times = |cost: Duration, tenths: u32| cost * tenths / 10;
        CostModel {
            job: Duration::from_micros(25),
            statement: times(quickjs.statement, MODERNC_OVER_C_TENTHS),
            sqlite_tick: times(quickjs.sqlite_tick, MODERNC_OVER_C_TENTHS),
            js_tick: times(quickjs.js_tick, GOJA_OVER_QUICKJS_TENTHS),
            js_execution: Duration::from_micros(47),
            compile_per_kb: Duration::from_micros(115),
            js_run: Duration::from_micros(47),
        }
    }

    /// This model on a machine whose CPU is `factor` times slower: every cost times
    /// `factor` (at least 1).
    pub fn slowed(self, factor: u32) -> CostModel {
        let factor = factor.max(1);
        CostModel {
            job: self.job * factor,
            statement: self.statement * factor,
            sqlite_tick: self.sqlite_tick * factor,
            js_tick: self.js_tick * factor,
            js_execution: self.js_execution * factor,
            compile_per_kb: self.compile_per_kb * factor,
            js_run: self.js_run * factor,
        }
    }

    /// The virtual time `work` takes, without the fixed cost of a job.
    pub fn cost(&self, work: Work) -> Duration {
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        self.statement * count(work.statements)
            + self.sqlite_tick * count(work.sqlite_ticks)
            + self.js_tick * count(work.js_ticks)
            + self.js_execution * count(work.js_executions)
            + self.js_run * count(work.js_runs)
            + self.compile_per_kb * count(work.script_bytes) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_grows_with_work() {
        let model = CostModel::default();
        let small = model.cost(Work {
            statements: 1,
            ..Work::default()
        });
        let big = model.cost(Work {
            sqlite_ticks: 100,
            statements: 3,
            js_ticks: 1,
            js_executions: 1,
            ..Work::default()
        });
        assert_eq!(small, Duration::from_micros(4));
        assert!(big > small);
    }

    #[test]
    fn a_slower_machine_costs_every_kind_of_work_more() {
        let model = CostModel::default();
        let work = Work {
            sqlite_ticks: 7,
            statements: 3,
            js_ticks: 2,
            js_executions: 1,
            script_bytes: 3365,
            js_runs: 1,
        };
        assert_eq!(model.slowed(10).cost(work), model.cost(work) * 10);
        let model = CostModel::fazt_go();
        assert_eq!(model.slowed(10).cost(work), model.cost(work) * 10);
        assert_eq!(model.slowed(10).job, model.job * 10);
        assert_eq!(model.slowed(0), model);
    }

    /// momentum's POST before any SQLite work: goja's measured median, 483 µs
    /// (inject 47 + compile 387 + run 47), within rounding.
    #[test]
    fn goja_costs_momentums_post_what_was_measured() {
        let work = Work {
            js_executions: 1,
            script_bytes: 3365,
            js_runs: 1,
            ..Work::default()
        };
        let cost = CostModel::fazt_go().cost(work).as_micros();
        assert!((470..=490).contains(&cost), "{cost} µs");
        assert_eq!(
            CostModel::default().cost(work),
            Duration::from_micros(20),
            "QuickJS compiles once per VM"
        );
    }
}
