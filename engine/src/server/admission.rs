//! The admission gate in front of the JavaScript workers: at most one request in
//! flight per VM, at most `app_max` of them for any one app, and fair hand-over of
//! freed slots between apps.
//!
//! A request takes a slot at once when one is free and its app is under its cap.
//! Otherwise it queues behind its own app's earlier requests (FIFO within an app).
//! Whenever a slot frees, it goes to the waiting app with the fewest slots in use (ties:
//! the one whose head has waited longest), skipping apps at their cap. So an app that
//! floods the gate with CPU loops holds at most its cap, and every other app's requests
//! still find slots. A request that gets no slot within `wait` is told 503 +
//! Retry-After at once, instead of queueing until its deadline and timing out.
//!
//! Only ordered structures (BTreeMap, VecDeque) and the env Clock: the hand-over order
//! is the same in every run of a simulation.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::env::{timeout_at, Clock};

/// Execution slots, one per VM of the worker pools.
pub struct Admission {
    shared: Arc<Shared>,
    wait: Duration,
}

struct Shared {
    size: usize,
    app_max: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    in_use: usize,
    /// Slots held per app; apps holding none are absent.
    by_app: BTreeMap<String, usize>,
    /// Requests waiting per app, oldest first; apps with none waiting are absent.
    waiting: BTreeMap<String, VecDeque<Waiter>>,
    /// Numbers arrivals, so that ties between apps go to the longest wait.
    next_ticket: u64,
}

struct Waiter {
    ticket: u64,
    grant: oneshot::Sender<()>,
}

/// Why no slot was given within the admission wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The request's app held its whole share (`app_max` slots) the whole time.
    AppConcurrencyLimit,
    /// Every slot was busy.
    SlotsBusy,
}

impl Refused {
    /// The `cause` of the 503 answer.
    pub fn cause(self) -> &'static str {
        match self {
            Refused::AppConcurrencyLimit => "AppConcurrencyLimit",
            Refused::SlotsBusy => "ExecutionSlotsBusy",
        }
    }
}

/// A held execution slot; given back (and handed to the next waiter) when dropped.
pub struct Slot {
    shared: Arc<Shared>,
    app: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        self.shared.release(&mut state, &self.app);
    }
}

/// A request in an app's queue. Dropped unfinished (its request was cancelled), it
/// leaves the queue, or gives back the slot handed to it meanwhile.
struct Pending {
    shared: Arc<Shared>,
    app: String,
    ticket: u64,
    granted: oneshot::Receiver<()>,
    finished: bool,
}

impl Pending {
    /// Takes it out of its app's queue; false when it was no longer there, which means
    /// a slot was handed to it (grants are sent under the lock).
    fn dequeue(&self, state: &mut State) -> bool {
        let Some(queue) = state.waiting.get_mut(&self.app) else {
            return false;
        };
        let Some(position) = queue.iter().position(|waiter| waiter.ticket == self.ticket) else {
            return false;
        };
        queue.remove(position);
        if queue.is_empty() {
            state.waiting.remove(&self.app);
        }
        true
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut state = self.shared.lock();
        if !self.dequeue(&mut state) && self.granted.try_recv().is_ok() {
            self.shared.release(&mut state, &self.app);
        }
    }
}

/// The default cap of one app: all slots but a quarter (at least one) kept for the
/// others, so with two or more slots no single app can hold them all while another
/// waits. Not half: a cap below the load one busy app brings makes its requests queue
/// at the gate and hand off across threads, which cost momentum's `POST` at c=50 19%
/// of its throughput at half the slots against 6% at three quarters (BENCHMARKS.md,
/// "Issue 15: what the limits cost").
pub fn default_app_max(size: usize) -> usize {
    let size = size.max(1);
    size - (size / 4).max(1).min(size - 1)
}

impl Admission {
    /// `size` slots (at least one), at most `app_max` of them per app (at least one,
    /// at most `size`); a request waits at most `wait` for one.
    pub fn new(size: usize, app_max: usize, wait: Duration) -> Admission {
        let size = size.max(1);
        Admission {
            shared: Arc::new(Shared {
                size,
                app_max: app_max.clamp(1, size),
                state: Mutex::new(State::default()),
            }),
            wait,
        }
    }

