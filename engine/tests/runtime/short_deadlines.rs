//! Endless loops at short deadlines, interleaved with trivial handlers.

use super::*;

/// A request whose handler must answer with its tag.
fn tagged(tag: &str) -> HandlerRequest {
    HandlerRequest {
        query: [("tag".to_owned(), tag.to_owned())].into(),
        ..get("/api")
    }
}

/// Runs the trivial handler for `tag`; `Ok(vm)` when it answered with the tag.
async fn trivial(runtime: &Runtime, env: &Env, tag: &str) -> Result<u64, String> {
    let code = app("trivial", "respond(200, {tag: request.query.tag})");
    let deadline = env.clock.deadline_in(Duration::from_secs(5));
    let execution = runtime.execute(&code, &tagged(tag), deadline).await;
    match execution.outcome {
        Ok(executed) if executed.response.body == json!({ "tag": tag }) => {
            Ok(execution.report.vm.expect("a VM ran it"))
        }
        other => Err(format!("trivial {tag}: {other:?}")),
    }
}

#[tokio::test]
async fn a_thousand_timeouts_interleaved_with_trivial_handlers() {
    // Lanes run concurrently on this thread, each alternating an endless loop at a 1-10
    // ms deadline with a trivial handler; one more lane runs trivial handlers until they
    // are done, on a VM that serves again and again meanwhile.
    const LANES: usize = 4;
    const LOOPS_PER_LANE: usize = 250;
    const LOOPS: usize = LANES * LOOPS_PER_LANE;
    local(async {
        let f = Fixture::with(RuntimeConfig {
            pool_size: LANES + 1,
            ..RuntimeConfig::default()
        })
        .await;
        let started = f.env.clock.now();
        let spin = app("spin", "while (true) {}");
        let done = Rc::new(Cell::new(0));
        let mut lanes = Vec::new();
        for lane in 0..LANES {
            let (runtime, env, spin, done) =
                (f.runtime.clone(), f.env.clone(), spin.clone(), done.clone());
            lanes.push(spawn_local(async move {
                let (mut timeouts, mut served) = (0, 0);
                let mut failures = Vec::new();
                for i in 0..LOOPS_PER_LANE {
                    // Deadlines of 1 to 10 ms, varying across lanes and iterations.
                    let ms = 1 + ((i * 7 + lane * 3) % 10) as u64;
                    let deadline = env.clock.deadline_in(Duration::from_millis(ms));
                    let execution = runtime.execute(&spin, &get("/api"), deadline).await;
                    match execution.outcome {
                        Err(error) if error.kind == ErrorKind::Timeout => timeouts += 1,
                        other => failures.push(format!("loop {lane}/{i} ({ms} ms): {other:?}")),
                    }
                    match trivial(&runtime, &env, &format!("{lane}/{i}")).await {
                        Ok(_) => served += 1,
                        Err(failure) => failures.push(failure),
                    }
                }
                done.set(done.get() + 1);
                (timeouts, served, failures)
            }));
        }
        let background = spawn_local({
            let (runtime, env, done) = (f.runtime.clone(), f.env.clone(), done.clone());
            async move {
                let (mut served, mut vms) = (0, BTreeSet::new());
                let mut failures = Vec::new();
                while done.get() < LANES {
                    match trivial(&runtime, &env, &format!("background/{served}")).await {
                        Ok(vm) => {
                            served += 1;
                            vms.insert(vm);
                        }
                        Err(failure) => failures.push(failure),
                    }
                    tokio::task::yield_now().await;
                }
                (served, vms, failures)
            }
        });
        let (mut timeouts, mut served) = (0, 0);
        let mut failures = Vec::new();
        for lane in lanes {
            let (t, s, mut failed) = lane.await.unwrap();
            timeouts += t;
            served += s;
            failures.append(&mut failed);
        }
        let (background_served, background_vms, mut failed) = background.await.unwrap();
        failures.append(&mut failed);
        let took = f.env.clock.now().saturating_duration_since(started);
        let metrics = f.runtime.metrics();
        println!(
            "{timeouts} loops, {served} alternating and {background_served} background trivial \
             handlers (on {} VMs) in {took:?}; {metrics:?}",
            background_vms.len()
        );
        let shown = &failures[..failures.len().min(20)];
        assert!(
            failures.is_empty(),
            "{} failures: {shown:#?}",
            failures.len()
        );
        assert_eq!(timeouts, LOOPS);
        assert_eq!(served, LOOPS);
        assert!(background_served > 0);
        let loops = LOOPS as u64;
        assert_eq!(metrics.timeouts, loops);
        assert_eq!(metrics.interrupts, loops);
        assert_eq!(metrics.discarded, loops, "only the interrupted VMs go");
        assert_eq!(metrics.executions, 2 * loops + background_served);
    })
    .await;
}
