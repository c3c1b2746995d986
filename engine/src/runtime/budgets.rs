//! Byte budgets at every boundary out of JavaScript: what one execution may make the
//! host copy out of its VM. The VM's own heap is bounded by `VmLimits::memory_bytes`;
//! these bound what leaves it, counted while converting and refused before the host
//! allocates (json_read.rs measures strings in the VM's heap before copying them).

use super::operation::Operation;
use crate::storage::Limits;

/// The response (status, headers and body) as JSON text. Larger responses fail with
/// `ResponseTooLarge` (HTTP 500): the host never copies more than this out of the VM
/// for one response. Default 8 MiB, well above fazt's typical JSON API answers and
/// below a VM's 64 MiB heap.
pub const RESPONSE_BYTES_MAX: usize = 8 << 20;

/// Console output captured per execution; each line counts its bytes plus
/// [`CONSOLE_LINE_OVERHEAD_BYTES`]. Past it lines are dropped and one marker line says
/// so. Default 64 KiB: diagnostics, not a data channel.
pub const CONSOLE_BYTES_MAX: usize = 64 << 10;

/// What a captured line costs beyond its text (its entry in the list of lines), so that
/// a flood of empty lines is bounded too. Default 32 bytes.
pub const CONSOLE_LINE_OVERHEAD_BYTES: usize = 32;

/// The line that replaces the console output over [`CONSOLE_BYTES_MAX`].
pub const CONSOLE_TRUNCATED: &str = "[console output truncated: over the 65536-byte budget]";

/// Storage arguments beyond the largest value the operation may store: keys, paths,
/// collection names, queries, TTLs and JSON punctuation. Default 64 KiB (keys are at
/// most 512 bytes; a query of 64 conditions with `$in` lists fits).
pub const STORAGE_ARGUMENTS_OVERHEAD_BYTES: usize = 64 << 10;

/// Module paths (`require`) and environment variable names read from scripts. Default
/// 4 KiB, far above any real path or name.
pub const NAME_BYTES_MAX: usize = 4 << 10;

/// The most bytes of JSON text the arguments of one storage call may come to: the
/// storage layer's limit for what the operation stores (a blob for `s3.put`, a value
/// or document otherwise) plus [`STORAGE_ARGUMENTS_OVERHEAD_BYTES`]. Larger arguments
/// are refused (`ValueTooLarge`) before the host copies them; arguments within it are
/// still checked exactly by the storage layer.
pub fn storage_arguments_max(limits: &Limits, operation: Operation) -> usize {
    let stored = match operation {
        Operation::S3Put => limits.blob_bytes_max,
        _ => limits.value_bytes_max,
    };
    stored.saturating_add(STORAGE_ARGUMENTS_OVERHEAD_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_the_budget() {
        assert!(CONSOLE_TRUNCATED.contains(&CONSOLE_BYTES_MAX.to_string()));
    }

    #[test]
    fn blobs_get_the_blob_limit() {
        let limits = Limits::default();
        assert!(storage_arguments_max(&limits, Operation::S3Put) > limits.blob_bytes_max);
        assert!(storage_arguments_max(&limits, Operation::KvSet) > limits.value_bytes_max);
        assert!(storage_arguments_max(&limits, Operation::KvSet) < limits.blob_bytes_max);
    }
}
