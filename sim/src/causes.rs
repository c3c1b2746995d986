//! Root causes of failed requests, derived from the trace.
//!
//! The engine's typed events ([`fazt_engine::events::Event`]) tell which execution served
//! a request, on which VM, and how each legacy watcher ended; a cause names the
//! mechanism and the earlier actor responsible, e.g. `stale-interrupt` naming the
//! execution whose watcher fired on the VM before it served this request.
//!
//! [`Causes`] indexes a trace once, so that a run with thousands of failures does not
//! scan its trace once per failure.

use std::collections::BTreeMap;

use fazt_chaos::Action;
use fazt_engine::events::Event as EngineEvent;
use fazt_engine::failpoints;
use fazt_engine::runtime::WatcherEnd;

use crate::trace::{Trace, What};

/// The cause of a failed request with error `kind` (the JSON body's `kind`). Index the
/// trace with [`Causes::new`] instead when asking about many requests.
pub fn root_cause(trace: &Trace, request_id: &str, kind: &str) -> String {
    Causes::new(trace).root_cause(request_id, kind)
}

/// Times the queue's writer met the write lock of a background write outside the queue,
/// by its cause class: `analytics-flush` and `request-log`.
pub fn writer_busy_by_background_writes(trace: &Trace) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::from([(ANALYTICS_FLUSH, 0), (REQUEST_LOG, 0)]);
    for (_, _, blocker) in Causes::new(trace).background_busy {
        *counts.entry(blocker.class()).or_default() += 1;
    }
    counts
}

/// The cause class of a write stalled by an analytics batch flushed outside the queue.
pub const ANALYTICS_FLUSH: &str = "analytics-flush";
/// The cause class of a write stalled by a request-log row written outside the queue.
pub const REQUEST_LOG: &str = "request-log";

/// A background write outside the queue that held the write lock when the queue's
/// writer met SQLITE_BUSY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Blocker {
    /// An analytics batch, with its number of events (when the trace has its end).
    AnalyticsBatch {
        events: Option<usize>,
    },
    RequestLogRow,
}

impl Blocker {
    fn class(self) -> &'static str {
        match self {
            Blocker::AnalyticsBatch { .. } => ANALYTICS_FLUSH,
            Blocker::RequestLogRow => REQUEST_LOG,
        }
    }

    fn describe(self) -> String {
        match self {
            Blocker::AnalyticsBatch { events } => format!(
                "an analytics batch of {} events flushed",
                events.map_or("?".to_owned(), |n| n.to_string())
            ),
            Blocker::RequestLogRow => "a request-log row written".to_owned(),
        }
    }
}

/// A cause without the per-request details (which execution, which VM), for counting:
/// `stale-interrupt (watcher of execution 3 ...)` counts as `stale-interrupt`.
pub fn cause_class(cause: &str) -> String {
    cause.split(" (").next().unwrap_or(cause).to_owned()
}

/// When each fault of a run was in effect, from the trace: the schedule's network
/// faults and crashes ([`What::Fault`]) and the failpoints as they fired in the engine
/// ([`EngineEvent::Fault`]), a slow statement or a slow accept for its argument's
/// milliseconds.
pub struct FaultWindows {
    /// (from µs, until µs, what), in the order they began.
    windows: Vec<(u64, u64, String)>,
}

