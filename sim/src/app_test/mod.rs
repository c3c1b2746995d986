//! `fazt-sim test DIR`: an app author's own app under the simulator (issue 21).
//!
//! The app in `DIR` (the layout `fazt deploy` takes) runs alone on the engine's server
//! host under each seed, with the clients of its workload file ([`workload`]) and a
//! fault schedule drawn by the property search ([`fault_kinds`]); each run is checked
//! against the app's own JavaScript invariants ([`js_invariants`]) and the engine's
//! generic ones ([`generic`]). The first failure is shrunk ([`shrink`]), stored as a
//! replayable case ([`case`]) and explained; [`junit`] and [`summary`] give CI its
//! reports.

pub mod case;
pub mod fault_kinds;
pub mod generate;
pub mod generic;
pub mod journal;
pub mod journal_mutate;
pub mod journal_replay;
pub mod js_invariants;
pub mod junit;
pub mod run;
pub mod shrink;
pub mod storage_view;
pub mod summary;
pub mod workload;

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use fazt_chaos::Schedule;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde::Serialize;

use crate::profile::{self, Profile};
use fault_kinds::FaultKinds;
use js_invariants::Invariants;
use run::{Ran, Staged};
use summary::{Failure, ProfileSummary, Summary};
use workload::{Plan, Workload};

/// One invariant's verdict on one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub name: String,
    /// What broke it; `None`: it held.
    pub failure: Option<String>,
}

/// What `fazt-sim test` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    pub dir: PathBuf,
    pub seeds: RangeInclusive<u64>,
    pub faults: FaultKinds,
    /// Profiles to run under: `hardened` and those of `--profile`.
    pub profiles: Vec<String>,
    /// Where a shrunk failing case is stored.
    pub cases_dir: PathBuf,
}

/// Everything one app's test needs, loaded and checked once.
pub struct App {
    pub dir: PathBuf,
    pub workload: Workload,
    pub invariants: Option<Invariants>,
    pub staged: Staged,
}

impl App {
    pub fn load(dir: &Path) -> Result<App, String> {
        Ok(App {
            dir: dir.to_owned(),
            workload: Workload::load(dir)?,
            invariants: Invariants::load(dir)?,
            staged: Staged::new(dir)?,
        })
    }

    /// Plans and schedules of this app under `profile`, with `faults`.
    pub fn cases(&self, profile: &Profile, faults: FaultKinds) -> BoxedStrategy<(Plan, Schedule)> {
        let span = self.workload.span_ms();
        let schedules = faults.schedules(span, profile, self.workload.faults_max);
        (self.workload.plans(), schedules).boxed()
    }

    /// Runs one case and judges it: every verdict, the app's first.
    pub fn judge(
        &self,
        profile: &Profile,
        seed: u64,
        plan: &Plan,
        schedule: &Schedule,
    ) -> (Ran, Vec<Verdict>) {
        let ran = run::run(&self.staged, &self.workload, profile, seed, plan, schedule);
        let mut verdicts = match &self.invariants {
            Some(invariants) => invariants.check(&ran.storage, &ran.history),
            None => Vec::new(),
        };
        verdicts.extend(generic::check(profile, &ran));
        (ran, verdicts)
    }
}

/// The names of the verdicts that failed.
pub fn broken(verdicts: &[Verdict]) -> Vec<String> {
    verdicts
        .iter()
        .filter(|v| v.failure.is_some())
        .map(|v| v.name.clone())
        .collect()
}

/// The case a seed draws: the same seed always draws the same plan and schedule, and
/// its tree shrinks them.
pub fn draw(
    strategy: &BoxedStrategy<(Plan, Schedule)>,
    seed: u64,
) -> Box<dyn ValueTree<Value = (Plan, Schedule)>> {
    let mut runner = TestRunner::new(Config {
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    });
    strategy
        .new_tree(&mut runner)
        .expect("plans and schedules are never rejected")
}

