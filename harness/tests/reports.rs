//! Retries and flaky tests in every format, and the JUnit report (`--format junit`,
//! PORTALTEST_JUNIT), end to end on the `retries` sample.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

mod common;
use common::{run_sample, Run};

fn retries(args: &[&str], env: &[(&str, &str)]) -> Run {
    static BINS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let bins = BINS.get_or_init(|| common::build_samples(&["retries"]));
    run_sample(&bins["retries"], args, env)
}

#[test]
fn a_test_that_passes_on_a_retry_is_flaky_and_one_that_always_fails_fails() {
    let r = retries(&[], &[]);
    r.assert_code(101)
        .assert_stdout("test flaky_once ... ok (flaky: passed on try 2)")
        .assert_stdout("test always_fails ... FAILED")
        // Without PORTALTEST_RETRIES a test without `retries` runs once.
        .assert_stdout("test flaky_without_attribute ... FAILED")
        .assert_stdout("---- try 1 of 2 ----\ntry 1\n")
        .assert_stdout("---- try 2 of 2 ----\ntry 2\n")
        .assert_stdout("flaky (passed on a retry):\n    flaky_once (passed on try 2)")
        .assert_stdout("test result: FAILED. 2 passed; 2 failed; 1 ignored;");
    let r = retries(&[], &[("PORTALTEST_RETRIES", "1")]);
    r.assert_code(101)
        .assert_stdout("test flaky_without_attribute ... ok (flaky: passed on try 2)")
        .assert_stdout("test result: FAILED. 3 passed; 1 failed; 1 ignored;");
}

#[test]
fn json_marks_flaky_results() {
    let r = retries(&["-Z", "unstable-options", "--format", "json"], &[]);
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let result = |name: &str| {
        events
            .iter()
            .find(|e| e["name"] == name && e["event"] != "started")
            .unwrap_or_else(|| panic!("no result for {name}"))
            .clone()
    };
    assert_eq!(result("flaky_once")["event"], "ok");
    assert_eq!(result("flaky_once")["flaky"], true);
    assert_eq!(result("flaky_once")["tries"], 2);
    assert_eq!(result("always_fails")["event"], "failed");
    assert!(result("passes").get("flaky").is_none());
}

#[test]
fn the_junit_report_has_every_test_with_its_failures_and_reruns() {
    let path = std::env::temp_dir().join(format!("portaltest-junit-{}.xml", std::process::id()));
    let _ = std::fs::remove_file(&path);
    // The console keeps its usual output.
    let r = retries(&[], &[("PORTALTEST_JUNIT", path.to_str().unwrap())]);
    r.assert_code(101).assert_stdout("test flaky_once ... ok");
    let xml = std::fs::read_to_string(&path).expect("the report was written");
    let _ = std::fs::remove_file(&path);
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    assert_eq!(report.tests, 5);
    assert_eq!(report.failures, 2);
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "retries");
    let case = |name: &str| {
        suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap_or_else(|| panic!("no testcase {name}"))
    };
    match &case("flaky_once").status {
        quick_junit::TestCaseStatus::Success { flaky_runs } => assert_eq!(flaky_runs.len(), 1),
        other => panic!("flaky_once: {other:?}"),
    }
    match &case("always_fails").status {
        quick_junit::TestCaseStatus::NonSuccess {
            message, reruns, ..
        } => {
            assert_eq!(
                message.as_ref().map(|m| m.as_str()),
                Some("flaky failure on try 2")
            );
            assert_eq!(reruns.runs.len(), 1);
        }
        other => panic!("always_fails: {other:?}"),
    }
    assert!(matches!(
        case("skipped").status,
        quick_junit::TestCaseStatus::Skipped { .. }
    ));
    assert!(case("passes").time.is_some());
}

#[test]
fn format_junit_writes_only_the_report_to_stdout() {
    let r = retries(&["--format", "junit"], &[]);
    r.assert_code(101);
    assert!(r.stdout.starts_with("<?xml"), "{}", r.stdout);
    assert!(!r.stdout.contains("test result:"), "{}", r.stdout);
    let report = quick_junit::Report::deserialize_from_str(&r.stdout).expect("valid JUnit XML");
    assert_eq!(report.tests, 5);
}
