//! The I/O seam: which SQLite VFS the storage engine opens its database through.

use std::sync::Arc;

/// The disk under SQLite. The real server uses the operating system's VFS (SQLite's
/// default, no layer added); the simulator registers a simulated disk as a VFS of its
/// own and names it here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Disk {
    /// The operating system's files.
    #[default]
    Os,
    /// The SQLite VFS registered under this name.
    Vfs(Arc<str>),
}

impl Disk {
    /// The VFS name to open with (`None`: SQLite's default).
    pub fn vfs_name(&self) -> Option<&str> {
        match self {
            Disk::Os => None,
            Disk::Vfs(name) => Some(name),
        }
    }
}
