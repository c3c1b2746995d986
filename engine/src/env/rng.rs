//! Seeded, splittable randomness: ids, jitter and (later) `Math.random`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded random stream, cheap to clone (clones share the stream).
///
/// [`Rng::split`] derives an independent stream from the seed and a component name, so
/// adding draws in one component never shifts the numbers another one sees.
#[derive(Clone)]
pub struct Rng {
    seed: u64,
    stream: Arc<Mutex<ChaCha8Rng>>,
}

impl Rng {
    /// A stream fully determined by `seed`.
    pub fn seeded(seed: u64) -> Rng {
        Rng {
            seed,
            stream: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed))),
        }
    }

    /// The production stream: a seed from the operating system.
    pub fn from_os() -> Rng {
        let mut bytes = [0u8; 8];
        // An unseedable OS is not something to run a server on.
        getrandom::fill(&mut bytes).expect("the operating system provides randomness");
        Rng::seeded(u64::from_le_bytes(bytes))
    }

    /// The seed this stream was created from (printed so that runs can be replayed).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// An independent stream for `component`, derived from this stream's seed only.
    pub fn split(&self, component: &str) -> Rng {
        // FNV-1a over the seed and the name: fixed, platform independent.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.seed.to_le_bytes().iter().chain(component.as_bytes()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Rng::seeded(hash)
    }

    pub fn next_u64(&self) -> u64 {
        self.stream.lock().expect("rng lock").next_u64()
    }

    /// Uniform in `0..bound` (`bound` > 0).
    pub fn below(&self, bound: u64) -> u64 {
        assert!(bound > 0, "Rng::below needs a positive bound");
        // Lemire's multiply-shift; the bias is below 2^-64 * bound, irrelevant here.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// True with probability `numerator / denominator` (integer ratio, no floats).
    pub fn chance(&self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// Uniform in `0..=max`, at microsecond resolution.
    pub fn duration_up_to(&self, max: Duration) -> Duration {
        let micros = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.below(micros.saturating_add(1)))
    }

    /// A fresh 20-character identifier (lowercase base-32, 100 bits).
    pub fn id(&self) -> String {
        const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
        let (a, b) = (self.next_u64(), self.next_u64());
        let mut bits = (u128::from(a) << 64) | u128::from(b);
        (0..20)
            .map(|_| {
                let c = ALPHABET[(bits & 31) as usize] as char;
                bits >>= 5;
                c
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (a, b) = (Rng::seeded(7), Rng::seeded(7));
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
    }

    #[test]
    fn split_is_independent_of_parent_draws() {
        let a = Rng::seeded(7);
        let before = a.split("ids").next_u64();
        a.next_u64();
        assert_eq!(a.split("ids").next_u64(), before);
        assert_ne!(a.split("jitter").next_u64(), before);
    }

    #[test]
    fn below_and_chance_stay_in_range() {
        let rng = Rng::seeded(1);
        assert!((0..1000).all(|_| rng.below(10) < 10));
        assert!((0..100).all(|_| !rng.chance(0, 5)));
        assert!((0..100).all(|_| rng.chance(5, 5)));
        let id = rng.id();
        assert_eq!(id.len(), 20);
        assert_ne!(id, rng.id());
    }
}
