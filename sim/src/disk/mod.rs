//! The simulated disk beneath SQLite: no real file I/O in a simulation.
//!
//! One SQLite VFS ([`VFS_NAME`], registered once per process) serves every
//! [`SimDisk`]; a disk's files live under its own root (`/sim-disk/<id>/`), so runs on
//! parallel test threads never share state. Per file the disk keeps the bytes a
//! reader sees and the bytes a power loss would leave ([`file::SimFile`]); `xSync`
//! makes the difference durable. The locks between connections and the WAL index
//! (SQLite's shared memory) are in memory. Each operation's latency, from the
//! [`DiskModel`], accrues until the simulated executor charges it in virtual time.

mod file;
mod locks;
mod model;
mod vfs;

pub use file::SECTOR;
pub use model::{DiskModel, INSTANT, NVME, PROFILES, VPS};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use fazt_chaos::DiskFault;
use fazt_engine::env::{Disk, Rng};

use file::SimFile;
use locks::{FileLock, ShmLocks};

/// The name the simulated disk's VFS is registered under.
pub const VFS_NAME: &str = "fazt-sim-disk";

/// Where every simulated disk's files live (a path no real file system has).
const ROOT: &str = "/sim-disk/";

/// One power loss in this many tears one unsynced write of each file it hits (a
/// seeded chance). A guess, not a measurement: often enough that a sweep of a
/// thousand seeds meets hundreds of torn writes.
pub const TORN_WRITE_ONE_IN: u64 = 4;

/// The least a [`DiskFault::SlowSync`] takes: the 50 ms stall issue 19 names.
pub const SLOW_SYNC: Duration = Duration::from_millis(50);

/// What the disk has seen, for reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    pub syncs: u64,
    pub power_losses: u64,
    pub torn_writes: u64,
    /// Unsynced bytes dropped by power losses.
    pub bytes_lost: u64,
    /// Operations failed by armed faults.
    pub faults_fired: u64,
}

/// One database's WAL index: regions handed to SQLite by pointer, and its locks.
#[derive(Default)]
struct Shm {
    regions: Vec<Box<[u8]>>,
    locks: ShmLocks,
    mapped: BTreeSet<u64>,
}

struct State {
    files: BTreeMap<String, SimFile>,
    locks: BTreeMap<String, FileLock>,
    shm: BTreeMap<String, Shm>,
    /// The WAL indexes of processes that died: their connections may still hold
    /// pointers into the regions until they are dropped, so the memory stays.
    retired: Vec<Shm>,
    /// The server process's lifetime: handles opened in an earlier one are dead.
    epoch: u64,
    next_handle: u64,
    model: DiskModel,
    rng: Rng,
    /// Latency accrued since the executor last charged it.
    charged: Duration,
    armed: BTreeMap<DiskFault, u32>,
    stats: DiskStats,
}

impl State {
    /// Whether an armed `fault` fires on this operation (and counts it down).
    fn fires(&mut self, fault: DiskFault) -> bool {
        let Some(left) = self.armed.get_mut(&fault) else {
            return false;
        };
        *left -= 1;
        if *left == 0 {
            self.armed.remove(&fault);
        }
        self.stats.faults_fired += 1;
        true
    }

    /// The process dies: its locks and WAL index go, its open handles die with it.
    fn end_process(&mut self) {
        self.epoch += 1;
        self.locks.clear();
        let shm = std::mem::take(&mut self.shm);
        self.retired.extend(shm.into_values());
    }
}

/// The disks alive in this process, by id (the VFS finds a path's disk here).
static DISKS: Mutex<BTreeMap<u64, Weak<Mutex<State>>>> = Mutex::new(BTreeMap::new());
static NEXT_DISK: AtomicU64 = AtomicU64::new(1);

/// A simulated disk. Clones share it.
#[derive(Clone)]
pub struct SimDisk {
    id: u64,
    state: Arc<Mutex<State>>,
}

impl SimDisk {
    /// An empty disk with `model`'s latencies; its seeded draws (sync times, torn
    /// writes) come from `rng`.
    pub fn new(model: DiskModel, rng: Rng) -> SimDisk {
        vfs::register();
        let id = NEXT_DISK.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(Mutex::new(State {
            files: BTreeMap::new(),
            locks: BTreeMap::new(),
            shm: BTreeMap::new(),
            retired: Vec::new(),
            epoch: 0,
            next_handle: 1,
            model,
            rng,
            charged: Duration::ZERO,
            armed: BTreeMap::new(),
            stats: DiskStats::default(),
        }));
        let mut disks = DISKS.lock().expect("disk registry");
        disks.retain(|_, disk| disk.strong_count() > 0);
        disks.insert(id, Arc::downgrade(&state));
        SimDisk { id, state }
    }

