//! The `fazt` command line (clap derive). Each subcommand turns its flags into the
//! options of a library function and calls it. The plumbing only the command line
//! needs lives below it, in the binary, not in the engine library:
//!
//! | module | what it is |
//! | --- | --- |
//! | [`bench`] | `fazt bench`: closed-loop load, reports (text, JSON), storage / runtime / HTTP benchmarks |
//! | [`client`] | the HTTP/1.1 client side: URL → [`client::Target`], keep-alive connections |
//! | [`deploy_client`] | `fazt deploy`: a folder zipped in memory, uploaded to `POST /api/deploy` |

pub mod bench;
pub mod client;
pub mod deploy_client;

use std::path::PathBuf;
use std::time::Duration;

use bench::http::HttpBench;
use bench::load::{parse_duration, Length};
use bench::runtime::RuntimeBench;
use bench::storage::{Mix, StorageBench, StorageKind};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use deploy_client::DeployOptions;
use fazt_engine::storage::Durability;

#[derive(Debug, Parser)]
#[command(
    name = "fazt",
    version,
    about = "fazt-compatible runtime and SQLite storage engine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure the engine: throughput, latency percentiles, errors by kind.
    Bench {
        #[command(subcommand)]
        bench: Bench,
    },
    /// Run the HTTP server.
    Server {
        #[command(subcommand)]
        server: ServerCommand,
    },
    /// Zip a folder and deploy it as an app through a server's admin API.
    Deploy(DeployArgs),
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The app's folder: every file in it (hidden ones too) at its path relative to it;
    /// symbolic links pointing outside it are skipped.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The app's name: a DNS label (`[a-z0-9-]{1,63}`, no leading or trailing `-`), not `admin`.
    #[arg(long, value_parser = parse_site_name)]
    pub name: String,
    /// The admin host's URL, e.g. http://admin.localhost:8080 (its host is the Host header).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The admin bearer token (default: $FAZT_ADMIN_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

fn parse_site_name(name: &str) -> Result<String, String> {
    fazt_engine::server::check_site_name(name)
        .map(|()| name.to_owned())
        .map_err(|error| error.to_string())
}

impl DeployArgs {
    pub fn options(&self) -> anyhow::Result<DeployOptions> {
        let token = self
            .token
            .clone()
            .or_else(|| std::env::var("FAZT_ADMIN_TOKEN").ok())
            .filter(|token| !token.trim().is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!("no admin token: pass --token or set FAZT_ADMIN_TOKEN")
            })?;
        Ok(DeployOptions {
            dir: self.dir.clone(),
            name: self.name.clone(),
            to: self.to.clone(),
            token,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Serve apps at <app>.<domain> and the admin API at admin.<domain>.
    Start(ServerStartArgs),
}

#[derive(Debug, Args)]
pub struct ServerStartArgs {
    /// TCP port; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The SQLite database file (created if missing).
    #[arg(long, value_name = "FILE", default_value = "fazt.db")]
    pub db: PathBuf,
    /// Apps are served at <app>.<domain> (and always at <app>.localhost).
    #[arg(long, default_value = "localhost")]
    pub domain: String,
    /// Deploy every DIR/<name>/ as app <name> at start.
    #[arg(long, value_name = "DIR")]
    pub apps: Option<PathBuf>,
    /// Engine profile.
    #[arg(long, default_value = "hardened", value_parser = parse_profile)]
    pub profile: String,
    /// Bearer token of the admin API (default: $FAZT_ADMIN_TOKEN, else generated and printed).
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Address to listen on; 0.0.0.0 to serve other machines.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Requests per second per client IP (burst twice that); 0 turns the limit off.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u64>,
    /// Execution worker threads (each with its own VM pool); default one per core.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers: Option<u64>,
    /// Requests of one app executing at once; default the execution slots less
    /// a quarter, so that one app can never take them all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub app_concurrency: Option<u64>,
    /// Connections open at once from one client address (more are closed at once);
    /// 0 for no cap, e.g. behind a reverse proxy.
    #[arg(long, value_name = "N", default_value_t = fazt_engine::server::CONNECTIONS_PER_ADDRESS_DEFAULT as u64)]
    pub connections_per_address: u64,
    /// Bytes each app may store (kv, documents, blobs), in MiB; default 256.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=(1 << 24)))]
    pub app_quota_mb: Option<u64>,
    /// `full`: a write is acknowledged once synced to disk (survives a power loss);
    /// `normal`: once in the OS (survives a crash, not a power loss). Default the
    /// profile's (hardened: normal; legacy profiles: full).
    #[arg(long, value_parser = Durability::parse)]
    pub durability: Option<Durability>,
    /// Journal each request of the apps (arrival, method, path, headers without
    /// secrets, body, status) to DIR/journal-N.jsonl, for `fazt-sim replay`.
    #[arg(long, value_name = "DIR")]
    pub journal: Option<PathBuf>,
    /// Journal only these apps (comma-separated); default every app.
    #[arg(
        long,
        value_name = "APP,...",
        value_delimiter = ',',
        requires = "journal"
    )]
    pub journal_apps: Vec<String>,
    /// A journal file is rotated before it passes this many bytes (default 64 MiB).
    #[arg(long, value_name = "BYTES", requires = "journal", value_parser = clap::value_parser!(u64).range(1..))]
    pub journal_max_bytes: Option<u64>,
    /// Journal files kept; the oldest is deleted past this (default 10).
    #[arg(long, value_name = "N", requires = "journal", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub journal_max_files: Option<u64>,
}

