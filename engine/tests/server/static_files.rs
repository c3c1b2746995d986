//! Static files: index default, types, ETag and 304, gzip, HEAD, SPA fallback.

use std::io::Read;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use crate::support::{Setup, TestServer, DOMAIN};

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut request = Request::builder()
        .uri(path)
        .header("host", format!("momentum.{DOMAIN}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_types_etags_and_gzip() {
    let server = TestServer::start().await;
    let client = server.client();
    let on_disk =
        std::fs::read_to_string(crate::support::fixtures().join("momentum/index.html")).unwrap();

    let index = client.send(get("/", &[])).await.unwrap();
    assert_eq!(index.status, StatusCode::OK);
    assert_eq!(index.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(index.header("cache-control"), "no-cache");
    assert_eq!(index.text(), on_disk);
    let etag = index.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let same = client.send(get("/index.html", &[])).await.unwrap();
    assert_eq!(same.body, index.body);

    let revalidated = client
        .send(get("/", &[("if-none-match", &etag)]))
        .await
        .unwrap();
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.header("etag"), etag);
    let changed = client
        .send(get("/", &[("if-none-match", "\"other\"")]))
        .await
        .unwrap();
    assert_eq!(changed.status, StatusCode::OK);

    let zipped = client
        .send(get("/", &[("accept-encoding", "gzip, br")]))
        .await
        .unwrap();
    assert_eq!(zipped.status, StatusCode::OK);
    assert_eq!(zipped.header("content-encoding"), "gzip");
    assert_eq!(zipped.header("vary"), "accept-encoding");
    assert!(zipped.body.len() < on_disk.len());
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, on_disk);
    let gz_etag = zipped.header("etag").to_owned();
    assert_ne!(gz_etag, etag);
    let gz_revalidated = client
        .send(get(
            "/",
            &[("accept-encoding", "gzip"), ("if-none-match", &gz_etag)],
        ))
        .await
        .unwrap();
    assert_eq!(gz_revalidated.status, StatusCode::NOT_MODIFIED);

    let head = client
        .send(
            Request::head("/")
                .header("host", format!("momentum.{DOMAIN}"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), on_disk.len().to_string());

    let post = client
        .send(
            Request::post("/index.html")
                .header("host", format!("momentum.{DOMAIN}"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);

    // Handler code is never served as a file.
    let source = client.send(get("/api/main.js", &[])).await.unwrap();
    assert_ne!(source.status, StatusCode::OK);
    let missing = client.send(get("/nope.css", &[])).await.unwrap();
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_by_extension_and_the_spa_fallback() {
    let mut setup = Setup::new();
    setup.config.spa_fallback = true;
    let server = TestServer::with(setup).await;
    server
        .deploy(
            "spa",
            &[
                ("index.html", "<p>app</p>"),
                ("app.css", "p{}"),
                ("logo.svg", "<svg/>"),
                ("docs/index.html", "docs"),
            ],
        )
        .await;
    let client = server.client();
    let host = format!("spa.{DOMAIN}");
    let css = client.get(&host, "/app.css").await;
    assert_eq!(
        (css.status, css.header("content-type")),
        (StatusCode::OK, "text/css; charset=utf-8")
    );
    assert_eq!(css.header("cache-control"), "public, max-age=300");
    assert_eq!(
        client.get(&host, "/logo.svg").await.header("content-type"),
        "image/svg+xml"
    );
    assert_eq!(client.get(&host, "/docs").await.text(), "docs");
    let route = client.get(&host, "/settings/profile").await;
    assert_eq!(
        (route.status, route.text().as_str()),
        (StatusCode::OK, "<p>app</p>")
    );
    assert_eq!(
        client.get(&host, "/missing.png").await.status,
        StatusCode::NOT_FOUND
    );
    // Without the option, unknown paths are 404.
    let plain = TestServer::start().await;
    assert_eq!(
        plain
            .client()
            .get(&format!("momentum.{DOMAIN}"), "/settings")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
