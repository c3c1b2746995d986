//! The VM pool recovers from memory, stack and time exhaustion.

use super::*;

#[tokio::test]
async fn the_pool_recovers_from_memory_stack_and_time_exhaustion() {
    local(async {
        let f = Fixture::one_vm().await;
        let before = f.runtime.metrics();
        let trivial = app("t", "respond({fine: true})");

        let error = f
            .err(&app(
                "bomb",
                "var a = []; while (true) a.push('x'.repeat(1000))",
            ))
            .await;
        assert_eq!(error.kind, ErrorKind::Memory);
        assert_eq!(f.ok(&trivial).await.response.body, json!({"fine": true}));

        let error = f.err(&app("deep", "function f() { return f() } f()")).await;
        assert_eq!(error.kind, script("RangeError"));
        assert!(
            error.message.contains("stack"),
            "a clear message: {}",
            error.message
        );
        assert_eq!(f.ok(&trivial).await.response.body, json!({"fine": true}));

        let execution = f
            .run_with(
                &app("spin", "while (true) {}"),
                &get("/api"),
                Duration::from_millis(20),
            )
            .await;
        assert_eq!(execution.outcome.unwrap_err().kind, ErrorKind::Timeout);
        assert_eq!(f.ok(&trivial).await.response.body, json!({"fine": true}));

        let after = f.runtime.metrics();
        assert_eq!(after.discarded - before.discarded, 3, "{after:?}");
        assert_eq!(after.timeouts - before.timeouts, 1, "{after:?}");
        assert_eq!(after.interrupts - before.interrupts, 1, "{after:?}");
        assert_eq!(after.executions - before.executions, 6, "{after:?}");
        assert_eq!(after.busy, 0);
        assert_eq!(after.idle, 1);
    })
    .await;
}
