//! Bodies in and out: reading a request body within a limit, JSON answers, and URL
//! decoding of paths and query strings.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};

use super::errors::ApiError;

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

/// Reads `body` whole, refusing (413) one over `limit` bytes: at once when its
/// `Content-Length` says so, else as soon as more than `limit` bytes arrived.
pub async fn read_limited<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
    what: &str,
) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::too_large(what, limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::too_large(what, limit))
        }
        Err(error) => Err(ApiError::bad_request(
            "BodyUnreadable",
            format!("the request body could not be read: {error}"),
        )),
    }
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

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let body = Full::new(Bytes::from(vec![b'x'; 11]));
        let error = read_limited(&HeaderMap::new(), body, 10, "body")
            .await
            .unwrap_err();
        assert_eq!(error.status, StatusCode::PAYLOAD_TOO_LARGE);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(1000));
        let body = Full::new(Bytes::new());
        assert!(read_limited(&headers, body, 10, "body").await.is_err());
        let body = Full::new(Bytes::from_static(b"fine"));
        let read = read_limited(&HeaderMap::new(), body, 10, "body")
            .await
            .unwrap();
        assert_eq!(read, Bytes::from_static(b"fine"));
    }
}
