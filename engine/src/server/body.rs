//! Bodies in and out: reading a request body within a limit, JSON answers, and URL
//! decoding of paths and query strings.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::FutureExt;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use super::errors::ApiError;
use super::pace::BodyPace;
use crate::env::{timeout_at, Clock, Deadline, Instant};

/// Every response body: whole, in memory (responses are bounded by the limits on
/// what apps store).
pub type Body = Full<Bytes>;

/// A JSON answer with `status`.
pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let text = serde_json::to_vec(value).expect("a JSON value serializes");
    let mut response = Response::new(Body::new(Bytes::from(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A text answer with `status` and `content_type`.
pub fn text_response(
    status: StatusCode,
    content_type: &'static str,
    text: String,
) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// How much of a refused body, past its limit, is still read and dropped, so that a
/// client still sending it gets to read the 413 instead of a connection reset
/// mid-upload (closing a socket with unread data resets it). Past this, the connection
/// just closes.
const DRAIN_MAX: u64 = 8 << 20;

/// When a body is read: the request's arrival and the pace its body is held to.
pub struct Timing<'a> {
    pub clock: &'a dyn Clock,
    /// When the request's head had arrived.
    pub started: Instant,
    pub pace: BodyPace,
}

/// Why a body could not be read.
enum ReadError<E> {
    Body(E),
    /// It fell behind its [`BodyPace`].
    TooSlow,
}

/// Reads `body` whole, refusing (413) one over `limit` bytes: when its `Content-Length`
/// says so, or as soon as more than `limit` bytes arrived. A refused body is drained up
/// to [`DRAIN_MAX`] first, unless the client waits for `100 Continue` before sending it.
/// A body that falls behind `timing`'s pace ends the request with 408.
pub async fn read_limited<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
    what: &str,
    timing: &Timing<'_>,
) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let limit_bytes = limit as u64;
    if declared.is_some_and(|length| length > limit_bytes) {
        let waits = headers
            .get(header::EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waits && declared.is_some_and(|length| length <= DRAIN_MAX) {
            let _ = read_up_to(body, 0, DRAIN_MAX, timing).await;
        }
        return Err(ApiError::too_large(what, limit));
    }
    let read = read_up_to(
        body,
        limit_bytes,
        limit_bytes.saturating_add(DRAIN_MAX),
        timing,
    );
    match read.await {
        Ok((parts, seen)) if seen <= limit_bytes => Ok(match parts.as_slice() {
            [one] => one.clone(),
            _ => Bytes::from(parts.concat()),
        }),
        Ok(_) => Err(ApiError::too_large(what, limit)),
        Err(ReadError::TooSlow) => Err(too_slow(what, &timing.pace)),
        Err(ReadError::Body(error)) => Err(ApiError::bad_request(
            "BodyUnreadable",
            format!("the request body could not be read: {error}"),
        )),
    }
}

/// 408: the body fell behind its pace.
fn too_slow(what: &str, pace: &BodyPace) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "RequestTimeout",
        format!(
            "{what} did not arrive in time: it must arrive whole within {} s, and after {} s at no less than {} bytes per second",
            pace.timeout.as_secs(),
            pace.grace.as_secs(),
            pace.bytes_per_second_min
        ),
    )
}

