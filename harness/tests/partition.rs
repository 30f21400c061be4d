//! CI sharding (`--partition count:M/N | hash:M/N`, `PORTALTEST_PARTITION`) and
//! libtest's notice for a long-running test, on the `partition` sample target.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

mod common;
use common::{cargo, run_sample, workspace_root, Run};

fn binary() -> &'static PathBuf {
    static BINS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    &BINS.get_or_init(|| common::build_samples(&["partition"]))["partition"]
}

fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_sample(binary(), args, env)
}

fn run(args: &[&str]) -> Run {
    run_with_env(args, &[])
}

/// The names `--list --format terse` prints (with `extra` arguments).
fn listed(extra: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut args = vec!["--list", "--format", "terse"];
    args.extend_from_slice(extra);
    let r = run_with_env(&args, env);
    r.assert_code(0);
    r.stdout
        .lines()
        .map(|l| l.strip_suffix(": test").expect(l).to_string())
        .collect()
}

/// The tests a run reports (`test NAME ... ok|ignored..`), and its summary line.
fn ran(args: &[&str], env: &[(&str, &str)]) -> (BTreeSet<String>, String) {
    let r = run_with_env(args, env);
    r.assert_code(0);
    let names = r.reported().into_iter().collect();
    let summary = r
        .stdout
        .lines()
        .find(|l| l.starts_with("test result: "))
        .unwrap_or_else(|| panic!("no summary:\n{}", r.stdout))
        .to_string();
    (names, summary)
}

const IGNORED: &[&str] = &["ignored_three", "more::ignored_one", "more::ignored_two"];

fn all() -> Vec<String> {
    let all = listed(&[], &[]);
    assert_eq!(all.len(), 20, "{all:?}");
    all
}

/// nextest's `count:M/N`: round robin in name order, ignored and not counted apart.
fn expected_count(names: &[String], shard: usize, total: usize) -> Vec<String> {
    let (ignored, plain): (Vec<&String>, Vec<&String>) =
        names.iter().partition(|n| IGNORED.contains(&n.as_str()));
    let pick = |list: Vec<&String>| -> Vec<String> {
        list.into_iter()
            .enumerate()
            .filter(|(i, _)| i % total == shard - 1)
            .map(|(_, n)| n.clone())
            .collect()
    };
    let mut out = pick(plain);
    out.extend(pick(ignored));
    out.sort();
    out
}

/// nextest's `hash:M/N`: xxh64 of the name, seed 0.
fn expected_hash(names: &[String], shard: u64, total: u64) -> Vec<String> {
    names
        .iter()
        .filter(|n| xxhash_rust::xxh64::xxh64(n.as_bytes(), 0) % total == shard - 1)
        .cloned()
        .collect()
}

/// Every name in exactly one of `shards`, and all of `names` covered.
fn assert_exact_cover(names: &[String], shards: &[Vec<String>]) {
    let mut seen: Vec<&String> = shards.iter().flatten().collect();
    seen.sort();
    assert_eq!(seen, names.iter().collect::<Vec<_>>(), "{shards:?}");
}

#[test]
fn list_count_partitions_are_nextests() {
    let all = all();
    let shards: Vec<Vec<String>> = (1..=2)
        .map(|m| listed(&["--partition", &format!("count:{m}/2")], &[]))
        .collect();
    for (m, shard) in shards.iter().enumerate() {
        assert_eq!(*shard, expected_count(&all, m + 1, 2));
    }
    assert_exact_cover(&all, &shards);
    // Only the tests the filters keep advance the counter.
    assert_eq!(
        listed(&["--partition=count:1/2", "more::"], &[]),
        ["more::ignored_one", "more::kilo", "more::mike"]
    );
    assert_eq!(
        listed(&["--partition=count:2/2", "--ignored"], &[]),
        ["more::ignored_one"]
    );
}

#[test]
fn list_hash_partitions_are_nextests() {
    let all = all();
    let shards: Vec<Vec<String>> = (1..=3)
        .map(|m| listed(&["--partition", &format!("hash:{m}/3")], &[]))
        .collect();
    for (m, shard) in shards.iter().enumerate() {
        assert_eq!(*shard, expected_hash(&all, m as u64 + 1, 3));
        assert!(!shard.is_empty() && shard.len() < all.len(), "{shard:?}");
    }
    assert_exact_cover(&all, &shards);
    // The name alone decides: filters do not move a test to another shard.
    let filtered = listed(&["--partition", "hash:2/3", "more::"], &[]);
    let expected: Vec<String> = shards[1]
        .iter()
        .filter(|n| n.contains("more::"))
        .cloned()
        .collect();
    assert_eq!(filtered, expected);
}

/// The tests of the `partition` sample in shard `partition`, as cargo-nextest itself
/// computes it (`cargo nextest list`): an oracle independent of the code under test.
/// `None` where cargo-nextest is not installed, except in CI (`CI` set), where that
/// fails the test.
fn nextest_shard(partition: &str) -> Option<Vec<String>> {
    let out = std::process::Command::new(cargo())
        .current_dir(workspace_root())
        .args([
            "nextest",
            "list",
            "-p",
            "portaltest-samples",
            "--test",
            "partition",
        ])
        .args(["--run-ignored", "all", "--partition", partition])
        .args(["--message-format", "json"])
        .output()
        .expect("cannot run cargo");
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let missing = stderr.contains("no such command");
        assert!(
            missing && std::env::var_os("CI").is_none(),
            "cargo nextest list failed:\n{stderr}"
        );
        eprintln!("cargo-nextest is not installed: the comparison with nextest runs in CI");
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("nextest's JSON");
    let cases = json["rust-suites"]["portaltest-samples::partition"]["testcases"]
        .as_object()
        .expect("the partition sample in nextest's list");
    let mut names: Vec<String> = cases
        .iter()
        .filter(|(_, case)| case["filter-match"]["status"] == "matches")
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    Some(names)
}

