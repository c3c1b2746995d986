//! One handler execution: the script runs in a coroutine on a pooled stack; this driver
//! performs its storage calls, accounts its CPU time slices, stops it at its deadline
//! and decides whether its VM may serve again.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult};
use rquickjs::{CatchResultExt, CaughtError, Ctx, Function, Promise, Value};
use serde::Deserialize;

use super::budgets::RESPONSE_BYTES_MAX;
use super::compile::ScriptCache;
use super::contract::{AppCode, HandlerRequest, HandlerResponse, LogEntry};
use super::error::{ErrorKind, ExecutionError, STALE_INTERRUPT};
use super::json_read::{self, FromJs, ReadError};
use super::json_value;
use super::storage_call;
use super::suspend::{self, Resume, Suspend};
use super::vm::{describe, Described, Helpers, Slot, Vm};
use super::WriteEffects;
use crate::env::{Deadline, Env, Work};
use crate::events::{self, Event};
use crate::failpoints;
use crate::storage::{Storage, StorageError};

/// What to execute.
pub struct Invocation {
    /// The execution's number, for trace events.
    pub execution: u64,
    pub app: Arc<AppCode>,
    /// The `request` global.
    pub request: HandlerRequest,
    /// When the execution is stopped; its storage calls run under it too.
    pub deadline: Deadline,
    /// The storage the app's calls go to (`None`: storage calls fail).
    pub storage: Option<Storage>,
}

/// How an execution went.
pub struct Finished {
    pub result: Result<(HandlerResponse, Vec<LogEntry>), ExecutionError>,
    /// False when the VM must be discarded (interrupted, out of memory, stack overflow,
    /// state it could not reset).
    pub healthy: bool,
    pub fuel: u64,
    pub storage_calls: u64,
    /// Time spent waiting on storage calls.
    pub storage_time: Duration,
    /// The longest single storage call.
    pub storage_call_max: Duration,
    /// The interrupt handler stopped it mid-run.
    pub interrupted: bool,
    pub writes: WriteEffects,
}

/// What the script came to, inside the coroutine.
enum Script {
    /// The response `finish` made, as JSON.
    Response(FromJs),
    /// The response is over [`RESPONSE_BYTES_MAX`] bytes of JSON.
    ResponseTooLarge,
    /// What was thrown; `null_exception` for QuickJS's null (what it throws when it
    /// cannot even allocate the out-of-memory error).
    Threw {
        described: Described,
        null_exception: bool,
    },
    /// The handler's promise never settled.
    NeverSettled,
}

#[derive(Deserialize)]
struct Thrown {
    name: String,
    message: String,
    stack: String,
    #[serde(default)]
    retryable: bool,
    kind: Option<String>,
}

