//! Randomized fault injection against the supervisor: its rules hold under random faults.
//!
//! Each round draws, from one seed, a plan for the twelve tests of the `faults` sample
//! (pass, a CPU-bound pass, fail, panic, abort, `exit(k)`, SIGSEGV, blocking past the
//! limit, awaiting past it, fork and `_exit`, fork and linger, a spawned thread that
//! panics or aborts later, 2 MiB of output, a fixture that crashes in its setup or its
//! teardown), a configuration (PORTALTEST_JOBS, `--partition`, retries, the output
//! format) and at most one signal at a random moment (Ctrl-C to the group, SIGTERM to
//! the supervisor, SIGKILL of a worker, SIGSTOP then SIGCONT of the group, SIGKILL of
//! the supervisor). The oracle: the run ends; every selected test is reported exactly
//! once with the outcome its behaviour implies (or, after an interrupt, is named as
//! cancelled or not started); the exit code follows; JSON lines and the JUnit report
//! are well formed; no process of the run is alive afterwards; nothing is left in its
//! TMPDIR.
//!
//! Rounds run for a fixed time budget (`PORTALTEST_FAULT_BUDGET` seconds, default 60)
//! from a seed taken from the clock, printed on failure;
//! `PORTALTEST_FAULT_SEED=N` replays one round. `PORTALTEST_FAULT_KEEP_GOING=1` runs
//! the whole budget and lists every failing seed (to measure how fast it finds bugs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{sample_command, wait_within, Run};

/// splitmix64: small, seedable, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const TESTS: [&str; 12] = [
    "t00", "t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10", "t11",
];

/// Behaviours and their weights: mostly passes, so that a crash has neighbours.
const BEHAVIOURS: &[(&str, u64)] = &[
    ("pass", 8),
    ("busy", 4),
    ("fail", 2),
    ("panic", 2),
    ("abort", 2),
    ("exit", 2),
    ("segv", 1),
    ("block", 1),
    ("long_await", 2),
    ("fork_exit", 1),
    ("fork_linger", 1),
    ("thread_panic", 1),
    ("thread_abort", 1),
    ("big_output", 1),
    ("setup_crash", 1),
    ("teardown_crash", 1),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    None,
    Interrupt,
    Terminate,
    KillWorker,
    StopContinue,
    KillSupervisor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pretty,
    Terse,
    Json,
    Junit,
}

#[derive(Debug)]
struct Round {
    seed: u64,
    plan: BTreeMap<&'static str, String>,
    jobs: u32,
    retries: u32,
    partition: Option<String>,
    format: Format,
    signal: Signal,
    /// When the signal is sent, after the start.
    at: Duration,
}

impl Round {
    fn new(seed: u64) -> Round {
        let mut rng = Rng(seed);
        let total: u64 = BEHAVIOURS.iter().map(|(_, w)| w).sum();
        let mut plan = BTreeMap::new();
        // At most one spawned thread that aborts (its in-flight neighbours run again
        // once: two such crashes could legitimately fail one of them), and one test
        // that holds the thread (several could, in sum, hold it past a neighbour's
        // limit, which rightly fails the one holding it then).
        let mut thread_abort = false;
        let mut busy = false;
        for name in TESTS {
            let mut roll = rng.below(total);
            let mut behaviour = "pass";
            for (b, w) in BEHAVIOURS {
                if roll < *w {
                    behaviour = b;
                    break;
                }
                roll -= w;
            }
            if behaviour == "thread_abort" {
                if thread_abort {
                    behaviour = "pass";
                }
                thread_abort = true;
            }
            if behaviour == "busy" {
                if busy {
                    behaviour = "pass";
                }
                busy = true;
            }
            let behaviour = if behaviour == "exit" {
                format!("exit{}", rng.below(4))
            } else {
                behaviour.to_string()
            };
            plan.insert(name, behaviour);
        }
        let jobs = *rng.pick(&[1, 1, 2, 3]);
        let retries = *rng.pick(&[0, 0, 1, 2]);
        let partition = if rng.chance(25) {
            let n = 2 + rng.below(2);
            let m = 1 + rng.below(n);
            let kind = rng.pick(&["count", "hash"]);
            Some(format!("{kind}:{m}/{n}"))
        } else {
            None
        };
        let format = *rng.pick(&[
            Format::Pretty,
            Format::Pretty,
            Format::Terse,
            Format::Json,
            Format::Junit,
        ]);
        let signal = if rng.chance(55) {
            Signal::None
        } else {
            *rng.pick(&[
                Signal::Interrupt,
                Signal::Terminate,
                Signal::KillWorker,
                Signal::StopContinue,
                Signal::KillSupervisor,
            ])
        };
        let at = Duration::from_millis(100 + rng.below(1_500));
        Round {
            seed,
            plan,
            jobs,
            retries,
            partition,
            format,
            signal,
            at,
        }
    }

