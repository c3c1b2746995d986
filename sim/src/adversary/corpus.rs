//! The corpus of escape and exhaustion primitives, `fixtures/adversarial/corpus/*.js`
//! (see its README), and the request that runs one entry in the attacker app.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};

/// Bytes in one "megabyte" of an entry in the simulator: a run allocates tens of MB,
/// not GB, while every "too large" value stays larger than the engine's limits (20 of
/// them are 1.25 MiB, over the 1 MiB value limit; 50 references to that, 62.5 MiB).
pub const SIM_MB: u64 = 64 << 10;

/// The bound of an entry's endless loops in the simulator (a console flood logs 256
/// lines of [`SIM_MB`], 16 MiB): the unfixed engine captures console output without a
/// bound, and a truly endless flood would exhaust the test machine, not the engine.
pub const SIM_N: u64 = 256;

/// The entry every storm client sends: `while (true) {}`.
pub const CPU_LOOP: &str = "cpu-loop";

/// Entries that allocate or store tens of MB (or spin to their deadline) at
/// [`SIM_MB`]: each costs up to a second of real time in a debug build, so a seeded
/// workload sends each once, and draws only the others at random.
pub const HEAVY: &[&str] = &[
    "huge-response",
    "huge-kv-value",
    "storage-flood",
    "console-flood",
    "deep-nesting",
    "allocating-getter-message",
    CPU_LOOP,
];

/// One entry: its name (the file's stem) and its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub code: String,
}

impl Entry {
    /// The attacker's request body that runs this entry with `canary`.
    pub fn body(&self, canary: &str) -> Value {
        json!({ "code": self.code, "mb": SIM_MB, "n": SIM_N, "canary": canary })
    }
}

/// Where the corpus lives.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/adversarial/corpus")
}

/// Every entry, in name order (read once per process).
pub fn corpus() -> &'static [Entry] {
    static CORPUS: OnceLock<Vec<Entry>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = corpus_dir();
        let mut entries: Vec<Entry> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "js"))
            .map(|path| Entry {
                name: path
                    .file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                code: std::fs::read_to_string(&path)
                    .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display())),
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries
    })
}

/// The entry called `name`.
pub fn entry(name: &str) -> Option<&'static Entry> {
    corpus().iter().find(|entry| entry.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_holds_every_javascript_reproduction_of_issue_15() {
        for name in [
            "prepare-stack-trace-hook",
            "stack-trace-limit",
            "finalization-registry-private-field",
            "huge-response",
            "huge-kv-value",
            "console-flood",
            CPU_LOOP,
            "storage-flood",
            "wide-nin-query",
            "allocating-getter-message",
            "invalid-ttl",
            "explicit-insert-id",
            "parent-domain-cookie",
        ] {
            assert!(entry(name).is_some(), "{name} is missing");
        }
        for entry in corpus() {
            assert!(
                entry.code.starts_with("// "),
                "{} has no header",
                entry.name
            );
        }
    }
}
