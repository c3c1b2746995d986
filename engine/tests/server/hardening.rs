//! The smaller findings of issue 15, item 10: each refused or neutralised, with the
//! JSON error shape.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use crate::support::{zip, TestServer, DOMAIN, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_holding_one_name_twice_is_refused() {
    let server = TestServer::start().await;
    let client = server.client();
    // ZipWriter refuses duplicate names: write two, then rename the second.
    let mut archive = zip(&[("a.txt", b"first"), ("b.txt", b"second")]);
    let mut renamed = 0;
    for at in 0..archive.len() - 5 {
        if &archive[at..at + 5] == b"b.txt" {
            archive[at] = b'a';
            renamed += 1;
        }
    }
    assert_eq!(renamed, 2, "the local and the central header");
    let reply = client.deploy("dup", archive, Some(TOKEN)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.json()["kind"], "DuplicateEntry", "{}", reply.text());
    let host = format!("dup.{DOMAIN}");
    assert_eq!(
        client.get(&host, "/a.txt").await.json()["kind"],
        "UnknownApp"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_form_fields_are_refused() {
    let server = TestServer::start().await;
    let client = server.client();
    let archive = zip(&[("index.html", b"hi")]);
    let forms: [&[(&str, &[u8])]; 2] = [
        &[
            ("site_name", b"one"),
            ("site_name", b"two"),
            ("file", &archive),
        ],
        &[
            ("site_name", b"one"),
            ("file", &archive),
            ("file", &archive),
        ],
    ];
    for form in forms {
        let reply = client.deploy_form(form, Some(TOKEN)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        assert_eq!(reply.json()["kind"], "InvalidUpload", "{}", reply.text());
    }
    let apps = client.admin("GET", "/api/apps", Some(TOKEN)).await.json();
    assert!(!apps["apps"].to_string().contains("one"), "{apps}");
    assert!(!apps["apps"].to_string().contains("two"), "{apps}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_names_are_dns_labels() {
    let server = TestServer::start().await;
    let client = server.client();
    for name in ["-x", "x-", "-"] {
        let reply = client
            .deploy(name, zip(&[("index.html", b"hi")]), Some(TOKEN))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(reply.json()["kind"], "InvalidSiteName", "{name}");
    }
    let fine = client
        .deploy("x-1", zip(&[("index.html", b"hi")]), Some(TOKEN))
        .await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.text());
}

/// POSTs `body` with `content_type` to the echo app; its `request.body`.
async fn echoed(
    server: &TestServer,
    content_type: &str,
    body: &'static str,
) -> (StatusCode, Value) {
    let request = Request::post("/api")
        .header("host", format!("echo.{DOMAIN}"))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let reply = server.client().send(request).await.unwrap();
    let body = reply.json();
    (reply.status, body.get("body").cloned().unwrap_or(body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_json_media_types_are_parsed_as_json() {
    let server = TestServer::start().await;
    server
        .deploy("echo", &[("api/main.js", "respond({body: request.body})")])
        .await;
    for json_type in [
        "application/json",
        "Application/JSON; charset=utf-8",
        "application/merge-patch+json",
    ] {
        assert_eq!(
            echoed(&server, json_type, r#"{"a":1}"#).await,
            (StatusCode::OK, json!({"a": 1})),
            "{json_type}"
        );
    }
    for other in [
        "text/notjsonreally",
        "text/plain",
        "application/jsonp",
        "application/x-json-stream",
    ] {
        assert_eq!(
            echoed(&server, other, r#"{"a":1}"#).await,
            (StatusCode::OK, json!(r#"{"a":1}"#)),
            "{other}"
        );
        assert_eq!(
            echoed(&server, other, "{oops").await,
            (StatusCode::OK, json!("{oops")),
            "{other}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http11_without_host_is_a_json_400() {
    let server = TestServer::start().await;
    let reply = server
        .client()
        .raw(b"GET /api/tasks HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["kind"], "MissingHost", "{body}");
    assert_eq!(
        Some(body["requestId"].as_str().unwrap()),
        reply.header("x-request-id")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_a_json_431() {
    let server = TestServer::start().await;
    let client = server.client();
    let big = format!(
        "GET / HTTP/1.1\r\nHost: momentum.{DOMAIN}\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "x".repeat(100 << 10)
    );
    let many: String = (0..150).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let many =
        format!("GET / HTTP/1.1\r\nHost: momentum.{DOMAIN}\r\n{many}Connection: close\r\n\r\n");
    for request in [big, many] {
        let reply = client.raw(request.as_bytes()).await;
        assert_eq!(reply.status, 431, "{:?}", reply.headers);
        let body = reply.json();
        assert_eq!(body["kind"], "HeadersTooLarge", "{body}");
        assert_eq!(
            Some(body["requestId"].as_str().unwrap()),
            reply.header("x-request-id")
        );
    }
    // Within the limits: served.
    let fine = client.get(&format!("momentum.{DOMAIN}"), "/").await;
    assert_eq!(fine.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dotfiles_are_served_only_when_the_app_opts_in() {
    let server = TestServer::start().await;
    let client = server.client();
    let files = [
        ("index.html", "hi"),
        (".env", "SECRET=1"),
        (".git/config", "[core]"),
        ("a/.hidden", "h"),
        (".well-known/security.txt", "Contact: x"),
    ];
    server.deploy("dots", &files).await;
    let host = format!("dots.{DOMAIN}");
    for path in [
        "/.env",
        "/%2eenv",
        "/.git/config",
        "/a/.hidden",
        "/.well-known/security.txt",
        "/.git/",
    ] {
        let reply = client.get(&host, path).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text()
        );
        assert!(!reply.text().contains("SECRET"), "{path}");
    }
    assert_eq!(client.get(&host, "/").await.status, StatusCode::OK);
    let mut opted = files.to_vec();
    opted.push(("manifest.json", r#"{"serveDotfiles": true}"#));
    server.deploy("dotsok", &opted).await;
    let host = format!("dotsok.{DOMAIN}");
    assert_eq!(
        client.get(&host, "/.well-known/security.txt").await.text(),
        "Contact: x"
    );
    assert_eq!(client.get(&host, "/.env").await.text(), "SECRET=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_cannot_name_the_shared_domain() {
    let server = TestServer::start().await;
    server
        .deploy(
            "jar",
            &[(
                "api/main.js",
                "respond(200, 'ok', {'Set-Cookie': request.query.cookie})",
            )],
        )
        .await;
    let client = server.client();
    let host = format!("jar.{DOMAIN}");
    let cases = [
        ("sid=1; Domain=example.test; Path=/", "sid=1; Path=/"),
        ("sid=1; Path=/; domain=.EXAMPLE.test", "sid=1; Path=/"),
        ("sid=1; Domain=other.example.test", "sid=1"),
        ("sid=1; Domain=test; HttpOnly", "sid=1; HttpOnly"),
        (
            "sid=1; Domain=jar.example.test",
            "sid=1; Domain=jar.example.test",
        ),
        ("sid=1; Secure", "sid=1; Secure"),
    ];
    for (set, sent) in cases {
        let path = format!(
            "/api?cookie={}",
            set.replace(' ', "%20")
                .replace(';', "%3B")
                .replace('=', "%3D")
        );
        let reply = client.get(&host, &path).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.header("set-cookie"), sent, "{set}");
    }
}
