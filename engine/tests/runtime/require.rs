//! `require`: CommonJS modules from `api/`.

use super::*;

fn modular_app() -> Arc<AppCode> {
    app_files(
        "mods",
        &[
            (
                "api/main.js",
                "var lib = require('./lib');\nvar again = require('./lib.js');\nvar util = require('./util');\nrespond({sum: lib.add(2, 3), same: lib === again, twice: util.twice(4), viaLib: lib.quad(2)})",
            ),
            (
                "api/lib.js",
                "console.log('lib loaded');\nvar util = require('./util');\nmodule.exports = {\n  add: function (a, b) { return a + b },\n  quad: function (n) { return util.twice(util.twice(n)) },\n};",
            ),
            (
                "api/util.js",
                "console.log('util loaded');\nexports.twice = function (n) { return n * 2 };",
            ),
        ],
    )
}

#[tokio::test]
async fn require_loads_commonjs_modules_from_api() {
    local(async {
        let f = Fixture::new().await;
        let executed = f.ok(&modular_app()).await;
        assert_eq!(
            executed.response.body,
            json!({"sum": 5, "same": true, "twice": 8, "viaLib": 8})
        );
    })
    .await;
}

#[tokio::test]
async fn modules_are_cached_within_an_execution_only() {
    local(async {
        let f = Fixture::one_vm().await;
        let loaded = vec![
            log(LogLevel::Info, "lib loaded"),
            log(LogLevel::Info, "util loaded"),
        ];
        let first = f.run(&modular_app()).await;
        assert_eq!(first.outcome.unwrap().logs, loaded, "each module runs once");
        let second = f.run(&modular_app()).await;
        assert_eq!(first.report.vm, second.report.vm, "same VM");
        assert_eq!(
            second.outcome.unwrap().logs,
            loaded,
            "and again in the next execution"
        );
    })
    .await;
}

#[tokio::test]
async fn a_missing_module_is_an_error_naming_it() {
    local(async {
        let f = Fixture::new().await;
        let error = f.err(&app("t", "require('./nowhere')")).await;
        assert_eq!(error.kind, script("Error"));
        assert!(error.message.contains("nowhere"), "{}", error.message);
        // Catchable, like any error.
        let body = f
            .body("try { require('./nowhere'); 'loaded' } catch (e) { e instanceof Error && e.message }")
            .await;
        assert!(body.as_str().unwrap().contains("nowhere"), "{body}");
    })
    .await;
}
