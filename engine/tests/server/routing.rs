//! Host routing: `<app>.<domain>`, `<app>.localhost`, the admin host, unknown hosts.

use http::StatusCode;

use crate::support::{fixture_names, TestServer, DOMAIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_route_to_apps_the_admin_api_or_404() {
    let server = TestServer::start().await;
    let client = server.client();

    let by_domain = client.get(&format!("momentum.{DOMAIN}"), "/").await;
    assert_eq!(by_domain.status, StatusCode::OK);
    assert!(by_domain.text().contains("<title>Momentum</title>"));

    let by_localhost = client.get("cashflow.localhost:8080", "/").await;
    assert_eq!(by_localhost.status, StatusCode::OK);
    assert!(by_localhost.text().contains("<title>CashFlow</title>"));

    let unknown_host = client.get("momentum.elsewhere.test", "/").await;
    assert_eq!(unknown_host.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_host.json()["kind"], "UnknownHost");

    let bare_domain = client.get(DOMAIN, "/").await;
    assert_eq!(bare_domain.status, StatusCode::NOT_FOUND);

    let unknown_app = client.get(&format!("ghost.{DOMAIN}"), "/").await;
    assert_eq!(unknown_app.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_app.json()["kind"], "UnknownApp");

    let health = client.admin("GET", "/api/system/health", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    assert_eq!(health.json()["apps"], fixture_names().len());

    // The admin host is never an app, and apps do not answer admin paths.
    let admin_static = client.get(&format!("admin.{DOMAIN}"), "/").await;
    assert_eq!(admin_static.status, StatusCode::UNAUTHORIZED);
    let app_admin_path = client
        .get(&format!("momentum.{DOMAIN}"), "/api/_debug/runtime")
        .await;
    assert_ne!(app_admin_path.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_the_common_headers() {
    let server = TestServer::start().await;
    let reply = server
        .client()
        .get(&format!("momentum.{DOMAIN}"), "/missing")
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    assert!(
        httpdate::parse_http_date(reply.header("date")).is_ok(),
        "{}",
        reply.header("date")
    );
    assert_eq!(reply.header("x-request-id").len(), 20);
    assert_eq!(reply.json()["requestId"], reply.header("x-request-id"));
}
