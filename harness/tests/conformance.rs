//! Clock and scheduling conformance: the probes of `harness/samples/tests/conformance/
//! probes.rs` run under `#[tokio::test]` and `#[tokio::test(start_paused = true)]` (the
//! sample `conformance_tokio`, libtest's harness: the reference) and under portaltest
//! (the sample `conformance`: isolated, `start_paused = true` and shared tests, and
//! sync code that `await_`s). Each probe writes what it observed, in order; this test
//! compares the traces line for line. The one difference that remains (portaltest's
//! tests have a `LocalSet`, so `spawn_local` works) is asserted as such.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

mod common;
use common::run_sample;

fn binaries() -> &'static HashMap<String, PathBuf> {
    static BINS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BINS.get_or_init(|| common::build_samples(&["conformance", "conformance_tokio"]))
}

/// Runs a sample with the traces going to a fresh file: `(mode, probe) -> trace`.
fn traces(sample: &str, args: &[&str], env: &[(&str, &str)]) -> BTreeMap<(String, String), String> {
    // One file per call: the tests of this file run at the same time.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::SeqCst);
    let path = common::log_path(&format!("conformance-{sample}-{call}"));
    let mut env: Vec<(&str, &str)> = env.to_vec();
    let path_text = path.to_string_lossy().into_owned();
    env.push(("CONFORMANCE_TRACES", &path_text));
    let run = run_sample(&binaries()[sample], args, &env);
    run.assert_code(0);
    let mut out = BTreeMap::new();
    for line in common::read_log(&path) {
        let (key, trace) = line.split_once(": ").expect("`mode probe: trace`");
        let (mode, probe) = key.split_once(' ').expect("`mode probe`");
        let old = out.insert((mode.to_string(), probe.to_string()), trace.to_string());
        assert!(old.is_none(), "{mode} {probe} reported twice");
    }
    let _ = std::fs::remove_file(&path);
    out
}

/// What each portaltest mode is compared with.
const REFERENCE: &[(&str, &str)] = &[
    ("isolated", "current"),
    ("shared", "current"),
    ("sync_isolated", "current"),
    ("sync_shared", "current"),
    ("paused", "paused"),
    ("sync_paused", "paused"),
];

/// Probes every reference mode must have run under portaltest.
const COVERED: &[(&str, &str)] = &[("current", "isolated"), ("paused", "paused")];

fn compare(portal: &BTreeMap<(String, String), String>) {
    let reference = traces("conformance_tokio", &[], &[]);
    // The reference says what the probes are meant to show (else they prove nothing).
    for (key, needle) in [
        (
            ("paused", "advance_expires_timers"),
            "advance 2ms | key: Some(\"value\"), timer elapsed: true | yield | purged | key: None",
        ),
        (
            ("current", "yield_lets_spawned_tasks_run"),
            "yield | spawned task ran | after yield",
        ),
        (
            ("current", "block_in_place_refused"),
            "refused: can call blocking only",
        ),
        (
            ("current", "nested_runtime_refused"),
            "block_on refused: Cannot start a runtime",
        ),
        (
            ("paused", "yields_do_not_advance_the_clock"),
            "after 20 yields: fired false, at 0ms",
        ),
        (("paused", "sleep_auto_advances"), "slept 3600000ms"),
    ] {
        let got = &reference[&(key.0.to_string(), key.1.to_string())];
        assert!(
            got.contains(needle),
            "reference {key:?}: {got:?} lacks {needle:?}"
        );
    }
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for ((mode, probe), trace) in portal {
        let against = REFERENCE
            .iter()
            .find(|(m, _)| m == mode)
            .unwrap_or_else(|| panic!("unknown mode {mode}"))
            .1;
        let expected = reference
            .get(&(against.to_string(), probe.clone()))
            .unwrap_or_else(|| panic!("{mode} {probe}: no reference trace"));
        if probe == "spawn_local_without_local_set" {
            // The difference that remains, by design: portaltest's tests run in a
            // `LocalSet`; `#[tokio::test]` has none.
            assert!(
                expected.starts_with("refused: `spawn_local` called from outside"),
                "{expected}"
            );
            assert_eq!(trace, "allowed, returned 3", "{mode} {probe}");
            continue;
        }
        compared += 1;
        if trace != expected {
            mismatches.push(format!(
                "{mode} {probe}:\n  portaltest: {trace}\n  {against:>10}: {expected}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "traces differ:\n{}",
        mismatches.join("\n")
    );
    for (reference_mode, mode) in COVERED {
        for (m, probe) in reference.keys() {
            if m == reference_mode {
                assert!(
                    portal.contains_key(&(mode.to_string(), probe.clone())),
                    "{mode} {probe} did not run under portaltest"
                );
            }
        }
    }
    // Every trace but the two `spawn_local` ones.
    assert_eq!(compared, 32, "traces compared");
}

#[test]
fn portaltest_observes_what_tokio_test_observes() {
    compare(&traces("conformance", &[], &[]));
}

#[test]
fn in_one_process_and_one_test_at_a_time_too() {
    compare(&traces(
        "conformance",
        &["--test-threads", "1"],
        &[("PORTALTEST_IN_PROCESS", "1")],
    ));
}
