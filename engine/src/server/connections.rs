//! Which connections are taken in: at most `connections_max` at once, at most
//! `connections_per_address_max` from one client address (when set), and a few more reserved
//! for the admin API and the health check.
//!
//! When the general slots are all held (by busy clients, or by slow ones that hold
//! connections as long as the timeouts allow), new connections still get one of the
//! `connections_reserved` slots. A reserved connection serves one request, and only an
//! admin one (health included); anything else is answered 503 `Overloaded` with cause
//! `ConnectionLimit`. It must send its head within `reserved_header_read_timeout`, so
//! a client stalling on them frees them quickly. When the reserved slots are held
//! too, new connections wait in the listen backlog.
//!
//! Not covered: an attacker with more addresses than there are reserved slots who
//! keeps re-opening stalled connections can still contend with the admin for them;
//! that takes a firewall.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Which slots a connection holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    General,
    /// Admin requests only, one per connection.
    Reserved,
}

/// The connection slots and the count of open connections per client address.
pub struct ConnectionGate {
    general: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
    per_address_max: Option<usize>,
    by_address: Arc<Mutex<BTreeMap<IpAddr, usize>>>,
}

/// An open connection's place: its slot and its count for its address, both given back
/// when dropped.
pub struct Admitted {
    pub pool: Pool,
    address: IpAddr,
    by_address: Arc<Mutex<BTreeMap<IpAddr, usize>>>,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.by_address.lock().expect("never poisoned");
        if let Some(count) = counts.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// A free slot, taken before the connection is accepted.
pub struct Room {
    pool: Pool,
    slot: OwnedSemaphorePermit,
}

impl ConnectionGate {
    /// `general` slots (at least one), `reserved` more for admin requests, and at most
    /// `per_address_max` (at least one; `None`: no cap) connections per client address.
    pub fn new(general: usize, reserved: usize, per_address_max: Option<usize>) -> ConnectionGate {
        ConnectionGate {
            general: Arc::new(Semaphore::new(general.max(1))),
            reserved: Arc::new(Semaphore::new(reserved)),
            per_address_max: per_address_max.map(|max| max.max(1)),
            by_address: Arc::default(),
        }
    }

    /// Waits for a free slot: a general one if any, else a reserved one.
    pub async fn room(&self) -> Room {
        let general = self.general.clone();
        let reserved = self.reserved.clone();
        let (pool, slot) = tokio::select! {
            biased;
            slot = general.acquire_owned() => (Pool::General, slot),
            slot = reserved.acquire_owned() => (Pool::Reserved, slot),
        };
        Room {
            pool,
            slot: slot.expect("the connection semaphores are never closed"),
        }
    }

    /// Takes in a connection from `address` in `room`; `None` (close it) when the
    /// address already has its maximum open. A reserved room becomes a general one
    /// when a general slot freed meanwhile.
    pub fn admit(&self, room: Room, address: IpAddr) -> Option<Admitted> {
        let mut counts = self.by_address.lock().expect("never poisoned");
        let count = counts.entry(address).or_default();
        if self.per_address_max.is_some_and(|max| *count >= max) {
            if *count == 0 {
                counts.remove(&address);
            }
            return None;
        }
        *count += 1;
        let upgrade = match room.pool {
            Pool::Reserved => self.general.clone().try_acquire_owned().ok(),
            Pool::General => None,
        };
        let (pool, slot) = match upgrade {
            Some(general) => (Pool::General, general),
            None => (room.pool, room.slot),
        };
        Some(Admitted {
            pool,
            address,
            by_address: self.by_address.clone(),
            _slot: slot,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[tokio::test]
    async fn addresses_are_capped_and_the_reserve_follows_the_general_slots() {
        let gate = ConnectionGate::new(2, 1, Some(2));
        let a1 = gate.admit(gate.room().await, A).unwrap();
        let a2 = gate.admit(gate.room().await, A).unwrap();
        assert_eq!((a1.pool, a2.pool), (Pool::General, Pool::General));
        // The general slots are taken: the next room is the reserved one.
        let room = gate.room().await;
        assert!(gate.admit(room, A).is_none(), "A is at its maximum");
        let b = gate.admit(gate.room().await, B).unwrap();
        assert_eq!(b.pool, Pool::Reserved);
        assert_eq!(gate.by_address.lock().unwrap().len(), 2);
        drop(b);
        // A reserved room taken while a general slot frees becomes general.
        let room = gate.room().await;
        drop(a1);
        assert_eq!(gate.admit(room, B).unwrap().pool, Pool::General);
        drop(a2);
        assert_eq!(gate.by_address.lock().unwrap().len(), 0);
    }
}
