//! A sweep's failure causes grouped by kind, so that hundreds of seeds read in a few
//! lines: what the client was told × which fault, with counts and example seeds
//! (`fazt-sim sweep ... --json` keeps every cause of every seed).
//!
//! A cause reads `<told> (<fault> at <n> ms)` or `<told>: <root cause> (<details>)`
//! (`run/property.rs`, `run/http.rs`); its kind drops the times and ids.

use std::collections::BTreeMap;

use crate::causes::cause_class;
use crate::report::Report;

/// Example seeds kept per group: two show whether a kind is one seed's accident.
pub const EXAMPLE_SEEDS: usize = 2;

/// The requests of one kind of failure across a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// What the client was told: `outcome unknown`, `definite failure`, ...
    pub told: String,
    /// Which fault (or root cause) explains it; `no fault` when none does.
    pub fault: String,
    pub requests: u64,
    /// The first seeds it happened in, at most [`EXAMPLE_SEEDS`].
    pub seeds: Vec<u64>,
}

/// The kind of `cause`: (what the client was told, which fault).
pub fn kind_of(cause: &str) -> (String, String) {
    let cut = [cause.find(" ("), cause.find(": ")]
        .into_iter()
        .flatten()
        .min();
    let Some(at) = cut else {
        return (cause.to_owned(), "no fault".to_owned());
    };
    let (told, rest) = cause.split_at(at);
    let fault = match rest.strip_prefix(" (") {
        Some(inside) => inside.trim_end_matches(')').to_owned(),
        None => cause_class(&rest[2..]),
    };
    // The fault's name: its words up to the first number or `at`.
    let name: Vec<&str> = fault
        .split(' ')
        .take_while(|word| *word != "at" && !word.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    (told.to_owned(), name.join(" "))
}

/// The causes of `reports` by kind, most requests first.
pub fn group(reports: &[Report]) -> Vec<Group> {
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for report in reports {
        for (cause, n) in &report.causes {
            let (told, fault) = kind_of(cause);
            let group = groups
                .entry((told.clone(), fault.clone()))
                .or_insert(Group {
                    told,
                    fault,
                    requests: 0,
                    seeds: Vec::new(),
                });
            group.requests += n;
            if group.seeds.len() < EXAMPLE_SEEDS && !group.seeds.contains(&report.seed) {
                group.seeds.push(report.seed);
            }
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.requests));
    groups
}

/// One line per group: `  <told> × <fault>: <n> requests (seeds 3, 17)`.
pub fn render(groups: &[Group]) -> String {
    groups
        .iter()
        .map(|g| {
            let seeds: Vec<String> = g.seeds.iter().map(u64::to_string).collect();
            format!(
                "  {} × {}: {} requests (seeds {})\n",
                g.told,
                g.fault,
                g.requests,
                seeds.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Latency;

    #[test]
    fn a_cause_kind_drops_times_and_details() {
        assert_eq!(
            kind_of("outcome unknown (server crash at 340 ms)"),
            ("outcome unknown".into(), "server crash".into())
        );
        assert_eq!(
            kind_of("definite failure (storage-before-commit at 2 ms)"),
            ("definite failure".into(), "storage-before-commit".into())
        );
        assert_eq!(
            kind_of("definite failure: stale-interrupt (watcher of execution 3)"),
            ("definite failure".into(), "stale-interrupt".into())
        );
        assert_eq!(
            kind_of("outcome unknown"),
            ("outcome unknown".into(), "no fault".into())
        );
    }

    #[test]
    fn seeds_of_one_kind_group_with_two_examples() {
        let profile = crate::profile::by_name("hardened", 1).expect("hardened exists");
        let report = |seed: u64, cause: &str, n: u64| {
            let trace = crate::trace::Trace::default();
            let mut report = Report::new("sweep", &profile, seed, &trace, Latency::default(), 0);
            report.causes.insert(cause.into(), n);
            report
        };
        let reports = [
            report(1, "outcome unknown (server crash at 100 ms)", 2),
            report(2, "outcome unknown (server crash at 300 ms)", 1),
            report(3, "outcome unknown (network hold at 200 ms)", 4),
            report(4, "definite failure (storage-busy at 3 ms)", 1),
        ];
        let groups = group(&reports);
        assert_eq!(groups.len(), 3);
        assert_eq!(
            (groups[0].fault.as_str(), groups[0].requests),
            ("network hold", 4)
        );
        assert_eq!(
            (groups[1].fault.as_str(), groups[1].requests),
            ("server crash", 3)
        );
        assert_eq!(groups[1].seeds, vec![1, 2]);
        assert_eq!(groups[2].fault, "storage-busy");
    }
}
