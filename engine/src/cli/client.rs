//! The client side of `fazt bench http` and `fazt deploy`: an `http://` URL becomes a
//! [`Target`] (where to connect, which `Host` to send, which path), and [`connect`]
//! opens one HTTP/1.1 keep-alive connection (hyper over tokio TCP) whose
//! [`Sender`] sends requests one after the other.
//!
//! `localhost` and every `*.localhost` name connect to the loopback address without
//! asking the resolver (RFC 6761 §6.3; curl and browsers do the same): the server
//! routes apps by `<app>.localhost`, a name most resolvers do not know.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Uri};
use http_body_util::Full;
use hyper_util::rt::TokioIo;

/// The sending half of one connection; requests carry their whole body.
pub type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Why a URL cannot be used or a connection not opened.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: SocketAddr,
        source: io::Error,
    },
    #[error("the HTTP/1.1 handshake with {address} failed: {source}")]
    Handshake {
        address: SocketAddr,
        source: hyper::Error,
    },
}

/// Where an `http://host[:port]/path?query` URL points.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host[:port]` as written in the URL: the default `Host` header.
    pub authority: Authority,
    /// The port, 80 when the URL has none.
    pub port: u16,
    /// The path and query to request; `/` when the URL has none.
    pub path: PathAndQuery,
}

impl Target {
    /// Parses an `http://` URL (no TLS, no user info).
    pub fn parse(url: &str) -> Result<Target, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|error: http::uri::InvalidUri| invalid(&error.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(invalid("only http:// URLs are supported")),
            None => return Err(invalid("expected http://host[:port]/path")),
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| invalid("the URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user info in the URL is not supported"));
        }
        if authority.host().is_empty() {
            return Err(invalid("the URL has no host"));
        }
        Ok(Target {
            port: authority.port_u16().unwrap_or(80),
            path: uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
            authority,
        })
    }

    /// The URL's host without port (IPv6 literals without brackets).
    pub fn host(&self) -> &str {
        let host = self.authority.host();
        host.strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// The default `Host` header: the URL's `host[:port]`.
    pub fn host_header(&self) -> HeaderValue {
        HeaderValue::from_str(self.authority.as_str()).expect("an authority is a header value")
    }

    /// The address to connect to: loopback for `localhost` and `*.localhost`, the
    /// literal for an IP address, else the resolver's first answer.
    pub async fn resolve(&self) -> Result<SocketAddr, ClientError> {
        let host = self.host();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        let lowercase = host.trim_end_matches('.').to_ascii_lowercase();
        if lowercase == "localhost" || lowercase.ends_with(".localhost") {
            return Ok(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), self.port));
        }
        let resolve_error = |reason: String| ClientError::Resolve {
            host: host.to_owned(),
            reason,
        };
        tokio::net::lookup_host((host, self.port))
            .await
            .map_err(|error| resolve_error(error.to_string()))?
            .next()
            .ok_or_else(|| resolve_error("no address".into()))
    }
}

/// Opens a connection to `address` (Nagle off: requests are small and sent whole) and
/// drives it on a spawned task until the [`Sender`] is dropped or the peer closes.
pub async fn connect(address: SocketAddr) -> Result<Sender, ClientError> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|source| ClientError::Connect { address, source })?;
    stream
        .set_nodelay(true)
        .map_err(|source| ClientError::Connect { address, source })?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| ClientError::Handshake { address, source })?;
    // A connection error surfaces through the sender's next request.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_authority_port_and_path() {
        let target = Target::parse("http://momentum.localhost:18080/api/tasks?x=1").unwrap();
        assert_eq!(target.authority.as_str(), "momentum.localhost:18080");
        assert_eq!((target.host(), target.port), ("momentum.localhost", 18080));
        assert_eq!(target.path.as_str(), "/api/tasks?x=1");
        let bare = Target::parse("http://example.com").unwrap();
        assert_eq!((bare.port, bare.path.as_str()), (80, "/"));
        assert_eq!(bare.host_header(), "example.com");
        let v6 = Target::parse("http://[::1]:8080/").unwrap();
        assert_eq!(v6.host(), "::1");
        for bad in [
            "https://example.com/",
            "example.com/x",
            "/api/tasks",
            "http://user@example.com/",
            "http://",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn localhost_names_are_loopback() {
        for url in [
            "http://localhost:9/",
            "http://admin.localhost:9/",
            "http://a.b.LOCALHOST:9",
        ] {
            let address = Target::parse(url).unwrap().resolve().await.unwrap();
            assert_eq!(address, SocketAddr::from(([127, 0, 0, 1], 9)), "{url}");
        }
        let literal = Target::parse("http://10.1.2.3:7/").unwrap();
        assert_eq!(
            literal.resolve().await.unwrap(),
            SocketAddr::from(([10, 1, 2, 3], 7))
        );
    }
}