    /// Takes a slot for `app`, waiting no longer than the admission wait.
    pub async fn enter(&self, app: &str, clock: &dyn Clock) -> Result<Slot, Refused> {
        let slot = || Slot {
            shared: self.shared.clone(),
            app: app.to_owned(),
        };
        let mut pending = {
            let mut state = self.shared.lock();
            // Free slots exist only when every waiter's app is at its cap (a release
            // hands slots over at once), so taking one here jumps no eligible waiter.
            if state.in_use < self.shared.size
                && self.shared.held(&state, app) < self.shared.app_max
            {
                state.in_use += 1;
                *state.by_app.entry(app.to_owned()).or_default() += 1;
                return Ok(slot());
            }
            let (grant, granted) = oneshot::channel();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state
                .waiting
                .entry(app.to_owned())
                .or_default()
                .push_back(Waiter { ticket, grant });
            Pending {
                shared: self.shared.clone(),
                app: app.to_owned(),
                ticket,
                granted,
                finished: false,
            }
        };
        let deadline = clock.deadline_in(self.wait);
        let waited = timeout_at(clock, deadline, &mut pending.granted).await;
        pending.finished = true;
        if let Ok(Ok(())) = waited {
            return Ok(slot());
        }
        let mut state = self.shared.lock();
        let at_cap = self.shared.held(&state, app) >= self.shared.app_max;
        if pending.dequeue(&mut state) {
            return Err(if at_cap {
                Refused::AppConcurrencyLimit
            } else {
                Refused::SlotsBusy
            });
        }
        // Handed a slot just as the wait ran out: take it.
        match pending.granted.try_recv() {
            Ok(()) => Ok(slot()),
            Err(_) => unreachable!("a waiter leaves its queue only with a grant"),
        }
    }

    /// Slots in all.
    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// Slots one app may hold at once.
    pub fn app_max(&self) -> usize {
        self.shared.app_max
    }

    /// Slots taken now.
    pub fn in_use(&self) -> usize {
        self.shared.lock().in_use
    }

    /// Slots held and requests waiting, per app with either, by app id.
    pub fn by_app(&self) -> BTreeMap<String, (usize, usize)> {
        let state = self.shared.lock();
        let mut apps: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (app, held) in &state.by_app {
            apps.entry(app.clone()).or_default().0 = *held;
        }
        for (app, queue) in &state.waiting {
            apps.entry(app.clone()).or_default().1 = queue.len();
        }
        apps
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("the admission lock is never poisoned")
    }

    /// Gives back one slot of `app` and hands the free slots over.
    fn release(&self, state: &mut State, app: &str) {
        state.in_use -= 1;
        let held = state
            .by_app
            .get_mut(app)
            .expect("a held slot is counted for its app");
        *held -= 1;
        if *held == 0 {
            state.by_app.remove(app);
        }
        self.hand_over(state);
    }

    fn held(&self, state: &State, app: &str) -> usize {
        state.by_app.get(app).copied().unwrap_or(0)
    }