/// A known profile name, or the list of known ones.
fn parse_profile(name: &str) -> Result<String, String> {
    fazt_engine::config::Config::preset(name, 1).map(|_| name.to_owned())
}

impl ServerStartArgs {
    pub fn options(&self) -> fazt_engine::server::StartOptions {
        fazt_engine::server::StartOptions {
            bind: self.bind,
            port: self.port,
            db: self.db.clone(),
            domain: self.domain.clone(),
            apps: self.apps.clone(),
            profile: self.profile.clone(),
            admin_token: self
                .admin_token
                .clone()
                .or_else(|| std::env::var("FAZT_ADMIN_TOKEN").ok()),
            rate_limit: self.rate_limit,
            workers: self
                .workers
                .map(|n| usize::try_from(n).expect("bounded by clap")),
            app_concurrency: self
                .app_concurrency
                .map(|n| usize::try_from(n).expect("bounded by clap")),
            connections_per_address_max: usize::try_from(self.connections_per_address)
                .ok()
                .filter(|&n| n > 0),
            app_quota_bytes: self.app_quota_mb.map(|mb| mb << 20),
            durability: self.durability,
            journal: self.journal.as_ref().map(|dir| {
                let mut journal = fazt_engine::server::JournalConfig::new(dir);
                if !self.journal_apps.is_empty() {
                    journal.apps = Some(self.journal_apps.iter().cloned().collect());
                }
                if let Some(bytes) = self.journal_max_bytes {
                    journal.max_bytes = bytes;
                }
                if let Some(files) = self.journal_max_files {
                    journal.max_files = usize::try_from(files).expect("bounded by clap");
                }
                journal
            }),
        }
    }
}

/// How much load a benchmark applies, and where its report goes: shared by every
/// `fazt bench` command.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("length").required(true).args(["ops", "duration"])))]
pub struct LoadArgs {
    /// Operations in all (exclusive with --duration); `--requests` is the same.
    #[arg(long, visible_alias = "requests", value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: Option<u64>,
    /// How long to run, e.g. `500ms`, `10s`, `1m` (exclusive with --ops).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Concurrent tasks (for http: connections), each issuing operations back to back.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub concurrency: u64,
    /// Write the report as JSON to this file too.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// Seed of the run's randomness; default from the OS.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl LoadArgs {
    /// `--ops` or `--duration`, which clap makes exactly one of.
    pub fn length(&self) -> Length {
        match (self.ops, self.duration) {
            (Some(n), _) => Length::Ops(n),
            (None, Some(d)) => Length::Duration(d),
            (None, None) => unreachable!("clap requires --ops/--requests or --duration"),
        }
    }

    pub fn concurrency(&self) -> usize {
        usize::try_from(self.concurrency).expect("bounded by clap")
    }
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// kv / ds / s3 operations against the storage engine on a SQLite file.
    Storage(StorageArgs),
    /// Executions of one handler script on the JavaScript runtime (one worker per core).
    Runtime(RuntimeArgs),
    /// One HTTP request, sent back to back on C keep-alive connections to a server.
    Http(HttpArgs),
}

