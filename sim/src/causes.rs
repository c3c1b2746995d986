//! Root causes of failed requests, derived from the trace.
//!
//! The engine's events (see `fazt_engine::runtime::TRACE`) tell which execution served
//! a request, on which VM, and how each legacy watcher ended; a cause names the
//! mechanism and the earlier actor responsible, e.g. `stale-interrupt` naming the
//! execution whose watcher fired on the VM before it served this request.
//!
//! [`Causes`] indexes a trace once, so that a run with thousands of failures does not
//! scan its trace once per failure.

use std::collections::BTreeMap;

use crate::trace::Trace;

/// The `key=value` fields of an event's text.
pub fn fields(what: &str) -> BTreeMap<&str, &str> {
    what.split(' ')
        .filter_map(|part| part.split_once('='))
        .collect()
}

/// The cause of a failed request with error `kind` (the JSON body's `kind`). Index the
/// trace with [`Causes::new`] instead when asking about many requests.
pub fn root_cause(trace: &Trace, request_id: &str, kind: &str) -> String {
    Causes::new(trace).root_cause(request_id, kind)
}

/// Times the queue's writer met the write lock of a background write outside the queue,
/// by its cause class: `analytics-flush` and `request-log`.
pub fn writer_busy_by_background_writes(trace: &Trace) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::from([(ANALYTICS_FLUSH, 0), (REQUEST_LOG, 0)]);
    for (_, blocker) in Causes::new(trace).background_busy {
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
enum Blocker<'a> {
    /// An analytics batch, with its number of events.
    AnalyticsBatch {
        events: &'a str,
    },
    RequestLogRow,
}