    /// Gives free slots to waiters: each to the eligible app (under its cap) with the
    /// fewest slots in use, ties to the oldest head; within an app, oldest first.
    fn hand_over(&self, state: &mut State) {
        while state.in_use < self.size {
            let next = state
                .waiting
                .iter()
                .filter(|(app, _)| self.held(state, app) < self.app_max)
                .filter_map(|(app, queue)| {
                    Some((self.held(state, app), queue.front()?.ticket, app))
                })
                .min()
                .map(|(_, _, app)| app.clone());
            let Some(app) = next else { return };
            let queue = state
                .waiting
                .get_mut(&app)
                .expect("chosen among the waiting");
            let waiter = queue.pop_front().expect("queues in the map are not empty");
            if queue.is_empty() {
                state.waiting.remove(&app);
            }
            // The waiter holds its receiver until it has left its queue, under this lock.
            if waiter.grant.send(()).is_ok() {
                state.in_use += 1;
                *state.by_app.entry(app).or_default() += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::RealClock;

    #[tokio::test(start_paused = true)]
    async fn a_full_gate_refuses_after_the_wait() {
        let clock = RealClock::new();
        let gate = Admission::new(1, 1, Duration::from_millis(50));
        let held = gate.enter("a", &clock).await.unwrap();
        assert_eq!(gate.in_use(), 1);
        assert_eq!(
            gate.enter("a", &clock).await.err(),
            Some(Refused::AppConcurrencyLimit)
        );
        assert_eq!(
            gate.enter("b", &clock).await.err(),
            Some(Refused::SlotsBusy)
        );
        drop(held);
        assert!(gate.enter("a", &clock).await.is_ok());
        assert_eq!(gate.in_use(), 0);
    }

    #[test]
    fn the_default_cap_is_half_rounded_up() {
        assert_eq!(
            [0, 1, 2, 3, 4, 16, 32].map(default_app_max),
            [1, 1, 1, 2, 3, 12, 24]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_app_cannot_take_every_slot() {
        let clock = RealClock::new();
        let gate = Admission::new(4, 2, Duration::from_millis(50));
        let _a1 = gate.enter("a", &clock).await.unwrap();
        let _a2 = gate.enter("a", &clock).await.unwrap();
        assert_eq!(
            gate.enter("a", &clock).await.err(),
            Some(Refused::AppConcurrencyLimit)
        );
        let _b = gate.enter("b", &clock).await.unwrap();
        assert_eq!(gate.by_app()["a"], (2, 0));
        assert_eq!(gate.by_app()["b"], (1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_waiter_leaves_no_slot_behind() {
        let clock = Arc::new(RealClock::new());
        let gate = Arc::new(Admission::new(1, 1, Duration::from_secs(60)));
        let held = gate.enter("a", clock.as_ref()).await.unwrap();
        let waiter = {
            let (gate, clock) = (gate.clone(), clock.clone());
            tokio::spawn(async move { gate.enter("b", clock.as_ref()).await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        assert_eq!(gate.by_app()["b"], (0, 1));
        // The slot is handed to the waiter, which is cancelled before it takes it.
        drop(held);
        assert_eq!(gate.by_app()["b"], (1, 0));
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(gate.in_use(), 0);
        assert!(gate.by_app().is_empty());
        assert!(gate.enter("c", clock.as_ref()).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn freed_slots_go_to_the_app_with_fewest_in_use_then_fifo() {
        let clock = Arc::new(RealClock::new());
        let gate = Arc::new(Admission::new(3, 3, Duration::from_secs(60)));
        let a1 = gate.enter("a", clock.as_ref()).await.unwrap();
        let a2 = gate.enter("a", clock.as_ref()).await.unwrap();
        let c1 = gate.enter("c", clock.as_ref()).await.unwrap();
        // Waiting, in this order: a, a, b.
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (index, app) in ["a", "a", "b"].into_iter().enumerate() {
            let (gate, clock, order) = (gate.clone(), clock.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let slot = gate.enter(app, clock.as_ref()).await.unwrap();
                order.lock().unwrap().push(format!("{app}{index}"));
                slot
            }));
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.by_app()["a"], (2, 2));
        // a holds 2, b none: the first freed slot goes to b though it came last.
        drop(c1);
        tokio::task::yield_now().await;
        assert_eq!(*order.lock().unwrap(), ["b2"]);
        // Then a's oldest waiter first, then its next.
        drop(a1);
        drop(a2);
        let mut slots = Vec::new();
        for task in tasks {
            slots.push(task.await.unwrap());
        }
        assert_eq!(*order.lock().unwrap(), ["b2", "a0", "a1"]);
        assert_eq!(gate.in_use(), 3);
        drop(slots);
        assert_eq!(gate.in_use(), 0);
        assert!(gate.by_app().is_empty());
    }
}
