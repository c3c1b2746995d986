//! One JavaScript VM: a QuickJS runtime and context with limits, the host functions of
//! the handler contract, the interrupt handler, and the hardened prelude.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use rquickjs::{Ctx, Exception, Function, Object, Persistent, Value};

use super::budgets::{
    self, CONSOLE_BYTES_MAX, CONSOLE_LINE_OVERHEAD_BYTES, CONSOLE_TRUNCATED, NAME_BYTES_MAX,
};
use super::compile::ScriptCache;
use super::contract::{AppCode, LogEntry, LogLevel};
use super::globals::GlobalBaseline;
use super::json_read::{bounded_string, read, Bounded, FromJs, Intrinsics, ReadError};
use super::operation::Operation;
use super::suspend::{suspend, Resume, Suspend};
use crate::env::{Clock, Instant, Rng};
use crate::storage::{Limits, StorageError};

/// Limits of one VM.
#[derive(Clone, Debug)]
pub struct VmLimits {
    /// Heap of the QuickJS runtime. Default 64 MiB.
    pub memory_bytes: usize,
    /// JavaScript stack (QuickJS's own check). Default 256 KiB.
    pub js_stack_bytes: usize,
    /// The coroutine's machine stack; must exceed `js_stack_bytes` by enough for the
    /// host frames (DESIGN.md: +64–256 KiB). Default 1 MiB.
    pub coroutine_stack_bytes: usize,
}

impl Default for VmLimits {
    fn default() -> Self {
        VmLimits {
            memory_bytes: 64 << 20,
            js_stack_bytes: 256 << 10,
            coroutine_stack_bytes: 1 << 20,
        }
    }
}

/// The execution a VM is running, as host functions and the interrupt handler see it.
pub struct Slot {
    pub started: Instant,
    pub app: Arc<AppCode>,
    /// The storage layer's limits, which bound storage arguments.
    pub storage_limits: Limits,
    pub logs: Vec<LogEntry>,
    /// Bytes of console output captured (see [`budgets::CONSOLE_BYTES_MAX`]).
    pub log_bytes: usize,
    /// Interrupt-handler calls (each ~10k QuickJS ticks).
    pub fuel: u64,
    /// The driver stopped the execution at its deadline.
    pub timed_out: bool,
    /// The VM's interrupt flag stopped it.
    pub signalled: bool,
}

/// State shared by the VM's host functions and interrupt handler.
pub struct VmState {
    pub clock: Arc<dyn Clock>,
    pub rng: Rng,
    pub slot: RefCell<Option<Slot>>,
    /// goja's interrupt flag: set by `vm.Interrupt`, it stops whatever runs on the VM
    /// next, whichever execution that is. Only the legacy watchdog sets it; it holds the
    /// execution whose watcher did. Hardened interrupts never use it: they reach their
    /// execution through its own coroutine (`Resume::Cancel`), so they are keyed by
    /// construction and cannot stop another execution.
    pub interrupt: Cell<Option<u64>>,
    /// The scripts and modules this VM has compiled.
    pub scripts: ScriptCache,
}

impl Slot {
    /// A slot for one execution of `app`.
    pub fn new(started: Instant, app: Arc<AppCode>, storage_limits: Limits) -> Slot {
        Slot {
            started,
            app,
            storage_limits,
            logs: Vec::new(),
            log_bytes: 0,
            fuel: 0,
            timed_out: false,
            signalled: false,
        }
    }

    /// Captures a console line within the budget; past it, adds the marker once and
    /// drops the line without copying it out of the VM.
    fn log(&mut self, ctx: &Ctx<'_>, level: LogLevel, message: &Value<'_>) {
        // Over the budget once the marker is in.
        let Some(left) = CONSOLE_BYTES_MAX.checked_sub(self.log_bytes) else {
            return;
        };
        let room = left.checked_sub(CONSOLE_LINE_OVERHEAD_BYTES);
        match room.map(|room| bounded_string(ctx, message, room)) {
            Some(Bounded::Text(message)) => {
                self.log_bytes += message.len() + CONSOLE_LINE_OVERHEAD_BYTES;
                self.logs.push(LogEntry { level, message });
            }
            _ => {
                self.log_bytes = CONSOLE_BYTES_MAX + 1;
                self.logs.push(LogEntry {
                    level: LogLevel::Warn,
                    message: CONSOLE_TRUNCATED.into(),
                });
            }
        }
    }
}

impl VmState {
    fn with_slot<T>(&self, f: impl FnOnce(&mut Slot) -> T) -> Option<T> {
        self.slot.borrow_mut().as_mut().map(f)
    }
}

/// The prelude's helpers, kept across executions.
pub struct Helpers {
    pub finish: Persistent<Function<'static>>,
    pub begin: Persistent<Function<'static>>,
    pub describe: Persistent<Function<'static>>,
    /// The global object as the prelude left it, for [`Vm::reset`].
    pub globals: GlobalBaseline,
    /// For reading the response without JSON text.
    pub intrinsics: Intrinsics,
    /// The VM's heap limit (`VmLimits::memory_bytes`).
    pub memory_bytes: usize,
}

