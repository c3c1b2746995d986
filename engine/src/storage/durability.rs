//! What an acknowledged write survives: the writer connections' `PRAGMA synchronous`.

/// When a committed write reaches the disk.
///
/// In WAL mode SQLite appends a commit to the log; under `Full` the writer syncs the
/// log at each commit (one sync per group commit, before any write of the group is
/// acknowledged), so an acknowledged write survives a power loss. Under `Normal` it
/// syncs only at checkpoints: an acknowledged write survives a crash of the process
/// (the OS has the bytes) but not a power loss before the next checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = FULL`. What fazt ran (the legacy profiles): its DSN sets no
    /// `synchronous`, and the modernc driver's SQLite defaults to FULL.
    Full,
    /// `synchronous = NORMAL`: no sync at commit. `hardened`'s default: `full` cost
    /// 52% of momentum's `POST` throughput at c=50 (BENCHMARKS.md), over the 15%
    /// issue 19 allows a default.
    Normal,
}

impl Durability {
    /// The `PRAGMA synchronous` value.
    pub fn pragma(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }

    /// Parses `full` or `normal` (`--durability`).
    pub fn parse(name: &str) -> Result<Durability, String> {
        match name {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            other => Err(format!(
                "unknown durability {other:?}; one of: full, normal"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Durability::Full => "full",
            Durability::Normal => "normal",
        }
    }
}
