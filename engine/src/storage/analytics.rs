//! The analytics buffer: one event per HTTP request, recorded by the server, written
//! out in batches of up to `flush_events` in one transaction (every `flush_interval`,
//! or as soon as that many are waiting). How a batch reaches SQLite is the
//! [`super::BackgroundWrites`] policy: through the write queue (hardened), or on a
//! connection of its own, outside the queue (fazt 0.10.10, §4.7).

use std::sync::Mutex;

use tokio::sync::Notify;

use super::connection::Db;
use super::error::Result;
use super::schema::ANALYTICS_INSERT;

/// One HTTP request, as analytics records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalyticsEvent {
    /// The app served (empty for admin and unknown hosts).
    pub app_id: String,
    pub path: String,
    pub status: u16,
    pub duration_us: u64,
    pub at_ms: i64,
}

/// Events waiting for the next flush.
#[derive(Default)]
pub struct EventBuffer {
    events: Mutex<Vec<AnalyticsEvent>>,
    /// Wakes the flusher when a batch is full.
    pub full: Notify,
}

impl EventBuffer {
    /// Buffers `event`; wakes the flusher when `batch` events are waiting.
    pub fn push(&self, event: AnalyticsEvent, batch: usize) {
        let waiting = {
            let mut events = self.events.lock().expect("analytics buffer");
            events.push(event);
            events.len()
        };
        if waiting >= batch {
            self.full.notify_one();
        }
    }

    /// Takes up to `batch` events, oldest first.
    pub fn take(&self, batch: usize) -> Vec<AnalyticsEvent> {
        let mut events = self.events.lock().expect("analytics buffer");
        let n = events.len().min(batch);
        events.drain(..n).collect()
    }

    /// Events buffered now.
    pub fn waiting(&self) -> usize {
        self.events.lock().expect("analytics buffer").len()
    }
}

/// Inserts a batch (inside the caller's transaction).
pub fn insert(db: &mut Db, events: &[AnalyticsEvent]) -> Result<u64> {
    for event in events {
        db.count_statement();
        db.conn()
            .prepare_cached(ANALYTICS_INSERT)?
            .execute(rusqlite::params![
                event.app_id,
                event.path,
                event.status,
                i64::try_from(event.duration_us).unwrap_or(i64::MAX),
                event.at_ms,
            ])?;
    }
    Ok(events.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u16) -> AnalyticsEvent {
        AnalyticsEvent {
            app_id: "a".into(),
            path: "/".into(),
            status: n,
            duration_us: 1,
            at_ms: 0,
        }
    }

    #[tokio::test]
    async fn a_full_batch_wakes_the_flusher_and_batches_keep_their_order() {
        let buffer = EventBuffer::default();
        buffer.push(event(1), 2);
        buffer.push(event(2), 2);
        buffer.push(event(3), 2);
        buffer.full.notified().await;
        assert_eq!(buffer.take(2), vec![event(1), event(2)]);
        assert_eq!(buffer.take(2), vec![event(3)]);
        assert_eq!(buffer.waiting(), 0);
    }

    #[test]
    fn a_batch_is_inserted() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("x.db")).unwrap();
        db.migrate().unwrap();
        assert_eq!(insert(&mut db, &[event(200), event(404)]).unwrap(), 2);
        let n: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM analytics_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }
}
