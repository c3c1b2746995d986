//! Host routing (fazt-reference.md §1): `<app>.<domain>` and `<app>.localhost` serve
//! app `<app>`, `admin.<domain>` (and `admin.localhost`) the admin API; anything else
//! is unknown.

use http::request::Parts;
use http::{header, Version};

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Admin,
    /// The app named by the subdomain (not yet checked to exist).
    App(String),
    /// No app or admin host: 404. Holds the host, for the message.
    Unknown(String),
    /// An HTTP/1.1 request without a `Host` header: 400 (RFC 9112 §3.2).
    Missing,
}

/// Routes `request` by its host (see [`host_of`]).
pub fn route(request: &Parts, domain: &str) -> Route {
    if request.version == Version::HTTP_11 && !request.headers.contains_key(header::HOST) {
        return Route::Missing;
    }
    let host = host_of(request);
    let label = [domain, "localhost"]
        .iter()
        .filter(|suffix| !suffix.is_empty())
        .find_map(|suffix| host.strip_suffix(suffix)?.strip_suffix('.'));
    match label {
        Some("admin") => Route::Admin,
        Some(app) if !app.is_empty() && !app.contains('.') => Route::App(app.to_owned()),
        _ => Route::Unknown(host.chars().take(255).collect()),
    }
}

/// The host a request names (the absolute URI's, else the `Host` header), without
/// port or trailing dot, lowercase; empty when it names none.
pub fn host_of(request: &Parts) -> String {
    request
        .uri
        .host()
        .map(str::to_owned)
        .or_else(|| {
            request
                .headers
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
                .map(strip_port)
        })
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// `host:port` → `host` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> String {
    let host = host.trim();
    if let Some(end) = host.strip_prefix('[').and_then(|rest| rest.find(']')) {
        return host[..end + 2].to_owned();
    }
    host.split(':').next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn route_of(host: &str, domain: &str) -> Route {
        let (parts, ()) = Request::builder()
            .uri("/x")
            .header(header::HOST, host)
            .body(())
            .unwrap()
            .into_parts();
        route(&parts, domain)
    }

    #[test]
    fn hosts_route_to_apps_admin_or_nowhere() {
        assert_eq!(
            route_of("momentum.example.com", "example.com"),
            Route::App("momentum".into())
        );
        assert_eq!(
            route_of("Momentum.LOCALHOST:8080", "example.com"),
            Route::App("momentum".into())
        );
        assert_eq!(
            route_of("admin.example.com:443", "example.com"),
            Route::Admin
        );
        assert_eq!(route_of("admin.localhost", "example.com"), Route::Admin);
        assert_eq!(
            route_of("example.com", "example.com"),
            Route::Unknown("example.com".into())
        );
        assert_eq!(
            route_of("a.b.example.com", "example.com"),
            Route::Unknown("a.b.example.com".into())
        );
        assert_eq!(
            route_of("evil.com", "example.com"),
            Route::Unknown("evil.com".into())
        );
        assert_eq!(
            route_of("notexample.com", "example.com"),
            Route::Unknown("notexample.com".into())
        );
        assert_eq!(
            route_of("[::1]:80", "example.com"),
            Route::Unknown("[::1]".into())
        );
        let (mut parts, ()) = Request::builder().uri("/x").body(()).unwrap().into_parts();
        assert_eq!(route(&parts, "example.com"), Route::Missing);
        parts.version = Version::HTTP_10;
        assert_eq!(route(&parts, "example.com"), Route::Unknown(String::new()));
    }
}
