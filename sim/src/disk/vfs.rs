//! The simulated disk as a SQLite VFS, through `sqlite-plugin`'s safe trait.

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard, Once};

use fazt_chaos::DiskFault;
use sqlite_plugin::flags::{AccessFlags, LockLevel, OpenOpts, ShmLockMode};
use sqlite_plugin::vars;
use sqlite_plugin::vfs::{register_static, RegisterOpts, Vfs, VfsHandle, VfsResult};

use super::file::{SimFile, SECTOR};
use super::locks::Granted;
use super::{disk_of, Shm, State, SLOW_SYNC};

/// Registers the VFS with SQLite, once per process. Not the default VFS: only
/// connections that name it (the simulator's) use it.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let name = CString::new(super::VFS_NAME).expect("a VFS name without NUL");
        register_static(
            name,
            SimVfs,
            RegisterOpts {
                make_default: false,
            },
        )
        .expect("SQLite registers the simulated disk's VFS");
    });
}

struct SimVfs;

/// An open file: on a disk, or a nameless temporary file of its own.
pub struct Handle {
    id: u64,
    target: Target,
}

enum Target {
    Disk {
        state: Arc<Mutex<State>>,
        path: String,
        /// The process lifetime the handle was opened in.
        epoch: u64,
        delete_on_close: bool,
    },
    Scratch(SimFile),
}

impl VfsHandle for Handle {
    fn readonly(&self) -> bool {
        false
    }

    fn in_memory(&self) -> bool {
        false
    }
}

/// The disk behind `handle`, refused (`SQLITE_IOERR`) to a handle whose process died.
fn live(state: &Arc<Mutex<State>>, epoch: u64) -> VfsResult<MutexGuard<'_, State>> {
    let guard = state.lock().map_err(|_| vars::SQLITE_INTERNAL)?;
    if guard.epoch != epoch {
        return Err(vars::SQLITE_IOERR);
    }
    Ok(guard)
}

impl Handle {
    /// Runs `op` on the handle's file (and its disk, if any).
    fn with_file<T>(
        &mut self,
        op: impl FnOnce(&mut SimFile, Option<&mut State>) -> VfsResult<T>,
    ) -> VfsResult<T> {
        match &mut self.target {
            Target::Scratch(file) => op(file, None),
            Target::Disk {
                state, path, epoch, ..
            } => {
                let mut state = live(state, *epoch)?;
                let mut file = state
                    .files
                    .remove(path.as_str())
                    .ok_or(vars::SQLITE_IOERR)?;
                let result = op(&mut file, Some(&mut state));
                state.files.insert(path.clone(), file);
                result
            }
        }
    }

    /// Runs `op` on the disk's state for this handle's path (no-op for scratch files).
    fn with_disk<T: Default>(
        &mut self,
        op: impl FnOnce(&mut State, &str, u64) -> VfsResult<T>,
    ) -> VfsResult<T> {
        let id = self.id;
        match &mut self.target {
            Target::Scratch(_) => Ok(T::default()),
            Target::Disk {
                state, path, epoch, ..
            } => op(&mut *live(state, *epoch)?, path, id),
        }
    }
}

impl Vfs for SimVfs {
    type Handle = Handle;

    fn open(&self, path: Option<&str>, opts: OpenOpts) -> VfsResult<Handle> {
        let Some(path) = path else {
            return Ok(Handle {
                id: 0,
                target: Target::Scratch(SimFile::default()),
            });
        };
        let state = disk_of(path).ok_or(vars::SQLITE_CANTOPEN)?;
        let mut guard = state.lock().map_err(|_| vars::SQLITE_INTERNAL)?;
        if !guard.files.contains_key(path) {
            if opts.mode().is_readonly() {
                return Err(vars::SQLITE_CANTOPEN);
            }
            guard.files.insert(path.to_owned(), SimFile::default());
        }
        let id = guard.next_handle;
        guard.next_handle += 1;
        let epoch = guard.epoch;
        drop(guard);
        Ok(Handle {
            id,
            target: Target::Disk {
                state,
                path: path.to_owned(),
                epoch,
                delete_on_close: opts.delete_on_close(),
            },
        })
    }

    fn delete(&self, path: &str) -> VfsResult<()> {
        let state = disk_of(path).ok_or(vars::SQLITE_IOERR_DELETE_NOENT)?;
        let mut state = state.lock().map_err(|_| vars::SQLITE_INTERNAL)?;
        state
            .files
            .remove(path)
            .map(drop)
            .ok_or(vars::SQLITE_IOERR_DELETE_NOENT)
    }

    fn access(&self, path: &str, _flags: AccessFlags) -> VfsResult<bool> {
        Ok(disk_of(path).is_some_and(|state| {
            state
                .lock()
                .is_ok_and(|state| state.files.contains_key(path))
        }))
    }

    fn file_size(&self, handle: &mut Handle) -> VfsResult<usize> {
        handle.with_file(|file, _| Ok(file.len()))
    }

    fn truncate(&self, handle: &mut Handle, size: usize) -> VfsResult<()> {
        handle.with_file(|file, state| {
            if let Some(state) = state {
                state.charged += state.model.write;
            }
            file.truncate(size);
            Ok(())
        })
    }