/// One VM. Not `Send`: it lives on the thread that made it.
///
/// Fields drop in declaration order, and no value may outlive its runtime: the compiled
/// scripts are dropped first (`Drop`), then the saved helpers, the runtime last.
pub struct Vm {
    pub helpers: Rc<Helpers>,
    pub context: rquickjs::Context,
    pub runtime: rquickjs::Runtime,
    pub id: u64,
    pub state: Rc<VmState>,
    pub executions: u64,
}

const PRELUDE: &str = include_str!("prelude.js");

impl Vm {
    /// Creates and hardens a VM.
    pub fn new(
        id: u64,
        limits: &VmLimits,
        clock: Arc<dyn Clock>,
        rng: Rng,
    ) -> rquickjs::Result<Vm> {
        let runtime = rquickjs::Runtime::new()?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(limits.js_stack_bytes);
        let state = Rc::new(VmState {
            clock,
            rng,
            slot: RefCell::new(None),
            interrupt: Cell::new(None),
            scripts: ScriptCache::default(),
        });
        runtime.set_interrupt_handler(Some(interrupt_handler(state.clone())));
        let context = rquickjs::Context::full(&runtime)?;
        let helpers = context.with(|ctx| -> rquickjs::Result<Helpers> {
            let intrinsics = Intrinsics::capture(&ctx)?;
            let host = host_object(&ctx, &state, intrinsics)?;
            let prelude: Function = ctx.eval(PRELUDE)?;
            let helpers: Object = prelude.call((host,))?;
            let get = |name: &str| -> rquickjs::Result<Persistent<Function<'static>>> {
                Ok(Persistent::save(&ctx, helpers.get::<_, Function>(name)?))
            };
            Ok(Helpers {
                finish: get("finish")?,
                begin: get("begin")?,
                describe: get("describe")?,
                globals: GlobalBaseline::capture(&ctx)?,
                intrinsics,
                memory_bytes: limits.memory_bytes,
            })
        })?;
        Ok(Vm {
            id,
            runtime,
            context,
            state,
            helpers: Rc::new(helpers),
            executions: 0,
        })
    }
}

impl Vm {
    /// Makes the VM ready for the next execution: deletes the globals the last one
    /// added. False when it cannot (the VM must go).
    pub fn reset(&self) -> bool {
        self.context.with(|ctx| self.helpers.globals.restore(&ctx))
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.state.scripts.clear();
    }
}

/// Called by QuickJS about every 10k ticks: honours the VM's interrupt flag, then gives
/// the driver a time slice (where it accounts CPU time, lets others run and decides
/// whether the deadline has passed).
fn interrupt_handler(state: Rc<VmState>) -> Box<dyn FnMut() -> bool> {
    Box::new(move || {
        if state.with_slot(|slot| slot.fuel += 1).is_none() {
            return false;
        }
        if state.interrupt.take().is_some() {
            state.with_slot(|slot| slot.signalled = true);
            return true;
        }
        match suspend(Suspend::Tick) {
            Some(Resume::Cancel) => {
                state.with_slot(|slot| slot.timed_out = true);
                true
            }
            _ => false,
        }
    })
}

