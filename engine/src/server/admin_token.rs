//! The generated admin token: 32 bytes (256 bits) from the operating system, as hex.
//!
//! This is the one place where the server draws randomness outside [`crate::env::Rng`],
//! on purpose: the seeded Rng is replayable from the seed printed at start, so a token
//! drawn from it would be computable by anyone who reads the startup log. The token
//! only guards the admin API and is never part of a simulated run's behaviour, so
//! taking it from the OS costs no determinism.

/// Bytes of OS randomness in a generated token (256 bits; the issue asks for at least 128).
pub const TOKEN_BYTES: usize = 32;
const _: () = assert!(
    TOKEN_BYTES * 8 >= 128,
    "an admin token has at least 128 bits"
);

/// A fresh admin token: [`TOKEN_BYTES`] bytes from the operating system, hex encoded
/// (64 characters).
pub fn generate_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    // Deliberately not env::Rng: see the module doc. An OS without randomness is not
    // something to run a server on.
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Rng;

    #[test]
    fn tokens_are_long_and_differ() {
        let (first, second) = (generate_token(), generate_token());
        assert_eq!(first.len(), TOKEN_BYTES * 2);
        assert!(first.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }

    #[test]
    fn tokens_do_not_depend_on_the_seed() {
        // The same seed gives the same Rng stream, and yet two tokens differ: the token
        // is not drawn from it (it takes no Rng at all).
        let (one, two) = (Rng::seeded(7), Rng::seeded(7));
        assert_eq!(one.id(), two.id());
        assert_ne!(generate_token(), generate_token());
    }
}
