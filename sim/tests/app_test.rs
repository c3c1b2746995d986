//! `fazt-sim test DIR` on the examples: the lost-update app is found out, shrunk,
//! stored, explained and replayed (exit 1); its fixed twin passes under every kind of
//! fault (exit 0); the JUnit report has the structure CI tools read and validates
//! against the JUnit schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/examples")
        .join(name)
}

fn fazt_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fazt-sim"))
        .args(args)
        .output()
        .expect("fazt-sim runs")
}

fn json_summary(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "a JSON summary on stdout ({error}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

const INVARIANT: &str = "countEqualsAcknowledgedIncrements";

#[test]
fn the_lost_update_is_found_shrunk_stored_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let app = example("lost-update");
    let cases = dir.path().join("cases");
    let junit = dir.path().join("junit.xml");
    let output = fazt_sim(&[
        "test",
        app.to_str().unwrap(),
        "--seeds",
        "1..4",
        "--cases",
        cases.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a lost update fails the test"
    );
    let summary = json_summary(&output);
    let failure = &summary["failure"];
    let broke = failure["broke"].as_array().unwrap();
    assert_eq!(broke[0]["name"], INVARIANT);
    assert!(
        broke[0]["failure"]
            .as_str()
            .unwrap()
            .contains("lost update"),
        "{failure}"
    );
    // 4 clients × 5 requests drawn; two overlapping increments after a first are
    // enough to lose one.
    let requests = failure["requests"].as_u64().unwrap();
    assert!(requests <= 4, "shrunk to {requests} requests: {failure}");
    assert!(
        !failure["concurrent"].as_array().unwrap().is_empty(),
        "the race's requests are named: {failure}"
    );
    let case = failure["case"].as_str().unwrap();
    assert!(Path::new(case).is_file());
    let replay = failure["replay"].as_str().unwrap();
    assert!(
        replay.starts_with("fazt-sim test ") && replay.ends_with(case),
        "{replay}"
    );

    let again = fazt_sim(&["test", app.to_str().unwrap(), "--replay", case, "--json"]);
    assert_eq!(again.status.code(), Some(1), "the stored case still fails");
    let replayed = json_summary(&again);
    assert_eq!(replayed["failure"]["broke"][0]["name"], INVARIANT);
    assert_eq!(
        replayed["failure"]["history"], failure["history"],
        "it replays exactly"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let failures = check_junit(&xml);
    assert_eq!(failures, vec![INVARIANT.to_owned()], "{xml}");
    validate_junit(&junit);
}

#[test]
fn the_fixed_twin_passes_under_faults() {
    let dir = tempfile::tempdir().unwrap();
    let app = example("lost-update-fixed");
    let junit = dir.path().join("junit.xml");
    let output = fazt_sim(&[
        "test",
        app.to_str().unwrap(),
        "--seeds",
        "1..9",
        "--faults",
        "all",
        "--cases",
        dir.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--json",
    ]);
    let summary = json_summary(&output);
    assert_eq!(output.status.code(), Some(0), "{summary}");
    assert_eq!(summary["profiles"][0]["runs"], 8);
    assert!(summary["failure"].is_null());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(check_junit(&xml).is_empty(), "{xml}");
    validate_junit(&junit);
    assert!(xml.contains(&format!("<testcase name=\"{INVARIANT}\"")));
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let output = fazt_sim(&["test", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fazt-sim.json"), "{stderr}");
    let faults = fazt_sim(&["test", ".", "--faults", "disk"]);
    assert_eq!(faults.status.code(), Some(2));
}

/// Validates the JUnit report at `path` against the JUnit schema Jenkins reads
/// (fixtures/junit/junit-10.xsd) with xmllint (Debian's libxml2-utils, which .ci/run
/// installs). Without xmllint the check is skipped, except under CI, where it fails.
fn validate_junit(path: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/junit/junit-10.xsd");
    let output = match Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(path)
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "xmllint (libxml2-utils) is missing: CI must validate the JUnit report"
            );
            eprintln!("xmllint not found: the JUnit report is not validated against the schema");
            return;
        }
        Err(error) => panic!("cannot run xmllint: {error}"),
    };
    assert!(
        output.status.success(),
        "the JUnit report does not validate against {}:\n{}\n{}",
        schema.display(),
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(path).unwrap()
    );
}

/// Checks `xml` is well formed and has JUnit's structure: `<testsuites>` holding
/// `<testsuite>`s holding `<testcase>`s, each with the attributes CI tools require, a
/// failed case holding one `<failure message type>`, the counts agreeing with the
/// cases. Gives the names of the failed test cases.
fn check_junit(xml: &str) -> Vec<String> {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .expect("an XML declaration");
    let required: &[(&str, &[&str], Option<&str>)] = &[
        ("testsuites", &["tests", "failures"], None),
        (
            "testsuite",
            &["name", "tests", "failures"],
            Some("testsuites"),
        ),
        ("testcase", &["name", "classname"], Some("testsuite")),
        ("failure", &["message", "type"], Some("testcase")),
    ];
    let mut open: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let (mut cases, mut failed) = (0, Vec::new());
    let mut suite_counts = (0, 0);
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        check_text(text);
        let end = rest[start..].find('>').expect("a closed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let (open_name, attributes) = open.pop().expect("a closing tag closes an open one");
            assert_eq!(open_name, name, "tags nest");
            if name == "testsuite" {
                let count = |key: &str| -> usize {
                    attributes
                        .iter()
                        .find(|(k, _)| k == key)
                        .unwrap()
                        .1
                        .parse()
                        .unwrap()
                };
                assert_eq!(
                    (count("tests"), count("failures")),
                    suite_counts,
                    "suite counts"
                );
                suite_counts = (0, 0);
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
        let attributes = parse_attributes(attributes);
        let (_, keys, parent) = required
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("unexpected element <{name}>"));
        for key in *keys {
            assert!(
                attributes.iter().any(|(k, _)| k == key),
                "<{name}> lacks {key}"
            );
        }
        assert_eq!(
            open.last().map(|(n, _)| n.as_str()),
            *parent,
            "<{name}>'s parent"
        );
        match name {
            "testcase" => {
                cases += 1;
                suite_counts.0 += 1;
            }
            "failure" => {
                suite_counts.1 += 1;
                let case = &open.last().unwrap().1;
                failed.push(case.iter().find(|(k, _)| k == "name").unwrap().1.clone());
            }
            _ => {}
        }
        if !self_closing {
            open.push((name.to_owned(), attributes));
        }
    }
    assert!(open.is_empty(), "every element is closed");
    assert!(cases > 0, "at least one test case");
    failed
}

/// `key="value"` pairs; panics on anything else.
fn parse_attributes(mut text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        text = text.trim_start();
        if text.is_empty() {
            return out;
        }
        let (key, after) = text.split_once("=\"").expect("key=\"value\"");
        let (value, after) = after.split_once('"').expect("a closing quote");
        assert!(!value.contains('<'), "escaped: {value}");
        check_text(value);
        out.push((key.to_owned(), value.to_owned()));
        text = after;
    }
}

/// Text holds no markup: no `>`, and each `&` begins one of XML's entities.
fn check_text(text: &str) {
    assert!(!text.contains('>'), "unescaped > in {text:?}");
    for (at, _) in text.match_indices('&') {
        let entity = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"];
        assert!(
            entity.iter().any(|e| text[at..].starts_with(e)),
            "a bare & in {text:?}"
        );
    }
}
