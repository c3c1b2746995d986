//! [`serve`]: the server's life on one listener. Accept connections (one task each,
//! hyper's HTTP/1 with the Clock's timer and Date), and when `shutdown` completes: stop
//! accepting, let in-flight requests finish (bounded by `drain_timeout`), then drain
//! the write queue and checkpoint through `storage.shutdown()`. Every write acknowledged
//! before then is on disk.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;

use super::config::HYPER_HEAD_FACTOR;
use super::connections::{ConnectionGate, Pool};
use super::net::Listener;
use super::router;
use super::state::Server;
use super::timer::ClockTimer;
use crate::env::timeout_at;
use crate::failpoints;

/// The connection was dropped before its response by [`failpoints::SERVER_DROP_CONNECTION`].
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault before its response")]
struct DroppedByFault;

impl From<std::convert::Infallible> for DroppedByFault {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// hyper's smallest read buffer (it panics below this).
const HYPER_BUF_MIN: usize = 8192;

/// Pause after a failed accept (out of file descriptors, say) before trying again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// How a [`serve`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeReport {
    /// Connections accepted in all.
    pub connections: u64,
    /// True when every connection finished within the drain timeout.
    pub drained: bool,
}

/// Serves `server` on `listener` until `shutdown` completes, then shuts down
/// gracefully (see the module doc). Connections run as `tokio::spawn`ed tasks.
pub async fn serve<L, S>(listener: L, server: Arc<Server>, shutdown: S) -> ServeReport
where
    L: Listener,
    S: Future<Output = ()>,
{
    let clock = server.env.clock.clone();
    let graceful = GracefulShutdown::new();
    let config = &server.config;
    let gate = ConnectionGate::new(
        config.connections_max,
        config.connections_reserved,
        config.connections_per_address_max,
    );
    let accepted = Arc::new(AtomicU64::new(0));
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "serving");
    }
    tokio::pin!(shutdown);
    loop {
        // Past the connection limits, wait here: new clients queue in the backlog.
        let room = tokio::select! {
            biased;
            () = &mut shutdown => break,
            room = gate.room() => room,
        };
        if let Some(stall) =
            failpoints::fired_with_ms(&server.env.recorder, failpoints::SERVER_SLOW_ACCEPT)
        {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = clock.sleep(stall) => {}
            }
        }
        let connection = tokio::select! {
            biased;
            () = &mut shutdown => break,
            connection = listener.accept() => connection,
        };
        let (stream, peer) = match connection {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = clock.sleep(ACCEPT_RETRY) => continue,
                }
            }
        };
        accepted.fetch_add(1, Ordering::Relaxed);
        let Some(admitted) = gate.admit(room, peer.ip()) else {
            tracing::debug!(%peer, "connection closed: its address has the most connections open");
            drop(stream);
            continue;
        };
        let pool = admitted.pool;
        let for_requests = server.clone();
        let service = service_fn(move |request| {
            let server = for_requests.clone();
            async move {
                let recorder = server.env.recorder.clone();
                let response = router::handle(server, peer, pool, request).await?;
                if failpoints::fired(&recorder, failpoints::SERVER_DROP_CONNECTION) {
                    return Err(DroppedByFault);
                }
                Ok(response)
            }
        });
        let connection = http1::Builder::new()
            .timer(ClockTimer::new(clock.clone()))
            .header_read_timeout(match pool {
                Pool::General => config.header_read_timeout,
                Pool::Reserved => config.reserved_header_read_timeout,
            })
            .max_buf_size((config.header_bytes_max * HYPER_HEAD_FACTOR).max(HYPER_BUF_MIN))
            .max_headers(config.headers_max * HYPER_HEAD_FACTOR)
            .auto_date_header(false)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            drop(admitted);
        });
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(
        open,
        "shutting down: no new connections, draining in-flight requests"
    );
    let drain_deadline = clock.deadline_in(server.config.drain_timeout);
    let drained = timeout_at(clock.as_ref(), drain_deadline, graceful.shutdown())
        .await
        .is_ok();
    if !drained {
        tracing::warn!(
            timeout_ms = server.config.drain_timeout.as_millis() as u64,
            "some requests were still running at the drain timeout"
        );
    }
    server.storage.shutdown().await;
    tracing::info!("storage drained and checkpointed; stopped");
    ServeReport {
        connections: accepted.load(Ordering::Relaxed),
        drained,
    }
}
