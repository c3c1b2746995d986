//! The SQLite storage engine: fazt's kv / ds / s3 API per app, on one database file.
//!
//! | file | what lives there |
//! | --- | --- |
//! | `handle.rs` | [`Storage`]: the shared handle, stats, shutdown, the read/write entry where deadlines are honoured |
//! | `open.rs` | opening: connections, the write path, the background tasks |
//! | `scope.rs` | [`Scope`]: one app's kv / ds / s3 API under one request's deadline |
//! | `server_api.rs` | the server's own calls: sites, files, env vars, the usage check |
//! | `background.rs` | background writes: analytics flush, kv sweep, request-log rows |
//! | `writer.rs` | the write queue and group commit on the single writer connection |
//! | `direct_writes.rs` | fazt's legacy write path: pooled connections, DEFERRED transactions |
//! | `busy_timeout.rs` | fazt's `PRAGMA busy_timeout` (one connection, or all), modelled on the Clock |
//! | `analytics.rs` | the analytics buffer, flushed in batches |
//! | `readers.rs` | the reader connection pool |
//! | `policy.rs` | write path, busy handling and deadline handling as policies |
//! | `retry.rs`, `estimate.rs` | backoff on SQLITE_BUSY; duration estimates for admission |
//! | `connection.rs`, `schema.rs` | pragmas per connection, migrations, SQL statements |
//! | `kv.rs`, `ds.rs`, `s3.rs` | synchronous operations on a connection |
//! | `site.rs` | deployed apps' files, replaced atomically by a deploy |
//! | `query.rs`, `changes.rs` | the ds query language and update operators |
//! | `write.rs` | the queued write operations |
//! | `usage.rs` | bytes stored per app, against the app quota |
//! | `env_vars.rs` | app environment variables (admin API, `fazt.env`) |
//! | `limits.rs`, `error.rs` | bounds on input, and the error type |

mod analytics;
mod background;
mod busy_timeout;
mod changes;
mod connection;
mod direct_writes;
mod doc_id;
mod ds;
mod durability;
mod env_vars;
mod error;
mod estimate;
mod handle;
mod kv;
mod limits;
mod open;
mod policy;
mod query;
mod readers;
mod request_log;
mod retry;
mod s3;
mod schema;
mod scope;
mod server_api;
mod site;
mod transaction;
mod usage;
mod write;
mod writer;

pub use connection::{ConnectionSettings, Db, PROGRESS_TICK_OPS};

pub use analytics::AnalyticsEvent;
pub use ds::{FindOptions, Order, Page};
pub use durability::Durability;
pub use env_vars::EnvVarName;
pub use error::{is_caller_error_kind, Result, StorageError};
pub use handle::{Storage, StorageConfig, StorageStats};
pub use kv::{ttl_ms as kv_ttl_ms, KvEntry};
pub use limits::{Limits, KV_TTL_MAX_MS, SQLITE_VARIABLES_MAX};
pub use policy::{
    AnalyticsFlush, BackgroundWrites, BeginMode, BusyPolicy, BusyTimeoutPragma, DeadlinePolicy,
    QueueAdmission, RequestLogWrites, StoragePolicy, WritePath, SQLITE_CHECKPOINT_PAGES,
};
pub use request_log::RequestLogEntry;
pub use s3::{sha256_hex, Blob, BlobMeta, DEFAULT_MIME};
pub use scope::Scope;
pub use site::{Site, SiteFile};
pub use usage::UsageMismatch;
