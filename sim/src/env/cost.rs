//! The CPU cost model: how much virtual time blocking work takes.
//!
//! The simulator runs SQLite work inline, taking no virtual time by itself; the cost
//! model turns the work a job reports into virtual time that passes after it. The
//! parameters are the same for every profile.

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
    /// Fixed cost of one JavaScript execution (VM checkout, `request` global, compiling
    /// and running a small script, reset). Default 20 µs: a trivial handler measured
    /// 5–20 µs on these machines.
    pub js_execution: Duration,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            job: Duration::from_micros(5),
            statement: Duration::from_micros(4),
            sqlite_tick: Duration::from_micros(1),
            js_tick: Duration::from_micros(300),
            js_execution: Duration::from_micros(20),
        }
    }
}

impl CostModel {
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
        }
    }

    /// The virtual time `work` takes, without the fixed cost of a job.
    pub fn cost(&self, work: Work) -> Duration {
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        self.statement * count(work.statements)
            + self.sqlite_tick * count(work.sqlite_ticks)
            + self.js_tick * count(work.js_ticks)
            + self.js_execution * count(work.js_executions)
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
        };
        assert_eq!(model.slowed(10).cost(work), model.cost(work) * 10);
        assert_eq!(model.slowed(10).job, model.job * 10);
        assert_eq!(model.slowed(0), model);
    }
}