impl Blocker<'_> {
    fn class(self) -> &'static str {
        match self {
            Blocker::AnalyticsBatch { .. } => ANALYTICS_FLUSH,
            Blocker::RequestLogRow => REQUEST_LOG,
        }
    }

    fn describe(self) -> String {
        match self {
            Blocker::AnalyticsBatch { events } => {
                format!("an analytics batch of {events} events flushed")
            }
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
/// faults and crashes (actor `fault`) and the failpoints as they fired in the engine
/// (`fazt::fault`), a slow statement or a slow accept for its argument's milliseconds.
pub struct FaultWindows {
    /// (from µs, until µs, what), in the order they began.
    windows: Vec<(u64, u64, String)>,
}

impl FaultWindows {
    pub fn new(trace: &Trace) -> FaultWindows {
        let mut windows = Vec::new();
        for event in &trace.events {
            let (at, what) = (event.at_us, event.what.as_str());
            let ms = |text: &str| text.parse::<u64>().map_or(0, |ms| ms * 1000);
            let window = match event.actor.as_str() {
                "fault" => {
                    let words: Vec<&str> = what.split(' ').collect();
                    match words.as_slice() {
                        ["crash,", "restart", "after", down, "ms"] => {
                            Some((ms(down), format!("server crash at {} ms", at / 1000)))
                        }
                        ["power", "loss,", "restart", "after", down, "ms"] => {
                            Some((ms(down), format!("power loss at {} ms", at / 1000)))
                        }
                        ["hold" | "partition", n, "ms"] => {
                            Some((ms(n), format!("network {} at {} ms", words[0], at / 1000)))
                        }
                        ["latency", _, "ms", "for", n, "ms"] => {
                            Some((ms(n), format!("network latency at {} ms", at / 1000)))
                        }
                        _ => None,
                    }
                }
                "fazt::fault" => {
                    let f = fields(what);
                    f.get("point").map(|point| {
                        let lasts =
                            matches!(*point, "storage-slow-statement" | "server-slow-accept");
                        let length = if lasts {
                            f.get("n").map_or(0, |n| ms(n))
                        } else {
                            0
                        };
                        (length, format!("{point} at {} ms", at / 1000))
                    })
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

/// A trace, indexed for root causes.
pub struct Causes<'a> {
    /// Request id → the execution that served it, and the index of its `request`
    /// event (the request's end).
    requests: BTreeMap<&'a str, (u64, usize)>,
    /// Execution → the fields of its `execution failed` event.
    failed: BTreeMap<u64, BTreeMap<&'a str, &'a str>>,
    /// Execution → the index of its first queued write.
    queued: BTreeMap<u64, usize>,
    /// VM → the watchers of the executions it served, in order: (execution, end).
    watchers: BTreeMap<&'a str, Vec<(u64, &'a str)>>,
    /// Request id → the indexes of the first event of its admission wait and of its
    /// `request refused` event, for a request refused without an execution slot.
    refused: BTreeMap<&'a str, (usize, usize)>,
    /// Direct-path write steps, in order: (step, execution or `-` for the server's
    /// own writes, index in this list of the same executor's next step).
    direct: Vec<(Step, &'a str, Option<usize>)>,
    /// For each time the queue's writer met SQLITE_BUSY while a background write
    /// outside the queue held the write lock: (index of its `writer busy` event, that
    /// write).
    background_busy: Vec<(usize, Blocker<'a>)>,
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
        // `group started`.
        let mut background_held: Option<Held> = None;
        let mut held_at_group_start: Option<Held> = None;
        let mut busy_by_background: Vec<(usize, Held)> = Vec::new();
        let mut flush_sizes: Vec<&'a str> = Vec::new();
        let mut flushes_started = 0;
        for (at, event) in trace.events.iter().enumerate() {
            let what = event.what.as_str();
            let execution = || fields(what).get("execution")?.parse::<u64>().ok();
            match event.actor.as_str() {
                "fazt::server" if what.starts_with("request refused") => {
                    let f = fields(what);
                    let waited = f.get("waited_us").and_then(|w| w.parse::<u64>().ok());
                    if let (Some(id), Some(waited)) = (f.get("request_id"), waited) {
                        let from_us = event.at_us.saturating_sub(waited);
                        let first = trace.events[..at].partition_point(|e| e.at_us < from_us);
                        causes.refused.entry(id).or_insert((first, at));
                    }
                }
                "fazt::server" if what.starts_with("request") => {
                    let f = fields(what);
                    if let (Some(id), Some(Ok(execution))) =
                        (f.get("request_id"), f.get("execution").map(|e| e.parse()))
                    {
                        causes.requests.entry(id).or_insert((execution, at));
                    }
                }
                "fazt::runtime" if what.starts_with("execution failed") => {
                    if let Some(execution) = execution() {
                        causes
                            .failed
                            .entry(execution)
                            .or_insert_with(|| fields(what));
                    }
                }
                "fazt::runtime" if what.starts_with("watcher") => {
                    let f = fields(what);
                    if let (Some(vm), Some(Ok(execution))) =
                        (f.get("vm"), f.get("execution").map(|e| e.parse()))
                    {
                        let end = f.get("end").copied().unwrap_or("");
                        causes
                            .watchers
                            .entry(vm)
                            .or_default()
                            .push((execution, end));
                    }
                }
                "fazt::storage" => {
                    if what.starts_with("write queued") {
                        if let Some(execution) = execution() {
                            causes.queued.entry(execution).or_insert(at);
                        }
                    } else if what.starts_with("group started") {
                        held_at_group_start = background_held;
                    } else if what.starts_with("writer busy") {
                        if let Some(held) = held_at_group_start {
                            busy_by_background.push((at, held));
                        }
                    } else if what.starts_with("analytics flushed")
                        || what.starts_with("analytics flush failed")
                    {
                        flush_sizes.push(fields(what).get("events").copied().unwrap_or("?"));
                    }
                    let step = [
                        (Step::Started, "direct write started"),
                        (Step::Committing, "direct write committing"),
                        (Step::Busy, "direct write busy"),
                    ]
                    .into_iter()
                    .find(|(_, message)| what.starts_with(message));
                    if let Some((step, _)) = step {
                        let f = fields(what);
                        let background = match f.get("write") {
                            Some(&"analytics.flush") => Some(Held::AnalyticsBatch(flushes_started)),
                            Some(&"request_log.insert") => Some(Held::RequestLogRow),
                            _ => None,
                        };
                        if let Some(held) = background {
                            if step == Step::Started {
                                flushes_started +=
                                    usize::from(matches!(held, Held::AnalyticsBatch(_)));
                                background_held = Some(held);
                            } else {
                                background_held = None;
                            }
                        }
                        let who = f.get("execution").copied().unwrap_or("-");
                        causes.direct.push((step, who, None));
                    }
                }
                _ => {}
            }
        }
        let mut next_of: BTreeMap<&str, usize> = BTreeMap::new();
        for index in (0..causes.direct.len()).rev() {
            let who = causes.direct[index].1;
            causes.direct[index].2 = next_of.insert(who, index);
        }
        causes.background_busy = busy_by_background
            .into_iter()
            .map(|(at, held)| {
                let blocker = match held {
                    Held::AnalyticsBatch(flush) => Blocker::AnalyticsBatch {
                        events: flush_sizes.get(flush).copied().unwrap_or("?"),
                    },
                    Held::RequestLogRow => Blocker::RequestLogRow,
                };
                (at, blocker)
            })
            .collect();
        causes
    }

    /// The cause of the failed request `request_id` with error `kind` (the JSON body's
    /// `kind`).
    pub fn root_cause(&self, request_id: &str, kind: &str) -> String {
        let Some(&(execution, ended)) = self.requests.get(request_id) else {
            return match self.refused.get(request_id) {
                Some(&(from, to)) => match self.background_write_between(from, to) {
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
        let Some(f) = self.failed.get(&execution) else {
            return kind.to_owned();
        };
        let vm = f.get("vm").copied().unwrap_or("?");
        let (failed_kind, interrupted) = (f.get("kind").copied(), f.get("interrupted").copied());
        let waited_on_storage = matches!(
            (failed_kind, interrupted),
            (Some("StorageError"), _) | (Some("TimeoutError"), Some("true"))
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
            (Some("TimeoutError"), Some("false")) => match self.previous_watcher_on(vm, execution) {
                Some((previous, "LateInterruptedPooledVm")) => {
                    format!("stale-interrupt (watcher of execution {previous} fired after VM {vm} returned to the pool)")
                }
                _ => "TimeoutError before running (no stale interrupt in the trace)".to_owned(),
            },
            (Some("TimeoutError"), _) => "deadline (the execution ran out of time)".to_owned(),
            (Some("StorageError"), _) => match self.direct_write_lock_holders(&execution.to_string()) {
                Some(holders) if !holders.is_empty() => format!(
                    "sqlite-busy (DEFERRED write of execution {execution} met the write lock held by execution {})",
                    holders.join(", ")
                ),
                Some(_) => "sqlite-busy (lock holder not in trace)".to_owned(),
                None => kind.to_owned(),
            },
            (Some(other), _) => other.to_owned(),
            (None, _) => kind.to_owned(),
        }
    }

    /// When `execution`'s last direct write failed with SQLITE_BUSY: the executions
    /// whose DEFERRED transaction held the write lock as that write began (began before
    /// it, had not committed yet, and went on to commit: a write that itself met BUSY
    /// held nothing). `None` when the execution met no BUSY on the direct path.
    ///
    /// In simulation each job runs as it is submitted, right after its event, so the
    /// order of these events is the order in which SQLite saw the transactions.
    fn direct_write_lock_holders(&self, execution: &str) -> Option<Vec<String>> {
        let events = &self.direct;
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
            if committed_later && !holders.iter().any(|h| h == who) {
                holders.push(who.to_owned());
            }
        }
        Some(holders)
    }

    /// The first background write outside the queue whose write lock the queue's
    /// writer met between `execution`'s first queued write and its end (the event at
    /// `ended`).
    fn background_write_in_the_way(&self, execution: u64, ended: usize) -> Option<Blocker<'a>> {
        let queued = *self.queued.get(&execution)?;
        self.background_write_between(queued, ended)
    }

    /// The first background write outside the queue whose write lock the queue's
    /// writer met between the events at `from` and `to`.
    fn background_write_between(&self, from: usize, to: usize) -> Option<Blocker<'a>> {
        self.background_busy
            .iter()
            .find(|&&(at, _)| (from..to).contains(&at))
            .map(|&(_, blocker)| blocker)
    }

    /// The execution that used `vm` last before `execution`, and how its watcher ended.
    fn previous_watcher_on(&self, vm: &str, execution: u64) -> Option<(u64, &'a str)> {
        self.watchers
            .get(vm)?
            .iter()
            .rev()
            .find(|&&(earlier, _)| earlier < execution)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_interrupt_names_the_watcher_that_fired() {
        let mut trace = Trace::default();
        trace.record(
            1,
            "fazt::runtime",
            "watcher execution=3 vm=3 end=LateInterruptedPooledVm",
        );
        trace.record(
            2,
            "fazt::runtime",
            "watcher execution=7 vm=7 end=LatePickedDone",
        );
        trace.record(
            3,
            "fazt::runtime",
            "execution failed execution=13 vm=3 kind=TimeoutError cause=- interrupted=false",
        );
        trace.record(
            4,
            "fazt::server",
            "request request_id=r-13 status=504 execution=13",
        );
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
        for (actor, what) in [
            (
                "fazt::storage",
                "write queued write=ds.insert waiting=1 execution=5",
            ),
            (
                "fazt::storage",
                "direct write started write=analytics.flush",
            ),
            ("fazt::storage", "group started writes=1"),
            (
                "fazt::storage",
                "direct write committing write=analytics.flush",
            ),
            ("fazt::storage", "analytics flushed events=1000 path=bypass"),
            ("fazt::storage", "writer busy writes=1 attempt=1"),
            (
                "fazt::runtime",
                "execution failed execution=5 vm=1 kind=StorageError cause=- interrupted=false",
            ),
            (
                "fazt::server",
                "request request_id=w-5 execution=5 outcome=StorageError",
            ),
        ] {
            trace.record(1, actor, what);
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
        for what in [
            "write queued write=kv.set waiting=1 execution=8",
            "direct write started write=request_log.insert",
            "group started writes=1",
            "writer busy writes=1 attempt=1",
            "direct write committing write=request_log.insert",
            // The writer's retry, with no background write in the way: not counted.
            "group started writes=1",
            "writer busy writes=1 attempt=2",
        ] {
            trace.record(1, "fazt::storage", what);
        }
        trace.record(
            2,
            "fazt::runtime",
            "execution failed execution=8 vm=1 kind=StorageError cause=- interrupted=false",
        );
        trace.record(
            2,
            "fazt::server",
            "request request_id=w-8 execution=8 outcome=StorageError",
        );
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
        for what in [
            "direct write started write=request_log.insert",
            "group started writes=1",
            "writer busy writes=1 attempt=1",
            "direct write committing write=request_log.insert",
        ] {
            trace.record(100, "fazt::storage", what);
        }
        // Refused at 600 µs after waiting 550: the stall was during its wait.
        trace.record(
            600,
            "fazt::server",
            "request refused request_id=r-1 waited_us=550",
        );
        // Refused at 900 µs after waiting 200: nothing in the way during its wait.
        trace.record(
            900,
            "fazt::server",
            "request refused request_id=r-2 waited_us=200",
        );
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
        trace.record(1_000, "fault", "crash, restart after 20 ms");
        trace.record(
            30_000,
            "fazt::fault",
            "fault point=storage-slow-statement n=5000",
        );
        trace.record(40_000, "fazt::fault", "fault point=storage-before-begin");
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
        for what in [
            "direct write started write=ds.insert execution=29",
            "direct write started write=ds.insert execution=26",
            "direct write started write=ds.insert execution=22",
            "direct write busy write=ds.insert attempt=1 execution=26",
            "direct write busy write=ds.insert attempt=1 execution=22",
            "direct write committing write=ds.insert execution=29",
        ] {
            trace.record(1, "fazt::storage", what);
        }
        trace.record(
            2,
            "fazt::runtime",
            "execution failed execution=22 vm=2 kind=StorageError cause=- interrupted=false",
        );
        trace.record(
            3,
            "fazt::server",
            "request request_id=c-2 app=cashflow execution=22 outcome=StorageError",
        );
        assert_eq!(
            root_cause(&trace, "c-2", "StorageError"),
            "sqlite-busy (DEFERRED write of execution 22 met the write lock held by execution 29)"
        );
    }
}
