//! `X-Request-ID`: the client's when it is sane, else a fresh one from the Rng. It is
//! sent back on every response and carried by every log line of the request.

use http::HeaderMap;

use crate::env::Rng;

/// The header's name.
pub const HEADER: &str = "x-request-id";

/// Longest client-supplied id reused as is.
pub const CLIENT_ID_MAX: usize = 64;

/// The id of a request: the client's `X-Request-ID` when it is 1–64 characters of
/// `[A-Za-z0-9._-]` (safe in logs and headers), else a new 20-character id.
pub fn choose(headers: &HeaderMap, rng: &Rng) -> String {
    headers
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane(id))
        .map_or_else(|| rng.id(), str::to_owned)
}

fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= CLIENT_ID_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(id).unwrap());
        headers
    }

    #[test]
    fn sane_ids_are_reused_others_replaced() {
        let rng = Rng::seeded(3);
        assert_eq!(choose(&with("client-1.a_b"), &rng), "client-1.a_b");
        for bad in ["has space", "<script>", &"x".repeat(65), ""] {
            let id = choose(&with(bad), &rng);
            assert_ne!(id, bad);
            assert_eq!(id.len(), 20);
        }
        assert_eq!(choose(&HeaderMap::new(), &rng).len(), 20);
    }
}