    fn write(&self, handle: &mut Handle, offset: usize, data: &[u8]) -> VfsResult<usize> {
        handle.with_file(|file, state| {
            if let Some(state) = state {
                state.charged += state.model.write;
                if state.fires(DiskFault::WriteError) {
                    return Err(vars::SQLITE_IOERR_WRITE);
                }
                if offset + data.len() > file.len() && state.fires(DiskFault::Full) {
                    return Err(vars::SQLITE_FULL);
                }
            }
            file.write(offset, data);
            Ok(data.len())
        })
    }

    fn read(&self, handle: &mut Handle, offset: usize, data: &mut [u8]) -> VfsResult<usize> {
        handle.with_file(|file, state| {
            if let Some(state) = state {
                state.charged += state.model.read;
                if state.fires(DiskFault::ReadError) {
                    return Err(vars::SQLITE_IOERR_READ);
                }
            }
            Ok(file.read(offset, data))
        })
    }

    fn sync(&self, handle: &mut Handle) -> VfsResult<()> {
        handle.with_file(|file, state| {
            let Some(state) = state else { return Ok(()) };
            let time = state.model.sync_time(&state.rng);
            let slow = state.fires(DiskFault::SlowSync);
            state.charged += if slow {
                time.max(state.model.stall).max(SLOW_SYNC)
            } else {
                time
            };
            if state.fires(DiskFault::SyncError) {
                return Err(vars::SQLITE_IOERR_FSYNC);
            }
            state.stats.syncs += 1;
            file.sync();
            Ok(())
        })
    }

    fn lock(&self, handle: &mut Handle, level: LockLevel) -> VfsResult<()> {
        handle.with_disk(|state, path, id| {
            if level >= LockLevel::Reserved && state.fires(DiskFault::LockError) {
                return Err(vars::SQLITE_IOERR_LOCK);
            }
            match state
                .locks
                .entry(path.to_owned())
                .or_default()
                .lock(id, level)
            {
                Granted::Yes => Ok(()),
                Granted::Busy => Err(vars::SQLITE_BUSY),
            }
        })
    }

    fn unlock(&self, handle: &mut Handle, level: LockLevel) -> VfsResult<()> {
        handle.with_disk(|state, path, id| {
            if let Some(lock) = state.locks.get_mut(path) {
                lock.unlock(id, level);
            }
            Ok(())
        })
    }

    fn check_reserved_lock(&self, handle: &mut Handle) -> VfsResult<bool> {
        handle.with_disk(|state, path, _| Ok(state.locks.get(path).is_some_and(|l| l.reserved())))
    }

    fn close(&self, mut handle: Handle) -> VfsResult<()> {
        let id = handle.id;
        let Target::Disk {
            state,
            path,
            epoch,
            delete_on_close,
        } = &mut handle.target
        else {
            return Ok(());
        };
        // A dead process's handles close without touching the disk.
        let Ok(mut state) = live(state, *epoch) else {
            return Ok(());
        };
        if let Some(lock) = state.locks.get_mut(path.as_str()) {
            lock.unlock(id, LockLevel::Unlocked);
        }
        if *delete_on_close {
            state.files.remove(path.as_str());
        }
        Ok(())
    }

    fn sector_size(&self, _handle: &mut Handle) -> VfsResult<i32> {
        Ok(SECTOR as i32)
    }

    /// Only powersafe overwrite: a write changes no byte outside its range, even when
    /// torn; nothing is atomic, appends are not ordered before their size.
    fn device_characteristics(&self, _handle: &mut Handle) -> VfsResult<i32> {
        Ok(vars::SQLITE_IOCAP_POWERSAFE_OVERWRITE)
    }

    fn shm_map(
        &self,
        handle: &mut Handle,
        region_idx: usize,
        region_size: usize,
        extend: bool,
    ) -> VfsResult<Option<NonNull<u8>>> {
        handle.with_disk(|state, path, id| {
            let shm = state
                .shm
                .entry(path.to_owned())
                .or_insert_with(Shm::default);
            shm.mapped.insert(id);
            while shm.regions.len() <= region_idx {
                if !extend {
                    return Ok(None);
                }
                shm.regions.push(vec![0; region_size].into_boxed_slice());
            }
            Ok(NonNull::new(shm.regions[region_idx].as_mut_ptr()))
        })
    }

    fn shm_lock(
        &self,
        handle: &mut Handle,
        offset: u32,
        count: u32,
        mode: ShmLockMode,
    ) -> VfsResult<()> {
        handle.with_disk(|state, path, id| {
            if matches!(mode, ShmLockMode::LockExclusive) && state.fires(DiskFault::LockError) {
                return Err(vars::SQLITE_IOERR_SHMLOCK);
            }
            let shm = state
                .shm
                .entry(path.to_owned())
                .or_insert_with(Shm::default);
            match shm.locks.apply(id, offset as usize, count as usize, mode) {
                Granted::Yes => Ok(()),
                Granted::Busy => Err(vars::SQLITE_BUSY),
            }
        })
    }

    fn shm_barrier(&self, _handle: &mut Handle) {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }

    fn shm_unmap(&self, handle: &mut Handle, delete: bool) -> VfsResult<()> {
        // A dead process's handle has nothing mapped any more.
        let _ = handle.with_disk(|state, path, id| {
            if let Some(shm) = state.shm.get_mut(path) {
                shm.locks.release(id);
                shm.mapped.remove(&id);
                if delete && shm.mapped.is_empty() {
                    let shm = state.shm.remove(path).unwrap_or_default();
                    state.retired.push(shm);
                }
            }
            Ok(())
        });
        Ok(())
    }
}
