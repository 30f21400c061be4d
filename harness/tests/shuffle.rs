//! `--shuffle`, `--shuffle-seed N` and `PORTALTEST_SHUFFLE_SEED`: the order in which
//! tests start, its seed in the output, and shards and worker processes that run the
//! same tests shuffled or not. On the `partition` sample (20 quick tests, 3 ignored)
//! and `outcomes` (which fails).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

mod common;
use common::{run_sample, Run};

fn binaries() -> &'static HashMap<String, PathBuf> {
    static BINS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BINS.get_or_init(|| common::build_samples(&["partition", "outcomes"]))
}

fn run(sample: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_sample(&binaries()[sample], args, env)
}

/// The tests of a passing run of `partition`, in the order of their results, and its
/// stdout. With `--test-threads 1` in one worker, that is the order they started in.
fn order(args: &[&str], env: &[(&str, &str)]) -> (Vec<String>, String) {
    let r = run("partition", args, env);
    r.assert_code(0);
    (r.reported(), r.stdout.clone())
}

fn one_at_a_time<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--test-threads", "1"];
    args.extend_from_slice(extra);
    args
}

fn sorted(names: &[String]) -> Vec<String> {
    let mut v = names.to_vec();
    v.sort();
    v
}

#[test]
fn a_seed_repeats_its_order_and_other_seeds_differ() {
    let (plain, _) = order(&one_at_a_time(&[]), &[]);
    assert_eq!(plain.len(), 20, "{plain:?}");
    let (seven, out) = order(&one_at_a_time(&["--shuffle-seed", "7"]), &[]);
    assert!(
        out.contains("\nrunning 20 tests (shuffle seed: 7)\n"),
        "{out}"
    );
    let (again, _) = order(&one_at_a_time(&["--shuffle-seed=7"]), &[]);
    let (eight, _) = order(&one_at_a_time(&["--shuffle-seed", "8"]), &[]);
    assert_eq!(seven, again);
    assert_ne!(seven, plain, "seed 7 kept the name order");
    assert_ne!(seven, eight);
    // The same tests, only in another order.
    assert_eq!(sorted(&seven), sorted(&plain));
    assert_eq!(sorted(&eight), sorted(&plain));
    // A passing run does not repeat the seed; `--list` keeps the name order.
    assert!(
        !out.contains("note: the tests ran in shuffled order"),
        "{out}"
    );
    let list = run("partition", &["--list", "--shuffle-seed", "7"], &[]);
    let listed: Vec<&str> = list
        .stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .collect();
    let mut by_name = listed.clone();
    by_name.sort();
    assert_eq!(listed, by_name);
}

#[test]
fn the_variable_sets_the_seed_and_the_flag_wins() {
    let (flag, _) = order(&one_at_a_time(&["--shuffle-seed", "7"]), &[]);
    let (var, out) = order(&one_at_a_time(&[]), &[("PORTALTEST_SHUFFLE_SEED", "7")]);
    assert_eq!(var, flag);
    assert!(out.contains("running 20 tests (shuffle seed: 7)"), "{out}");
    let (both, _) = order(
        &one_at_a_time(&["--shuffle-seed", "7"]),
        &[("PORTALTEST_SHUFFLE_SEED", "8")],
    );
    assert_eq!(both, flag);
    let bad = run("partition", &[], &[("PORTALTEST_SHUFFLE_SEED", "soon")]);
    bad.assert_code(101);
    assert!(
        bad.stderr
            .contains("error: PORTALTEST_SHUFFLE_SEED=\"soon\" is not a seed"),
        "{}",
        bad.stderr
    );
}

#[test]
fn shuffle_alone_prints_a_seed_that_repeats_its_order() {
    let (shuffled, out) = order(&one_at_a_time(&["--shuffle"]), &[]);
    let seed = out
        .lines()
        .find_map(|l| l.strip_prefix("running 20 tests (shuffle seed: "))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no seed:\n{out}"));
    let (repeated, _) = order(&one_at_a_time(&["--shuffle-seed", seed]), &[]);
    assert_eq!(repeated, shuffled);
}

#[test]
fn shards_and_workers_run_the_same_tests_shuffled() {
    let tally = |args: &[&str], env: &[(&str, &str)]| {
        let (names, out) = order(args, env);
        let summary = out
            .lines()
            .find(|l| l.starts_with("test result: "))
            .map(|l| l.split("; finished").next().unwrap().to_string())
            .unwrap();
        (names.into_iter().collect::<BTreeSet<_>>(), summary)
    };
    for shard in ["count:1/3", "count:3/3", "hash:2/3"] {
        let plain = tally(&["--partition", shard], &[]);
        assert!(!plain.0.is_empty(), "{shard}");
        for (args, env) in [
            (&["--partition", shard, "--shuffle-seed", "11"][..], &[][..]),
            (
                &["--partition", shard][..],
                &[("PORTALTEST_SHUFFLE_SEED", "12")][..],
            ),
            (
                &["--partition", shard, "--shuffle-seed", "13"][..],
                &[("PORTALTEST_JOBS", "2")][..],
            ),
        ] {
            assert_eq!(tally(args, env), plain, "{shard} {args:?} {env:?}");
        }
    }
    // Several workers share the shuffled queue: every test runs once.
    let plain = tally(&[], &[]);
    for jobs in ["2", "3"] {
        let mut args = vec!["--shuffle-seed", "5"];
        if jobs == "3" {
            args.extend(["--test-threads", "1"]);
        }
        assert_eq!(tally(&args, &[("PORTALTEST_JOBS", jobs)]), plain, "{jobs}");
    }
}

#[test]
fn a_failed_shuffled_run_repeats_its_seed() {
    let r = run("outcomes", &["--shuffle-seed", "5"], &[]);
    r.assert_code(101);
    let summary = r
        .stdout
        .find("test result: FAILED.")
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let note = r
        .stdout
        .find(
            "note: the tests ran in shuffled order (shuffle seed: 5); to repeat it, run with \
             `--shuffle-seed 5` or PORTALTEST_SHUFFLE_SEED=5",
        )
        .unwrap_or_else(|| panic!("no note:\n{}", r.stdout));
    assert!(note > summary, "{}", r.stdout);
    assert!(r.stdout.contains("(shuffle seed: 5)\n"), "{}", r.stdout);
    // Unshuffled, no note.
    let plain = run("outcomes", &[], &[]);
    plain.assert_code(101);
    assert!(!plain.stdout.contains("shuffle"), "{}", plain.stdout);
    // JSON: the seed is in the start event, as libtest writes it.
    let json = run(
        "outcomes",
        &["--format", "json", "--shuffle-seed", "5"],
        &[],
    );
    let first = json.stdout.lines().next().unwrap_or_default();
    let event: serde_json::Value = serde_json::from_str(first).expect(first);
    assert_eq!(event["event"], "started", "{first}");
    assert_eq!(event["shuffle_seed"], 5, "{first}");
    assert!(
        !json.stdout.contains("note: the tests ran"),
        "{}",
        json.stdout
    );
}