/// The native functions the prelude builds the contract on. Never a global.
fn host_object<'js>(
    ctx: &Ctx<'js>,
    state: &Rc<VmState>,
    intrinsics: Intrinsics,
) -> rquickjs::Result<Object<'js>> {
    let host = Object::new(ctx.clone())?;
    let s = state.clone();
    host.set(
        "now",
        Function::new(ctx.clone(), move || s.clock.wall_ms() as f64)?,
    )?;
    let s = state.clone();
    host.set(
        "monotonic",
        Function::new(ctx.clone(), move || {
            let started = s
                .with_slot(|slot| slot.started)
                .unwrap_or_else(|| s.clock.now());
            s.clock
                .now()
                .saturating_duration_since(started)
                .as_secs_f64()
                * 1000.0
        })?,
    )?;
    let s = state.clone();
    host.set(
        "random",
        Function::new(ctx.clone(), move || {
            (s.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        })?,
    )?;
    let s = state.clone();
    host.set(
        "log",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, level: String, message: Value<'js>| {
                s.with_slot(|slot| slot.log(&ctx, LogLevel::parse(&level), &message));
            },
        )?,
    )?;
    let s = state.clone();
    host.set(
        "module",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, path: Value<'js>| -> rquickjs::Result<Option<Function<'js>>> {
                let Some(app) = s.with_slot(|slot| slot.app.clone()) else {
                    return Ok(None);
                };
                let Bounded::Text(path) = bounded_string(&ctx, &path, NAME_BYTES_MAX) else {
                    return Ok(None);
                };
                match app.files.get(&path) {
                    Some(source) => s.scripts.module_factory(&ctx, source).map(Some),
                    None => Ok(None),
                }
            },
        )?,
    )?;
    let s = state.clone();
    host.set(
        "library",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, name: Value<'js>| -> rquickjs::Result<Option<Function<'js>>> {
                let Bounded::Text(name) = bounded_string(&ctx, &name, NAME_BYTES_MAX) else {
                    return Ok(None);
                };
                match super::stdlib::source(&name) {
                    Some(source) => s.scripts.library_factory(&ctx, source).map(Some),
                    None => Ok(None),
                }
            },
        )?,
    )?;
    let s = state.clone();
    host.set(
        "app",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>| -> rquickjs::Result<Object<'js>> {
                let app = Object::new(ctx)?;
                let (id, name) = s
                    .with_slot(|slot| (slot.app.id.clone(), slot.app.name.clone()))
                    .unwrap_or_default();
                app.set("id", id)?;
                app.set("name", name)?;
                Ok(app)
            },
        )?,
    )?;
    let s = state.clone();
    host.set(
        "env",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, key: Value<'js>| {
            let Bounded::Text(key) = bounded_string(&ctx, &key, NAME_BYTES_MAX) else {
                return None;
            };
            s.with_slot(|slot| slot.app.env.get(&key).cloned())
                .flatten()
        })?,
    )?;
    let s = state.clone();
    host.set(
        "storage",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  name: String,
                  arguments: Value<'js>|
                  -> rquickjs::Result<Option<String>> {
                let Some(operation) = Operation::parse(&name) else {
                    let unknown = StorageError::InvalidArgument(format!(
                        "unknown storage operation {name:?}"
                    ));
                    let (message, kind) = (unknown.to_string(), unknown.kind());
                    return Err(storage_error(&ctx, &message, false, kind)?);
                };
                let limit = s
                    .with_slot(|slot| {
                        budgets::storage_arguments_max(&slot.storage_limits, operation)
                    })
                    .unwrap_or(0);
                let arguments = match read(&ctx, arguments, &intrinsics, limit) {
                    Ok(arguments) => arguments.unwrap_or(FromJs::Value(serde_json::Value::Null)),
                    Err(ReadError::Js(error)) => return Err(error),
                    Err(ReadError::OverBudget { limit }) => {
                        let message = format!(
                            "the arguments of {operation} are over the limit of {limit} bytes"
                        );
                        return Err(storage_error(&ctx, &message, false, "ValueTooLarge")?);
                    }
                };
                match suspend(Suspend::Storage {
                    operation,
                    arguments,
                }) {
                    Some(Resume::Storage(Ok(answer))) => Ok(answer),
                    Some(Resume::Storage(Err(error))) => Err(storage_error(
                        &ctx,
                        &error.to_string(),
                        error.retryable(),
                        error.kind(),
                    )?),
                    Some(Resume::Cancel) => {
                        // The deadline passed during the call: the execution has timed
                        // out, whatever the script does with this error.
                        s.with_slot(|slot| slot.timed_out = true);
                        let exception = Exception::from_message(ctx, "execution timeout")?;
                        exception.set("name", "TimeoutError")?;
                        Err(exception.throw())
                    }
                    _ => Err(Exception::throw_message(
                        &ctx,
                        "storage is only available while handling a request",
                    )),
                }
            },
        )?,
    )?;
    Ok(host)
}

/// A `StorageError` thrown into JavaScript (the error to return from a host function).
fn storage_error(
    ctx: &Ctx<'_>,
    message: &str,
    retryable: bool,
    kind: &str,
) -> rquickjs::Result<rquickjs::Error> {
    let exception = Exception::from_message(ctx.clone(), message)?;
    exception.set("name", "StorageError")?;
    exception.set("retryable", retryable)?;
    exception.set("kind", kind)?;
    Ok(exception.throw())
}

/// Heap the VM may use beyond its limit while describing what a script threw, so that
/// an out-of-memory error can still be read when the script filled the heap.
pub const DESCRIBE_HEADROOM_BYTES: usize = 1 << 20;

/// What a thrown value came to.
pub enum Described {
    /// The prelude's `describe`: JSON of its name, message and stack.
    Json(String),
    /// Reading it threw, ran out of memory or overflowed the stack (a getter of
    /// `message` may run anything): the VM's state is unknown and it must go.
    Unreadable { out_of_memory: bool },
}

/// Reads a value for diagnostics.
pub fn describe<'js>(helpers: &Helpers, ctx: &Ctx<'js>, value: Value<'js>) -> Described {
    // SAFETY: the runtime of a live context.
    let runtime = unsafe { rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr()) };
    let set_limit = |bytes: usize| unsafe { rquickjs::qjs::JS_SetMemoryLimit(runtime, bytes as _) };
    set_limit(helpers.memory_bytes + DESCRIBE_HEADROOM_BYTES);
    let described = helpers
        .describe
        .clone()
        .restore(ctx)
        .and_then(|describe| describe.call::<_, String>((value,)));
    let described = match described {
        Ok(json) => Described::Json(json),
        Err(_) => {
            // QuickJS throws null when it cannot even allocate its out-of-memory error.
            let thrown = ctx.catch();
            let message = thrown
                .as_exception()
                .and_then(|exception| exception.message())
                .unwrap_or_default();
            Described::Unreadable {
                out_of_memory: thrown.is_null() || message.contains("out of memory"),
            }
        }
    };
    set_limit(helpers.memory_bytes);
    described
}
