//! Background writes: the analytics buffer's flush, the kv sweep and the per-request
//! log rows, through the write path or on the bypass connection as the policy says.

use tokio::sync::watch;

use super::analytics::AnalyticsEvent;
use super::error::{Result, StorageError};
use super::handle::Storage;
use super::policy::{BackgroundWrites, BusyPolicy, RequestLogWrites};
use super::request_log::RequestLogEntry;
use super::write::{Write, WriteOutput};
use crate::env::Deadline;
use crate::events::Event;

impl Storage {
    /// Buffers one HTTP request's analytics event; the flusher writes it out later.
    pub fn record_request(&self, event: AnalyticsEvent) {
        let batch = self.shared.config.policy.analytics.flush_events;
        self.shared.analytics.push(event, batch);
    }

    /// Persists one request's log row when the policy says so
    /// ([`RequestLogWrites::PerRequest`]): written in the background, as fazt's request
    /// logger did, so the request does not wait for it; a failed row is dropped.
    pub fn log_request(&self, entry: RequestLogEntry) {
        if let RequestLogWrites::PerRequest(path) = self.shared.config.policy.request_log {
            self.write_log_rows(path, entry, 1);
        }
    }

    /// Persists a handler execution's log rows when the policy says so
    /// ([`RequestLogWrites::PerLogEntry`]): `console_entries` rows, and one more when
    /// the execution `failed`, each its own write, in the background.
    pub fn log_execution(&self, entry: RequestLogEntry, console_entries: usize, failed: bool) {
        if let RequestLogWrites::PerLogEntry(path) = self.shared.config.policy.request_log {
            self.write_log_rows(path, entry, console_entries + usize::from(failed));
        }
    }

    /// Writes `rows` copies of `entry` one after another by `path`; a failed row is
    /// dropped and traced.
    fn write_log_rows(&self, path: BackgroundWrites, entry: RequestLogEntry, rows: usize) {
        if rows == 0 {
            return;
        }
        let storage = self.clone();
        tokio::spawn(async move {
            for _ in 0..rows {
                let write = Write::RequestLog {
                    entry: entry.clone(),
                };
                match storage.write_background(path, write).await {
                    Ok(_) | Err(StorageError::Closed) => {}
                    Err(error) => {
                        storage
                            .shared
                            .env
                            .recorder
                            .emit(Event::RequestLogWriteFailed { kind: error.kind() });
                    }
                }
            }
        });
    }

    /// Analytics events not yet written.
    pub fn analytics_buffered(&self) -> usize {
        self.shared.analytics.waiting()
    }

    /// A background write (analytics flush, kv sweep, request log) by `path`: through
    /// the write path, or on the bypass connection, in its own DEFERRED transaction
    /// with no retry (fazt's analytics writer logged a failed batch and dropped it).
    async fn write_background(&self, path: BackgroundWrites, write: Write) -> Result<WriteOutput> {
        let bypass = match path {
            BackgroundWrites::BypassQueue => self.shared.bypass.as_ref(),
            BackgroundWrites::ThroughQueue => None,
        };
        match bypass {
            Some(bypass) => {
                bypass
                    .submit(
                        &self.shared.env,
                        &BusyPolicy::FailFast,
                        write,
                        Deadline::NONE,
                    )
                    .await
            }
            None => self.write(write, Deadline::NONE).await,
        }
    }

    /// Writes the analytics buffer out every `flush_interval`, or as soon as a batch is
    /// full, one batch per transaction. A failed batch is dropped. Events still
    /// buffered at shutdown are dropped too (they were never acknowledged to anyone).
    pub(super) async fn flush_analytics(self, mut shutdown: watch::Receiver<bool>) {
        let flush = self.shared.config.policy.analytics;
        let buffer = &self.shared.analytics;
        loop {
            let sleep = self.shared.env.clock.sleep(flush.flush_interval);
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = buffer.full.notified() => {}
                () = sleep => {}
            }
            loop {
                let events = buffer.take(flush.flush_events);
                if events.is_empty() {
                    break;
                }
                let n = events.len();
                let background = self.shared.config.policy.background;
                let bypass = matches!(
                    (background, &self.shared.bypass),
                    (BackgroundWrites::BypassQueue, Some(_))
                );
                match self
                    .write_background(background, Write::AnalyticsBatch { events })
                    .await
                {
                    Ok(_) => self
                        .shared
                        .env
                        .recorder
                        .emit(Event::AnalyticsFlushed { events: n, bypass }),
                    Err(StorageError::Closed) => return,
                    Err(error) => {
                        self.shared.env.recorder.emit(Event::AnalyticsFlushFailed {
                            events: n,
                            bypass,
                            kind: error.kind(),
                        });
                        tracing::warn!(%error, events = n, "analytics flush failed; batch dropped");
                    }
                }
                if buffer.waiting() < flush.flush_events {
                    break;
                }
            }
        }
    }

    /// Deletes expired kv entries every `kv_sweep_interval`, as background writes.
    pub(super) async fn sweep_expired_kv(self, mut shutdown: watch::Receiver<bool>) {
        let interval = self.shared.config.policy.kv_sweep_interval;
        loop {
            let sleep = self.shared.env.clock.sleep(interval);
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = sleep => {}
            }
            loop {
                let now_ms = self.shared.env.clock.wall_ms();
                let background = self.shared.config.policy.background;
                match self
                    .write_background(background, Write::KvSweep { now_ms })
                    .await
                {
                    Ok(WriteOutput::Count(n)) if n >= super::write::KV_SWEEP_BATCH => continue,
                    Ok(_) => break,
                    Err(StorageError::Closed) => return,
                    Err(error) => {
                        tracing::warn!(%error, "kv sweep failed");
                        break;
                    }
                }
            }
        }
    }
}