/// Reads `body` until it ends or `stop` bytes have arrived, keeping the data while no
/// more than `keep` bytes have; gives the kept data and how many bytes arrived. Each
/// wait for more is bounded by the pace's deadline for the bytes received so far.
async fn read_up_to<B>(
    body: B,
    keep: u64,
    stop: u64,
    timing: &Timing<'_>,
) -> Result<(Vec<Bytes>, u64), ReadError<B::Error>>
where
    B: hyper::body::Body<Data = Bytes>,
{
    let mut body = std::pin::pin!(body);
    let (mut parts, mut seen) = (Vec::new(), 0u64);
    loop {
        // Data already here is taken without a timer: most bodies arrive with their head.
        let next = match body.frame().now_or_never() {
            Some(next) => next,
            None => {
                let deadline = Deadline::at(timing.pace.next_deadline(timing.started, seen));
                timeout_at(timing.clock, deadline, body.frame())
                    .await
                    .map_err(|_| ReadError::TooSlow)?
            }
        };
        let Some(frame) = next else { break };
        let Ok(data) = frame.map_err(ReadError::Body)?.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len() as u64);
        if seen <= keep {
            parts.push(data);
        } else {
            parts.clear();
            if seen > stop {
                break;
            }
        }
    }
    Ok((parts, seen))
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in query
/// strings). Malformed escapes stay as they are; invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let escaped = (byte == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                index += 3;
            }
            None => {
                out.push(if plus_is_space && byte == b'+' {
                    b' '
                } else {
                    byte
                });
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query string as fazt gives it to handlers: the first value per key.
pub fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    let mut parsed = BTreeMap::new();
    for pair in query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        parsed
            .entry(percent_decode(key, true))
            .or_insert_with(|| percent_decode(value, true));
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::RealClock;
    use futures::StreamExt;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c", false), "a b+c");
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%e2%9c%93", false), "%zz✓");
    }

    #[test]
    fn query_keeps_the_first_value() {
        let query = parse_query(Some("session=a%20b&x=1&x=2&flag"));
        assert_eq!(query["session"], "a b");
        assert_eq!(query["x"], "1");
        assert_eq!(query["flag"], "");
        assert!(parse_query(None).is_empty());
    }

    /// Default pace on the real clock, from now.
    fn timing() -> Timing<'static> {
        let clock: &'static RealClock = Box::leak(Box::new(RealClock::new()));
        Timing {
            clock,
            started: clock.now(),
            pace: BodyPace::default(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out_after_the_grace() {
        // One byte, then nothing: refused when the grace ends, not never.
        let stream = futures::stream::iter([Ok::<_, std::convert::Infallible>(
            hyper::body::Frame::data(Bytes::from_static(b"x")),
        )])
        .chain(futures::stream::pending());
        let timing = timing();
        let error = read_limited(
            &HeaderMap::new(),
            http_body_util::StreamBody::new(stream),
            10,
            "body",
            &timing,
        )
        .await
        .unwrap_err();
        assert_eq!(
            (error.status, error.kind.as_str()),
            (StatusCode::REQUEST_TIMEOUT, "RequestTimeout")
        );
        assert_eq!(
            timing.clock.now() - timing.started,
            BodyPace::default().grace
        );
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let body = Full::new(Bytes::from(vec![b'x'; 11]));
        let error = read_limited(&HeaderMap::new(), body, 10, "body", &timing())
            .await
            .unwrap_err();
        assert_eq!(error.status, StatusCode::PAYLOAD_TOO_LARGE);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(1000));
        let body = Full::new(Bytes::new());
        assert!(read_limited(&headers, body, 10, "body", &timing())
            .await
            .is_err());
        let body = Full::new(Bytes::from_static(b"fine"));
        let read = read_limited(&HeaderMap::new(), body, 10, "body", &timing())
            .await
            .unwrap();
        assert_eq!(read, Bytes::from_static(b"fine"));
    }

    /// A body of `frames` frames of `size` bytes that counts the frames read from it.
    fn counted(
        frames: usize,
        size: usize,
    ) -> (
        impl hyper::body::Body<Data = Bytes, Error = std::convert::Infallible>,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let read = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = read.clone();
        let stream = futures::stream::iter((0..frames).map(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(hyper::body::Frame::data(Bytes::from(vec![b'x'; size])))
        }));
        (http_body_util::StreamBody::new(stream), read)
    }

    #[tokio::test]
    async fn refused_bodies_are_drained_unless_the_client_waits_to_send() {
        use std::sync::atomic::Ordering;
        // Over the limit as it arrives: refused, and read to its end.
        let (body, read) = counted(5, 4);
        let error = read_limited(&HeaderMap::new(), body, 10, "body", &timing()).await;
        assert_eq!(error.unwrap_err().status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(read.load(Ordering::Relaxed), 5);
        // Declared too large: refused, and drained too.
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(20));
        let (body, read) = counted(5, 4);
        assert!(read_limited(&headers, body, 10, "body", &timing())
            .await
            .is_err());
        assert_eq!(read.load(Ordering::Relaxed), 5);
        // A client waiting for 100 Continue has sent nothing: nothing is read.
        headers.insert(header::EXPECT, HeaderValue::from_static("100-continue"));
        let (body, read) = counted(5, 4);
        assert!(read_limited(&headers, body, 10, "body", &timing())
            .await
            .is_err());
        assert_eq!(read.load(Ordering::Relaxed), 0);
        // DRAIN_MAX past the limit, reading stops.
        let frame = 1 << 20;
        let frames = (DRAIN_MAX as usize / frame) + 4;
        let (body, read) = counted(frames, frame);
        assert!(
            read_limited(&HeaderMap::new(), body, frame, "body", &timing())
                .await
                .is_err()
        );
        assert_eq!(read.load(Ordering::Relaxed), DRAIN_MAX as usize / frame + 2);
        // A body larger than DRAIN_MAX within its limit is read whole.
        let (body, _) = counted(frames, frame);
        let whole = read_limited(&HeaderMap::new(), body, frames * frame, "body", &timing()).await;
        assert_eq!(whole.unwrap().len(), frames * frame);
    }
}
