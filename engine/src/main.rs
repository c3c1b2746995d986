//! The `fazt` binary: see `cli.rs` for the commands.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use fazt_engine::env::{Env, Rng};

use cli::{bench, Bench, Cli, Command, DeployArgs, ServerCommand, ServerStartArgs};

/// mimalloc for Rust's allocations: a request's buffers, JSON values and documents are
/// allocated on one thread and freed on another, which glibc's malloc paid for in
/// locks and consolidation (with mimalloc, momentum's `POST` takes ~18% less server CPU;
/// BENCHMARKS.md, "The allocator, and checkpoints off the p99"). `no_thp`: without it
/// mimalloc asks for transparent huge pages, and peak RSS at 2,000 connections grew
/// from 77 to 118 MiB. QuickJS and SQLite keep the C allocator (overriding it measured
/// no faster).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench {
            bench: Bench::Storage(args),
        } => {
            let options = args.options();
            run_bench(
                args.load.seed,
                args.load.report.as_deref(),
                |env| async move { bench::storage::run(&options, env).await },
            )
        }
        Command::Bench {
            bench: Bench::Runtime(args),
        } => {
            let options = args.options();
            run_bench(
                args.load.seed,
                args.load.report.as_deref(),
                |env| async move { bench::runtime::run(&options, env).await },
            )
        }
        Command::Bench {
            bench: Bench::Http(args),
        } => {
            let options = args.options();
            run_bench(
                args.load.seed,
                args.load.report.as_deref(),
                |env| async move { bench::http::run(&options, env).await },
            )
        }
        Command::Server {
            server: ServerCommand::Start(args),
        } => server_start(&args),
        Command::Deploy(args) => deploy(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a benchmark on a multi-thread runtime in the real environment with a seeded Rng
/// (from `--seed`, else the OS), prints its report and writes the JSON if asked.
fn run_bench<P, F, Fut>(
    seed: Option<u64>,
    report_path: Option<&std::path::Path>,
    bench: F,
) -> anyhow::Result<()>
where
    P: serde::Serialize,
    F: FnOnce(Env) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bench::report::Report<P>>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let real = Env::real();
        let seed = seed.unwrap_or_else(|| real.rng.seed());
        let env = Env {
            rng: Rng::seeded(seed),
            ..real
        };
        bench(env).await
    })?;
    print!("{}", report.render());
    if let Some(path) = report_path {
        report.write_json(path)?;
        eprintln!("Report written to {}", path.display());
    }
    Ok(())
}

fn server_start(args: &ServerStartArgs) -> anyhow::Result<()> {
    // Logs to stderr, filtered by RUST_LOG (default info); a request's lines carry its id.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(fazt_engine::server::start::run(args.options(), Env::real()))
}

/// Zips and uploads the folder; the server's answer goes to stdout, a summary and any
/// skipped links to stderr.
fn deploy(args: &DeployArgs) -> anyhow::Result<()> {
    let options = args.options()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let clock = fazt_engine::env::RealClock::new();
    let deployed = runtime.block_on(cli::deploy_client::deploy(&options, &clock))?;
    for link in &deployed.zipped.skipped {
        eprintln!(
            "skipped {} (a symbolic link pointing outside {})",
            link.display(),
            options.dir.display()
        );
    }
    eprintln!(
        "deployed {} ({} files, {} bytes zipped) to {}: HTTP {}",
        options.name,
        deployed.zipped.files.len(),
        deployed.zipped.bytes.len(),
        options.to,
        deployed.status
    );
    println!("{}", deployed.answer.trim_end());
    Ok(())
}