/// Runs `job` on `vm`, on `stack`; gives the stack back for reuse.
pub async fn run(
    vm: &mut Vm,
    stack: DefaultStack,
    job: Invocation,
    env: &Env,
) -> (Finished, DefaultStack) {
    let mut finished = Finished {
        result: Err(ExecutionError::timeout()),
        healthy: true,
        fuel: 0,
        storage_calls: 0,
        storage_time: Duration::ZERO,
        storage_call_max: Duration::ZERO,
        interrupted: false,
        writes: WriteEffects::default(),
    };
    // Starting an execution injects the globals and compiles the script (goja did so
    // at every execution; the cost model says what each costs).
    let started = Work {
        js_executions: 1,
        script_bytes: job.app.main().map_or(0, |source| source.len() as u64),
        ..Work::default()
    };
    // goja checks its interrupt flag before the first instruction: a flag left on the
    // VM (only the legacy watchdog leaves one) fails this execution once its start is
    // paid for.
    if let Some(origin) = vm.state.interrupt.take() {
        env.executor.charge(started).await;
        if let Err(error) = &mut finished.result {
            error.cause = Some(format!("{STALE_INTERRUPT} from execution {origin}"));
        }
        return (finished, stack);
    }
    if job.app.main().is_none() {
        let error = ExecutionError::new(
            ErrorKind::NoHandler,
            format!("app {:?} has no {}", job.app.id, AppCode::MAIN),
        );
        finished.result = Err(error);
        return (finished, stack);
    }
    if failpoints::fired(&env.recorder, failpoints::RUNTIME_BEFORE_EXECUTE) {
        finished.result = Err(ExecutionError::new(
            ErrorKind::Script {
                name: "InternalError".into(),
            },
            "injected fault before the script started",
        ));
        return (finished, stack);
    }
    vm.executions += 1;
    let clock = env.clock.as_ref();
    let scope = (job.storage.as_ref()).map(|storage| storage.scope(&job.app.id, job.deadline));
    // The storage layer's limits bound storage arguments before they leave JavaScript.
    let storage_limits = (job.storage.as_ref())
        .map(|storage| storage.limits().clone())
        .unwrap_or_default();
    *vm.state.slot.borrow_mut() = Some(Slot::new(clock.now(), job.app.clone(), storage_limits));
    env.executor
        .charge(Work {
            js_runs: 1,
            js_ticks: failpoints::fired_with(&env.recorder, failpoints::RUNTIME_SLOW_CPU)
                .unwrap_or(0),
            ..started
        })
        .await;

    let (context, helpers, state, app, request) = (
        vm.context.clone(),
        vm.helpers.clone(),
        vm.state.clone(),
        job.app.clone(),
        job.request,
    );
    let mut coroutine = Coroutine::with_stack(stack, move |yielder, _begin: Resume| {
        suspend::enter(yielder);
        let script = context.with(|ctx| {
            // rquickjs only records the stack top with `parallel`; this stack is new.
            // SAFETY: the context pointer is live for the duration of `with`.
            unsafe {
                rquickjs::qjs::JS_UpdateStackTop(rquickjs::qjs::JS_GetRuntime(
                    ctx.as_raw().as_ptr(),
                ))
            };
            let source = app.main().expect("checked before the coroutine started");
            run_script(&ctx, &helpers, &state.scripts, &request, source)
        });
        suspend::leave();
        script
    });
    let mut input = Resume::Begin;
    let script = loop {
        let step = catch_unwind(AssertUnwindSafe(|| coroutine.resume(input)));
        match step {
            Ok(CoroutineResult::Yield(Suspend::Storage {
                operation,
                arguments,
            })) => {
                finished.storage_calls += 1;
                env.recorder.emit(Event::StorageCall {
                    execution: job.execution,
                    operation,
                });
                let started = clock.now();
                let answer = match &scope {
                    // Served as `job.execution`: the storage layer's own events carry
                    // its id, so a trace can tell whose write held a lock.
                    Some(scope) => {
                        events::serving(
                            job.execution,
                            storage_call::perform(scope, operation, arguments),
                        )
                        .await
                    }
                    None => Err(StorageError::InvalidArgument(
                        "this execution has no storage".into(),
                    )),
                };
                if operation.is_write() {
                    finished.writes.record(&answer);
                }
                let took = clock.now().saturating_duration_since(started);
                env.recorder.emit(Event::StorageAnswer {
                    execution: job.execution,
                    ok: answer.is_ok(),
                    took_us: events::micros(took),
                });
                finished.storage_time += took;
                finished.storage_call_max = finished.storage_call_max.max(took);
                env.executor.interleave(&env.rng).await;
                input = if job.deadline.is_past(clock.now()) {
                    Resume::Cancel
                } else {
                    Resume::Storage(answer)
                };
            }
            Ok(CoroutineResult::Yield(Suspend::Tick)) => {
                env.executor
                    .charge(Work {
                        js_ticks: 1,
                        ..Work::default()
                    })
                    .await;
                env.executor.interleave(&env.rng).await;
                input = if job.deadline.is_past(clock.now()) {
                    Resume::Cancel
                } else {
                    Resume::Continue
                };
            }
            Ok(CoroutineResult::Return(script)) => break Some(script),
            Err(_panic) => break None,
        }
    };
    let stack = coroutine.into_stack();
    let slot = vm
        .state
        .slot
        .borrow_mut()
        .take()
        .expect("the slot lives until the execution ends");
    finished.fuel = slot.fuel;
    finished.interrupted = slot.timed_out || slot.signalled;

    finished.healthy = vm.reset() && !vm.runtime.is_job_pending() && script.is_some();
    finished.result = match script {
        _ if slot.timed_out || slot.signalled => {
            finished.healthy = false;
            let mut error = ExecutionError::timeout();
            error.cause = Some(
                if slot.signalled {
                    "interrupt signal"
                } else {
                    "deadline"
                }
                .into(),
            );
            Err(error)
        }
        None => {
            finished.healthy = false;
            Err(ExecutionError::new(
                ErrorKind::Script {
                    name: "InternalError".into(),
                },
                "the engine failed",
            ))
        }
        Some(Script::Response(json)) => match json
            .into_value()
            .and_then(serde_json::from_value::<HandlerResponse>)
        {
            Ok(response) => Ok((response, slot.logs.clone())),
            Err(error) => Err(ExecutionError::new(
                ErrorKind::Script {
                    name: "Error".into(),
                },
                format!("unreadable response: {error}"),
            )),
        },
        Some(Script::ResponseTooLarge) => Err(ExecutionError::new(
            ErrorKind::ResponseTooLarge,
            format!("the response is over the limit of {RESPONSE_BYTES_MAX} bytes"),
        )),
        Some(Script::NeverSettled) => Err(ExecutionError::new(
            ErrorKind::Script {
                name: "Error".into(),
            },
            "the handler's promise never settled",
        )),
        Some(Script::Threw {
            described,
            null_exception,
        }) => {
            let (kind, message, discard) = classify(&described, null_exception);
            finished.healthy &= !discard;
            Err(ExecutionError::new(kind, message))
        }
    };
    if let Err(error) = &mut finished.result {
        error.logs = slot.logs;
    }
    (finished, stack)
}

