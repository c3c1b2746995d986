//! Per-IP rate limit: a token bucket per client address, refilled on the Clock.
//!
//! Tokens are counted in millionths, so refilling is exact integer arithmetic
//! (`elapsed µs × rate`) and nothing drifts with the request rate. The table of clients
//! is bounded: when full, buckets that have refilled completely (equivalent to absent)
//! go first, then the longest idle one.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::env::Instant;

/// One token, in the buckets' units.
const TOKEN: u64 = 1_000_000;

/// Rate-limit settings. The defaults are generous: meant to stop floods, not a busy
/// single-page app or a load test from one machine at moderate rates.
#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    /// Sustained requests per second per client address; 0 turns the limit off.
    /// Default 1000.
    pub per_second: u64,
    /// Requests a client may make at once after being idle. Default 2000.
    pub burst: u64,
    /// Client addresses tracked at once. Default 10,000.
    pub clients_max: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_second: 1000,
            burst: 2000,
            clients_max: 10_000,
        }
    }
}

/// Whether a request may go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit: the next token arrives in about this many seconds (≥ 1).
    Limited {
        retry_after_secs: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    units: u64,
    updated: Instant,
}

/// The buckets of every client seen recently.
pub struct RateLimiter {
    config: RateLimitConfig,
    clients: Mutex<BTreeMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            config,
            clients: Mutex::new(BTreeMap::new()),
        }
    }

    fn capacity(&self) -> u64 {
        self.config.burst.max(1).saturating_mul(TOKEN)
    }

    /// The bucket's content at `now`.
    fn refilled(&self, bucket: &Bucket, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_micros();
        let added = elapsed.saturating_mul(u128::from(self.config.per_second));
        let units = u128::from(bucket.units).saturating_add(added);
        u64::try_from(units.min(u128::from(self.capacity()))).unwrap_or(u64::MAX)
    }

    /// Takes one token from `client`'s bucket at `now`.
    pub fn check(&self, client: IpAddr, now: Instant) -> Decision {
        if self.config.per_second == 0 {
            return Decision::Allowed;
        }
        let mut clients = self.clients.lock().expect("rate-limit table");
        if !clients.contains_key(&client) && clients.len() >= self.config.clients_max.max(1) {
            self.evict(&mut clients, now);
        }
        let capacity = self.capacity();
        let bucket = clients.entry(client).or_insert(Bucket {
            units: capacity,
            updated: now,
        });
        let units = self.refilled(bucket, now);
        *bucket = Bucket {
            units,
            updated: now,
        };
        if units >= TOKEN {
            bucket.units -= TOKEN;
            return Decision::Allowed;
        }
        let missing_micros = (TOKEN - units).div_ceil(self.config.per_second);
        Decision::Limited {
            retry_after_secs: missing_micros.div_ceil(1_000_000).max(1),
        }
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        self.clients.lock().expect("rate-limit table").len()
    }

    fn evict(&self, clients: &mut BTreeMap<IpAddr, Bucket>, now: Instant) {
        let capacity = self.capacity();
        clients.retain(|_, bucket| self.refilled(bucket, now) < capacity);
        if clients.len() >= self.config.clients_max.max(1) {
            let idlest = clients
                .iter()
                .min_by_key(|(_, bucket)| bucket.updated)
                .map(|(client, _)| *client);
            if let Some(client) = idlest {
                clients.remove(&client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Clock, RealClock};
    use std::time::Duration;

    fn limiter(per_second: u64, burst: u64, clients_max: usize) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            per_second,
            burst,
            clients_max,
        })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_refill_at_the_rate() {
        let limiter = limiter(2, 3, 10);
        let now = RealClock::new().now();
        for _ in 0..3 {
            assert_eq!(limiter.check(ip(1), now), Decision::Allowed);
        }
        assert_eq!(
            limiter.check(ip(1), now),
            Decision::Limited {
                retry_after_secs: 1
            }
        );
        // Another client has its own bucket.
        assert_eq!(limiter.check(ip(2), now), Decision::Allowed);
        // Half a second at 2/s is one token.
        let later = now + Duration::from_millis(500);
        assert_eq!(limiter.check(ip(1), later), Decision::Allowed);
        assert!(matches!(
            limiter.check(ip(1), later),
            Decision::Limited { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_is_bounded() {
        let limiter = limiter(1, 1, 3);
        let now = RealClock::new().now();
        for last in 0..50 {
            limiter.check(ip(last), now + Duration::from_millis(u64::from(last)));
        }
        assert!(limiter.tracked() <= 3);
        let off = self::limiter(0, 1, 1);
        assert!((0..10).all(|_| off.check(ip(1), now) == Decision::Allowed));
    }
}
