//! `fazt-sim`: run the engine on virtual time, replay any run from its seed.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fazt_sim::{profile, scenarios, suite};

#[derive(Parser)]
#[command(
    name = "fazt-sim",
    about = "Deterministic simulator for the fazt engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List scenarios and profiles.
    List,
    /// Run one scenario under one profile and seed.
    Run {
        scenario: String,
        #[arg(long, default_value = "hardened")]
        profile: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// CPUs of the simulated machine.
        #[arg(long, default_value_t = 1)]
        cpus: u32,
        /// Requests (or writers) instead of the scenario's default.
        #[arg(long)]
        requests: Option<u64>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Write the event trace to FILE as JSON lines.
        #[arg(long, value_name = "FILE")]
        trace: Option<std::path::PathBuf>,
    },
    /// Run the matrix of scenarios × profiles; exit 1 if any cell misses its expectation.
    Suite,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::List => {
            println!("scenarios:");
            for scenario in scenarios::all() {
                println!("  {:<20} {}", scenario.name, scenario.summary);
            }
            println!("profiles:");
            for profile in profile::all(1) {
                println!("  {:<20} {}", profile.name, profile.summary);
            }
            ExitCode::SUCCESS
        }
        Command::Run {
            scenario,
            profile,
            seed,
            cpus,
            requests,
            json,
            trace,
        } => {
            let (scenario, profile) = match (
                scenarios::by_name(&scenario),
                profile::by_name(&profile, cpus),
            ) {
                (Ok(s), Ok(p)) => (s, p),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let run = (scenario.run)(&profile, seed, &scenarios::Sizes { requests });
            eprintln!("seed {seed}; replay: {}", run.report.replay_command());
            if let Some(path) = trace {
                if let Err(error) = std::fs::write(&path, run.trace.to_json_lines()) {
                    eprintln!(
                        "error: cannot write the trace to {}: {error}",
                        path.display()
                    );
                    return ExitCode::from(2);
                }
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&run.report).expect("reports serialize")
                );
            } else {
                print!("{}", run.report.render());
            }
            if run.report.violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Suite => {
            let mut results = Vec::new();
            for cell in suite::cells() {
                match suite::run_cell(&cell) {
                    Ok(result) => results.push(result),
                    Err(error) => {
                        eprintln!("error: {error}");
                        return ExitCode::from(2);
                    }
                }
            }
            print!("{}", suite::render_table(&results, true));
            let missed = results.iter().filter(|r| r.verdict.is_err()).count();
            println!("{} cells, {missed} missed their expectation", results.len());
            if missed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
