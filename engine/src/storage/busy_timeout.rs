//! `PRAGMA busy_timeout` as fazt set it, modelled on the Clock (§4.2, §4.3, §4.6).
//!
//! SQLite's real busy handler sleeps in real time, so every connection keeps
//! `busy_timeout = 0` and installs a probe instead (`connection.rs`): SQLite calls the
//! probe exactly where it would call its busy handler (waiting for a lock with no
//! transaction open; never for a DEFERRED transaction's upgrade to write), the probe
//! answers "give up" at once and records the call. When such a SQLITE_BUSY comes back
//! on a connection that has a busy timeout, the caller waits on the Clock by
//! [`SqliteBusyWait`], which follows `sqliteDefaultBusyCallback`, and runs the statement
//! again; a connection without one gets the BUSY at once.
//!
//! Which connections have one follows [`BusyTimeoutPragma`]: run once through fazt's
//! pool, the pragma lands on the first connection (the one that was opened to run it,
//! and that the pool hands out first while load is light) and on no other; the pool
//! replaces a connection older than its lifetime, or closes one returned to a full
//! idle list, and the fresh one it opens never has it.

use std::time::Duration;

use super::policy::BusyTimeoutPragma;
use crate::env::Instant;
use crate::events::{Event, Recorder};

/// `sqliteDefaultBusyCallback`'s delays in ms, call by call; the last repeats.
const DELAYS_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/// One connection's busy timeout, and when the pool opened (or last replaced) it.
#[derive(Clone, Debug)]
pub struct ConnectionBusyTimeout {
    pragma: BusyTimeoutPragma,
    /// Position in the pool; 0 is the connection the pragma ran on.
    index: usize,
    timeout: Option<Duration>,
    opened_at: Instant,
    /// Times the pool replaced this connection.
    generation: u32,
}

impl ConnectionBusyTimeout {
    /// Connection `index` of a pool under `pragma`, opened at `now`.
    pub fn new(pragma: BusyTimeoutPragma, index: usize, now: Instant) -> ConnectionBusyTimeout {
        let timeout = match pragma {
            BusyTimeoutPragma::Off => None,
            BusyTimeoutPragma::EveryConnection { timeout } => Some(timeout),
            BusyTimeoutPragma::OnceThroughPool { timeout, .. } => (index == 0).then_some(timeout),
        };
        ConnectionBusyTimeout {
            pragma,
            index,
            timeout,
            opened_at: now,
            generation: 0,
        }
    }

    pub fn index(&self) -> usize {
        self.index
    }

    /// The connection's busy timeout at `now`. A connection past its lifetime is first
    /// replaced by a fresh one, which has the pragma only when every connection gets it.
    pub fn at(&mut self, now: Instant, recorder: &Recorder) -> Option<Duration> {
        if let BusyTimeoutPragma::OnceThroughPool {
            connection_lifetime,
            ..
        } = self.pragma
        {
            if now.saturating_duration_since(self.opened_at) >= connection_lifetime {
                self.generation += 1;
                self.opened_at = now;
                self.timeout = None;
                recorder.emit(Event::ConnectionReplaced {
                    conn: self.index,
                    generation: self.generation,
                });
            }
        }
        self.timeout
    }

    /// The pool closes the connection (returned to a full idle list); the one it later
    /// opens in its place has the pragma only when every connection gets it.
    pub fn close(&mut self, recorder: &Recorder) {
        if matches!(self.pragma, BusyTimeoutPragma::OnceThroughPool { .. })
            && self.timeout.is_some()
        {
            self.generation += 1;
            self.timeout = None;
            recorder.emit(Event::ConnectionReplaced {
                conn: self.index,
                generation: self.generation,
            });
        }
    }

    /// The busy timeout in ms for trace events (0: none).
    pub fn millis(&self) -> u64 {
        self.timeout.map_or(0, |t| t.as_millis() as u64)
    }
}

/// The waits of one statement's busy handler: SQLite's delay table, cut so that the
/// total never exceeds the timeout.
#[derive(Debug)]
pub struct SqliteBusyWait {
    timeout_ms: u64,
    calls: usize,
}

impl SqliteBusyWait {
    pub fn new(timeout: Duration) -> SqliteBusyWait {
        SqliteBusyWait {
            timeout_ms: timeout.as_millis() as u64,
            calls: 0,
        }
    }

