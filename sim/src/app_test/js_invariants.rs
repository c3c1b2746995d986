//! An app author's invariants: `sim/invariants.js` beside the app, a CommonJS module
//! whose exported functions each state one property of a finished run. They run in a
//! fresh QuickJS context (rquickjs, as the engine's runtime) over read-only `kv`, `ds`
//! and `s3` views of the app's final storage and the run's `history` (every request
//! with its answer and `effects`), passed also as the function's one argument.
//!
//! A function fails by throwing (its message is the failure), returning `false`, or
//! returning a string (the failure); anything else passes.

use std::path::{Path, PathBuf};

use rquickjs::{CatchResultExt, Context, Runtime};
use serde::Deserialize;
use serde_json::Value;

use super::run::Exchange;
use super::Verdict;

/// The invariants' file, relative to the app's directory.
pub const FILE: &str = "sim/invariants.js";

/// Memory the invariants may use: their views copy the app's storage, which a test run
/// keeps small; 64 MiB leaves room for a few copies of a sizeable one.
const MEMORY_LIMIT_BYTES: usize = 64 << 20;

/// Interrupt-handler calls (QuickJS calls it every few thousand bytecode operations)
/// after which an invariant counts as looping: tens of millions of operations, seconds
/// of CPU, far beyond what checking a test run's storage takes. Counted, not timed, so
/// that the verdict does not depend on the machine.
const INTERRUPT_CHECKS_MAX: u64 = 20_000;

const PRELUDE: &str = include_str!("invariants_prelude.js");

/// Calls every exported function, in name order; gives `[{name, failure?}]` as JSON.
const RUN_ALL: &str = r#"(function () {
  var results = [];
  var checks = module.exports;
  Object.keys(checks).sort().forEach(function (name) {
    if (typeof checks[name] !== 'function') return;
    var verdict;
    try {
      verdict = checks[name]({ kv: kv, ds: ds, s3: s3, history: __frozen(history) });
    } catch (e) {
      results.push({ name: name, failure: String(e && e.message !== undefined ? e.message : e) });
      return;
    }
    if (verdict === false) results.push({ name: name, failure: 'returned false' });
    else if (typeof verdict === 'string') results.push({ name: name, failure: verdict });
    else results.push({ name: name });
  });
  return JSON.stringify(results);
})()"#;

/// An app's invariants, read once.
#[derive(Clone, Debug)]
pub struct Invariants {
    path: PathBuf,
    source: String,
}

#[derive(Deserialize)]
struct Result {
    name: String,
    failure: Option<String>,
}

impl Invariants {
    /// The app's invariants file, if it has one.
    pub fn load(app_dir: &Path) -> std::result::Result<Option<Invariants>, String> {
        let path = app_dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let source = std::fs::read_to_string(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        Ok(Some(Invariants { path, source }))
    }

    /// The verdict of each exported function on a run; one `invariants.js` failure when
    /// the file itself does not load.
    pub fn check(&self, storage: &Value, history: &[Exchange]) -> Vec<Verdict> {
        let history = serde_json::to_string(history).expect("a history serializes");
        match self.evaluate(&storage.to_string(), &history) {
            Ok(results) => results
                .into_iter()
                .map(|r| Verdict {
                    name: r.name,
                    failure: r.failure,
                })
                .collect(),
            Err(error) => vec![Verdict {
                name: FILE.into(),
                failure: Some(format!("{}: {error}", self.path.display())),
            }],
        }
    }

    fn evaluate(&self, storage: &str, history: &str) -> std::result::Result<Vec<Result>, String> {
        let runtime = Runtime::new().map_err(|e| e.to_string())?;
        runtime.set_memory_limit(MEMORY_LIMIT_BYTES);
        let mut checks = 0u64;
        runtime.set_interrupt_handler(Some(Box::new(move || {
            checks += 1;
            checks > INTERRUPT_CHECKS_MAX
        })));
        let context = Context::full(&runtime).map_err(|e| e.to_string())?;
        let module = format!(
            "(function (exports, module) {{\n{}\n}})(exports, module);",
            self.source
        );
        context.with(|ctx| {
            let failed = |error: rquickjs::CaughtError| error.to_string();
            let globals = ctx.globals();
            globals
                .set("__storage", storage)
                .map_err(|e| e.to_string())?;
            globals
                .set("__history", history)
                .map_err(|e| e.to_string())?;
            ctx.eval::<(), _>(PRELUDE).catch(&ctx).map_err(failed)?;
            ctx.eval::<(), _>(module).catch(&ctx).map_err(failed)?;
            let results: String = ctx.eval(RUN_ALL).catch(&ctx).map_err(failed)?;
            serde_json::from_str(&results).map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(source: &str) -> Vec<Verdict> {
        let invariants = Invariants {
            path: PathBuf::from("invariants.js"),
            source: source.into(),
        };
        let storage = json!({"kv": {"count": 2}, "ds": {"c": [{"id": "a", "n": 1}]}, "s3": {}});
        invariants.check(&storage, &[])
    }

    #[test]
    fn exported_functions_see_the_storage_and_fail_by_throwing_or_returning() {
        let verdicts = check(
            "exports.kvHolds = function (run) { if (run.kv.get('count') !== 2) throw new Error('no'); };
             exports.dsHolds = function () { return ds.findOne('c', 'a').n === 1; };
             exports.throws = function () { throw new Error('count is 2, 3 acknowledged'); };
             exports.says = function () { return 'lost'; };",
        );
        let failures: Vec<(&str, Option<&str>)> = verdicts
            .iter()
            .map(|v| (v.name.as_str(), v.failure.as_deref()))
            .collect();
        assert_eq!(
            failures,
            [
                ("dsHolds", None),
                ("kvHolds", None),
                ("says", Some("lost")),
                ("throws", Some("count is 2, 3 acknowledged")),
            ]
        );
    }

    #[test]
    fn a_looping_or_broken_file_is_a_failure_not_a_hang() {
        let looping = check("exports.spins = function () { for (;;) {} };");
        assert!(looping[0].failure.is_some(), "{looping:?}");
        let broken = check("exports.x = function ( {");
        assert_eq!(broken[0].name, FILE);
        assert!(
            broken[0]
                .failure
                .as_deref()
                .unwrap()
                .contains("Unexpected token"),
            "{broken:?}"
        );
    }
}
