//! `busy-timeout-one-conn` (§4.3): concurrent writers while another connection takes
//! the write lock 20 ms in every 100 ms, once at the start and once more past the
//! pool's 5-minute connection lifetime.
//!
//! fazt ran `PRAGMA busy_timeout` once through its pool: only the connection that ran
//! it waits for a lock; the others, used as soon as writes overlap, get SQLITE_BUSY at
//! once; and when the pool replaces connections older than their lifetime, none has it.
//! `hardened` waits on the Clock on its one writer connection, at any age. Each
//! failure's cause names the connection and why it had no busy timeout, from the
//! engine's busy events.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use fazt_engine::storage::StorageError;
use serde_json::json;

use crate::profile::Profile;
use crate::run::storage::{self, Attempt, Finished, LockHolder, World};
use crate::run::Run;
use fazt_engine::events::Event as EngineEvent;

pub const SUMMARY: &str =
    "8 concurrent writers while another connection holds the lock 20 ms in every 100 ms, at the start and after the 5-minute connection lifetime";

/// Sizes of the workload.
#[derive(Clone, Debug)]
pub struct Options {
    pub writers: usize,
    pub writes_per_writer: usize,
    pub think_max: Duration,
    pub lock_every: Duration,
    pub lock_hold: Duration,
    /// When the second phase starts: past fazt's 5-minute connection lifetime.
    pub late_phase_at: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            writers: 8,
            writes_per_writer: 8,
            think_max: Duration::from_millis(50),
            lock_every: Duration::from_millis(100),
            lock_hold: Duration::from_millis(20),
            late_phase_at: Duration::from_secs(301),
        }
    }
}

/// One phase: the adversary and the writers, until the writers are done.
async fn phase(world: Rc<World>, name: &'static str, options: &Options) -> Vec<Attempt> {
    let adversary = LockHolder::start(&world, options.lock_every, options.lock_hold);
    let writers: Vec<_> = (0..options.writers)
        .map(|writer| {
            let (world, options) = (world.clone(), options.clone());
            tokio::task::spawn_local(async move {
                let think = world.env.rng.split(&format!("{name}-writer-{writer}"));
                let mut outcomes = Vec::new();
                for n in 0..options.writes_per_writer {
                    world.sleep(think.duration_up_to(options.think_max)).await;
                    let key = format!("{name}-w{writer}-{n}");
                    let scope = world
                        .storage
                        .scope("pool", world.env.clock.deadline_in(Duration::from_secs(5)));
                    let value = json!(n);
                    let write = scope.kv_set(&key, &value, None);
                    outcomes.push(world.attempt(key.clone(), write).await);
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for writer in writers {
        outcomes.extend(writer.await.expect("a writer ends"));
    }
    adversary.stop().await;
    outcomes
}

pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let options = options.clone();
    let finished = storage::run(profile, seed, move |world| async move {
        let mut outcomes = phase(world.clone(), "early", &options).await;
        let wait = options
            .late_phase_at
            .saturating_sub(Duration::from_micros(world.now_us()));
        world.sleep(wait).await;
        outcomes.extend(phase(world, "late", &options).await);
        outcomes
    });
    let mut report = finished.report("busy-timeout-one-conn", profile, seed);
    let mut failed_by_phase: BTreeMap<String, u64> = BTreeMap::new();
    finished.count_failures(&mut report, |error, outcome| {
        let phase = outcome.label.split('-').next().unwrap_or("?");
        *failed_by_phase
            .entry(format!("failed_{phase}"))
            .or_default() += 1;
        root_cause(error, outcome, &finished)
    });
    report.details.extend(failed_by_phase);
    finished.into_run(report)
}

/// For SQLITE_BUSY: which connection met it and why it had no busy timeout.
fn root_cause(error: &StorageError, outcome: &Attempt, finished: &Finished) -> String {
    if !matches!(error, StorageError::Busy { .. }) {
        return error.kind().to_owned();
    }
    // Writes overlap: a connection that has a busy timeout keeps logging its waits
    // while others fail. A write failing with a timeout left would have waited, so a
    // busy event without one in the window is this write's.
    // (at µs, connection, its busy timeout in ms) of each busy event in the window.
    let in_window: Vec<(u64, usize, u64)> = finished
        .trace
        .events
        .iter()
        .filter(|e| e.at_us >= outcome.started_us && e.at_us <= outcome.ended_us)
        .filter_map(|e| match e.engine()? {
            EngineEvent::WriterBusy {
                conn,
                busy_timeout_ms,
                ..
            }
            | EngineEvent::DirectWriteBusy {
                conn,
                busy_timeout_ms,
                ..
            } => Some((e.at_us, *conn, *busy_timeout_ms)),
            _ => None,
        })
        .collect();
    let busy = in_window
        .iter()
        .rev()
        .find(|(_, _, ms)| *ms == 0)
        .or(in_window.last())
        .copied();
    let Some((busy_at, conn, busy_timeout_ms)) = busy else {
        return "sqlite-busy (no busy event in the trace)".to_owned();
    };
    let replaced = finished.trace.events.iter().any(|e| {
        e.at_us <= busy_at
            && matches!(e.engine(), Some(EngineEvent::ConnectionReplaced { conn: c, .. }) if *c == conn)
    });
    match (busy_timeout_ms, conn, replaced) {
        (0, 0, true) => {
            "sqlite-busy on connection 0: replaced past its lifetime, the new one has no busy_timeout"
                .to_owned()
        }
        (0, _, _) => format!(
            "sqlite-busy on connection {conn}: the pragma ran once through the pool, not on it"
        ),
        (_, _, _) => "sqlite-busy after the busy timeout expired".to_owned(),
    }
}
