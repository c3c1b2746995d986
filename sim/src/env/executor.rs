//! The simulated executor: blocking work runs inline on the sim thread, one job at a
//! time, and its modelled cost passes as virtual time.

use std::sync::Arc;

use fazt_engine::env::{Clock, Executor, Job};
use futures::future::BoxFuture;

use super::cost::CostModel;

/// Runs each job when its future is first polled, then sleeps the job's cost on the
/// virtual clock, so that whoever waits on the job (a writer holding its queue, a reader
/// holding a pool slot) stays busy for that long in virtual time.
pub struct SimExecutor {
    clock: Arc<dyn Clock>,
    cost: CostModel,
}

impl SimExecutor {
    pub fn new(clock: Arc<dyn Clock>, cost: CostModel) -> SimExecutor {
        SimExecutor { clock, cost }
    }
}

impl Executor for SimExecutor {
    fn execute(&self, job: Job) -> BoxFuture<'static, ()> {
        let (clock, cost) = (self.clock.clone(), self.cost);
        Box::pin(async move {
            let work = job();
            clock.sleep(cost.cost(work)).await;
        })
    }
}
