//! Scripts compiled once per VM and run many times: an app's `api/main.js` and the
//! modules it `require`s.
//!
//! Each source is compiled the way JavaScript's indirect `eval` compiles it (QuickJS's
//! `JS_EVAL_TYPE_INDIRECT` with `JS_EVAL_FLAG_COMPILE_ONLY`: the same compiler path as
//! `(0, eval)(source)`), and each execution runs the bytecode afresh. So the script's
//! completion value is its result, its top-level `var`s and functions are deletable
//! properties of the global object (the VM's reset removes them), its `let`/`const`/
//! `class` live in a scope of that run only, and line numbers are the source's own.
//! QuickJS's public `JS_Eval` asserts that callers ask for global or module code only,
//! so the workspace builds rquickjs with `disable-assertions`.
//!
//! A script with a top-level `return` does not compile as eval code; it is compiled as
//! the body of `(function () { ... })`, and each run calls a fresh instance of that
//! function. A module is compiled as `(function (module, exports, require) { ... })`.
//! Bytecode is immutable and every run makes its own closure, so nothing one run does
//! is visible to the next: only the compilation is shared.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use rquickjs::{qjs, CatchResultExt, CaughtError, Ctx, Function, Persistent, Value};

/// Most bytes of source whose bytecode one VM keeps. Past it the cache is emptied and
/// refilled by the executions that follow (simple, deterministic, and within the VM's
/// heap limit).
pub const CACHE_SOURCE_BYTES_MAX: usize = 4 << 20;

/// The file name QuickJS gives indirect-eval code in stack traces.
const FILE_NAME: &std::ffi::CStr = c"<input>";

/// Whether a source is an app's entry point, one of its modules, or a bundled library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Main,
    Module,
    /// A module given a `crypto` too (`stdlib.rs`): kept apart from app modules, so an
    /// app file with a library's text is still compiled as an app module.
    Library,
}

/// One compiled source.
struct Compiled {
    bytecode: Persistent<Value<'static>>,
    /// Running the bytecode gives a function, which is then called.
    function: bool,
}

/// Compiled sources by their text.
type BySource = BTreeMap<Box<str>, Rc<Compiled>>;

/// The compiled scripts and modules of one VM, keyed by source text.
///
/// Holds values of the VM's runtime: the VM empties it ([`Self::clear`]) before its
/// runtime is freed.
#[derive(Default)]
pub struct ScriptCache {
    main: RefCell<BySource>,
    modules: RefCell<BySource>,
    libraries: RefCell<BySource>,
    source_bytes: Cell<usize>,
}

impl ScriptCache {
    /// Runs an app's entry point: its completion value, the value of its top-level
    /// `return`, or what it threw (pending in `ctx`); and whether it ran as a function
    /// body (a script with a top-level `return`).
    pub fn run_main<'js>(
        &self,
        ctx: &Ctx<'js>,
        source: &str,
    ) -> rquickjs::Result<(Value<'js>, bool)> {
        let compiled = self.get_or_compile(ctx, Role::Main, source)?;
        let value = evaluate(ctx, &compiled)?;
        if compiled.function {
            let function: Function = value.get()?;
            return Ok((function.call(())?, true));
        }
        Ok((value, false))
    }

    /// A fresh factory `function (module, exports, require)` for a module's source.
    pub fn module_factory<'js>(
        &self,
        ctx: &Ctx<'js>,
        source: &str,
    ) -> rquickjs::Result<Function<'js>> {
        let compiled = self.get_or_compile(ctx, Role::Module, source)?;
        evaluate(ctx, &compiled)?.get()
    }

    /// A fresh factory `function (module, exports, require, crypto)` for a bundled
    /// library's source.
    pub fn library_factory<'js>(
        &self,
        ctx: &Ctx<'js>,
        source: &str,
    ) -> rquickjs::Result<Function<'js>> {
        let compiled = self.get_or_compile(ctx, Role::Library, source)?;
        evaluate(ctx, &compiled)?.get()
    }

    /// Drops every compiled value; call while the runtime is alive.
    pub fn clear(&self) {
        self.main.borrow_mut().clear();
        self.modules.borrow_mut().clear();
        self.libraries.borrow_mut().clear();
        self.source_bytes.set(0);
    }

    fn get_or_compile(
        &self,
        ctx: &Ctx<'_>,
        role: Role,
        source: &str,
    ) -> rquickjs::Result<Rc<Compiled>> {
        let entries = match role {
            Role::Main => &self.main,
            Role::Module => &self.modules,
            Role::Library => &self.libraries,
        };
        if let Some(compiled) = entries.borrow().get(source) {
            return Ok(compiled.clone());
        }
        let (bytecode, function) = match role {
            Role::Main => match compile(ctx, source).catch(ctx) {
                Ok(bytecode) => (bytecode, false),
                // Templates use a top-level `return respond(...)`: run those as a
                // function body.
                Err(CaughtError::Exception(error))
                    if error.get::<_, String>("name").ok().as_deref() == Some("SyntaxError")
                        && error.message().is_some_and(|m| m.contains("return")) =>
                {
                    (
                        compile(ctx, &format!("(function () {{{source}\n}})"))?,
                        true,
                    )
                }
                Err(error) => return Err(error.throw(ctx)),
            },
            Role::Module | Role::Library => {
                let parameters = match role {
                    Role::Library => "module, exports, require, crypto",
                    _ => "module, exports, require",
                };
                let wrapped = format!("(function ({parameters}) {{{source}\n}})");
                (compile(ctx, &wrapped)?, true)
            }
        };
        let compiled = Rc::new(Compiled {
            bytecode: Persistent::save(ctx, bytecode),
            function,
        });
        if self.source_bytes.get() + source.len() > CACHE_SOURCE_BYTES_MAX {
            self.clear();
        }
        self.source_bytes
            .set(self.source_bytes.get() + source.len());
        entries.borrow_mut().insert(source.into(), compiled.clone());
        Ok(compiled)
    }
}