    /// How long the handler sleeps before SQLite tries the lock again, or `None` when
    /// it gives up and SQLite returns SQLITE_BUSY.
    pub fn next_delay(&mut self) -> Option<Duration> {
        let count = self.calls;
        self.calls += 1;
        let last = DELAYS_MS.len() - 1;
        let (mut delay, prior) = if count < DELAYS_MS.len() {
            (DELAYS_MS[count], DELAYS_MS[..count].iter().sum::<u64>())
        } else {
            let prior = DELAYS_MS.iter().sum::<u64>() + DELAYS_MS[last] * (count - last - 1) as u64;
            (DELAYS_MS[last], prior)
        };
        if prior + delay > self.timeout_ms {
            delay = self.timeout_ms.checked_sub(prior).filter(|d| *d > 0)?;
        }
        Some(Duration::from_millis(delay))
    }

    /// Time waited so far.
    pub fn waited(&self) -> Duration {
        let mut replay = SqliteBusyWait::new(Duration::from_millis(self.timeout_ms));
        (0..self.calls).filter_map(|_| replay.next_delay()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delays(timeout_ms: u64) -> Vec<u64> {
        let mut wait = SqliteBusyWait::new(Duration::from_millis(timeout_ms));
        std::iter::from_fn(|| wait.next_delay())
            .map(|d| d.as_millis() as u64)
            .collect()
    }

    #[test]
    fn follows_sqlites_delay_table_and_stops_at_the_timeout() {
        assert_eq!(delays(0), Vec::<u64>::new());
        assert_eq!(delays(10), vec![1, 2, 5, 2]);
        assert_eq!(delays(228), vec![1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50]);
        let long = delays(2000);
        assert_eq!(long.iter().sum::<u64>(), 2000);
        assert_eq!(&long[11..13], &[100, 100]);
        let mut wait = SqliteBusyWait::new(Duration::from_millis(2000));
        for _ in 0..5 {
            wait.next_delay();
        }
        assert_eq!(wait.waited(), Duration::from_millis(33));
    }

    /// fazt 0.10.6 set no lifetime: the pragma's connection keeps it until the pool
    /// closes it (returned to a full idle list); its replacement has none.
    #[test]
    fn a_closed_connection_loses_the_pragma_run_once_through_the_pool() {
        let clock = crate::env::RealClock::new();
        let start = crate::env::Clock::now(&clock);
        let recorder = Recorder::tracing();
        let pragma = BusyTimeoutPragma::OnceThroughPool {
            timeout: Duration::from_secs(5),
            connection_lifetime: Duration::MAX,
        };
        let mut first = ConnectionBusyTimeout::new(pragma, 0, start);
        let much_later = start + Duration::from_secs(86_400);
        assert_eq!(
            first.at(much_later, &recorder),
            Some(Duration::from_secs(5))
        );
        first.close(&recorder);
        assert_eq!(first.at(much_later, &recorder), None);

        let every = BusyTimeoutPragma::EveryConnection {
            timeout: Duration::from_secs(5),
        };
        let mut any = ConnectionBusyTimeout::new(every, 3, start);
        any.close(&recorder);
        assert_eq!(any.at(start, &recorder), Some(Duration::from_secs(5)));
    }

    #[test]
    fn once_through_the_pool_only_the_first_connection_has_it_until_replaced() {
        let now = crate::env::RealClock::new();
        let start = crate::env::Clock::now(&now);
        let pragma = BusyTimeoutPragma::OnceThroughPool {
            timeout: Duration::from_secs(2),
            connection_lifetime: Duration::from_secs(300),
        };
        let mut first = ConnectionBusyTimeout::new(pragma, 0, start);
        let mut second = ConnectionBusyTimeout::new(pragma, 1, start);
        assert_eq!(
            first.at(start, &Recorder::tracing()),
            Some(Duration::from_secs(2))
        );
        assert_eq!(second.at(start, &Recorder::tracing()), None);
        let later = start + Duration::from_secs(299);
        assert_eq!(
            first.at(later, &Recorder::tracing()),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            first.at(start + Duration::from_secs(300), &Recorder::tracing()),
            None
        );
        assert_eq!(
            first.at(start + Duration::from_secs(900), &Recorder::tracing()),
            None
        );

        let every = BusyTimeoutPragma::EveryConnection {
            timeout: Duration::from_secs(5),
        };
        let mut any = ConnectionBusyTimeout::new(every, 7, start);
        assert_eq!(
            any.at(start + Duration::from_secs(900), &Recorder::tracing()),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            ConnectionBusyTimeout::new(BusyTimeoutPragma::Off, 0, start)
                .at(start, &Recorder::tracing()),
            None
        );
    }
}