    fn plan_text(&self) -> String {
        self.plan
            .iter()
            .map(|(n, b)| format!("{n}={b}"))
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// What a behaviour implies: passes or fails.
fn expected_ok(behaviour: &str) -> bool {
    matches!(
        behaviour,
        "pass"
            | "busy"
            | "fork_exit"
            | "fork_linger"
            | "thread_panic"
            | "thread_abort"
            | "big_output"
            | "teardown_crash"
    )
}

/// What the note of a failing behaviour must say (outputs are checked in the pretty
/// and JSON formats, when no signal came).
/// Each item: one of these must be there.
fn expected_note(behaviour: &str, retries: u32) -> Vec<Vec<String>> {
    let one = |s: &str| vec![s.to_string()];
    let mut notes = match behaviour {
        "abort" => vec![one(
            "killed by signal 6 (SIGABRT) while this test was running",
        )],
        "segv" => vec![one(
            "killed by signal 11 (SIGSEGV) while this test was running",
        )],
        // Killed for its own limit, or for another test's that it kept from running.
        "block" => vec![vec![
            "did not yield within the grace period".to_string(),
            "held the runtime thread without yielding while".to_string(),
        ]],
        "long_await" => vec![one("it was cancelled and its stack unwound")],
        exit if exit.starts_with("exit") => vec![one(&format!(
            "the worker process exited with code {} while this test was running",
            &exit[4..]
        ))],
        _ => Vec::new(),
    };
    // Retries cover every failure, crashes included (not a fixture's crashed setup).
    if retries > 0 && !expected_ok(behaviour) && behaviour != "setup_crash" {
        notes.push(one(&format!("---- try {0} of {0} ----", retries + 1)));
    }
    notes
}

/// What the output of a failing behaviour must not say.
fn forbidden_note(behaviour: &str) -> &'static [&'static str] {
    match behaviour {
        // It awaits: every try is cancelled; none may be killed as blocking.
        "long_await" => &["did not yield within the grace period"],
        _ => &[],
    }
}

/// A test's result as the output shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed,
    Interrupted,
}

struct Parsed {
    /// Each test with a result, and how many results it has.
    results: BTreeMap<String, Vec<Outcome>>,
    /// Output shown per test (pretty and JSON).
    outputs: BTreeMap<String, String>,
    /// Named as cancelled or not started (pretty, after an interrupt).
    cancelled: BTreeSet<String>,
    not_started: BTreeSet<String>,
}