impl FaultWindows {
    pub fn new(trace: &Trace) -> FaultWindows {
        let mut windows = Vec::new();
        for event in &trace.events {
            let at = event.at_us;
            let window = match &event.what {
                What::Fault { action } => match action {
                    Action::Crash { down_ms } => {
                        Some((down_ms * 1000, format!("server crash at {} ms", at / 1000)))
                    }
                    Action::PowerLoss { down_ms } => {
                        Some((down_ms * 1000, format!("power loss at {} ms", at / 1000)))
                    }
                    Action::Hold { ms } => {
                        Some((ms * 1000, format!("network hold at {} ms", at / 1000)))
                    }
                    Action::Partition { ms } => {
                        Some((ms * 1000, format!("network partition at {} ms", at / 1000)))
                    }
                    Action::Latency { for_ms, .. } => Some((
                        for_ms * 1000,
                        format!("network latency at {} ms", at / 1000),
                    )),
                    Action::LockHeld { ms } => Some((
                        ms * 1000,
                        format!("write lock held by another process at {} ms", at / 1000),
                    )),
                    Action::Failpoint { .. } | Action::Disk { .. } => None,
                },
                What::Engine {
                    event: EngineEvent::Fault { point, n },
                    ..
                } => {
                    let lasts = matches!(
                        *point,
                        failpoints::STORAGE_SLOW_STATEMENT | failpoints::SERVER_SLOW_ACCEPT
                    );
                    let length = if lasts { n.unwrap_or(0) * 1000 } else { 0 };
                    Some((length, format!("{point} at {} ms", at / 1000)))
                }
                _ => None,
            };
            if let Some((length, name)) = window {
                windows.push((at, at + length, name));
            }
        }
        FaultWindows { windows }
    }

    /// The latest fault in effect at some time during `[invoked_us, completed_us]`.
    pub fn during(&self, invoked_us: u64, completed_us: u64) -> Option<&str> {
        self.windows
            .iter()
            .rev()
            .find(|&&(from, until, _)| from <= completed_us && until >= invoked_us)
            .map(|(_, _, name)| name.as_str())
    }
}

/// One step of a write on the legacy direct path (`direct_writes.rs`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Started,
    Committing,
    Busy,
}

/// A background write outside the queue holding the write lock while the trace is
/// indexed (an analytics batch: its index among the flushes).
#[derive(Clone, Copy)]
enum Held {
    AnalyticsBatch(usize),
    RequestLogRow,
}

/// How an execution failed: on which VM, with which error kind, whether interrupted.
struct Failed<'a> {
    vm: u64,
    kind: &'a str,
    interrupted: bool,
}

/// A trace, indexed for root causes.
pub struct Causes<'a> {
    /// Request id → the execution that served it, and the index of its `Request`
    /// event (the request's end).
    requests: BTreeMap<&'a str, (u64, usize)>,
    /// Execution → how it failed.
    failed: BTreeMap<u64, Failed<'a>>,
    /// Execution → the index of its first queued write.
    queued: BTreeMap<u64, usize>,
    /// VM → the watchers of the executions it served, in order: (execution, end).
    watchers: BTreeMap<u64, Vec<(u64, WatcherEnd)>>,
    /// Request id → the virtual µs its admission wait began and the index of its
    /// `RequestRefused` event, for a request refused without an execution slot. (A
    /// time, not an index: hosts stamp with their own clocks, so the trace is sorted
    /// only nearly, and no index marks a time.)
    refused: BTreeMap<&'a str, (u64, usize)>,
    /// Direct-path write steps, in order: (step, execution or `None` for the server's
    /// own writes, index in this list of the same executor's next step).
    direct: Vec<(Step, Option<u64>, Option<usize>)>,
    /// For each time the queue's writer met SQLITE_BUSY while a background write
    /// outside the queue held the write lock: (index of its `WriterBusy` event, its
    /// virtual µs, that write).
    background_busy: Vec<(usize, u64, Blocker)>,
}

