//! `fazt-sim replay JOURNAL --app DIR`: production traffic, recorded by `fazt server
//! start --journal`, run against the app in the simulator with its arrival times, under
//! any profile and fault schedule, mutated by the search if asked ([`journal_mutate`]).
//! The runs are judged, shrunk and reported as `fazt-sim test` does ([`Search`]); each
//! request's recorded status is set beside its replayed one.
//!
//! [`journal_mutate`]: super::journal_mutate

use std::fmt::Write;
use std::path::{Path, PathBuf};

use proptest::strategy::Strategy;
use serde::Serialize;

use super::journal::Journal;
use super::journal_mutate::{self, SHIFT_MS_MAX};
use super::js_invariants::Invariants;
use super::run::{Exchange, Ran, Staged};
use super::summary::Summary;
use super::workload::{Plan, Workload};
use super::{replay_case, App, Options, Search};

/// What `fazt-sim replay` was asked.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    pub journal: PathBuf,
    /// The search's options; `dir` is the app's.
    pub search: Options,
    pub mutate: bool,
    /// Run the stored case in this file instead of the seeds.
    pub case: Option<PathBuf>,
}

/// One request of the journal: what production answered, what the first replay did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusComparison {
    /// `file:line` in the journal.
    pub source: String,
    pub method: String,
    pub path: String,
    pub body: Option<serde_json::Value>,
    pub recorded: u16,
    /// When the replay sent it, virtual µs from the start; `None`: not sent.
    pub sent_us: Option<u64>,
    /// `None`: not sent (dropped), or no answer.
    pub replayed: Option<u16>,
}

/// The replay's summary: the search's, with the requests compared and those skipped.
#[derive(Debug, Serialize)]
pub struct ReplaySummary {
    pub journal: PathBuf,
    #[serde(flatten)]
    pub summary: Summary,
    /// The first run's requests (first profile, first seed), in journal order.
    pub statuses: Vec<StatusComparison>,
    /// Journal lines not replayed, with why.
    pub skipped: Vec<String>,
}

impl ReplaySummary {
    /// Requests whose replayed status differs from the recorded one.
    pub fn mismatched(&self) -> usize {
        self.statuses
            .iter()
            .filter(|s| s.replayed != Some(s.recorded))
            .count()
    }

    /// The summary for a person.
    pub fn render(&self) -> String {
        let mut out = format!(
            "journal {}: {} requests replayed, {} skipped; {} answered differently in the first run\n",
            self.journal.display(),
            self.statuses.len(),
            self.skipped.len(),
            self.mismatched()
        );
        for status in &self.statuses {
            let replayed = status
                .replayed
                .map_or_else(|| "-".to_owned(), |s| s.to_string());
            let mark = if status.replayed == Some(status.recorded) {
                ""
            } else {
                "  differs"
            };
            let _ = writeln!(
                out,
                "  {:<28} {} {}  recorded {}  replayed {replayed}{mark}",
                status.source, status.method, status.path, status.recorded
            );
        }
        for skipped in &self.skipped {
            let _ = writeln!(out, "  skipped {skipped}");
        }
        out + &self.summary.render()
    }
}

/// Replays the journal: every profile × seed, or the stored case.
pub fn replay(
    options: &ReplayOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<ReplaySummary, String> {
    let dir = &options.search.dir;
    let staged = Staged::new(dir)?;
    let journal = Journal::read(&options.journal, &staged.app)?;
    let shift_ms = if options.mutate { SHIFT_MS_MAX } else { 0 };
    let own = dir
        .join(super::workload::FILE)
        .is_file()
        .then(|| Workload::load(dir))
        .transpose()?;
    let app = App {
        dir: dir.clone(),
        workload: journal.workload(own.as_ref(), shift_ms),
        invariants: Invariants::load(dir)?,
        staged,
    };
    let command = |case: &Path| replay_command(options, case);
    let mut first: Option<Vec<StatusComparison>> = None;
    let summary = match &options.case {
        Some(case) => {
            let (summary, plan, ran) = replay_case(&app, case, &command(case))?;
            first = Some(compare(&journal, &plan, &ran));
            summary
        }
        None => {
            let faults = options.search.faults;
            let cases = |profile: &_| {
                let span = app.workload.span_ms();
                let schedules = faults.schedules(span, profile, app.workload.faults_max);
                (journal_mutate::plans(&journal, options.mutate), schedules).boxed()
            };
            let search = Search {
                cases: &cases,
                replay: &command,
            };
            search.run(&app, &options.search, progress, &mut |_, _, plan, ran| {
                first.get_or_insert_with(|| compare(&journal, plan, ran));
            })?
        }
    };
    Ok(ReplaySummary {
        journal: options.journal.clone(),
        summary,
        statuses: first.unwrap_or_default(),
        skipped: journal.skipped,
    })
}

/// Each journaled request beside its first replay in `ran`, which ran `plan` (a
/// duplicate's copies after the first are not compared).
fn compare(journal: &Journal, plan: &Plan, ran: &Ran) -> Vec<StatusComparison> {
    let mut replayed: Vec<Option<&Exchange>> = vec![None; journal.requests.len()];
    for exchange in &ran.history {
        let index = plan
            .get(exchange.client)
            .and_then(|steps| steps.first())
            .and_then(|step| step.template.as_deref())
            .and_then(Journal::index_of);
        if let Some(slot) = index.and_then(|index| replayed.get_mut(index)) {
            slot.get_or_insert(exchange);
        }
    }
    journal
        .requests
        .iter()
        .zip(replayed)
        .map(|(request, replayed)| StatusComparison {
            source: request.source.clone(),
            method: request.entry.method.clone(),
            path: request.entry.path.clone(),
            body: request.body.clone(),
            recorded: request.entry.status,
            sent_us: replayed.map(|e| e.sent_us),
            replayed: replayed.and_then(|e| e.status),
        })
        .collect()
}

/// The command that runs the stored case `case` of this replay again.
fn replay_command(options: &ReplayOptions, case: &Path) -> String {
    format!(
        "fazt-sim replay {} --app {}{} --replay {}",
        options.journal.display(),
        options.search.dir.display(),
        if options.mutate { " --mutate" } else { "" },
        case.display()
    )
}