#[test]
fn partitions_match_cargo_nextests_own() {
    for partition in ["count:1/2", "count:2/2", "hash:1/3", "hash:2/3", "hash:3/3"] {
        let Some(expected) = nextest_shard(partition) else {
            return;
        };
        let mut ours = listed(&["--partition", partition], &[]);
        ours.sort();
        assert_eq!(ours, expected, "--partition {partition}");
    }
}

#[test]
fn runs_of_all_shards_run_every_test_once() {
    let all = all();
    for (kind, total) in [("count", 2), ("hash", 3)] {
        let mut shards = Vec::new();
        for m in 1..=total {
            let partition = format!("{kind}:{m}/{total}");
            let (names, summary) = ran(&["--partition", &partition], &[]);
            let ignored = names
                .iter()
                .filter(|n| IGNORED.contains(&n.as_str()))
                .count();
            let passed = names.len() - ignored;
            assert!(
                summary.starts_with(&format!(
                    "test result: ok. {passed} passed; 0 failed; {ignored} ignored; 0 measured; {} filtered out; finished in ",
                    all.len() - names.len()
                )),
                "{partition}: {summary}"
            );
            shards.push(names.into_iter().collect::<Vec<_>>());
        }
        assert_exact_cover(&all, &shards);
    }
}

#[test]
fn partition_from_the_environment() {
    let all = all();
    let env = [("PORTALTEST_PARTITION", "hash:2/3")];
    assert_eq!(listed(&[], &env), expected_hash(&all, 2, 3));
    let (names, _) = ran(&[], &env);
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        expected_hash(&all, 2, 3)
    );
    // The command line wins.
    assert_eq!(
        listed(&["--partition", "count:1/2"], &env),
        expected_count(&all, 1, 2)
    );
    // cargo-nextest partitions runs itself (and runs one test per process).
    assert_eq!(listed(&[], &[env[0], ("NEXTEST", "1")]), all);
}

#[test]
fn bad_partitions_are_clear_errors() {
    let r = run(&["--partition", "count:3/2"]);
    r.assert_code(101);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr.contains(
            "error: invalid --partition \"count:3/2\": shard 3 must be a number between 1 and total shards 2, inclusive; expected count:M/N or hash:M/N (1 <= M <= N)"
        ),
        "{}",
        r.stderr
    );
    let r = run(&["--list", "--partition=half"]);
    r.assert_code(101);
    assert!(
        r.stderr.contains("must begin with `hash:` or `count:`"),
        "{}",
        r.stderr
    );
    let r = run_with_env(&[], &[("PORTALTEST_PARTITION", "hash:0/3")]);
    r.assert_code(101);
    assert_eq!(r.stdout, "", "nothing runs");
    assert!(
        r.stderr
            .contains("error: PORTALTEST_PARTITION=\"hash:0/3\": shard 0 must be a number between 1 and total shards 3"),
        "{}",
        r.stderr
    );
}

const SLOW_ENV: &[(&str, &str)] = &[
    ("PORTALTEST_SLOW_NOTICE_MS", "1000"),
    ("SAMPLE_SLEEP_MS", "1500"),
];

const NOTICE: &str = "has been running for over";

#[test]
fn long_running_tests_get_libtests_notice_once() {
    let r = run_with_env(&["slow::"], SLOW_ENV);
    r.assert_code(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    for name in ["slow::no_limit", "slow::isolated_no_limit"] {
        let notice = format!("test {name} {NOTICE} 1 second");
        let at = lines.iter().position(|l| *l == notice);
        let at = at.unwrap_or_else(|| panic!("no {notice:?}:\n{}", r.stdout));
        let result = format!("test {name} ... ok");
        let done = lines.iter().position(|l| *l == result).expect(&result);
        assert!(at < done, "{}", r.stdout);
        assert_eq!(r.stdout.matches(&notice).count(), 1, "{}", r.stdout);
    }
    // A test with a time limit is stopped at its limit instead.
    r.assert_no_stdout("test slow::with_limit has been");
    assert!(!r.stderr.contains(NOTICE), "{}", r.stderr);
    // Not after the default 60 s.
    run_with_env(&["slow::"], &[SLOW_ENV[1]]).assert_no_stdout(NOTICE);
}

#[test]
fn the_notice_keeps_terse_and_json_output_parsable() {
    let r = run_with_env(&["-q", "slow::"], SLOW_ENV);
    r.assert_code(0);
    let notices: Vec<&str> = r.stdout.lines().filter(|l| l.contains(NOTICE)).collect();
    assert_eq!(
        notices.len(),
        2,
        "a line of its own each, not among the dots:\n{}",
        r.stdout
    );
    for line in notices {
        assert!(line.starts_with("test slow::"), "{line:?}");
    }
    assert!(
        r.stdout.contains("test result: ok. 3 passed;"),
        "{}",
        r.stdout
    );

    let r = run_with_env(
        &["--format", "json", "-Z", "unstable-options", "slow::"],
        SLOW_ENV,
    );
    r.assert_code(0);
    for line in r.stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    }
    r.assert_no_stdout(NOTICE);
}