    /// The path of file `name` on this disk (open it with [`SimDisk::seam`]).
    pub fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{ROOT}{}/{name}", self.id))
    }

    /// The engine's I/O seam for this disk.
    pub fn seam() -> Disk {
        Disk::Vfs(VFS_NAME.into())
    }

    /// A SQLite URI for file `name` on this disk, for code that opens a database by
    /// path alone (the invariant checkers).
    pub fn uri(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("file:{}?vfs={VFS_NAME}", self.path(name).display()))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("sim disk")
    }

    /// The latency accrued since the last call: the executor charges it.
    pub fn take_charged(&self) -> Duration {
        std::mem::take(&mut self.state().charged)
    }

    /// The process crashes: the OS keeps every byte written (synced or not).
    pub fn crash(&self) {
        self.state().end_process();
    }

    /// The machine loses power: the process dies, and every file loses what was not
    /// synced (one unsynced write per file torn, with a seeded chance).
    pub fn power_loss(&self) {
        let mut state = self.state();
        state.end_process();
        state.stats.power_losses += 1;
        let State {
            files, rng, stats, ..
        } = &mut *state;
        for file in files.values_mut() {
            let torn = file.unsynced_bytes() > 0 && rng.chance(1, TORN_WRITE_ONE_IN);
            stats.torn_writes += u64::from(torn);
            stats.bytes_lost += file.lose_unsynced(torn, rng) as u64;
        }
    }

    /// Fails the next `times` operations that `fault` names.
    pub fn arm(&self, fault: DiskFault, times: u32) {
        if times > 0 {
            *self.state().armed.entry(fault).or_insert(0) += times;
        }
    }

    /// Disarms every fault (the end of a run).
    pub fn disarm(&self) {
        self.state().armed.clear();
    }

    pub fn stats(&self) -> DiskStats {
        self.state().stats.clone()
    }

    /// Bytes written to `name` and not yet synced.
    pub fn unsynced_bytes(&self, name: &str) -> usize {
        let path = self.path(name).display().to_string();
        self.state()
            .files
            .get(&path)
            .map_or(0, SimFile::unsynced_bytes)
    }
}

/// The disk a path lives on, if it is alive.
fn disk_of(path: &str) -> Option<Arc<Mutex<State>>> {
    let id: u64 = path.strip_prefix(ROOT)?.split('/').next()?.parse().ok()?;
    DISKS.lock().expect("disk registry").get(&id)?.upgrade()
}

#[cfg(test)]
mod tests {
    use fazt_engine::storage::{Db, Durability};

    use super::*;

    /// Rows left after 20 one-row commits and a power loss, and the integrity check.
    fn rows_after_power_loss(durability: Durability, seed: u64) -> (i64, String) {
        let disk = SimDisk::new(NVME, Rng::seeded(seed));
        let path = disk.path("t.db");
        let db = Db::open_on(&path, &SimDisk::seam()).unwrap();
        db.set_durability(durability).unwrap();
        db.conn().execute_batch("CREATE TABLE t (v TEXT)").unwrap();
        // A checkpoint syncs under either setting: the table survives.
        db.conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        for n in 0..20 {
            db.conn()
                .execute("INSERT INTO t (v) VALUES (?1)", [format!("{n:0>900}")])
                .unwrap();
        }
        disk.power_loss();
        drop(db);
        let db = Db::open_on(&path, &SimDisk::seam()).unwrap();
        let rows = db
            .conn()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        let check = db
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        (rows, check)
    }

    #[test]
    fn under_full_every_commit_survives_a_power_loss() {
        for seed in 0..8 {
            assert_eq!(
                rows_after_power_loss(Durability::Full, seed),
                (20, "ok".into())
            );
        }
    }

    #[test]
    fn under_normal_a_power_loss_drops_commits_but_not_integrity() {
        for seed in 0..8 {
            let (rows, check) = rows_after_power_loss(Durability::Normal, seed);
            assert!(rows < 20, "seed {seed}: unsynced commits are lost ({rows})");
            assert_eq!(check, "ok");
        }
    }

    #[test]
    fn a_crash_keeps_unsynced_writes_and_connections_share_the_wal_index() {
        let disk = SimDisk::new(NVME, Rng::seeded(1));
        let path = disk.path("t.db");
        let writer = Db::open_on(&path, &SimDisk::seam()).unwrap();
        writer.set_durability(Durability::Normal).unwrap();
        let reader = Db::open_on(&path, &SimDisk::seam()).unwrap();
        writer
            .conn()
            .execute_batch("CREATE TABLE t (v); INSERT INTO t VALUES (1)")
            .unwrap();
        let seen: i64 = reader
            .conn()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            seen, 1,
            "the reader sees the commit through the shared index"
        );
        assert!(disk.unsynced_bytes("t.db-wal") > 0);
        disk.crash();
        assert!(
            writer
                .conn()
                .execute_batch("INSERT INTO t VALUES (2)")
                .is_err(),
            "a dead process's connection touches nothing"
        );
        drop((writer, reader));
        let db = Db::open_on(&path, &SimDisk::seam()).unwrap();
        let rows: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
    }

    #[test]
    fn armed_faults_fail_the_operations_they_name() {
        let disk = SimDisk::new(NVME, Rng::seeded(1));
        let path = disk.path("t.db");
        let db = Db::open_on(&path, &SimDisk::seam()).unwrap();
        db.conn().execute_batch("CREATE TABLE t (v)").unwrap();
        disk.arm(DiskFault::Full, 1);
        let full = db
            .conn()
            .execute_batch("INSERT INTO t VALUES (zeroblob(100000))")
            .unwrap_err();
        assert_eq!(
            full.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DiskFull)
        );
        db.conn().execute_batch("INSERT INTO t VALUES (1)").unwrap();
        assert_eq!(disk.stats().faults_fired, 1);
    }

    #[test]
    fn a_lock_error_fails_begin_immediate_as_an_io_error_not_busy() {
        let disk = SimDisk::new(NVME, Rng::seeded(1));
        let path = disk.path("t.db");
        let db = Db::open_on(&path, &SimDisk::seam()).unwrap();
        db.conn().execute_batch("CREATE TABLE t (v)").unwrap();
        disk.arm(DiskFault::LockError, 1);
        let refused = db.conn().execute_batch("BEGIN IMMEDIATE").unwrap_err();
        assert_eq!(
            refused.sqlite_error_code(),
            Some(rusqlite::ErrorCode::SystemIoFailure),
            "{refused}"
        );
        assert!(!db.take_busy_handler_called(), "no lock was waited for");
        db.conn()
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1); COMMIT")
            .unwrap();
        assert_eq!(disk.stats().faults_fired, 1);
    }
}
