//! Fresh document ids that sort by creation time, so that inserts append to the right
//! edge of the `(app_id, collection, id)` index instead of landing on a random page of
//! it (a random id dirties one more index page per insert, and with it the WAL).

use crate::env::Rng;

/// Lowercase base-32 without i, l, o, u (as [`Rng::id`]).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A 20-character id: 10 characters of `now_ms` (50 bits, most significant first, so
/// ids of later milliseconds sort after earlier ones), then 10 random characters.
pub fn time_ordered(now_ms: i64, rng: &Rng) -> String {
    let time = u64::try_from(now_ms).unwrap_or(0);
    let random = rng.next_u64();
    let time_chars = (0..10)
        .rev()
        .map(|n| ALPHABET[((time >> (5 * n)) & 31) as usize]);
    let random_chars = (0..10).map(|n| ALPHABET[((random >> (5 * n)) & 31) as usize]);
    time_chars.chain(random_chars).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_differ_within_a_millisecond() {
        let rng = Rng::seeded(1);
        let early = time_ordered(1_700_000_000_000, &rng);
        let same_ms = time_ordered(1_700_000_000_000, &rng);
        let later = time_ordered(1_700_000_000_001, &rng);
        assert_eq!(early.len(), 20);
        assert!(early.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(early, same_ms);
        assert!(
            early < later && same_ms < later,
            "{early} {same_ms} {later}"
        );
        assert_eq!(early[..10], same_ms[..10]);
    }
}
