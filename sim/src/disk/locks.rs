//! SQLite's locks between the connections of one process, in memory: the five-level
//! lock on a database file and the WAL index's eight shared-memory lock slots.
//! Connections are told apart by handle id; a conflicting request gets `SQLITE_BUSY`
//! at once (the engine waits on its own Clock, never in the VFS).

use std::collections::BTreeSet;

use sqlite_plugin::flags::{LockLevel, ShmLockMode};

/// The lock on one database file (<https://www.sqlite.org/lockingv3.html>).
#[derive(Debug, Default)]
pub struct FileLock {
    shared: BTreeSet<u64>,
    reserved: Option<u64>,
    pending: Option<u64>,
    exclusive: Option<u64>,
}

/// Whether a lock request was granted.
#[derive(Debug, PartialEq, Eq)]
pub enum Granted {
    Yes,
    Busy,
}

fn other(holder: Option<u64>, handle: u64) -> bool {
    holder.is_some_and(|h| h != handle)
}

impl FileLock {
    /// Raises `handle`'s lock to `level`.
    pub fn lock(&mut self, handle: u64, level: LockLevel) -> Granted {
        match level {
            LockLevel::Unlocked => Granted::Yes,
            LockLevel::Shared => {
                if other(self.pending, handle) || other(self.exclusive, handle) {
                    return Granted::Busy;
                }
                self.shared.insert(handle);
                Granted::Yes
            }
            LockLevel::Reserved => {
                if other(self.reserved, handle) || other(self.exclusive, handle) {
                    return Granted::Busy;
                }
                self.reserved = Some(handle);
                Granted::Yes
            }
            LockLevel::Pending | LockLevel::Exclusive => {
                if other(self.pending, handle) || other(self.exclusive, handle) {
                    return Granted::Busy;
                }
                // PENDING keeps new readers out while the old ones finish.
                self.pending = Some(handle);
                if self.shared.iter().any(|h| *h != handle) {
                    return Granted::Busy;
                }
                if level == LockLevel::Exclusive {
                    self.exclusive = Some(handle);
                }
                Granted::Yes
            }
        }
    }

    /// Lowers `handle`'s lock to `level` (SHARED or none).
    pub fn unlock(&mut self, handle: u64, level: LockLevel) {
        for slot in [&mut self.reserved, &mut self.pending, &mut self.exclusive] {
            if *slot == Some(handle) {
                *slot = None;
            }
        }
        if level == LockLevel::Unlocked {
            self.shared.remove(&handle);
        }
    }

    /// Whether any connection holds RESERVED or above.
    pub fn reserved(&self) -> bool {
        self.reserved.is_some() || self.pending.is_some() || self.exclusive.is_some()
    }
}

/// The WAL index's lock slots (`SQLITE_SHM_NLOCK`).
pub const SHM_SLOTS: usize = 8;

#[derive(Debug, Default, Clone)]
struct Slot {
    shared: BTreeSet<u64>,
    exclusive: Option<u64>,
}

/// The shared-memory lock slots of one database's WAL index.
#[derive(Debug, Default)]
pub struct ShmLocks {
    slots: [Slot; SHM_SLOTS],
}

impl ShmLocks {
    /// Applies `mode` for `handle` to slots `offset..offset + count`, all or none.
    pub fn apply(
        &mut self,
        handle: u64,
        offset: usize,
        count: usize,
        mode: ShmLockMode,
    ) -> Granted {
        let Some(slots) = self.slots.get_mut(offset..offset + count) else {
            return Granted::Busy;
        };
        let conflict = |slot: &Slot| match mode {
            ShmLockMode::LockShared => other(slot.exclusive, handle),
            ShmLockMode::LockExclusive => {
                other(slot.exclusive, handle) || slot.shared.iter().any(|h| *h != handle)
            }
            ShmLockMode::UnlockShared | ShmLockMode::UnlockExclusive => false,
        };
        if slots.iter().any(conflict) {
            return Granted::Busy;
        }
        for slot in slots {
            match mode {
                ShmLockMode::LockShared => {
                    slot.shared.insert(handle);
                }
                ShmLockMode::LockExclusive => slot.exclusive = Some(handle),
                ShmLockMode::UnlockShared => {
                    slot.shared.remove(&handle);
                }
                ShmLockMode::UnlockExclusive => {
                    if slot.exclusive == Some(handle) {
                        slot.exclusive = None;
                    }
                }
            }
        }
        Granted::Yes
    }

    /// Drops every slot `handle` holds (it unmapped the WAL index).
    pub fn release(&mut self, handle: u64) {
        for slot in &mut self.slots {
            slot.shared.remove(&handle);
            if slot.exclusive == Some(handle) {
                slot.exclusive = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_waits_for_readers_and_blocks_new_ones() {
        let mut lock = FileLock::default();
        assert_eq!(lock.lock(1, LockLevel::Shared), Granted::Yes);
        assert_eq!(lock.lock(2, LockLevel::Shared), Granted::Yes);
        assert_eq!(lock.lock(2, LockLevel::Reserved), Granted::Yes);
        assert_eq!(lock.lock(1, LockLevel::Reserved), Granted::Busy);
        assert_eq!(lock.lock(2, LockLevel::Exclusive), Granted::Busy, "1 reads");
        assert_eq!(lock.lock(3, LockLevel::Shared), Granted::Busy, "pending");
        lock.unlock(1, LockLevel::Unlocked);
        assert_eq!(lock.lock(2, LockLevel::Exclusive), Granted::Yes);
        lock.unlock(2, LockLevel::Shared);
        assert!(!lock.reserved());
        assert_eq!(lock.lock(3, LockLevel::Shared), Granted::Yes);
    }

    #[test]
    fn shm_slots_are_taken_all_or_none() {
        let mut locks = ShmLocks::default();
        assert_eq!(locks.apply(1, 3, 1, ShmLockMode::LockShared), Granted::Yes);
        assert_eq!(
            locks.apply(2, 0, 4, ShmLockMode::LockExclusive),
            Granted::Busy
        );
        assert_eq!(
            locks.apply(2, 0, 1, ShmLockMode::LockExclusive),
            Granted::Yes
        );
        locks.release(1);
        assert_eq!(
            locks.apply(2, 1, 3, ShmLockMode::LockExclusive),
            Granted::Yes
        );
        assert_eq!(locks.apply(1, 3, 1, ShmLockMode::LockShared), Granted::Busy);
    }
}
