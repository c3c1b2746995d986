//! `console` lines, captured per request with their level.

use super::*;

#[tokio::test]
async fn console_lines_are_captured_per_request_with_their_level() {
    local(async {
        let f = Fixture::one_vm().await;
        let source = "console.log('a', 1, {b: 2}, [1, 'x'], null, undefined, true);\nconsole.info('info');\nconsole.warn('warn', 2);\nconsole.error('error');\nconsole.debug({deep: {x: [1]}});\n1";
        let executed = f.ok(&app("t", source)).await;
        assert_eq!(
            executed.logs,
            vec![
                log(LogLevel::Info, r#"a 1 {"b":2} [1,"x"] null undefined true"#),
                log(LogLevel::Info, "info"),
                log(LogLevel::Warn, "warn 2"),
                log(LogLevel::Error, "error"),
                log(LogLevel::Debug, r#"{"deep":{"x":[1]}}"#),
            ]
        );
        // The next execution (same VM) starts with no lines.
        let executed = f.ok(&app("t", "console.log('only me'); 1")).await;
        assert_eq!(executed.logs, vec![log(LogLevel::Info, "only me")]);
        let executed = f.ok(&app("t", "1")).await;
        assert!(executed.logs.is_empty());
    })
    .await;
}

#[tokio::test]
async fn logs_are_attached_to_errors() {
    local(async {
        let f = Fixture::new().await;
        let error = f
            .err(&app(
                "t",
                "console.log('step', 1);\nconsole.error('about to fail');\nthrow new Error('failed')",
            ))
            .await;
        assert_eq!(error.kind, script("Error"));
        assert_eq!(error.message, "failed");
        assert_eq!(
            error.logs,
            vec![
                log(LogLevel::Info, "step 1"),
                log(LogLevel::Error, "about to fail"),
            ]
        );
        // Also on a timeout.
        let execution = f
            .run_with(
                &app("t", "console.log('spinning'); while (true) {}"),
                &get("/api"),
                Duration::from_millis(20),
            )
            .await;
        let error = execution.outcome.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Timeout);
        assert_eq!(error.logs, vec![log(LogLevel::Info, "spinning")]);
    })
    .await;
}
