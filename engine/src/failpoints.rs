//! The engine's failpoints: every place a fault can be injected, by name.
//!
//! The `fail` crate is only the switchboard. A point fires when the simulator's seeded
//! fault schedule has armed it (`fail::cfg(NAME, "1*return")`, once per arming) and the
//! engine reaches it; the engine then behaves as it would on the real fault. Points are
//! compiled in only with the `failpoints` feature (the simulator turns it on); without
//! it every check below is a constant `None` and costs nothing.
//!
//! The catalog in `fazt-chaos` documents each point and a test keeps it equal to
//! [`ALL`].

use std::time::Duration;

use crate::events::{Event, Recorder};

/// The writer fails a group before `BEGIN`: nothing was written, every write of the
/// group is a definite failure.
pub const STORAGE_BEFORE_BEGIN: &str = "storage-before-begin";
/// `BEGIN IMMEDIATE` answers SQLITE_BUSY as if another connection held the write lock.
pub const STORAGE_BUSY: &str = "storage-busy";
/// A statement of the group runs long: the writer holds the write lock for the armed
/// number of virtual milliseconds (`return(ms)`) before it commits.
pub const STORAGE_SLOW_STATEMENT: &str = "storage-slow-statement";
/// The writer gives up just before `COMMIT` and rolls back: a definite failure.
pub const STORAGE_BEFORE_COMMIT: &str = "storage-before-commit";
/// `COMMIT` runs, then reports an I/O error: the group may or may not be durable, so
/// its writes' outcome is unknown.
pub const STORAGE_COMMIT_ERROR: &str = "storage-commit-error";
/// A read statement fails with SQLITE_IOERR.
pub const STORAGE_IO_ERROR: &str = "storage-io-error";
/// The machine is slow: an execution costs the armed number of extra fuel ticks of
/// CPU (`return(ticks)`) before its script starts.
pub const RUNTIME_SLOW_CPU: &str = "runtime-slow-cpu";
/// The execution fails before its script starts (the VM stays healthy).
pub const RUNTIME_BEFORE_EXECUTE: &str = "runtime-before-execute";
/// The accept loop stalls for the armed number of virtual milliseconds
/// (`return(ms)`) before it takes the next connection.
pub const SERVER_SLOW_ACCEPT: &str = "server-slow-accept";
/// The connection is dropped after the handler ran, before the response is written:
/// the client cannot know whether its request took effect.
pub const SERVER_DROP_CONNECTION: &str = "server-drop-connection";

/// Every failpoint, in catalog order.
pub const ALL: &[&str] = &[
    STORAGE_BEFORE_BEGIN,
    STORAGE_BUSY,
    STORAGE_SLOW_STATEMENT,
    STORAGE_BEFORE_COMMIT,
    STORAGE_COMMIT_ERROR,
    STORAGE_IO_ERROR,
    RUNTIME_SLOW_CPU,
    RUNTIME_BEFORE_EXECUTE,
    SERVER_SLOW_ACCEPT,
    SERVER_DROP_CONNECTION,
];

/// Whether `point` fires now, with its `return(arg)` argument.
#[cfg(feature = "failpoints")]
fn fire(point: &str) -> Option<Option<String>> {
    fail::eval(point, |argument| argument)
}

#[cfg(not(feature = "failpoints"))]
fn fire(_point: &str) -> Option<Option<String>> {
    None
}

/// Whether `point` fires now (reported to `recorder` when it does).
pub fn fired(recorder: &Recorder, point: &'static str) -> bool {
    let fired = fire(point).is_some();
    if fired {
        recorder.emit(Event::Fault { point, n: None });
    }
    fired
}

/// The number `point` fires with now (`return(n)`; a missing or unreadable argument
/// counts as 0), reported to `recorder`.
pub fn fired_with(recorder: &Recorder, point: &'static str) -> Option<u64> {
    let argument = fire(point)?;
    let n = argument.and_then(|a| a.trim().parse().ok()).unwrap_or(0);
    recorder.emit(Event::Fault { point, n: Some(n) });
    Some(n)
}

/// The virtual time `point` fires with now (`return(ms)`).
pub fn fired_with_ms(recorder: &Recorder, point: &'static str) -> Option<Duration> {
    fired_with(recorder, point).map(Duration::from_millis)
}
