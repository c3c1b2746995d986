//! The test's JUnit XML report (`--junit FILE`), the format GitHub Actions, GitLab and
//! Jenkins display: one `<testsuite>` per profile, one `<testcase>` per invariant over
//! the seed range, failed with the seeds that broke it and the first failure's message.

use std::fmt::Write;

use super::summary::Summary;

/// The report of `summary` as JUnit XML.
pub fn render(summary: &Summary) -> String {
    let tests: usize = summary.profiles.iter().map(|p| p.invariants.len()).sum();
    let failures: usize = summary
        .profiles
        .iter()
        .flat_map(|p| &p.invariants)
        .filter(|i| !i.failed_seeds.is_empty())
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"fazt-sim test {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">",
        escape(&summary.app)
    );
    for profile in &summary.profiles {
        let failed = profile
            .invariants
            .iter()
            .filter(|i| !i.failed_seeds.is_empty())
            .count();
        let suite = format!(
            "{}.{} seeds {} faults {}",
            summary.app, profile.profile, summary.seeds, summary.faults
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\">",
            escape(&suite),
            profile.invariants.len()
        );
        for invariant in &profile.invariants {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\"",
                escape(&invariant.name),
                escape(&suite)
            );
            match &invariant.first_failure {
                None => out += "/>\n",
                Some(message) => {
                    let seeds = format!("broken on seeds {:?}", invariant.failed_seeds);
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}\n{}</failure>\n    </testcase>",
                        escape(message),
                        escape(&invariant.name),
                        escape(&seeds),
                        escape(message)
                    );
                }
            }
        }
        out += "  </testsuite>\n";
    }
    out += "</testsuites>\n";
    out
}

/// `text` safe in XML attributes and text.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&apos;",
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