fn run_script(
    ctx: &Ctx<'_>,
    helpers: &Helpers,
    scripts: &ScriptCache,
    request: &HandlerRequest,
    source: &str,
) -> Script {
    let outcome = (|| -> Result<FromJs, ReadError> {
        let request = json_value::request_to_js(ctx, request)?;
        let begin: Function = helpers.begin.clone().restore(ctx)?;
        begin.call::<_, ()>((request,))?;
        let (mut value, function_body) = scripts.run_main(ctx, source)?;
        if let Some(promise) = value.as_promise().cloned() {
            value = promise_value(&promise)?;
        }
        let finish: Function = helpers.finish.clone().restore(ctx)?;
        let response: Value = finish.call((value, function_body))?;
        Ok(
            json_read::read(ctx, response, &helpers.intrinsics, RESPONSE_BYTES_MAX)?
                .unwrap_or(FromJs::Value(serde_json::Value::Null)),
        )
    })();
    let outcome = match outcome {
        Ok(json) => Ok(Some(json)),
        Err(ReadError::OverBudget { .. }) => Ok(None),
        Err(ReadError::Js(error)) => Err(error),
    };
    let script = match outcome.catch(ctx) {
        Ok(Some(json)) => Script::Response(json),
        Ok(None) => Script::ResponseTooLarge,
        Err(CaughtError::Exception(exception)) => Script::Threw {
            described: describe(helpers, ctx, exception.into_value()),
            null_exception: false,
        },
        Err(CaughtError::Value(value)) => Script::Threw {
            null_exception: value.is_null(),
            described: describe(helpers, ctx, value),
        },
        Err(CaughtError::Error(rquickjs::Error::WouldBlock)) => Script::NeverSettled,
        Err(CaughtError::Error(error)) => Script::Threw {
            described: Described::Json(
                serde_json::json!({"name": "Error", "message": error.to_string(), "stack": ""})
                    .to_string(),
            ),
            null_exception: false,
        },
    };
    // Let go of the request (and this execution's modules) until the next one.
    let end = helpers.begin.clone().restore(ctx);
    if end
        .and_then(|begin| begin.call::<_, ()>((Value::new_null(ctx.clone()),)))
        .is_err()
    {
        let _ = ctx.catch();
    }
    script
}

