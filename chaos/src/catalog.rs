//! The failpoint catalog: each engine failpoint ([`fazt_engine::failpoints`]) with what
//! firing it does and the argument it takes. A test keeps it equal to the engine's list.

use fazt_engine::failpoints as fp;

/// One failpoint.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub name: &'static str,
    /// `storage`, `runtime` or `server`.
    pub layer: &'static str,
    /// What the engine does when it fires.
    pub effect: &'static str,
    /// What `return(n)` means, when the point takes an argument.
    pub argument: Option<&'static str>,
}

/// Every failpoint, in the engine's order.
pub const CATALOG: &[Entry] = &[
    Entry {
        name: fp::STORAGE_BEFORE_BEGIN,
        layer: "storage",
        effect: "the writer fails its group before BEGIN: every write of the group definitely failed",
        argument: None,
    },
    Entry {
        name: fp::STORAGE_BUSY,
        layer: "storage",
        effect: "BEGIN IMMEDIATE answers SQLITE_BUSY, as if another connection held the write lock",
        argument: None,
    },
    Entry {
        name: fp::STORAGE_SLOW_STATEMENT,
        layer: "storage",
        effect: "a statement runs long: the writer holds the write lock, then commits",
        argument: Some("virtual milliseconds the lock is held"),
    },
    Entry {
        name: fp::STORAGE_BEFORE_COMMIT,
        layer: "storage",
        effect: "the writer rolls back just before COMMIT: every write of the group definitely failed",
        argument: None,
    },
    Entry {
        name: fp::STORAGE_COMMIT_ERROR,
        layer: "storage",
        effect: "COMMIT runs, then reports an I/O error: the group's writes are outcome-unknown",
        argument: None,
    },
    Entry {
        name: fp::STORAGE_IO_ERROR,
        layer: "storage",
        effect: "a read statement fails with SQLITE_IOERR",
        argument: None,
    },
    Entry {
        name: fp::RUNTIME_SLOW_CPU,
        layer: "runtime",
        effect: "an execution burns extra CPU before its script starts",
        argument: Some("extra fuel ticks"),
    },
    Entry {
        name: fp::RUNTIME_BEFORE_EXECUTE,
        layer: "runtime",
        effect: "an execution fails before its script starts; its VM stays healthy",
        argument: None,
    },
    Entry {
        name: fp::SERVER_SLOW_ACCEPT,
        layer: "server",
        effect: "the accept loop stalls before taking the next connection",
        argument: Some("virtual milliseconds of stall"),
    },
    Entry {
        name: fp::SERVER_DROP_CONNECTION,
        layer: "server",
        effect: "the connection closes after the handler ran, before the response: the client cannot know the outcome",
        argument: None,
    },
];

/// The catalog entry called `name`.
pub fn entry(name: &str) -> Option<&'static Entry> {
    CATALOG.iter().find(|entry| entry.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_lists_exactly_the_engines_failpoints() {
        let catalog: Vec<&str> = CATALOG.iter().map(|entry| entry.name).collect();
        assert_eq!(catalog, fp::ALL);
    }
}
