//! The HTTP server: fazt's request path (fazt-reference.md §1) on hyper, over any
//! [`Listener`], so the same code serves real TCP and the simulator's network.
//!
//! A map of the code, in the order a request meets it:
//!
//! | file | what lives there |
//! | --- | --- |
//! | `net.rs`, `timer.rs` | the Net seam ([`Listener`], tokio's TCP listener) and hyper's timer on the Clock |
//! | `lifecycle.rs`, `connections.rs` | [`serve`]: accept within the connection limits (per address, reserved for admin), one task per connection, graceful drain, storage shutdown |
//! | `router.rs`, `arrival.rs` | one request: request id, rate limit, Host routing, the deadline born at arrival, common headers, trace, log |
//! | `host.rs` | which app (or the admin API) a `Host` names |
//! | `request_id.rs`, `rate_limit.rs` | `X-Request-ID` reuse or generation; per-IP token buckets |
//! | `apps.rs` | the registry: each app's files and `AppCode` cached in memory, refreshed on deploy |
//! | `static_files.rs`, `mime.rs` | static files: index, SPA fallback, ETag/304, gzip, types |
//! | `handler.rs`, `admission.rs` | `/api` requests run by the JavaScript workers, behind an admission gate fair between apps |
//! | `cookies.rs` | an app's `Set-Cookie` confined to its own host |
//! | `body.rs`, `pace.rs`, `errors.rs` | bodies within limits and at a minimum pace; JSON errors `{error, kind, retryable, requestId, logs}` |
//! | `admin_token.rs` | the generated admin token, from the OS (not the seeded Rng) |
//! | `admin.rs`, `upload.rs`, `deploy.rs`, `site_dir.rs` | admin API; deploy upload; zip checks; apps from a folder |
//! | `traces.rs`, `metrics.rs`, `capacity.rs` | recent requests, Prometheus text, measured machine facts |
//! | `journal.rs` | `--journal`: each request of chosen apps to rotated JSON-lines files, written off the request path |
//! | `config.rs`, `state.rs`, `start.rs` | HTTP settings; the shared [`Server`]; the real binary's start-up |
//!
//! Nothing here knows whether it runs for real: time and randomness come from the
//! [`crate::env::Env`], connections from the [`Listener`] handed to [`serve`].

mod admin;
mod admin_token;
mod admission;
mod apps;
mod arrival;
mod body;
mod capacity;
mod config;
mod connections;
mod cookies;
mod deploy;
mod env_vars;
mod errors;
mod form;
mod handler;
mod host;
pub mod journal;
mod lifecycle;
mod metrics;
mod mime;
mod net;
mod pace;
mod rate_limit;
mod request_id;
mod router;
mod site_dir;
pub mod start;
mod state;
mod static_files;
mod timer;
mod traces;
mod traces_timeline;
mod upload;

pub use admission::default_app_max;
pub use apps::Deployed;
pub use config::{ServerConfig, CONNECTIONS_PER_ADDRESS_DEFAULT};
pub use deploy::{check_site_name, DeployError, DeployLimits};
pub use errors::ApiError;
pub use journal::{Journal, JournalConfig, JournalEntry};
pub use lifecycle::{serve, ServeReport};
pub use net::Listener;
pub use pace::BodyPace;
pub use rate_limit::RateLimitConfig;
pub use site_dir::read_apps_dir;
pub use start::{termination_signal, StartOptions};
pub use state::{Server, ServerError};
pub use timer::ClockTimer;
pub use traces::RequestTrace;
