//! One simulated file: the bytes a reader sees now, the bytes that would survive a
//! power loss, and the writes between the two.

use fazt_engine::env::Rng;

/// The unit a disk writes atomically: a torn write keeps whole sectors. 512 bytes is
/// the logical sector of every NVMe and virtio disk (Linux `logical_block_size`);
/// also what the VFS reports to SQLite as its sector size.
pub const SECTOR: usize = 512;

/// A change not yet made durable by a sync.
#[derive(Clone, Debug)]
enum Unsynced {
    Write { offset: usize, data: Vec<u8> },
    Truncate(usize),
}

/// A file's contents, as the process sees them and as the platter holds them.
#[derive(Clone, Debug, Default)]
pub struct SimFile {
    current: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<Unsynced>,
}

impl SimFile {
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// Bytes written since the last sync (what a power loss may drop).
    pub fn unsynced_bytes(&self) -> usize {
        self.unsynced
            .iter()
            .map(|change| match change {
                Unsynced::Write { data, .. } => data.len(),
                Unsynced::Truncate(_) => 0,
            })
            .sum()
    }

    /// Copies up to `buf.len()` bytes from `offset`; returns how many there were.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> usize {
        let available = self.current.len().saturating_sub(offset).min(buf.len());
        if available == 0 {
            return 0;
        }
        buf[..available].copy_from_slice(&self.current[offset..offset + available]);
        available
    }

    pub fn write(&mut self, offset: usize, data: &[u8]) {
        apply_write(&mut self.current, offset, data);
        self.unsynced.push(Unsynced::Write {
            offset,
            data: data.to_vec(),
        });
    }

    pub fn truncate(&mut self, size: usize) {
        self.current.resize(size, 0);
        self.unsynced.push(Unsynced::Truncate(size));
    }

    /// `fsync`: every change so far becomes durable, in order.
    pub fn sync(&mut self) {
        for change in self.unsynced.drain(..) {
            match change {
                Unsynced::Write { offset, data } => apply_write(&mut self.durable, offset, &data),
                Unsynced::Truncate(size) => self.durable.resize(size, 0),
            }
        }
    }

    /// A power loss: the unsynced changes are gone, except that with `torn` one
    /// unsynced write (drawn from `rng`) left a prefix of whole sectors behind. Returns
    /// the bytes lost.
    pub fn lose_unsynced(&mut self, torn: bool, rng: &Rng) -> usize {
        let lost = self.unsynced_bytes();
        let writes: Vec<(usize, Vec<u8>)> = self
            .unsynced
            .drain(..)
            .filter_map(|change| match change {
                Unsynced::Write { offset, data } => Some((offset, data)),
                Unsynced::Truncate(_) => None,
            })
            .collect();
        if torn && !writes.is_empty() {
            let (offset, data) = &writes[rng.below(writes.len() as u64) as usize];
            let sectors = data.len().div_ceil(SECTOR) as u64;
            let kept = (rng.below(sectors) as usize * SECTOR).min(data.len());
            apply_write(&mut self.durable, *offset, &data[..kept]);
        }
        self.current = self.durable.clone();
        lost
    }
}

fn apply_write(bytes: &mut Vec<u8>, offset: usize, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    if bytes.len() < offset + data.len() {
        bytes.resize(offset + data.len(), 0);
    }
    bytes[offset..offset + data.len()].copy_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(file: &SimFile) -> Vec<u8> {
        let mut buf = vec![0; file.len()];
        file.read(0, &mut buf);
        buf
    }

    #[test]
    fn a_sync_makes_writes_survive_a_power_loss() {
        let rng = Rng::seeded(1);
        let mut file = SimFile::default();
        file.write(0, b"durable");
        file.sync();
        file.write(7, b" lost");
        assert_eq!(contents(&file), b"durable lost");
        assert_eq!(file.lose_unsynced(false, &rng), 5);
        assert_eq!(contents(&file), b"durable");
    }

    #[test]
    fn a_torn_write_keeps_whole_sectors_only() {
        let mut file = SimFile::default();
        file.write(0, &[1; 4 * SECTOR]);
        for seed in 0..20 {
            let mut torn = file.clone();
            torn.lose_unsynced(true, &Rng::seeded(seed));
            assert_eq!(torn.len() % SECTOR, 0, "seed {seed}");
            assert!(torn.len() < 4 * SECTOR, "never the whole write");
        }
    }

    #[test]
    fn an_unsynced_truncate_is_undone() {
        let mut file = SimFile::default();
        file.write(0, b"0123456789");
        file.sync();
        file.truncate(2);
        assert_eq!(file.len(), 2);
        file.lose_unsynced(false, &Rng::seeded(0));
        assert_eq!(contents(&file), b"0123456789");
    }
}