#[derive(Debug, Args)]
pub struct HttpArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// The URL to request, http only, e.g. http://127.0.0.1:8080/api/tasks
    /// (`localhost` and `*.localhost` connect to 127.0.0.1).
    #[arg(long)]
    pub url: String,
    /// The Host header; default the URL's host[:port].
    #[arg(long)]
    pub host: Option<String>,
    /// The request method; default GET, or POST with --body.
    #[arg(long, value_parser = parse_method)]
    pub method: Option<http::Method>,
    /// A JSON request body, sent with `Content-Type: application/json`.
    #[arg(long, value_name = "JSON")]
    pub body: Option<String>,
}

/// An HTTP method, upper-cased (`post` is `POST`).
fn parse_method(text: &str) -> Result<http::Method, String> {
    http::Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid HTTP method {text:?}"))
}

impl HttpArgs {
    pub fn options(&self) -> HttpBench {
        let method = self.method.clone().unwrap_or(if self.body.is_some() {
            http::Method::POST
        } else {
            http::Method::GET
        });
        HttpBench {
            url: self.url.clone(),
            host: self.host.clone(),
            method,
            body: self.body.clone(),
            concurrency: self.load.concurrency(),
            length: self.load.length(),
        }
    }
}

#[derive(Debug, Args)]
pub struct RuntimeArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// The handler, run as the app's api/main.js for a small JSON POST.
    #[arg(long, value_name = "FILE")]
    pub script: PathBuf,
    /// Execution worker threads; default one per core.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
}

impl RuntimeArgs {
    pub fn options(&self) -> RuntimeBench {
        RuntimeBench {
            script: self.script.clone(),
            length: self.load.length(),
            concurrency: self.load.concurrency(),
            threads: self
                .threads
                .map(|n| usize::try_from(n).expect("bounded by clap")),
        }
    }
}

#[derive(Debug, Args)]
pub struct StorageArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Which API to exercise.
    #[arg(long = "type", value_enum)]
    pub kind: TypeArg,
    /// `write`, `read`, or reads/writes in percent, e.g. `80/20`.
    #[arg(long, default_value = "write", value_parser = Mix::parse)]
    pub mix: Mix,
    /// Database file to use (kept); default a temporary file, deleted after.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Writes per group commit; 1 commits every write on its own.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch_max: u64,
    /// Entries to write before the timed part; default 10,000 (1,000 for s3) when the
    /// mix reads, else 0.
    #[arg(long)]
    pub preload: Option<u64>,
    /// Skip timing raw single-row SQLite commits for comparison.
    #[arg(long)]
    pub no_baseline: bool,
    /// When a commit is synced: `full` (each group commit) or `normal` (checkpoints).
    #[arg(long, default_value = "normal", value_parser = Durability::parse)]
    pub durability: Durability,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TypeArg {
    Kv,
    Ds,
    S3,
}

