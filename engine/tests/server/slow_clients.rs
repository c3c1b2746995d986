//! Slow and numerous clients (issue 15, item 4): a body that stalls is cut off, one
//! address cannot hold every connection, and the admin API keeps reserved room.

use std::future::Future;
use std::time::Duration;

use fazt_engine::env::{timeout_at, Clock, Deadline, RealClock};
use fazt_engine::server::BodyPace;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Setup, TestServer, DOMAIN};

/// Runs `future`, failing the test when it takes over `seconds` (the behaviour under
/// test was to hang).
async fn within<F: Future>(seconds: u64, future: F) -> F::Output {
    let clock = RealClock::new();
    let deadline = Deadline::at(clock.now() + Duration::from_secs(seconds));
    timeout_at(&clock, deadline, future)
        .await
        .unwrap_or_else(|_| panic!("still waiting after {seconds} s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_gets_408() {
    let mut setup = Setup::new();
    setup.config.body_pace = BodyPace {
        timeout: Duration::from_secs(3),
        grace: Duration::from_millis(300),
        bytes_per_second_min: 1024,
    };
    let server = TestServer::with(setup).await;
    let clock = RealClock::new();
    let asked = clock.now();
    // The head and one byte of a 100-byte body, then silence.
    let head = format!(
        "POST /api/tasks HTTP/1.1\r\nHost: momentum.{DOMAIN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    let reply = within(10, server.client().raw(head.as_bytes())).await;
    let took = clock.now() - asked;
    assert_eq!(reply.status, 408, "{reply:?}");
    assert_eq!(reply.json()["kind"], "RequestTimeout");
    assert!(reply.header("x-request-id").is_some());
    assert!(
        took < Duration::from_secs(3),
        "cut off after the grace, took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_every_connection() {
    let mut setup = Setup::new();
    setup.config.connections_per_address_max = Some(2);
    let server = TestServer::with(setup).await;
    let mut held = [
        TcpStream::connect(server.addr).await.unwrap(),
        TcpStream::connect(server.addr).await.unwrap(),
    ];
    // A third from the same address is closed at once.
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    let mut read = Vec::new();
    let closed = within(10, third.read_to_end(&mut read)).await;
    assert!(closed.is_err() || read.is_empty(), "{read:?}");
    // The held ones are served.
    let request = format!("GET / HTTP/1.1\r\nHost: momentum.{DOMAIN}\r\nConnection: close\r\n\r\n");
    held[0].write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    within(10, held[0].read_to_end(&mut answer)).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Once one is closed, the address may open another.
    drop(held);
    let reply = within(10, server.client().get(&format!("momentum.{DOMAIN}"), "/")).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_has_reserved_connections() {
    let mut setup = Setup::new();
    setup.config.connections_max = 2;
    setup.config.connections_reserved = 1;
    let server = TestServer::with(setup).await;
    let client = server.client();
    // Two clients hold every general connection without sending anything.
    let idle = [
        TcpStream::connect(server.addr).await.unwrap(),
        TcpStream::connect(server.addr).await.unwrap(),
    ];
    let health = within(10, client.admin("GET", "/api/system/health", None)).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text());
    assert_eq!(health.header("connection"), "close");
    let app = within(10, client.get(&format!("momentum.{DOMAIN}"), "/")).await;
    assert_eq!(
        app.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        app.text()
    );
    assert_eq!(app.json()["kind"], "Overloaded");
    assert_eq!(app.json()["cause"], "ConnectionLimit");
    assert!(!app.header("retry-after").is_empty());
    drop(idle);
    let mut served = false;
    for _ in 0..100 {
        if within(10, client.get(&format!("momentum.{DOMAIN}"), "/"))
            .await
            .status
            == StatusCode::OK
        {
            served = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(served, "general connections are served again once freed");
}