fn promise_value<'js>(promise: &Promise<'js>) -> rquickjs::Result<Value<'js>> {
    promise.finish::<Value>()
}

/// The kind of a thrown value, its message, and whether the VM must go.
fn classify(described: &Described, null_exception: bool) -> (ErrorKind, String, bool) {
    let described = match described {
        _ if null_exception => return (ErrorKind::Memory, "out of memory".into(), true),
        Described::Unreadable {
            out_of_memory: true,
        } => return (ErrorKind::Memory, "out of memory".into(), true),
        Described::Unreadable {
            out_of_memory: false,
        } => {
            let kind = ErrorKind::Script {
                name: "Error".into(),
            };
            return (kind, "unreadable error".into(), true);
        }
        Described::Json(json) => json,
    };
    let Ok(thrown) = serde_json::from_str::<Thrown>(described) else {
        return (
            ErrorKind::Script {
                name: "Error".into(),
            },
            described.to_owned(),
            false,
        );
    };
    if thrown.message.contains("out of memory") {
        return (ErrorKind::Memory, "out of memory".into(), true);
    }
    if thrown.name == "RangeError" && thrown.message.contains("call stack") {
        return (
            ErrorKind::Script { name: thrown.name },
            thrown.message,
            true,
        );
    }
    let kind = match thrown.name.as_str() {
        "SyntaxError" => ErrorKind::Syntax {
            line: first_line_number(&thrown.stack),
        },
        "StorageError" => ErrorKind::Storage {
            retryable: thrown.retryable,
            storage_kind: thrown.kind.unwrap_or_default(),
        },
        _ => ErrorKind::Script { name: thrown.name },
    };
    (kind, thrown.message, false)
}

/// The line of the first `:line:column` in a QuickJS stack trace.
fn first_line_number(stack: &str) -> Option<u32> {
    stack
        .split(':')
        .collect::<Vec<_>>()
        .windows(2)
        .find_map(|pair| {
            let line = pair[0].trim().parse::<u32>().ok()?;
            let column = pair[1].trim_end_matches(|c: char| !c.is_ascii_digit());
            column.parse::<u32>().ok().map(|_| line)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_come_from_the_stack() {
        assert_eq!(first_line_number("    at <eval> (<input>:3:7)\n"), Some(3));
        assert_eq!(first_line_number("no position"), None);
    }

    #[test]
    fn an_unreadable_thrown_value_discards_the_vm() {
        let oom = classify(
            &Described::Unreadable {
                out_of_memory: true,
            },
            false,
        );
        assert_eq!((oom.0, oom.2), (ErrorKind::Memory, true));
        let other = classify(
            &Described::Unreadable {
                out_of_memory: false,
            },
            false,
        );
        assert!(other.2);
    }

    #[test]
    fn classification() {
        let storage =
            r#"{"name":"StorageError","message":"busy","stack":"","retryable":true,"kind":"Busy"}"#;
        assert_eq!(
            classify(&Described::Json(storage.into()), false).0,
            ErrorKind::Storage {
                retryable: true,
                storage_kind: "Busy".into()
            }
        );
        assert_eq!(
            classify(&Described::Json("".into()), true).0,
            ErrorKind::Memory
        );
        let overflow =
            r#"{"name":"RangeError","message":"Maximum call stack size exceeded","stack":""}"#;
        assert!(
            classify(&Described::Json(overflow.into()), false).2,
            "a stack overflow discards the VM"
        );
    }
}
