//! Building a turmoil simulation the same way for every run.

use std::time::{Duration, UNIX_EPOCH};

use crate::env::EPOCH_MS;

/// Virtual time per simulation step: tokio's timer resolution, below which a finer
/// step changes nothing a host sees. Each step sleeps one tick on every host's paused
/// tokio runtime, and tokio rounds every sleep up to its next whole millisecond, so a
/// 100 µs step still moves the hosts' clocks 1 ms (same trace, same client latencies)
/// while turmoil's own elapsed time moves 100 µs: the two clocks would drift apart
/// (see the test below, and BENCHMARKS.md). Finer figures come from the engine's
/// clock instead (`LatencyClock::EngineVirtualUs`).
pub const TICK: Duration = Duration::from_millis(1);

/// One-way network latency between hosts: fixed, so that time spent in the network is
/// not a source of noise in latencies (turmoil's default draws up to 100 ms).
pub const NETWORK_LATENCY: Duration = Duration::ZERO;

/// Longest virtual time a run may take before turmoil stops it as stuck.
pub const RUN_LIMIT: Duration = Duration::from_secs(600);

/// Capacity of a host's TCP buffers, the listen backlog included: Linux's default
/// `somaxconn` (4096). turmoil's default (64) panics when more clients connect at once.
pub const TCP_CAPACITY: usize = 4096;

/// A simulation with pinned epoch, seed, tick, network latency and duration.
pub fn build<'a>(seed: u64) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_MS as u64))
        .tick_duration(TICK)
        .min_message_latency(NETWORK_LATENCY)
        .max_message_latency(NETWORK_LATENCY)
        .simulation_duration(RUN_LIMIT)
        .tcp_capacity(TCP_CAPACITY)
        .rng_seed(seed)
        .build()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A round trip measured on a client's clock with a 100 µs step: still 1 ms, while
    /// turmoil counts 100 µs. Why [`super::TICK`] is not finer.
    #[test]
    #[allow(clippy::disallowed_methods)] // virtual: tokio's clock is paused in turmoil
    fn a_step_under_a_millisecond_does_not_refine_the_hosts_clocks() {
        let mut sim = turmoil::Builder::new()
            .tick_duration(Duration::from_micros(100))
            .min_message_latency(Duration::ZERO)
            .max_message_latency(Duration::ZERO)
            .build();
        sim.host("echo", || async {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 80)).await?;
            let (mut stream, _) = listener.accept().await?;
            let mut byte = [0u8; 1];
            while stream.read(&mut byte).await? == 1 {
                stream.write_all(&byte).await?;
            }
            Ok(())
        });
        sim.client("client", async {
            let mut stream = turmoil::net::TcpStream::connect("echo:80").await?;
            let (clock, turmoil) = (tokio::time::Instant::now(), turmoil::sim_elapsed());
            stream.write_all(&[1]).await?;
            stream.read_exact(&mut [0u8; 1]).await?;
            assert_eq!(clock.elapsed(), Duration::from_millis(1));
            let counted = turmoil::sim_elapsed()
                .zip(turmoil)
                .map(|(now, then)| now - then);
            assert_eq!(counted, Some(Duration::from_micros(100)));
            Ok(())
        });
        sim.run().unwrap();
    }
}
