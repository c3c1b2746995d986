//! `fazt-sim`: run the engine on virtual time, replay any run from its seed.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fazt_chaos::Schedule;
use fazt_engine::storage::Durability;
use fazt_sim::app_test::fault_kinds::FaultKinds;
use fazt_sim::disk::DiskModel;
use fazt_sim::{app_test, profile, scenarios, sensitivity, suite, sweep};

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
        /// Requests (or writers, or users) instead of the scenario's default.
        #[arg(long)]
        requests: Option<u64>,
        /// Seconds of load instead of the scenario's default (capacity).
        #[arg(long, value_name = "SECONDS")]
        duration_s: Option<u64>,
        /// Run the server on a machine whose CPU is N times slower than the cost
        /// model's (capacity).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        slowdown: Option<u32>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Write the event trace to FILE as JSON lines.
        #[arg(long, value_name = "FILE")]
        trace: Option<std::path::PathBuf>,
        /// Write the run as a Chrome trace-event timeline to FILE, for Perfetto
        /// (ui.perfetto.dev) or chrome://tracing.
        #[arg(long, value_name = "FILE")]
        timeline: Option<std::path::PathBuf>,
        /// Apply the fault schedule in FILE (JSON, see fazt-chaos) instead of the
        /// scenario's own faults.
        #[arg(long, value_name = "FILE")]
        schedule: Option<std::path::PathBuf>,
        /// Save the fault schedule the run applied to FILE (JSON), to edit and replay
        /// with --schedule.
        #[arg(long, value_name = "FILE")]
        save_schedule: Option<std::path::PathBuf>,
        #[command(flatten)]
        machine: MachineArgs,
    },
    /// Run one scenario over many seeds; print failure statistics and the seeds that
    /// broke an invariant (exit 1 if any did).
    Sweep {
        scenario: String,
        /// Seeds as A..B (B excluded) or A..=B.
        #[arg(long, default_value = "1..21", value_parser = parse_seeds)]
        seeds: std::ops::RangeInclusive<u64>,
        #[arg(long, default_value = "hardened")]
        profile: String,
        #[arg(long, default_value_t = 1)]
        cpus: u32,
        #[arg(long)]
        requests: Option<u64>,
        #[command(flatten)]
        machine: MachineArgs,
        /// Print every seed's whole report as JSON (one per line) instead of the summary
        /// grouped by kind of cause.
        #[arg(long)]
        json: bool,
    },
    /// Run the matrix of scenarios × profiles; exit 1 if any cell misses its expectation.
    Suite,
    /// Test the app in DIR (api/main.js + static files) under its workload
    /// (DIR/fazt-sim.json) and invariants (DIR/sim/invariants.js); exit 1 if a run broke
    /// one (the first such run is shrunk, stored and explained).
    Test(TestArgs),
    /// Replay a request journal of `fazt server start --journal` (a file, or a directory
    /// of rotated files) against the app in DIR, with its arrival times; judge each run
    /// like `test` (exit 1 if a run broke an invariant, with a replay command).
    Replay(ReplayArgs),
    /// The legacy watchdog's failure rate against the tail of Go's wake-up delay (the
    /// one parameter calibrated to seed 001): a table over tail weights and means.
    Sensitivity {
        #[arg(default_value = "momentum-seq")]
        scenario: String,
        #[arg(long, default_value = "1..21", value_parser = parse_seeds)]
        seeds: std::ops::RangeInclusive<u64>,
        #[arg(long, default_value = "fazt-0.10.5")]
        profile: String,
        #[arg(long, default_value_t = 2)]
        cpus: u32,
        /// The simulated disk (default seed 001's dev VM).
        #[arg(long, default_value = "devvm", value_parser = DiskModel::named)]
        disk: DiskModel,
    },
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The journal: a journal-N.jsonl file, or the directory of them.
    journal: std::path::PathBuf,
    /// The app's directory (its requests are those of the journal for this app).
    #[arg(long, value_name = "DIR")]
    app: std::path::PathBuf,
    /// Seeds as A..B (B excluded) or A..=B.
    #[arg(long, default_value = "1..2", value_parser = parse_seeds)]
    seeds: std::ops::RangeInclusive<u64>,
    /// Let the search mutate the journal (move, duplicate, burst requests), seeded.
    #[arg(long)]
    mutate: bool,
    #[command(flatten)]
    search: AppSearchArgs,
}

