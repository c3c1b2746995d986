//! The HTTP server over real loopback TCP (127.0.0.1, port 0): routing, static files,
//! the fixture apps, deploy, every error status, request ids, the admin endpoints and
//! graceful shutdown. One binary; the areas are the modules below.

#[path = "server/support.rs"]
mod support;

#[path = "server/routing.rs"]
mod routing;

#[path = "server/static_files.rs"]
mod static_files;

#[path = "server/fixture_apps.rs"]
mod fixture_apps;

#[path = "server/deploy.rs"]
mod deploy;

#[path = "server/errors.rs"]
mod errors;

#[path = "server/observability.rs"]
mod observability;

#[path = "server/shutdown.rs"]
mod shutdown;

#[path = "server/isolation.rs"]
mod isolation;

#[path = "server/hardening.rs"]
mod hardening;

#[path = "server/slow_clients.rs"]
mod slow_clients;