fn parse(format: Format, r: &Run, errors: &mut Vec<String>) -> Parsed {
    let mut p = Parsed {
        results: BTreeMap::new(),
        outputs: BTreeMap::new(),
        cancelled: BTreeSet::new(),
        not_started: BTreeSet::new(),
    };
    match format {
        Format::Pretty | Format::Terse => {
            for line in r.stdout.lines() {
                if let Some(rest) = line.strip_prefix("test ") {
                    if let Some((name, outcome)) = rest.split_once(" ... ") {
                        let o = match outcome.trim() {
                            "ok" => Outcome::Ok,
                            "FAILED" => Outcome::Failed,
                            "interrupted" => Outcome::Interrupted,
                            o if o.starts_with("ok") => Outcome::Ok,
                            _ => continue,
                        };
                        p.results.entry(name.to_string()).or_default().push(o);
                    }
                }
            }
            // Outputs of failures: "---- NAME stdout ----" up to the next test's.
            let mut current: Option<String> = None;
            for line in r.stdout.lines() {
                if let Some(name) = line
                    .strip_prefix("---- ")
                    .and_then(|l| l.strip_suffix(" stdout ----"))
                {
                    current = Some(name.to_string());
                    continue;
                }
                if line == "failures:" || line.starts_with("test result:") {
                    current = None;
                }
                if let Some(c) = &current {
                    let out = p.outputs.entry(c.clone()).or_default();
                    out.push_str(line);
                    out.push('\n');
                }
            }
            let mut list: Option<&str> = None;
            for line in r.stdout.lines() {
                if line.contains("cancelled:") || line.contains("not started:") {
                    list = Some(if line.contains("cancelled:") {
                        "c"
                    } else {
                        "n"
                    });
                    let names = line.split_once(':').map(|x| x.1).unwrap_or("");
                    for n in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        if list == Some("c") {
                            p.cancelled.insert(n.to_string());
                        } else {
                            p.not_started.insert(n.to_string());
                        }
                    }
                    continue;
                }
                if list.is_some() && line.starts_with("        ") {
                    let n = line.trim().to_string();
                    if list == Some("c") {
                        p.cancelled.insert(n);
                    } else {
                        p.not_started.insert(n);
                    }
                } else {
                    list = None;
                }
            }
            if format == Format::Terse {
                // Terse prints no names for passes: the failures list and the counts.
                p.results.clear();
                let summary = r.stdout.lines().find(|l| l.starts_with("test result:"));
                if summary.is_none() {
                    errors.push("terse: no summary line".into());
                }
                let mut in_list = false;
                for line in r.stdout.lines() {
                    if line == "failures:" {
                        in_list = true;
                        continue;
                    }
                    if in_list {
                        if let Some(name) = line.strip_prefix("    ") {
                            if !name.starts_with(' ') {
                                p.results
                                    .entry(name.trim().to_string())
                                    .or_default()
                                    .push(Outcome::Failed);
                            }
                        } else if !line.is_empty() {
                            in_list = false;
                        }
                    }
                }
            }
        }
        Format::Json => {
            let mut started = BTreeSet::new();
            for line in r.stdout.lines() {
                let v: serde_json::Value = match serde_json::from_str(line) {
                    Ok(v) => v,
                    Err(e) => {
                        errors.push(format!("not a JSON line ({e}): {line:?}"));
                        continue;
                    }
                };
                if v["type"] != "test" {
                    continue;
                }
                let name = v["name"].as_str().unwrap_or("?").to_string();
                let o = match v["event"].as_str() {
                    Some("started") => {
                        started.insert(name);
                        continue;
                    }
                    Some("ok") => Outcome::Ok,
                    Some("failed") => Outcome::Failed,
                    Some("interrupted") | Some("cancelled") => Outcome::Interrupted,
                    _ => continue,
                };
                if !started.contains(&name) {
                    errors.push(format!("JSON: `{name}` has a result before `started`"));
                }
                if let Some(out) = v["stdout"].as_str() {
                    p.outputs.insert(name.clone(), out.to_string());
                }
                p.results.entry(name).or_default().push(o);
            }
        }
        Format::Junit => {
            let xml = r.stdout.trim();
            if !xml.starts_with("<?xml") || !xml.ends_with("</testsuites>") {
                errors.push("JUnit: not a whole report".into());
            }
            for case in xml.split("<testcase ").skip(1) {
                let name = case
                    .split_once("name=\"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_default();
                let body = case.split("</testcase>").next().unwrap_or("");
                let head = body.split('>').next().unwrap_or("");
                let o = if head.ends_with('/') {
                    Outcome::Ok
                } else if body.contains("<failure") || body.contains("<error") {
                    Outcome::Failed
                } else {
                    Outcome::Ok
                };
                p.results.entry(name).or_default().push(o);
            }
        }
    }
    p
}

