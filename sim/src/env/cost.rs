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
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            job: Duration::from_micros(5),
            statement: Duration::from_micros(4),
            sqlite_tick: Duration::from_micros(1),
        }
    }
}

impl CostModel {
    /// The virtual time `work` takes.
    pub fn cost(&self, work: Work) -> Duration {
        let ticks = u32::try_from(work.sqlite_ticks).unwrap_or(u32::MAX);
        let statements = u32::try_from(work.statements).unwrap_or(u32::MAX);
        self.job + self.statement * statements + self.sqlite_tick * ticks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_grows_with_work() {
        let model = CostModel::default();
        let small = model.cost(Work {
            sqlite_ticks: 0,
            statements: 1,
        });
        let big = model.cost(Work {
            sqlite_ticks: 100,
            statements: 3,
        });
        assert_eq!(small, Duration::from_micros(9));
        assert!(big > small);
    }
}