impl StorageArgs {
    pub fn options(&self) -> StorageBench {
        let length = self.load.length();
        StorageBench {
            kind: match self.kind {
                TypeArg::Kv => StorageKind::Kv,
                TypeArg::Ds => StorageKind::Ds,
                TypeArg::S3 => StorageKind::S3,
            },
            mix: self.mix,
            length,
            concurrency: self.load.concurrency(),
            batch_max: usize::try_from(self.batch_max).expect("bounded by clap"),
            db: self.db.clone(),
            preload: self.preload,
            baseline: !self.no_baseline,
            durability: self.durability,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(args.split_whitespace())
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn storage_flags_become_options() {
        let cli = parse(
            "fazt bench storage --type ds --mix 80/20 --duration 1m --concurrency 50 --batch-max 1",
        )
        .unwrap();
        let Command::Bench {
            bench: Bench::Storage(args),
        } = cli.command
        else {
            panic!("a bench command")
        };
        let options = args.options();
        assert_eq!(options.kind, StorageKind::Ds);
        assert_eq!(options.mix.read_percent(), 80);
        assert_eq!(options.length, Length::Duration(Duration::from_secs(60)));
        assert_eq!((options.concurrency, options.batch_max), (50, 1));
        assert!(options.baseline);
    }

    #[test]
    fn bad_flags_are_refused_clearly() {
        let error = |args: &str| parse(args).unwrap_err().to_string();
        assert!(error("fazt bench storage --type kv --ops 10 --duration 1s")
            .contains("cannot be used with"));
        assert!(error("fazt bench storage --type kv").contains("--ops"));
        assert!(
            error("fazt bench storage --type kv --ops 10 --mix 80/30").contains("add up to 100")
        );
        assert!(error("fazt bench storage --type kv --duration 10").contains("invalid duration"));
        assert!(error("fazt bench storage --type kv --ops 0").contains("--ops"));
        assert!(
            error("fazt bench storage --type kv --ops 5 --concurrency 0").contains("--concurrency")
        );
        assert!(error("fazt bench storage --type xx --ops 5").contains("possible values"));
    }

    #[test]
    fn http_flags_become_options() {
        let cli = parse("fazt bench http --url http://127.0.0.1:1/api/tasks --host momentum.localhost --body {} --concurrency 50 --duration 10s").unwrap();
        let Command::Bench {
            bench: Bench::Http(args),
        } = cli.command
        else {
            panic!("an http bench command")
        };
        let options = args.options();
        assert_eq!(options.method, http::Method::POST);
        assert_eq!(options.host.as_deref(), Some("momentum.localhost"));
        assert_eq!(options.length, Length::Duration(Duration::from_secs(10)));
        assert_eq!(options.concurrency, 50);
        let cli = parse("fazt bench http --url http://x/ --method put --requests 5").unwrap();
        let Command::Bench {
            bench: Bench::Http(args),
        } = cli.command
        else {
            panic!("an http bench command")
        };
        assert_eq!(args.options().method, http::Method::PUT);
        let error = |args: &str| parse(args).unwrap_err().to_string();
        // A missing length names the flag (`--ops`, also spelled `--requests`).
        assert!(error("fazt bench http --url http://x/").contains("--ops"));
        assert!(
            error("fazt bench http --url http://x/ --requests 1 --method GE(T")
                .contains("invalid HTTP method")
        );
    }

    #[test]
    fn deploy_needs_a_valid_name_and_takes_the_token_flag() {
        let cli =
            parse("fazt deploy ./site --name demo --to http://admin.localhost:8080 --token t")
                .unwrap();
        let Command::Deploy(args) = cli.command else {
            panic!("a deploy command")
        };
        let options = args.options().unwrap();
        assert_eq!(
            (options.name.as_str(), options.token.as_str()),
            ("demo", "t")
        );
        let error = parse("fazt deploy ./site --name Admin --to http://x")
            .unwrap_err()
            .to_string();
        assert!(error.contains("site name"), "{error}");
    }

    #[test]
    fn server_flags_become_options_and_unknown_profiles_are_refused() {
        let cli = parse("fazt server start --port 0 --db x.db --domain example.com --apps fixtures/apps --rate-limit 0 --app-concurrency 3 --app-quota-mb 3").unwrap();
        let Command::Server {
            server: ServerCommand::Start(args),
        } = cli.command
        else {
            panic!("a server command")
        };
        let options = args.options();
        assert_eq!((options.port, options.domain.as_str()), (0, "example.com"));
        assert_eq!(options.profile, "hardened");
        assert_eq!(options.rate_limit, Some(0));
        assert_eq!(options.app_concurrency, Some(3));
        assert_eq!(options.connections_per_address_max, Some(64));
        let Command::Server {
            server: ServerCommand::Start(open),
        } = parse("fazt server start --connections-per-address 0")
            .unwrap()
            .command
        else {
            panic!("a server command")
        };
        assert_eq!(open.options().connections_per_address_max, None);
        assert!(parse("fazt server start --app-concurrency 0").is_err());
        assert_eq!(options.app_quota_bytes, Some(3 << 20));
        assert_eq!(options.bind.to_string(), "127.0.0.1");
        let error = parse("fazt server start --profile fastest")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unknown profile") && error.contains("hardened"),
            "{error}"
        );
    }

    #[test]
    fn journal_flags_become_the_journal_config() {
        let start = |line: &str| match parse(line).unwrap().command {
            Command::Server {
                server: ServerCommand::Start(args),
            } => args.options(),
            _ => panic!("a server command"),
        };
        assert_eq!(start("fazt server start").journal, None);
        let journal = start(
            "fazt server start --journal /tmp/j --journal-apps a,b --journal-max-bytes 4096 --journal-max-files 3",
        )
        .journal
        .unwrap();
        assert_eq!(journal.dir, PathBuf::from("/tmp/j"));
        assert_eq!(journal.apps, Some(["a".to_owned(), "b".to_owned()].into()));
        assert_eq!((journal.max_bytes, journal.max_files), (4096, 3));
        assert!(parse("fazt server start --journal-apps a").is_err());
    }
}