/// The processes alive that carry this round's marker in their environment.
fn processes_of(marker: &str) -> Vec<u32> {
    let needle = format!("PORTALTEST_FAULT_RUN={marker}");
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|var| var == needle.as_bytes()) && !common::process_gone(pid)
        {
            found.push(pid);
        }
    }
    found
}

/// Workers: the children of `supervisor`.
fn children_of(supervisor: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{supervisor}/task/{supervisor}/children"))
        .unwrap_or_default();
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn kill(signal: &str, target: &str) {
    let _ = std::process::Command::new("kill")
        .args(["-s", signal, "--", target])
        .stderr(Stdio::null())
        .status();
}

/// Runs one round; what the oracle found wrong.
fn run_round(exe: &Path, round: &Round, scratch: &Path) -> Vec<String> {
    use std::os::unix::process::CommandExt;
    let mut errors = Vec::new();
    let dir = scratch.join(format!("round-{}", round.seed));
    let _ = std::fs::remove_dir_all(&dir);
    let tmp = dir.join("tmp");
    let state = dir.join("state");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let marker = format!("{}-{}", std::process::id(), round.seed);
    let mut args: Vec<String> = Vec::new();
    if let Some(p) = &round.partition {
        args.push("--partition".into());
        args.push(p.clone());
    }
    // The tests the run selects.
    let listed = {
        let mut list_args = args.clone();
        list_args.extend(["--list".into(), "--format".into(), "terse".into()]);
        let a: Vec<&str> = list_args.iter().map(String::as_str).collect();
        common::run_sample(exe, &a, common::NO_ENV)
    };
    let selected: BTreeSet<String> = listed
        .stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect();
    match round.format {
        Format::Pretty => {}
        Format::Terse => args.extend(["--format".into(), "terse".into()]),
        Format::Json => args.extend([
            "-Z".into(),
            "unstable-options".into(),
            "--format".into(),
            "json".into(),
        ]),
        Format::Junit => args.extend(["--format".into(), "junit".into()]),
    }
    let jobs = round.jobs.to_string();
    let retries = round.retries.to_string();
    let plan = round.plan_text();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = sample_command(
        exe,
        &a,
        &[
            ("PORTALTEST_FAULT_PLAN", &plan),
            ("PORTALTEST_FAULT_STATE", state.to_str().unwrap()),
            ("PORTALTEST_FAULT_RUN", &marker),
            ("PORTALTEST_TIMEOUT", "1s"),
            ("PORTALTEST_GRACE", "300ms"),
            ("PORTALTEST_TEARDOWN_TIMEOUT", "2s"),
            ("PORTALTEST_JOBS", &jobs),
            ("PORTALTEST_RETRIES", &retries),
            ("TMPDIR", tmp.to_str().unwrap()),
        ],
    );
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let limit = Duration::from_secs(40);
    let waiter = std::thread::spawn(move || {
        std::panic::catch_unwind(move || wait_within(child, limit)).ok()
    });
    // The signal, at its moment (if the run is still going).
    let mut signal = round.signal;
    if signal != Signal::None {
        let at = Instant::now() + round.at;
        while Instant::now() < at && !waiter.is_finished() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if waiter.is_finished() {
            signal = Signal::None;
        } else {
            match signal {
                Signal::Interrupt => kill("INT", &format!("-{pid}")),
                Signal::Terminate => kill("TERM", &pid.to_string()),
                Signal::KillWorker => match children_of(pid).first() {
                    Some(worker) => kill("KILL", &worker.to_string()),
                    None => signal = Signal::None,
                },
                Signal::StopContinue => {
                    kill("STOP", &format!("-{pid}"));
                    std::thread::sleep(Duration::from_millis(1_500));
                    kill("CONT", &format!("-{pid}"));
                }
                Signal::KillSupervisor => kill("KILL", &pid.to_string()),
                Signal::None => {}
            }
        }
    }
    let run = waiter.join().unwrap();
    let Some(r) = run else {
        errors.push(format!("the run did not end within {limit:?} (finding 7?)"));
        // Whatever is left is ended below and reported.
        check_leftovers(&marker, &tmp, &mut errors, signal);
        let _ = std::fs::remove_dir_all(&dir);
        return errors;
    };
    check_leftovers(&marker, &tmp, &mut errors, signal);
    if signal == Signal::KillSupervisor {
        let _ = std::fs::remove_dir_all(&dir);
        return errors;
    }
    let parsed = parse(round.format, &r, &mut errors);
    let interrupted = matches!(signal, Signal::Interrupt | Signal::Terminate);
    let kill_worker = signal == Signal::KillWorker;
    let context = |what: String| {
        format!(
            "{what}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            tail(&r.stdout),
            tail(&r.stderr)
        )
    };
    // Every test once, with its outcome.
    let mut any_failed = false;
    let mut run_error = false;
    for name in &selected {
        let behaviour = round.plan.get(name.as_str()).map_or("pass", String::as_str);
        if matches!(behaviour, "thread_abort" | "teardown_crash") {
            run_error = true;
        }
        let got = parsed.results.get(name);
        let expected = if expected_ok(behaviour) {
            Outcome::Ok
        } else {
            Outcome::Failed
        };
        if expected == Outcome::Failed {
            any_failed = true;
        }
        match got.map(Vec::as_slice) {
            None | Some([]) => {
                if round.format == Format::Terse && (expected == Outcome::Ok || interrupted) {
                    continue; // terse names only failures
                }
                if interrupted
                    && (parsed.cancelled.contains(name)
                        || parsed.not_started.contains(name)
                        || round.format != Format::Pretty)
                {
                    continue;
                }
                errors.push(context(format!("`{name}` ({behaviour}) has no result")));
            }
            Some([one]) => {
                let fine = *one == expected
                    || (interrupted && *one == Outcome::Interrupted)
                    || (interrupted
                        && *one == Outcome::Failed
                        && matches!(round.format, Format::Junit | Format::Json))
                    || (kill_worker && *one == Outcome::Failed);
                if !fine {
                    let note = parsed.outputs.get(name).cloned().unwrap_or_default();
                    errors.push(context(format!(
                        "`{name}` ({behaviour}) is {one:?}, expected {expected:?}{}\n{note}",
                        if behaviour == "busy" || behaviour == "pass" {
                            " (blamed for another's crash? finding 4)"
                        } else {
                            ""
                        }
                    )));
                }
                if !interrupted
                    && !kill_worker
                    && *one == Outcome::Failed
                    && matches!(round.format, Format::Pretty | Format::Json)
                {
                    let out = parsed.outputs.get(name).cloned().unwrap_or_default();
                    for bad in forbidden_note(behaviour) {
                        if out.contains(bad) {
                            errors.push(context(format!(
                                "`{name}` ({behaviour}, retries {}) says {bad:?} (a retry killed \
                                 against the first try's deadline? finding 1):\n{out}",
                                round.retries
                            )));
                        }
                    }
                    for note in expected_note(behaviour, round.retries) {
                        if !note.iter().any(|n| out.contains(n.as_str())) {
                            errors.push(context(format!(
                                "`{name}` ({behaviour}, retries {}) lacks {note:?}{}:\n{out}",
                                round.retries,
                                if behaviour == "long_await" {
                                    " (a retry killed against the first try's deadline? finding 1)"
                                } else {
                                    ""
                                }
                            )));
                        }
                    }
                }
            }
            Some(many) => errors.push(context(format!(
                "`{name}` ({behaviour}) is reported {} times: {many:?}",
                many.len()
            ))),
        }
    }
    for name in parsed.results.keys() {
        // JUnit lists the run's errors (a worker's death, a teardown) as cases too.
        if !selected.contains(name) && TESTS.contains(&name.as_str()) {
            errors.push(context(format!(
                "`{name}` was not selected but has a result"
            )));
        }
    }
    // The exit code.
    let code = r.code;
    let expected_code = match signal {
        Signal::Interrupt => Some(130),
        Signal::Terminate => Some(143),
        _ if kill_worker => None, // 101, or 0 if the worker had nothing left to do
        _ if any_failed || run_error => Some(101),
        _ => Some(0),
    };
    match expected_code {
        Some(c) if code != Some(c) => {
            // A SIGTERM or Ctrl-C after the last result may find the run at its end.
            let late = interrupted && matches!(code, Some(0) | Some(101));
            if !late {
                errors.push(context(format!("exit code {code:?}, expected {c}")));
            }
        }
        None if !matches!(code, Some(0) | Some(101)) => errors.push(context(format!(
            "exit code {code:?} after a worker was killed"
        ))),
        _ => {}
    }
    let _ = std::fs::remove_dir_all(&dir);
    errors
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(6_000);
    let mut start = start;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// No process of the round alive (waiting a little for the ones being killed), and
/// nothing left in its TMPDIR; leftovers are killed so that the next round is clean.
fn check_leftovers(marker: &str, tmp: &Path, errors: &mut Vec<String>, signal: Signal) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut alive = processes_of(marker);
    while !alive.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        alive = processes_of(marker);
    }
    if !alive.is_empty() {
        errors.push(format!(
            "processes of the run alive after it ended{}: {alive:?}",
            if signal == Signal::KillSupervisor {
                " (the supervisor was SIGKILLed: orphaned workers? finding 8)"
            } else {
                ""
            }
        ));
        for pid in alive {
            kill("KILL", &pid.to_string());
        }
    }
    let left: Vec<_> = std::fs::read_dir(tmp)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    // A SIGKILLed supervisor cannot clean up (its workers' capture files are unnamed;
    // a name lives only between create and unlink).
    if !left.is_empty() && signal != Signal::KillSupervisor {
        errors.push(format!("left in TMPDIR: {left:?}"));
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

#[test]
fn random_faults_never_fool_the_supervisor() {
    let exe: PathBuf = common::build_samples(&["faults"]).remove("faults").unwrap();
    let scratch = std::env::temp_dir().join(format!("portaltest-faults-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let keep_going = std::env::var_os("PORTALTEST_FAULT_KEEP_GOING").is_some();
    let (seeds, budget): (Box<dyn Iterator<Item = u64>>, Duration) =
        match env_u64("PORTALTEST_FAULT_SEED") {
            Some(seed) => (Box::new(std::iter::once(seed)), Duration::MAX),
            None => {
                let first = env_u64("PORTALTEST_FAULT_FIRST_SEED").unwrap_or_else(|| {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0)
                });
                let secs = env_u64("PORTALTEST_FAULT_BUDGET").unwrap_or(60);
                (Box::new(first..), Duration::from_secs(secs))
            }
        };
    let started = Instant::now();
    let mut rounds = 0;
    let mut failures = Vec::new();
    for seed in seeds {
        if started.elapsed() >= budget {
            break;
        }
        let round = Round::new(seed);
        let errors = run_round(&exe, &round, &scratch);
        rounds += 1;
        if !errors.is_empty() {
            let report = format!(
                "seed {seed} (replay: PORTALTEST_FAULT_SEED={seed}) failed after {rounds} round(s):\n\
                 {round:#?}\n{}",
                errors.join("\n\n")
            );
            eprintln!("{report}");
            failures.push((seed, report));
            if !keep_going {
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    eprintln!(
        "fault injection: {rounds} round(s), {} failing: seeds {:?}",
        failures.len(),
        failures.iter().map(|f| f.0).collect::<Vec<_>>()
    );
    if let Some((seed, report)) = failures.first() {
        panic!("seed {seed}:\n{report}");
    }
}
