//! Deploys through `POST /api/deploy`: a new app, a replacement, hostile archives and
//! bad tokens, each refused with nothing changed.

use http::StatusCode;

use crate::support::{fixture_names_and, zip, Setup, TestServer, DOMAIN, TOKEN};

/// Local-header and central-directory signatures of a zip.
const LOCAL_HEADER: &[u8] = b"PK\x03\x04";
const CENTRAL_HEADER: &[u8] = b"PK\x01\x02";

/// Rewrites every declared uncompressed size in `archive` to `size`: a zip bomb that
/// lies about what it holds.
fn lie_about_sizes(mut archive: Vec<u8>, size: u32) -> Vec<u8> {
    let mut patched = 0;
    for at in 0..archive.len().saturating_sub(30) {
        let offset = if archive[at..].starts_with(LOCAL_HEADER) {
            22
        } else if archive[at..].starts_with(CENTRAL_HEADER) {
            24
        } else {
            continue;
        };
        archive[at + offset..at + offset + 4].copy_from_slice(&size.to_le_bytes());
        patched += 1;
    }
    assert_eq!(patched, 2, "one entry: one local and one central header");
    archive
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_a_new_app_then_replace_it() {
    let server = TestServer::start().await;
    let client = server.client();
    let host = format!("hello.{DOMAIN}");
    assert_eq!(client.get(&host, "/").await.status, StatusCode::NOT_FOUND);

    let v1 = zip(&[
        ("index.html", b"<h1>v1</h1>"),
        ("old.txt", b"only in v1"),
        ("api/main.js", b"respond({version: require('./version')})"),
        ("api/version.js", b"module.exports = 1"),
    ]);
    let deployed = client.deploy("hello", v1, Some(TOKEN)).await;
    assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.text());
    assert_eq!(deployed.json()["files"], 4);
    assert_eq!(client.get(&host, "/").await.text(), "<h1>v1</h1>");
    assert_eq!(client.get(&host, "/api").await.json()["version"], 1);
    assert_eq!(client.get(&host, "/old.txt").await.status, StatusCode::OK);

    let v2 = zip(&[
        ("./index.html", b"<h1>v2</h1>"),
        ("api/main.js", b"respond({version: 2})"),
    ]);
    assert_eq!(
        client.deploy("hello", v2, Some(TOKEN)).await.status,
        StatusCode::OK
    );
    assert_eq!(client.get(&host, "/").await.text(), "<h1>v2</h1>");
    assert_eq!(client.get(&host, "/api").await.json()["version"], 2);
    assert_eq!(
        client.get(&host, "/old.txt").await.status,
        StatusCode::NOT_FOUND,
        "a deploy replaces every file"
    );

    let apps = client.admin("GET", "/api/apps", Some(TOKEN)).await.json();
    assert_eq!(apps["apps"], serde_json::json!(fixture_names_and("hello")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_archives_and_bad_tokens_change_nothing() {
    let mut setup = Setup::new();
    setup.config.deploy.unpacked_bytes_max = 64 << 10;
    let server = TestServer::with(setup).await;
    let client = server.client();
    let host = format!("momentum.{DOMAIN}");
    let before = client.get(&host, "/").await.body;
    let bomb_bytes = vec![0u8; 1 << 20];

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dot-dot",
            zip(&[("index.html", b"x"), ("../x", b"escape")]),
            "InvalidPath",
        ),
        ("absolute", zip(&[("/abs", b"x")]), "InvalidPath"),
        ("backslash", zip(&[("a\\b", b"x")]), "InvalidPath"),
        (
            "bomb",
            zip(&[("index.html", &bomb_bytes)]),
            "ArchiveTooLarge",
        ),
        (
            "lying bomb",
            lie_about_sizes(zip(&[("index.html", &bomb_bytes)]), 100),
            "ArchiveTooLarge",
        ),
        ("not a zip", b"PK but not really".to_vec(), "InvalidZip"),
        ("empty", zip(&[]), "EmptyArchive"),
    ];
    for (what, archive, kind) in cases {
        let reply = client.deploy("momentum", archive, Some(TOKEN)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{what}: {}",
            reply.text()
        );
        let error = reply.json();
        assert_eq!(error["kind"], kind, "{what}: {error}");
        assert!(
            error["error"].as_str().unwrap().len() > 10,
            "{what}: a clear message"
        );
        assert_eq!(error["retryable"], false);
        assert_eq!(
            client.get(&host, "/").await.body,
            before,
            "{what}: the old version still serves"
        );
    }

    let good = zip(&[("index.html", b"<h1>replaced</h1>")]);
    for token in [None, Some("wrong-token"), Some("")] {
        let reply = client.deploy("momentum", good.clone(), token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(reply.json()["kind"], "Unauthorized");
        assert_eq!(client.get(&host, "/").await.body, before);
    }
    for name in ["admin", "Bad_Name", "", "a.b"] {
        let reply = client.deploy(name, good.clone(), Some(TOKEN)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(reply.json()["kind"], "InvalidSiteName");
    }
    let ok = client.deploy("momentum", good, Some(TOKEN)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(client.get(&host, "/").await.text(), "<h1>replaced</h1>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_survive_a_restart() {
    let server = TestServer::start().await;
    server.deploy("keep", &[("index.html", "kept")]).await;
    let db = server.db.clone();
    let (_report, _dir) = server.stop().await;
    let mut setup = Setup::new();
    setup.db = Some(db);
    setup.fixtures = false;
    let restarted = TestServer::with(setup).await;
    assert_eq!(
        restarted
            .client()
            .get(&format!("keep.{DOMAIN}"), "/")
            .await
            .text(),
        "kept"
    );
    assert_eq!(restarted.server.app_ids(), fixture_names_and("keep"));
}