#[derive(clap::Args)]
struct TestArgs {
    /// The app's directory.
    dir: std::path::PathBuf,
    /// Seeds as A..B (B excluded) or A..=B.
    #[arg(long, default_value = "1..11", value_parser = parse_seeds)]
    seeds: std::ops::RangeInclusive<u64>,
    #[command(flatten)]
    search: AppSearchArgs,
}

/// What `test` and `replay` share: the faults and profiles searched, where cases go, and
/// the reports.
#[derive(clap::Args)]
struct AppSearchArgs {
    /// Faults drawn within the requests' span: none, network, storage or all.
    #[arg(long, default_value = "none", value_parser = FaultKinds::parse)]
    faults: FaultKinds,
    /// Also run under this profile (a fazt version's, e.g. legacy); repeatable.
    #[arg(long)]
    profile: Vec<String>,
    /// Where to store a shrunk failing case (default DIR/sim/cases).
    #[arg(long, value_name = "DIR")]
    cases: Option<std::path::PathBuf>,
    /// Run the stored case in FILE instead of the seeds.
    #[arg(long, value_name = "FILE")]
    replay: Option<std::path::PathBuf>,
    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

impl AppSearchArgs {
    /// The search over the app in `dir`: `hardened` and the profiles of `--profile`,
    /// each once.
    fn options(
        &self,
        dir: &std::path::Path,
        seeds: &std::ops::RangeInclusive<u64>,
    ) -> app_test::Options {
        let mut profiles = vec!["hardened".to_owned()];
        profiles.extend(self.profile.iter().filter(|p| *p != "hardened").cloned());
        app_test::Options {
            cases_dir: self.cases.clone().unwrap_or_else(|| dir.join("sim/cases")),
            dir: dir.to_path_buf(),
            seeds: seeds.clone(),
            faults: self.faults,
            profiles,
        }
    }
}

/// The simulated machine's disk and the engine's durability, over the profile's.
#[derive(clap::Args)]
struct MachineArgs {
    /// The simulated disk: instant (no latency, the default), nvme (a laptop's) or
    /// vps (a network volume, 0.3-1 ms syncs, now and then a 50 ms stall). Scenarios
    /// on the simulated disk (those with fault schedules) use it.
    #[arg(long, value_parser = DiskModel::named)]
    disk: Option<DiskModel>,
    /// full (a write is acknowledged once synced) or normal (once in the OS).
    #[arg(long, value_parser = Durability::parse)]
    durability: Option<Durability>,
}

/// `A..B` (B excluded) or `A..=B`.
fn parse_seeds(text: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    let bad = || format!("seeds must look like 1..21 or 1..=20, not {text:?}");
    let (start, end, inclusive) = match text.split_once("..=") {
        Some((a, b)) => (a, b, true),
        None => {
            let (a, b) = text.split_once("..").ok_or_else(bad)?;
            (a, b, false)
        }
    };
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end: u64 = end.trim().parse().map_err(|_| bad())?;
    let end = if inclusive {
        end
    } else {
        end.checked_sub(1).ok_or_else(bad)?
    };
    if end < start {
        return Err(format!("the seed range {text:?} is empty"));
    }
    Ok(start..=end)
}

fn main() -> ExitCode {
    // Failpoints are process-global: this process owns them for its runs.
    let _failpoints = fail::FailScenario::setup();
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
            duration_s,
            slowdown,
            json,
            trace,
            timeline,
            schedule,
            save_schedule,
            machine,
        } => {
            let schedule = match schedule.as_deref().map(Schedule::load).transpose() {
                Ok(schedule) => schedule,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            };
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
            let sizes = scenarios::Sizes {
                requests,
                schedule,
                duration_s,
                slowdown,
                disk: machine.disk,
                durability: machine.durability,
            };
            let run = scenario.execute(&profile, seed, &sizes);
            eprintln!("seed {seed}; replay: {}", run.report.replay_command());
            let outputs: [(_, _, &dyn Fn() -> String); 2] = [
                (trace, "trace", &|| run.trace.to_json_lines()),
                (timeline, "timeline", &|| {
                    fazt_sim::timeline::chrome(&run.trace).to_string()
                }),
            ];
            for (path, what, contents) in outputs {
                let Some(path) = path else { continue };
                if let Err(error) = std::fs::write(&path, contents()) {
                    eprintln!(
                        "error: cannot write the {what} to {}: {error}",
                        path.display()
                    );
                    return ExitCode::from(2);
                }
            }
            if let Some(path) = save_schedule {
                let saved = match &run.report.schedule {
                    Some(applied) => applied.save(&path).map_err(|error| {
                        format!("cannot write the schedule to {}: {error}", path.display())
                    }),
                    None => Err(format!(
                        "scenario {} takes no fault schedule",
                        run.report.scenario
                    )),
                };
                if let Err(error) = saved {
                    eprintln!("error: {error}");
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
        Command::Sweep {
            scenario,
            seeds,
            profile,
            cpus,
            requests,
            machine,
            json,
        } => match (
            scenarios::by_name(&scenario),
            profile::by_name(&profile, cpus),
        ) {
            (Ok(scenario), Ok(profile)) => {
                let sizes = scenarios::Sizes {
                    requests,
                    disk: machine.disk,
                    durability: machine.durability,
                    ..scenarios::Sizes::default()
                };
                sweep::run(&scenario, &profile, seeds, &sizes, json)
            }
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Suite => {
            let results = match suite::run_all() {
                Ok(results) => results,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            };
            print!("{}", suite::render_table(&results, true));
            let missed = results.iter().filter(|r| r.verdict.is_err()).count();
            println!("{} cells, {missed} missed their expectation", results.len());
            if missed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Test(args) => app_test_command(args),
        Command::Replay(args) => replay_command(args),
        Command::Sensitivity {
            scenario,
            seeds,
            profile,
            cpus,
            disk,
        } => sensitivity_command(&scenario, seeds, &profile, cpus, disk),
    }
}

fn replay_command(args: ReplayArgs) -> ExitCode {
    let options = app_test::journal_replay::ReplayOptions {
        journal: args.journal.clone(),
        search: args.search.options(&args.app, &args.seeds),
        mutate: args.mutate,
        case: args.search.replay.clone(),
    };
    let summary = match app_test::journal_replay::replay(&options, &mut |line| eprintln!("{line}"))
    {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    report(
        &summary.summary,
        args.search.junit.as_deref(),
        args.search.json,
        &|| serde_json::to_string_pretty(&summary).expect("a summary serializes"),
        &|| summary.render(),
    )
}

/// Writes the JUnit report if asked, prints the summary (JSON or text) and gives the
/// exit code: 1 when a run broke an invariant.
fn report(
    summary: &app_test::summary::Summary,
    junit: Option<&std::path::Path>,
    json: bool,
    as_json: &dyn Fn() -> String,
    as_text: &dyn Fn() -> String,
) -> ExitCode {
    if let Some(path) = junit {
        if let Err(error) = std::fs::write(path, app_test::junit::render(summary)) {
            eprintln!("error: cannot write {}: {error}", path.display());
            return ExitCode::from(2);
        }
    }
    if json {
        println!("{}", as_json());
    } else {
        print!("{}", as_text());
    }
    if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn sensitivity_command(
    scenario: &str,
    seeds: std::ops::RangeInclusive<u64>,
    profile: &str,
    cpus: u32,
    disk: DiskModel,
) -> ExitCode {
    let table = scenarios::by_name(scenario)
        .and_then(|scenario| Ok((scenario, profile::by_name(profile, cpus)?)))
        .and_then(|(scenario, profile)| {
            let sizes = scenarios::Sizes {
                disk: Some(disk),
                ..scenarios::Sizes::default()
            };
            sensitivity::measure(
                &scenario,
                &profile,
                seeds,
                &sizes,
                &sensitivity::WEIGHTS_PER_MILLE,
                &sensitivity::MEANS_US,
            )
        });
    match table {
        Ok(table) => {
            print!("{}", table.render());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn app_test_command(args: TestArgs) -> ExitCode {
    let summary = match &args.search.replay {
        Some(case) => app_test::replay(&args.dir, case),
        None => app_test::test(&args.search.options(&args.dir, &args.seeds), &mut |line| {
            eprintln!("{line}")
        }),
    };
    let summary = match summary {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    report(
        &summary,
        args.search.junit.as_deref(),
        args.search.json,
        &|| serde_json::to_string_pretty(&summary).expect("a summary serializes"),
        &|| summary.render(),
    )
}
