//! Server settings: the limits and timings of the HTTP layer. The engine's policies
//! (storage, runtime, request budget) come from a profile, [`crate::config::Config`].

use std::time::Duration;

use super::deploy::DeployLimits;
use super::journal::JournalConfig;
use super::pace::BodyPace;
use super::rate_limit::RateLimitConfig;

/// hyper's own head limits are this many times the server's
/// ([`ServerConfig::header_bytes_max`], [`ServerConfig::headers_max`]), so that a head
/// somewhat over the limit reaches the server and gets its JSON 431 with a request
/// id; only heads far over it are refused by hyper, with its bare answer.
pub const HYPER_HEAD_FACTOR: usize = 4;

/// The cap on connections per client address of `fazt server start`: one address
/// cannot hold more than this many of the 10,000 connections, so slow clients from a
/// few addresses cannot hold them all.
pub const CONNECTIONS_PER_ADDRESS_DEFAULT: usize = 64;

/// Everything the server is told at start. Every limit has a default that suits one
/// small machine; each is a field so tests and profiles can shrink it.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `<app>.<domain>` serves app `<app>`, `admin.<domain>` the admin API.
    /// `<app>.localhost` always works too. Default `localhost`.
    pub domain: String,
    /// The bearer token of the admin API. Must not be empty.
    pub admin_token: String,
    /// Largest request body of an app request (fazt: 1 MB); more is 413.
    pub body_bytes_max: usize,
    /// How fast a request body must arrive (a deadline for the whole body and a
    /// minimum rate); slower is 408 `RequestTimeout`. Defaults in [`BodyPace`].
    pub body_pace: BodyPace,
    /// Limits of a deploy upload and of the zip inside it.
    pub deploy: DeployLimits,
    pub rate_limit: RateLimitConfig,
    /// Budget of one `/api` request from its arrival, VM wait and execution included
    /// (the runtime's own timeout may cut it shorter). Default 10 s; a profile's
    /// [`crate::config::Config::request_timeout`] sets it in `fazt server start`.
    pub request_timeout: Duration,
    /// Longest wait for a free execution slot before answering 503. Short, so that an
    /// overloaded server says so quickly instead of timing out. Default 500 ms.
    pub admission_wait: Duration,
    /// Requests of one app executing at once. `None` (the default) is the
    /// execution slots less a quarter (at least one less, at least one): with two or more slots, one app
    /// busy with CPU loops can never hold every slot while another app waits. Values
    /// above the slot count mean the slot count. `fazt server start --app-concurrency N`.
    pub app_concurrency: Option<usize>,
    /// The `Retry-After` of 503 answers, in seconds. Default 1.
    pub retry_after_secs: u64,
    /// Unknown paths that look like pages (no file extension) get `index.html`, for
    /// client-side routed apps. Default off.
    pub spa_fallback: bool,
    /// Recent requests kept for `/api/_debug/traces`. Default 1024.
    pub traces_max: usize,
    /// How long a shutdown waits for in-flight requests. Default 10 s.
    pub drain_timeout: Duration,
    /// Largest request head (request line and headers, counted as sent) answered; a
    /// larger one gets a JSON 431 `HeadersTooLarge`. Default 64 KiB. hyper itself
    /// reads heads up to [`HYPER_HEAD_FACTOR`] times this (and answers a bare 431
    /// past that, before the server sees the request).
    pub header_bytes_max: usize,
    /// Most header fields in a request; more gets a JSON 431 `HeadersTooLarge`.
    /// Default 100 (hyper's own default). hyper parses up to [`HYPER_HEAD_FACTOR`]
    /// times this.
    pub headers_max: usize,
    /// A client must send its request headers within this. Default 30 s.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones get a reserved slot (admin requests
    /// only) or wait in the listen backlog. Default 10,000.
    pub connections_max: usize,
    /// Connections open at once from one client address; more are closed as soon as
    /// they are accepted. `None` (the default here) is no cap: the simulator's client
    /// host, or a reverse proxy in front, puts every client on one address. `fazt
    /// server start` sets [`CONNECTIONS_PER_ADDRESS_DEFAULT`] unless told otherwise
    /// (`--connections-per-address N`, 0 for none).
    pub connections_per_address_max: Option<usize>,
    /// Connections beyond `connections_max` kept for the admin API and the health
    /// check, one request each, so that clients holding every general connection
    /// cannot lock the admin out. Default 16.
    pub connections_reserved: usize,
    /// A reserved connection must send its head within this. Default 5 s: short, so
    /// that stalling on reserved connections does not hold them long.
    pub reserved_header_read_timeout: Duration,
    /// Journal each request of the chosen apps to files (`fazt server start
    /// --journal DIR`), for `fazt-sim replay`. Default off.
    pub journal: Option<JournalConfig>,
}

impl ServerConfig {
    /// Defaults for `domain` with the admin `token`.
    pub fn new(domain: impl Into<String>, admin_token: impl Into<String>) -> ServerConfig {
        ServerConfig {
            domain: domain.into().to_ascii_lowercase(),
            admin_token: admin_token.into(),
            body_bytes_max: 1 << 20,
            body_pace: BodyPace::default(),
            deploy: DeployLimits::default(),
            rate_limit: RateLimitConfig::default(),
            request_timeout: Duration::from_secs(10),
            admission_wait: Duration::from_millis(500),
            app_concurrency: None,
            retry_after_secs: 1,
            spa_fallback: false,
            traces_max: 1024,
            drain_timeout: Duration::from_secs(10),
            header_bytes_max: 64 << 10,
            headers_max: 100,
            header_read_timeout: Duration::from_secs(30),
            connections_max: 10_000,
            connections_per_address_max: None,
            connections_reserved: 16,
            reserved_header_read_timeout: Duration::from_secs(5),
            journal: None,
        }
    }
}