/// Compiles `code` as indirect-eval code, without running it.
fn compile<'js>(ctx: &Ctx<'js>, code: &str) -> rquickjs::Result<Value<'js>> {
    // QuickJS reads the source up to its length and wants a NUL after it; a NUL inside
    // is an ordinary (invalid) character, as in `eval`.
    let mut text = Vec::with_capacity(code.len() + 1);
    text.extend_from_slice(code.as_bytes());
    text.push(0);
    let flags = (qjs::JS_EVAL_TYPE_INDIRECT | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32;
    // SAFETY: `text` is NUL-terminated and outlives the call; the result is owned.
    unsafe {
        let value = qjs::JS_Eval(
            ctx.as_raw().as_ptr(),
            text.as_ptr().cast(),
            code.len() as _,
            FILE_NAME.as_ptr(),
            flags,
        );
        owned(ctx, value)
    }
}

/// Runs compiled code once, as indirect `eval` would: its completion value.
fn evaluate<'js>(ctx: &Ctx<'js>, compiled: &Compiled) -> rquickjs::Result<Value<'js>> {
    let bytecode = compiled.bytecode.clone().restore(ctx)?;
    // SAFETY: `JS_EvalFunction` consumes a reference: the one `JS_DupValue` adds.
    unsafe {
        let context = ctx.as_raw().as_ptr();
        let value = qjs::JS_EvalFunction(context, qjs::JS_DupValue(context, bytecode.as_raw()));
        owned(ctx, value)
    }
}

/// An owned value returned by QuickJS, or the exception it left pending.
///
/// # Safety
/// `value` must be owned and belong to `ctx`'s runtime.
unsafe fn owned<'js>(ctx: &Ctx<'js>, value: qjs::JSValue) -> rquickjs::Result<Value<'js>> {
    if qjs::JS_IsException(value) {
        return Err(rquickjs::Error::Exception);
    }
    Ok(Value::from_raw(ctx.clone(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_context(test: impl FnOnce(&Ctx<'_>, &ScriptCache)) {
        let runtime = rquickjs::Runtime::new().unwrap();
        let context = rquickjs::Context::full(&runtime).unwrap();
        let cache = ScriptCache::default();
        context.with(|ctx| test(&ctx, &cache));
        cache.clear();
    }

    #[test]
    fn a_cached_script_runs_afresh_each_time() {
        with_context(|ctx, cache| {
            for _ in 0..3 {
                let value = cache.run_main(ctx, "let n = 1; n + 1").unwrap().0;
                assert_eq!(value.as_int(), Some(2));
                let value = cache.run_main(ctx, "var m = 40; return m + 2").unwrap().0;
                assert_eq!(value.as_int(), Some(42));
            }
            assert_eq!(cache.main.borrow().len(), 2, "each compiled once");
        });
    }

    #[test]
    fn the_cache_keeps_at_most_its_byte_budget() {
        with_context(|ctx, cache| {
            let padding = " ".repeat(CACHE_SOURCE_BYTES_MAX / 3);
            for n in 0..5 {
                let source = format!("{padding}{n}");
                assert_eq!(cache.run_main(ctx, &source).unwrap().0.as_int(), Some(n));
                assert!(cache.source_bytes.get() <= CACHE_SOURCE_BYTES_MAX);
            }
            assert!(cache.main.borrow().len() < 5, "older entries were dropped");
        });
    }

    #[test]
    fn a_syntax_error_is_thrown_and_not_cached() {
        with_context(|ctx, cache| {
            let Err(CaughtError::Exception(error)) = cache.run_main(ctx, "var = 1").catch(ctx)
            else {
                panic!("a syntax error is an exception");
            };
            let name: String = error.get("name").unwrap();
            assert_eq!(name, "SyntaxError");
            assert!(error.stack().unwrap().contains("<input>:1:5"));
            assert!(cache.main.borrow().is_empty());
        });
    }
}