/// Runs the app's test: every profile × seed; the first failure shrunk and stored.
pub fn test(options: &Options, progress: &mut dyn FnMut(&str)) -> Result<Summary, String> {
    let app = App::load(&options.dir)?;
    let search = Search {
        cases: &|profile: &Profile| app.cases(profile, options.faults),
        replay: &|case: &Path| case::replay_command(&options.dir, case),
    };
    search.run(&app, options, progress, &mut |_, _, _, _| {})
}

/// What a search over seeds draws, and how its failing case is replayed: `fazt-sim
/// test` draws from the workload file, `fazt-sim replay` from a journal.
pub struct Search<'a> {
    /// The cases of a profile (plans and schedules, shrinkable).
    pub cases: &'a dyn Fn(&Profile) -> BoxedStrategy<(Plan, Schedule)>,
    /// The command replaying a stored case.
    pub replay: &'a dyn Fn(&Path) -> String,
}

impl Search<'_> {
    /// Every profile × seed of `options`, each run shown to `observe` (profile, seed,
    /// plan, run); the first failure shrunk and stored.
    pub fn run(
        &self,
        app: &App,
        options: &Options,
        progress: &mut dyn FnMut(&str),
        observe: &mut dyn FnMut(&Profile, u64, &Plan, &Ran),
    ) -> Result<Summary, String> {
        let mut summary = Summary::new(app, &options.seeds, options.faults);
        for name in &options.profiles {
            let profile = profile::by_name(name, 1)?;
            let strategy = (self.cases)(&profile);
            let mut profile_summary = ProfileSummary::new(&profile);
            for seed in options.seeds.clone() {
                let mut tree = draw(&strategy, seed);
                let (plan, schedule) = tree.current();
                let (ran, verdicts) = app.judge(&profile, seed, &plan, &schedule);
                observe(&profile, seed, &plan, &ran);
                profile_summary.add(seed, &verdicts);
                let broke = broken(&verdicts);
                if broke.is_empty() {
                    continue;
                }
                progress(&format!(
                    "{} seed {seed}: broke {}",
                    profile.name,
                    broke.join(", ")
                ));
                if summary.failure.is_none() {
                    progress("shrinking...");
                    let minimal = shrink::shrink(app, &profile, seed, tree.as_mut(), &broke);
                    let case = case::Case::new(app, &profile, seed, options.faults, minimal);
                    let path = case.store(&options.cases_dir, &app.staged.app)?;
                    let (ran, verdicts) = app.judge(&profile, seed, &case.plan, &case.schedule);
                    let replay = (self.replay)(&path);
                    summary.failure = Some(Failure::new(replay, path, &case, &ran, &verdicts));
                }
            }
            summary.profiles.push(profile_summary);
        }
        Ok(summary)
    }
}

/// Replays the case stored at `case_path` against the app in `dir`, under the case's
/// profile and seed.
pub fn replay(dir: &Path, case_path: &Path) -> Result<Summary, String> {
    let app = App::load(dir)?;
    let replay = case::replay_command(dir, case_path);
    replay_case(&app, case_path, &replay).map(|(summary, _, _)| summary)
}

/// Runs the case stored at `case_path` against `app` (whose workload holds the case's
/// templates), under the case's profile and seed; gives the summary, the plan and
/// the run.
pub fn replay_case(
    app: &App,
    case_path: &Path,
    replay_command: &str,
) -> Result<(Summary, Plan, Ran), String> {
    let case = case::Case::load(case_path)?;
    if case.app != app.staged.app {
        return Err(format!(
            "{} is a case of the app {}, not {}",
            case_path.display(),
            case.app,
            app.staged.app
        ));
    }
    let profile = profile::by_name(&case.profile, 1)?;
    let (ran, verdicts) = app.judge(&profile, case.seed, &case.plan, &case.schedule);
    let mut summary = Summary::new(app, &(case.seed..=case.seed), case.faults);
    let mut profile_summary = ProfileSummary::new(&profile);
    profile_summary.add(case.seed, &verdicts);
    summary.profiles.push(profile_summary);
    if !broken(&verdicts).is_empty() {
        let replay = replay_command.to_owned();
        let failure = Failure::new(replay, case_path.to_owned(), &case, &ran, &verdicts);
        summary.failure = Some(failure);
    }
    Ok((summary, case.plan, ran))
}