impl<'a> Causes<'a> {
    /// Indexes `trace` in one pass (two for the analytics batches' sizes).
    pub fn new(trace: &'a Trace) -> Causes<'a> {
        let mut causes = Causes {
            requests: BTreeMap::new(),
            refused: BTreeMap::new(),
            failed: BTreeMap::new(),
            queued: BTreeMap::new(),
            watchers: BTreeMap::new(),
            direct: Vec::new(),
            background_busy: Vec::new(),
        };
        // Which background write outside the queue holds the lock (an analytics batch:
        // its index among the flushes), and which held it at the writer's latest
        // `GroupStarted`.
        let mut background_held: Option<Held> = None;
        let mut held_at_group_start: Option<Held> = None;
        let mut busy_by_background: Vec<(usize, u64, Held)> = Vec::new();
        let mut flush_sizes: Vec<usize> = Vec::new();
        let mut flushes_started = 0;
        for (at, entry) in trace.events.iter().enumerate() {
            let Some(event) = entry.engine() else {
                continue;
            };
            let step = match event {
                EngineEvent::RequestRefused {
                    request_id,
                    waited_us,
                    ..
                } => {
                    let from_us = entry.at_us.saturating_sub(*waited_us);
                    causes
                        .refused
                        .entry(request_id.as_str())
                        .or_insert((from_us, at));
                    None
                }
                EngineEvent::Request {
                    request_id,
                    execution,
                    ..
                } => {
                    causes
                        .requests
                        .entry(request_id.as_str())
                        .or_insert((*execution, at));
                    None
                }
                EngineEvent::ExecutionFailed {
                    execution,
                    vm,
                    kind,
                    interrupted,
                    ..
                } => {
                    causes.failed.entry(*execution).or_insert(Failed {
                        vm: *vm,
                        kind,
                        interrupted: *interrupted,
                    });
                    None
                }
                EngineEvent::Watcher { execution, vm, end } => {
                    causes
                        .watchers
                        .entry(*vm)
                        .or_default()
                        .push((*execution, *end));
                    None
                }
                EngineEvent::WriteQueued { .. } => {
                    if let Some(execution) = entry.execution() {
                        causes.queued.entry(execution).or_insert(at);
                    }
                    None
                }
                EngineEvent::GroupStarted { .. } => {
                    held_at_group_start = background_held;
                    None
                }
                EngineEvent::WriterBusy { .. } => {
                    if let Some(held) = held_at_group_start {
                        busy_by_background.push((at, entry.at_us, held));
                    }
                    None
                }
                EngineEvent::AnalyticsFlushed { events, .. }
                | EngineEvent::AnalyticsFlushFailed { events, .. } => {
                    flush_sizes.push(*events);
                    None
                }
                EngineEvent::DirectWriteStarted { write } => Some((Step::Started, *write)),
                EngineEvent::DirectWriteCommitting { write } => Some((Step::Committing, *write)),
                EngineEvent::DirectWriteBusy { write, .. } => Some((Step::Busy, *write)),
                _ => None,
            };
            if let Some((step, write)) = step {
                let background = match write {
                    "analytics.flush" => Some(Held::AnalyticsBatch(flushes_started)),
                    "request_log.insert" => Some(Held::RequestLogRow),
                    _ => None,
                };
                if let Some(held) = background {
                    if step == Step::Started {
                        flushes_started += usize::from(matches!(held, Held::AnalyticsBatch(_)));
                        background_held = Some(held);
                    } else {
                        background_held = None;
                    }
                }
                causes.direct.push((step, entry.execution(), None));
            }
        }
        let mut next_of: BTreeMap<Option<u64>, usize> = BTreeMap::new();
        for index in (0..causes.direct.len()).rev() {
            let who = causes.direct[index].1;
            causes.direct[index].2 = next_of.insert(who, index);
        }
        causes.background_busy = busy_by_background
            .into_iter()
            .map(|(at, at_us, held)| {
                let blocker = match held {
                    Held::AnalyticsBatch(flush) => Blocker::AnalyticsBatch {
                        events: flush_sizes.get(flush).copied(),
                    },
                    Held::RequestLogRow => Blocker::RequestLogRow,
                };
                (at, at_us, blocker)
            })
            .collect();
        causes
    }

    /// The cause of the failed request `request_id` with error `kind` (the JSON body's
    /// `kind`).
    pub fn root_cause(&self, request_id: &str, kind: &str) -> String {
        let Some(&(execution, ended)) = self.requests.get(request_id) else {
            return match self.refused.get(request_id) {
                Some(&(from_us, refused)) => match self.background_write_while(from_us, refused) {
                    Some(blocker) => format!(
                        "{} (refused without an execution slot while the queue's writer met the write lock of {} outside the queue)",
                        blocker.class(),
                        blocker.describe()
                    ),
                    None => format!("{kind} (refused without an execution slot)"),
                },
                None => format!("{kind} (no execution)"),
            };
        };
        let Some(failed) = self.failed.get(&execution) else {
            return kind.to_owned();
        };
        let (vm, failed_kind, interrupted) = (failed.vm, failed.kind, failed.interrupted);
        let waited_on_storage = matches!(
            (failed_kind, interrupted),
            ("StorageError", _) | ("TimeoutError", true)
        );
        if waited_on_storage {
            if let Some(blocker) = self.background_write_in_the_way(execution, ended) {
                return format!(
                    "{} (the write of execution {execution} waited on the write lock of {} outside the queue)",
                    blocker.class(),
                    blocker.describe()
                );
            }
        }
        match (failed_kind, interrupted) {
            ("TimeoutError", false) => match self.previous_watcher_on(vm, execution) {
                Some((previous, WatcherEnd::LateInterruptedPooledVm)) => {
                    format!("stale-interrupt (watcher of execution {previous} fired after VM {vm} returned to the pool)")
                }
                _ => "TimeoutError before running (no stale interrupt in the trace)".to_owned(),
            },
            ("TimeoutError", _) => "deadline (the execution ran out of time)".to_owned(),
            ("StorageError", _) => match self.direct_write_lock_holders(execution) {
                Some(holders) if !holders.is_empty() => format!(
                    "sqlite-busy (write of execution {execution} met the write lock held by execution {})",
                    holders.join(", ")
                ),
                Some(_) => "sqlite-busy (lock holder not in trace)".to_owned(),
                None => kind.to_owned(),
            },
            (other, _) => other.to_owned(),
        }
    }

    /// When `execution`'s last direct write failed with SQLITE_BUSY: the executions
    /// whose transaction held the write lock as that write began (began before
    /// it, had not committed yet, and went on to commit: a write that itself met BUSY
    /// held nothing). `None` when the execution met no BUSY on the direct path.
    ///
    /// In simulation each job runs as it is submitted, right after its event, so the
    /// order of these events is the order in which SQLite saw the transactions.
    fn direct_write_lock_holders(&self, execution: u64) -> Option<Vec<String>> {
        let (events, execution) = (&self.direct, Some(execution));
        let busy = events
            .iter()
            .rposition(|&(step, who, _)| step == Step::Busy && who == execution)?;
        let started = events[..busy]
            .iter()
            .rposition(|&(step, who, _)| step == Step::Started && who == execution)?;
        let mut holders: Vec<String> = Vec::new();
        for &(step, who, next) in &events[..started] {
            if step != Step::Started || who == execution {
                continue;
            }
            let committed_later =
                next.is_some_and(|at| at > started && events[at].0 == Step::Committing);
            let who = who.map_or("-".to_owned(), |who| who.to_string());
            if committed_later && !holders.contains(&who) {
                holders.push(who);
            }
        }
        Some(holders)
    }

    /// The first background write outside the queue whose write lock the queue's
    /// writer met between `execution`'s first queued write and its end (the event at
    /// `ended`).
    fn background_write_in_the_way(&self, execution: u64, ended: usize) -> Option<Blocker> {
        let queued = *self.queued.get(&execution)?;
        self.background_write_between(queued, ended)
    }

    /// The first background write outside the queue whose write lock the queue's
    /// writer met between the events at `from` and `to`.
    fn background_write_between(&self, from: usize, to: usize) -> Option<Blocker> {
        self.background_busy
            .iter()
            .find(|&&(at, _, _)| (from..to).contains(&at))
            .map(|&(_, _, blocker)| blocker)
    }

    /// The first background write outside the queue whose write lock the queue's
    /// writer met from `from_us` on, before the event at `before`.
    fn background_write_while(&self, from_us: u64, before: usize) -> Option<Blocker> {
        self.background_busy
            .iter()
            .find(|&&(at, at_us, _)| at < before && at_us >= from_us)
            .map(|&(_, _, blocker)| blocker)
    }

    /// The execution that used `vm` last before `execution`, and how its watcher ended.
    fn previous_watcher_on(&self, vm: u64, execution: u64) -> Option<(u64, WatcherEnd)> {
        self.watchers
            .get(&vm)?
            .iter()
            .rev()
            .find(|&&(earlier, _)| earlier < execution)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use fazt_engine::events::RequestOutcome;

    use super::*;

    fn failed(execution: u64, vm: u64, kind: &str) -> EngineEvent {
        EngineEvent::ExecutionFailed {
            execution,
            vm,
            kind: kind.to_owned(),
            cause: None,
            interrupted: false,
        }
    }

    fn request(id: &str, execution: u64, kind: &str) -> EngineEvent {
        EngineEvent::Request {
            request_id: id.to_owned(),
            app: "app".to_owned(),
            execution,
            outcome: RequestOutcome::Error(kind.to_owned()),
        }
    }

    fn refused(id: &str, waited_us: u64) -> EngineEvent {
        EngineEvent::RequestRefused {
            request_id: id.to_owned(),
            waited_us,
            cause: "ExecutionSlotsBusy",
        }
    }

    const fn started(write: &'static str) -> EngineEvent {
        EngineEvent::DirectWriteStarted { write }
    }

    const fn committing(write: &'static str) -> EngineEvent {
        EngineEvent::DirectWriteCommitting { write }
    }

    fn direct_busy(write: &'static str) -> EngineEvent {
        EngineEvent::DirectWriteBusy {
            write,
            attempt: 1,
            conn: 0,
            busy_timeout_ms: 0,
            lock_wait: false,
        }
    }

    fn writer_busy(attempt: u32) -> EngineEvent {
        EngineEvent::WriterBusy {
            writes: 1,
            attempt,
            conn: 0,
            busy_timeout_ms: 0,
            lock_wait: false,
        }
    }

    fn queued(write: &'static str) -> EngineEvent {
        EngineEvent::WriteQueued { write, waiting: 1 }
    }

    const GROUP: EngineEvent = EngineEvent::GroupStarted { writes: 1 };

    #[test]
    fn a_stale_interrupt_names_the_watcher_that_fired() {
        let mut trace = Trace::default();
        let watcher = |execution, vm, end| EngineEvent::Watcher { execution, vm, end };
        trace.engine(1, None, watcher(3, 3, WatcherEnd::LateInterruptedPooledVm));
        trace.engine(2, None, watcher(7, 7, WatcherEnd::LatePickedDone));
        trace.engine(3, None, failed(13, 3, "TimeoutError"));
        trace.engine(4, None, request("r-13", 13, "TimeoutError"));
        let cause = root_cause(&trace, "r-13", "TimeoutError");
        assert!(
            cause.starts_with("stale-interrupt (watcher of execution 3"),
            "{cause}"
        );
        assert_eq!(
            root_cause(&trace, "r-99", "TimeoutError"),
            "TimeoutError (no execution)"
        );
    }

    #[test]
    fn a_write_stalled_by_an_analytics_batch_outside_the_queue_is_blamed_on_it() {
        let mut trace = Trace::default();
        trace.engine(1, Some(5), queued("ds.insert"));
        for event in [
            started("analytics.flush"),
            GROUP,
            committing("analytics.flush"),
            EngineEvent::AnalyticsFlushed {
                events: 1000,
                bypass: true,
            },
            writer_busy(1),
            failed(5, 1, "StorageError"),
            request("w-5", 5, "StorageError"),
        ] {
            trace.engine(1, None, event);
        }
        assert_eq!(writer_busy_by_background_writes(&trace)[ANALYTICS_FLUSH], 1);
        let cause = root_cause(&trace, "w-5", "StorageError");
        assert!(
            cause.starts_with("analytics-flush (the write of execution 5 waited on the write lock of an analytics batch of 1000 events"),
            "{cause}"
        );
    }

    #[test]
    fn a_write_stalled_by_a_request_log_row_outside_the_queue_is_blamed_on_it() {
        let mut trace = Trace::default();
        trace.engine(1, Some(8), queued("kv.set"));
        for event in [
            started("request_log.insert"),
            GROUP,
            writer_busy(1),
            committing("request_log.insert"),
            // The writer's retry, with no background write in the way: not counted.
            GROUP,
            writer_busy(2),
        ] {
            trace.engine(1, None, event);
        }
        trace.engine(2, None, failed(8, 1, "StorageError"));
        trace.engine(2, None, request("w-8", 8, "StorageError"));
        let counts = writer_busy_by_background_writes(&trace);
        assert_eq!((counts[REQUEST_LOG], counts[ANALYTICS_FLUSH]), (1, 0));
        let cause = root_cause(&trace, "w-8", "StorageError");
        assert!(
            cause.starts_with("request-log (the write of execution 8"),
            "{cause}"
        );
    }

    #[test]
    fn a_request_refused_while_the_writer_met_a_background_lock_is_blamed_on_it() {
        let mut trace = Trace::default();
        // The writer meets a request-log row's lock at 100 µs, then nothing more.
        for event in [
            started("request_log.insert"),
            GROUP,
            writer_busy(1),
            committing("request_log.insert"),
        ] {
            trace.engine(100, None, event);
        }
        // Refused at 600 µs after waiting 550: the stall was during its wait.
        trace.engine(600, None, refused("r-1", 550));
        // Refused at 900 µs after waiting 200: nothing in the way during its wait.
        trace.engine(900, None, refused("r-2", 200));
        let causes = Causes::new(&trace);
        let cause = causes.root_cause("r-1", "Overloaded");
        assert!(
            cause.starts_with("request-log (refused without an execution slot while"),
            "{cause}"
        );
        assert_eq!(
            causes.root_cause("r-2", "Overloaded"),
            "Overloaded (refused without an execution slot)"
        );
        assert_eq!(
            causes.root_cause("r-3", "Overloaded"),
            "Overloaded (no execution)"
        );
    }

    #[test]
    fn a_failure_is_blamed_on_the_latest_fault_in_effect_during_it() {
        let mut trace = Trace::default();
        trace.record(
            1_000,
            What::Fault {
                action: Action::Crash { down_ms: 20 },
            },
        );
        let fault = |point, n| EngineEvent::Fault { point, n };
        trace.engine(
            30_000,
            None,
            fault(failpoints::STORAGE_SLOW_STATEMENT, Some(5000)),
        );
        trace.engine(40_000, None, fault(failpoints::STORAGE_BEFORE_BEGIN, None));
        let windows = FaultWindows::new(&trace);
        assert_eq!(windows.during(0, 500), None);
        assert_eq!(windows.during(10_000, 12_000), Some("server crash at 1 ms"));
        assert_eq!(
            windows.during(1_000_000, 2_000_000),
            Some("storage-slow-statement at 30 ms")
        );
        assert_eq!(
            windows.during(35_000, 45_000),
            Some("storage-before-begin at 40 ms")
        );
        assert_eq!(windows.during(6_000_000, 7_000_000), None);
    }

    #[test]
    fn sqlite_busy_names_the_transaction_that_held_the_lock() {
        let mut trace = Trace::default();
        for (execution, event) in [
            (29, started("ds.insert")),
            (26, started("ds.insert")),
            (22, started("ds.insert")),
            (26, direct_busy("ds.insert")),
            (22, direct_busy("ds.insert")),
            (29, committing("ds.insert")),
        ] {
            trace.engine(1, Some(execution), event);
        }
        trace.engine(2, None, failed(22, 2, "StorageError"));
        trace.engine(3, None, request("c-2", 22, "StorageError"));
        assert_eq!(
            root_cause(&trace, "c-2", "StorageError"),
            "sqlite-busy (write of execution 22 met the write lock held by execution 29)"
        );
    }
}
