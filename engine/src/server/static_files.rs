//! Static files of an app: `index.html` for directories, an optional SPA fallback,
//! ETag revalidation (304), Cache-Control, and gzip when the client accepts it.

use http::request::Parts;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};

use super::apps::{App, StaticFile};
use super::body::{percent_decode, Body};
use super::errors::{empty, ApiError};
use super::mime;

const INDEX: &str = "index.html";

/// HTML names the other files, so it is revalidated on every load; other files may be
/// cached briefly (their names do not change across deploys).
const CACHE_HTML: &str = "no-cache";
const CACHE_ASSET: &str = "public, max-age=300";

/// Answers a GET or HEAD for one of `app`'s files.
pub fn serve(app: &App, request: &Parts, spa_fallback: bool) -> Result<Response<Body>, ApiError> {
    if request.method != Method::GET && request.method != Method::HEAD {
        let mut error = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!(
                "{} is not allowed on a static file; use GET or HEAD",
                request.method
            ),
        );
        error.cause = Some("static file".into());
        return Err(error);
    }
    let path = percent_decode(request.uri.path(), false);
    let Some(file) = resolve(app, &path, spa_fallback) else {
        return Err(ApiError::not_found(format!(
            "no file at {:?} in app {:?}",
            path.chars().take(200).collect::<String>(),
            app.id
        )));
    };
    Ok(respond(file, &request.headers))
}

/// The file a URL path names: the file itself, else the folder's `index.html`, else,
/// with the SPA fallback, the app's `index.html` for paths without an extension.
/// Dotfiles (a segment starting with `.`) only when the app opts in
/// ([`App::serve_dotfiles`]).
fn resolve<'a>(app: &'a App, path: &str, spa_fallback: bool) -> Option<&'a StaticFile> {
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|segment| segment == "..") || relative.contains('\\') {
        return None;
    }
    if !app.serve_dotfiles && relative.split('/').any(|segment| segment.starts_with('.')) {
        return None;
    }
    let direct = if relative.is_empty() || relative.ends_with('/') {
        app.files.get(&format!("{relative}{INDEX}"))
    } else {
        app.files
            .get(relative)
            .or_else(|| app.files.get(&format!("{relative}/{INDEX}")))
    };
    let last = relative.rsplit('/').next().unwrap_or("");
    direct.or_else(|| {
        (spa_fallback && !last.contains('.'))
            .then(|| app.files.get(INDEX))
            .flatten()
    })
}

fn respond(file: &StaticFile, request: &HeaderMap) -> Response<Body> {
    let gzip = file.gzip.as_ref().filter(|_| accepts_gzip(request));
    let mut response = if matches_etag(request, &file.etag) {
        empty(StatusCode::NOT_MODIFIED)
    } else {
        let mut response = Response::new(Body::new(gzip.unwrap_or(&file.data).clone()));
        if gzip.is_some() {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(&file.mime) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    let etag = match gzip {
        // Each encoding is its own representation, with its own validator.
        Some(_) => format!("{}-gz\"", file.etag.trim_end_matches('"')),
        None => file.etag.clone(),
    };
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex etag"),
    );
    let cache = if mime::is_html(&file.mime) {
        CACHE_HTML
    } else {
        CACHE_ASSET
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if file.gzip.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// True when `If-None-Match` names this file's ETag (either encoding), or is `*`.
fn matches_etag(request: &HeaderMap, etag: &str) -> bool {
    let base = etag.trim_matches('"');
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|tag| tag == "*" || tag == base || tag.strip_suffix("-gz") == Some(base))
}

/// True when `Accept-Encoding` allows gzip (by name or `*`, with a non-zero q).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|parameter| {
                let parameter = parameter.trim().replace(' ', "");
                parameter
                    .strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            (name == "gzip" || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::SiteFile;

    fn app() -> App {
        let files = vec![
            SiteFile::new(
                "index.html",
                b"<h1>home</h1>".repeat(100),
                mime::for_path("index.html"),
            ),
            SiteFile::new(
                "docs/index.html",
                b"docs".to_vec(),
                mime::for_path("x.html"),
            ),
            SiteFile::new("app.css", b"body{}".to_vec(), mime::for_path("app.css")),
        ];
        App::build("demo", &files)
    }

    #[test]
    fn resolution() {
        let app = app();
        let body = |file: Option<&StaticFile>| file.map(|f| f.data.len());
        assert_eq!(body(resolve(&app, "/", false)), Some(1300));
        assert_eq!(body(resolve(&app, "/docs", false)), Some(4));
        assert_eq!(body(resolve(&app, "/docs/", false)), Some(4));
        assert_eq!(body(resolve(&app, "/app.css", false)), Some(6));
        assert!(resolve(&app, "/nope", false).is_none());
        assert_eq!(body(resolve(&app, "/some/route", true)), Some(1300));
        assert!(resolve(&app, "/missing.png", true).is_none());
        assert!(resolve(&app, "/../index.html", true).is_none());
    }

    #[test]
    fn dotfiles_only_when_the_manifest_says_so() {
        let file =
            |path: &str, data: &[u8]| SiteFile::new(path, data.to_vec(), mime::for_path(path));
        let mut files = vec![file(".env", b"SECRET"), file("a/.git/config", b"x")];
        let closed = App::build("demo", &files);
        assert!(resolve(&closed, "/.env", true).is_none());
        assert!(resolve(&closed, "/a/.git/config", true).is_none());
        files.push(file("manifest.json", br#"{"serveDotfiles": true}"#));
        let open = App::build("demo", &files);
        assert!(resolve(&open, "/.env", false).is_some());
        assert!(resolve(&open, "/a/.git/config", false).is_some());
    }

    #[test]
    fn content_negotiation() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.8"),
        );
        assert!(accepts_gzip(&headers));
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, identity"),
        );
        assert!(!accepts_gzip(&headers));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("W/\"abc-gz\", \"x\""),
        );
        assert!(matches_etag(&headers, "\"abc\""));
        assert!(!matches_etag(&headers, "\"abd\""));
    }
}
