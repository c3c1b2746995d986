//! The suspension protocol between a JavaScript execution (running in a coroutine) and
//! its driver: host functions and the interrupt handler suspend with a [`Suspend`]; the
//! driver does the work asynchronously and resumes with a [`Resume`].

use std::cell::Cell;

use corosensei::Yielder;

use super::json_read::FromJs;
use super::operation::Operation;
use crate::storage::StorageError;

/// Why an execution stopped running.
pub enum Suspend {
    /// A storage call: the operation and its arguments (a JSON array).
    Storage {
        operation: Operation,
        arguments: FromJs,
    },
    /// A fuel tick: a time slice of CPU used, others may run now.
    Tick,
}

/// What the driver resumes an execution with.
pub enum Resume {
    /// The first resume.
    Begin,
    /// A storage call's answer: JSON text (`None` for undefined) or the error.
    Storage(Result<Option<String>, StorageError>),
    /// Go on after a tick.
    Continue,
    /// Stop: host functions fail without suspending, the interrupt handler interrupts.
    Cancel,
}

pub type ExecutionYielder = Yielder<Resume, Suspend>;

thread_local! {
    /// The yielder of the coroutine running on this thread, if any.
    static CURRENT: Cell<*const ExecutionYielder> = const { Cell::new(std::ptr::null()) };
}

/// Marks `yielder` as the running coroutine's; called first thing inside the coroutine.
pub fn enter(yielder: &ExecutionYielder) {
    CURRENT.with(|current| current.set(yielder));
}

/// Suspends the running execution. `None` when called outside one (at VM creation).
pub fn suspend(why: Suspend) -> Option<Resume> {
    let yielder = CURRENT.with(Cell::get);
    if yielder.is_null() {
        return None;
    }
    // SAFETY: `enter` stored the yielder of the coroutine that is running now (it is
    // re-stored below after every resume, since other coroutines run in between), and
    // a yielder lives as long as its coroutine's body, which is still executing.
    let resume = unsafe { (*yielder).suspend(why) };
    CURRENT.with(|current| current.set(yielder));
    Some(resume)
}

/// Clears the running-coroutine mark; called as the coroutine's body returns.
pub fn leave() {
    CURRENT.with(|current| current.set(std::ptr::null()));
}
