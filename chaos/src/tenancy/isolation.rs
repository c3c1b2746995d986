//! Invariant `isolation`: no app observes anything another app wrote.
//!
//! What it verifies: workloads put a canary, `fz-canary:<app>:<request>`, in everything
//! an app writes or sends (stored values, request bodies, cookies, bearer tokens); every
//! text an app got back (a response body) or holds (its rows of the final database
//! file) is scanned, and a canary naming another app is a violation. One app's write
//! surfacing in another's response or storage, and one app's request (its cookie, its
//! token, its body) stashed by another's code and stored in that app's storage, both
//! show this way.
//!
//! What it does not verify: channels that carry no canary (timing, counts, a value
//! without one, an error's wording); what an app observed but neither answered nor
//! stored; that an app sees its own writes (the history checks do); apps the run did
//! not scan.

use crate::invariants::Violation;

/// What every canary starts with.
pub const CANARY_PREFIX: &str = "fz-canary:";

/// Foreign canaries listed in one violation; the rest are counted.
const LISTED_MAX: usize = 3;

/// The canary of `request` of `app`.
pub fn canary(app: &str, request: &str) -> String {
    format!("{CANARY_PREFIX}{app}:{request}")
}

/// A text one app observed: what it is (`response to r0-3`, `kv row planted`) and its
/// bytes.
pub struct Seen<'a> {
    /// The app that observed it.
    pub app: &'a str,
    pub what: String,
    pub text: &'a [u8],
}

/// One violation per text that holds another app's canary, naming the canaries (and
/// through them the requests that wrote or sent them).
pub fn check_isolation<'a>(seen: impl IntoIterator<Item = Seen<'a>>) -> Vec<Violation> {
    let mut violations = Vec::new();
    for item in seen {
        let foreign: Vec<(String, String)> = canaries(item.text)
            .filter(|(app, _)| app != item.app)
            .collect();
        if foreign.is_empty() {
            continue;
        }
        let mut listed: Vec<String> = foreign
            .iter()
            .map(|(app, request)| format!("{app}:{request}"))
            .collect();
        listed.dedup();
        let more = listed.len().saturating_sub(LISTED_MAX);
        listed.truncate(LISTED_MAX);
        let detail = format!(
            "{} of app {} holds {} canar{} of other apps ({}{})",
            item.what,
            item.app,
            foreign.len(),
            if foreign.len() == 1 { "y" } else { "ies" },
            listed.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
        let mut involved = vec![item.what.clone()];
        involved.extend(listed);
        violations.push(Violation {
            invariant: "isolation",
            detail,
            involved,
        });
    }
    violations
}

/// Every canary in `text`, as (app, request).
fn canaries(text: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    let prefix = CANARY_PREFIX.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at + prefix.len() <= text.len() {
            let start = at;
            at += 1;
            if &text[start..start + prefix.len()] != prefix {
                continue;
            }
            let rest = &text[start + prefix.len()..];
            let app = word(rest);
            let after_app = &rest[app.len()..];
            if app.is_empty() || after_app.first() != Some(&b':') {
                continue;
            }
            let request = word(&after_app[1..]);
            at = start + prefix.len() + app.len() + 1 + request.len();
            return Some((
                String::from_utf8_lossy(app).into_owned(),
                String::from_utf8_lossy(request).into_owned(),
            ));
        }
        None
    })
}

/// The longest prefix of app-name and request-id characters.
fn word(text: &[u8]) -> &[u8] {
    let end = text
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'))
        .unwrap_or(text.len());
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen<'a>(app: &'a str, text: &'a str) -> Seen<'a> {
        Seen {
            app,
            what: "response to x".into(),
            text: text.as_bytes(),
        }
    }

    #[test]
    fn an_apps_own_canaries_are_fine_and_anothers_are_named() {
        let own = canary("registers", "r0-1");
        assert!(check_isolation([seen("registers", &own)]).is_empty());
        let text = format!(
            "{{\"value\":\"pwned {}\",\"cookie\":\"s={own}\"}}",
            canary("attacker", "a1-2")
        );
        let violations = check_isolation([seen("registers", &text)]);
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].invariant, "isolation");
        assert!(
            violations[0].detail.contains("attacker:a1-2"),
            "{}",
            violations[0]
        );
        assert!(!violations[0].detail.contains("registers:r0-1"));
    }

    #[test]
    fn a_bare_prefix_is_no_canary() {
        assert!(check_isolation([seen("a", "fz-canary: fz-canary:b fz-canary:")]).is_empty());
    }
}
