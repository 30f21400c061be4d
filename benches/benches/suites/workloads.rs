//! The workloads: which binaries run how, and the table rows and chart lines made of
//! their measurements. Workload `W<n>` runs unless `--only` leaves it out.

use std::thread;
use std::time::Duration;

use crate::chart::{Chart, Line, Stroke};
use crate::config::Config;
use crate::generate::{
    last_test_name, prefix_args, target_name, Peer, Suite, ALL_PEERS, ASYNC_PEERS, HTTP_BASELINE,
};
use crate::measure::{
    pair_ratios, ratio_summary, Runner, Spec, Stats, PORTALTEST_IN_PROCESS, PORTALTEST_JOBS,
};
use crate::report::{met, mib, ratio, secs, Row};

/// The environment of a run.
type Env = &'static [(&'static str, &'static str)];

const DEFAULT: Env = &[];
const JOBS_AUTO: Env = &[(PORTALTEST_JOBS, "auto")];
const IN_PROCESS: Env = &[(PORTALTEST_IN_PROCESS, "1")];

/// A peer's binary run one way: a line of a chart.
#[derive(Clone, Copy)]
struct Way {
    peer: Peer,
    env: Env,
    /// The line's name in the chart's CSV.
    key: &'static str,
    stroke: Stroke,
}

impl Way {
    const fn new(peer: Peer, env: Env, key: &'static str, stroke: Stroke) -> Way {
        Way {
            peer,
            env,
            key,
            stroke,
        }
    }

    fn label(&self) -> String {
        let mut label = self.peer.label().to_string();
        for (key, value) in self.env {
            label.push_str(&format!(", {key}={value}"));
        }
        label
    }
}

// The charts' lines, in drawing order (colours follow it). The two libtest peers of
// the I/O chart nearly coincide: #[tokio::test] is drawn wide and the block-on peer
// dashed on top of it, so both stay visible; the same for libtest and
// `PORTALTEST_JOBS=auto` in the CPU chart.
const IO_WAYS: [Way; 3] = [
    Way::new(Peer::Portaltest, DEFAULT, "portaltest", Stroke::Solid),
    Way::new(Peer::TokioTest, DEFAULT, "tokio_test", Stroke::Wide),
    Way::new(Peer::BlockOn, DEFAULT, "block_on", Stroke::Dashed),
];
const CPU_WAYS: [Way; 3] = [
    Way::new(Peer::Portaltest, DEFAULT, "portaltest", Stroke::Solid),
    Way::new(Peer::LibtestPlain, DEFAULT, "plain", Stroke::Wide),
    Way::new(
        Peer::Portaltest,
        JOBS_AUTO,
        "portaltest_auto",
        Stroke::Dashed,
    ),
];
const CPU_WAIT_WAYS: [Way; 3] = [
    Way::new(Peer::Portaltest, DEFAULT, "portaltest", Stroke::Solid),
    Way::new(Peer::TokioTest, DEFAULT, "tokio_test", Stroke::Solid),
    Way::new(
        Peer::Portaltest,
        JOBS_AUTO,
        "portaltest_auto",
        Stroke::Solid,
    ),
];

/// A chart with a line per way, as yet without points.
fn empty_chart(stem: &'static str, caption: String, log_scale: bool, ways: &[Way]) -> Chart {
    Chart {
        stem,
        caption,
        log_scale,
        lines: ways
            .iter()
            .map(|way| Line {
                key: way.key,
                label: way.label(),
                stroke: way.stroke,
                points: Vec::new(),
            })
            .collect(),
    }
}

/// Every chart, without points (`--replot` fills them from their CSVs): workload 1's
/// (log-log: its counts span decades), 6's and 7's (linear: within one decade, and the
/// slope is the time per test).
pub fn charts(config: &Config) -> Vec<Chart> {
    vec![
        empty_chart(
            "io_bound_tests",
            "Wall time of a test binary vs number of I/O-bound tests (each awaits a 100 ms timer)"
                .into(),
            true,
            &IO_WAYS,
        ),
        empty_chart(
            "cpu_bound_tests",
            format!(
                "Wall time of a test binary vs number of CPU-bound tests (each spins {}M rounds)",
                config.cpu_rounds / 1_000_000
            ),
            false,
            &CPU_WAYS,
        ),
        empty_chart(
            "cpu_then_timer_tests",
            format!(
                "Wall time vs number of tests that each spin {}M rounds, then await a 100 ms timer",
                config.cpu_wait_rounds / 1_000_000
            ),
            false,
            &CPU_WAIT_WAYS,
        ),
    ]
}

/// Measures the lines of `chart` (`ways` over `suite`) at the counts wanted:
/// `row_count` (with `config.repeats` runs) if `want_row`, and all of the suite's chart
/// counts if the chart is wanted (`config.chart_repeats` runs each, except `row_count`).
fn sweep(
    runner: &Runner,
    config: &Config,
    chart: &mut Chart,
    suite: Suite,
    ways: &[Way],
    row_count: usize,
    want_row: bool,
) {
    let want_chart = config.wants("chart") || config.wants(chart.stem);
    let counts = suite.chart_counts(config).expect("a suite with a chart");
    for &count in counts {
        let is_row = count == row_count;
        if !(is_row && want_row || want_chart) {
            continue;
        }
        let repeats = if is_row {
            config.repeats
        } else {
            config.chart_repeats
        };
        // Every line's point at this count from the same rounds (A B A B ...).
        let specs: Vec<Spec> = chart
            .lines
            .iter()
            .map(|line| {
                let way = ways
                    .iter()
                    .find(|w| w.key == line.key)
                    .expect("a way per line");
                Spec {
                    name: target_name(way.peer, suite),
                    args: prefix_args(suite, count, config),
                    env: way.env,
                }
            })
            .collect();
        let all = runner.measure_interleaved(&specs, repeats);
        for (line, stats) in chart.lines.iter_mut().zip(all) {
            line.points.push((count, stats));
        }
    }
}

/// The runs of line `key` at `count` tests.
fn point(chart: &Chart, key: &str, count: usize) -> Stats {
    chart
        .lines
        .iter()
        .find(|l| l.key == key)
        .and_then(|l| l.points.iter().find(|(c, _)| *c == count))
        .map(|(_, s)| s.clone())
        .expect("the row's count was measured")
}

/// A row of a timed run of `peer`, with its ratio to portaltest's run `base`.
fn timed_row(
    workload: String,
    peer: Peer,
    how: String,
    stats: Stats,
    base: &Stats,
    target: String,
) -> Row {
    let ratio = if peer == Peer::Portaltest {
        "1".into()
    } else {
        ratio(&stats, base)
    };
    Row {
        workload,
        peer: peer.label().into(),
        how,
        stats,
        derived: None,
        ratio,
        target,
    }
}

/// A row measured against a baseline other than portaltest's default run: `ratio`
/// names it.
fn row(
    workload: &str,
    peer: Peer,
    how: String,
    stats: Stats,
    ratio: String,
    target: String,
) -> Row {
    Row {
        workload: workload.into(),
        peer: peer.label().into(),
        how,
        stats,
        derived: None,
        ratio,
        target,
    }
}

/// `base`'s wall over `stats`'s, pair by pair (median): how many times faster
/// `stats` ran.
fn speed(stats: &Stats, base: &Stats) -> Option<f64> {
    if !(stats.ok() && base.ok()) {
        return None;
    }
    ratio_summary(&pair_ratios(base, stats)).map(|(m, _, _)| m)
}

/// "1.23x <whose> speed, 0.98x RSS", or "n/a".
fn speed_ratio(stats: &Stats, base: &Stats, whose: &str) -> String {
    speed(stats, base).map_or_else(
        || "n/a".into(),
        |s| {
            format!(
                "{s:.2}x {whose} speed, {:.2}x RSS",
                stats.rss() / base.rss()
            )
        },
    )
}

fn cores() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs the workloads `config` wants; returns the table's rows and the charts (with
/// the points measured).
pub fn run(runner: &Runner, config: &Config) -> (Vec<Row>, Vec<Chart>) {
    let mut rows = Vec::new();
    let mut charts = charts(config);
    let [io, cpu, cpu_wait] = &mut charts[..] else {
        unreachable!("three charts")
    };
    w1_timers(runner, config, io, &mut rows);
    w2_trivial(runner, config, &mut rows);
    w3_http(runner, config, &mut rows);
    w4_suspended(runner, config, &mut rows);
    w5_startup(runner, config, &mut rows);
    w6_cpu(runner, config, cpu, &mut rows);
    w7_cpu_then_timer(runner, config, cpu_wait, &mut rows);
    w8_supervisor(runner, config, &mut rows);
    (rows, charts)
}

/// Workload 1 (and its chart): timer tests, prefix selected with --skip.
fn w1_timers(runner: &Runner, config: &Config, chart: &mut Chart, rows: &mut Vec<Row>) {
    let want_row = config.wants("W1");
    if !(want_row || config.wants("chart") || config.wants(chart.stem)) {
        return;
    }
    eprintln!("workload 1 and chart: tests that await a 100 ms timer");
    let n = config.timer_tests;
    sweep(runner, config, chart, Suite::Timer, &IO_WAYS, n, want_row);
    if !want_row {
        return;
    }
    let base = point(chart, "portaltest", n);
    for way in IO_WAYS {
        let stats = point(chart, way.key, n);
        let target = if way.peer == Peer::Portaltest {
            met(stats.ok() && stats.wall() < 0.5, "< 0.5 s wall".into())
        } else {
            String::new()
        };
        rows.push(timed_row(
            format!("1. {n} tests await a 100 ms timer"),
            way.peer,
            "default --test-threads".into(),
            stats,
            &base,
            target,
        ));
    }
}

/// Workload 2: trivial tests.
fn w2_trivial(runner: &Runner, config: &Config, rows: &mut Vec<Row>) {
    if !config.wants("W2") {
        return;
    }
    eprintln!("workload 2: trivial tests");
    let specs: Vec<Spec> = ALL_PEERS
        .iter()
        .map(|&peer| Spec {
            name: target_name(peer, Suite::Trivial),
            args: Vec::new(),
            env: &[],
        })
        .collect();
    let all: Vec<(Peer, Stats)> = ALL_PEERS
        .into_iter()
        .zip(runner.measure_interleaved(&specs, config.repeats))
        .collect();
    let base = all[0].1.clone();
    let plain = all[3].1.clone();
    for (peer, stats) in all {
        let target = if peer == Peer::Portaltest {
            met(
                stats.ok() && plain.ok() && stats.wall() <= plain.wall(),
                format!("wall <= libtest #[test] ({})", secs(plain.wall())),
            )
        } else {
            String::new()
        };
        rows.push(timed_row(
            format!("2. {} trivial tests", config.trivial_tests),
            peer,
            "default --test-threads".into(),
            stats,
            &base,
            target,
        ));
    }
}

/// Workload 3: HTTP requests to one in-process server.
fn w3_http(runner: &Runner, config: &Config, rows: &mut Vec<Row>) {
    if !config.wants("W3") {
        return;
    }
    let reps = config.repeats;
    eprintln!("workload 3: HTTP requests to one in-process server");
    let mut specs = vec![Spec {
        name: HTTP_BASELINE.to_string(),
        args: Vec::new(),
        env: &[],
    }];
    specs.extend(ASYNC_PEERS.iter().map(|&peer| Spec {
        name: target_name(peer, Suite::Http),
        args: Vec::new(),
        env: &[],
    }));
    let mut measured = runner.measure_interleaved(&specs, reps).into_iter();
    let reference = measured.next().expect("the reference");
    let all: Vec<(Peer, Stats)> = ASYNC_PEERS.into_iter().zip(measured).collect();
    let base = all[0].1.clone();
    let total = config.http_tests * config.http_requests;
    let workload = format!(
        "3. {} tests x {} HTTP requests (1 ms each)",
        config.http_tests, config.http_requests
    );
    for (peer, stats) in all {
        let (how, target) = match peer {
            Peer::Portaltest => (
                "one server (shared fixture), a keep-alive connection per test".to_string(),
                met(
                    stats.ok() && reference.ok() && stats.wall() <= 2.0 * reference.wall(),
                    format!("<= 2x one async client ({})", secs(2.0 * reference.wall())),
                ),
            ),
            Peer::TokioTest => (
                "a server per test (a static one dies with the first test's runtime)".into(),
                String::new(),
            ),
            _ => (
                "one server on the shared runtime (static), a connection per test".into(),
                String::new(),
            ),
        };
        rows.push(timed_row(workload.clone(), peer, how, stats, &base, target));
    }
    rows.push(Row {
        workload,
        peer: "reference: one async client, no harness".into(),
        how: format!(
            "{} tasks x {} requests in a row, one current-thread runtime ({total} requests)",
            config.http_tests, config.http_requests
        ),
        ratio: ratio(&reference, &base),
        stats: reference,
        derived: None,
        target: String::new(),
    });
}

/// Workload 4: all tests suspended at once on one barrier.
fn w4_suspended(runner: &Runner, config: &Config, rows: &mut Vec<Row>) {
    if !config.wants("W4") {
        return;
    }
    let reps = config.repeats;
    eprintln!("workload 4: tests suspended at the same time");
    let n = config.suspended_tests;
    let one = last_test_name(Suite::Suspended, config);
    let mut base_per_test = None;
    for peer in ASYNC_PEERS {
        let name = target_name(peer, Suite::Suspended);
        // Every harness runs at most --test-threads tests at once (libtest: one OS
        // thread each; portaltest: 4,096 in flight by default), and the barrier opens
        // only when all n are in: so each runs with --test-threads n.
        let args: Vec<String> = vec!["--test-threads".into(), n.to_string()];
        let how = if peer == Peer::Portaltest {
            format!("--test-threads {n} (all in flight, one thread)")
        } else {
            format!("--test-threads {n} (an OS thread per test)")
        };
        // Every test is suspended within a second or two; a run still going after
        // a minute is stuck (a test that could not start never reaches the barrier).
        let short = Runner {
            timeout: runner.timeout.min(Duration::from_secs(60)),
            ..runner.clone()
        };
        let all = short.measure(&name, &args, &[], reps);
        let single_args = vec!["--exact".to_string(), one.clone()];
        let single = runner.measure(&name, &single_args, &[("SUITE_GATE", "1")], reps);
        let per_test =
            (all.ok() && single.ok()).then(|| (all.rss() - single.rss()) / (n as f64 - 1.0));
        let derived = per_test.map_or_else(
            || "n/a".into(),
            |kib| {
                format!(
                    "{kib:.1} KiB/test = ({} - {} for 1 test) / {}",
                    mib(all.rss()),
                    mib(single.rss()),
                    n - 1
                )
            },
        );
        if peer == Peer::Portaltest {
            base_per_test = per_test;
        }
        let target = if peer == Peer::Portaltest {
            met(
                per_test.is_some_and(|k| k < 32.0),
                "< 32 KiB per suspended test".into(),
            )
        } else {
            String::new()
        };
        let ratio = match (peer, per_test, base_per_test) {
            (Peer::Portaltest, _, _) => "1".into(),
            (_, Some(p), Some(b)) => format!("{:.2}x RSS per test", p / b),
            _ => "n/a".into(),
        };
        rows.push(Row {
            workload: format!("4. {n} tests suspended at once (peak RSS per test)"),
            peer: peer.label().into(),
            how,
            stats: all,
            derived: Some(derived),
            ratio,
            target,
        });
    }
}

/// Workload 5: start-up of --list and --exact on the trivial binaries.
fn w5_startup(runner: &Runner, config: &Config, rows: &mut Vec<Row>) {
    if !config.wants("W5") {
        return;
    }
    eprintln!("workload 5: --list and --exact start-up");
    let one = last_test_name(Suite::Trivial, config);
    let list: Vec<String> = ["--list", "--format", "terse"].map(String::from).into();
    let exact: Vec<String> = vec!["--exact".into(), one.clone()];
    for (what, args) in [
        ("--list --format terse", list),
        (&*format!("--exact {one}"), exact),
    ] {
        let mut all = Vec::new();
        for peer in ALL_PEERS {
            let name = target_name(peer, Suite::Trivial);
            all.push((peer, runner.measure(&name, &args, &[], config.repeats)));
        }
        let base = all[0].1.clone();
        for (peer, stats) in all {
            let target = if peer == Peer::Portaltest && what.starts_with("--exact") {
                met(
                    stats.ok() && stats.wall() < 0.020,
                    "< 20 ms per --exact run".into(),
                )
            } else {
                String::new()
            };
            rows.push(timed_row(
                format!("5. `{what}` on a {}-test binary", config.trivial_tests),
                peer,
                String::new(),
                stats,
                &base,
                target,
            ));
        }
    }
}

/// Workload 6 (and its chart): CPU-bound tests, libtest against portaltest with one
/// worker and with a worker per core.
fn w6_cpu(runner: &Runner, config: &Config, chart: &mut Chart, rows: &mut Vec<Row>) {
    let want_row = config.wants("W6");
    if !(want_row || config.wants("chart") || config.wants(chart.stem)) {
        return;
    }
    eprintln!("workload 6 and chart: CPU-bound tests");
    let n = config.cpu_tests;
    sweep(runner, config, chart, Suite::Cpu, &CPU_WAYS, n, want_row);
    if !want_row {
        return;
    }
    let workload = format!(
        "6. {n} CPU-bound tests ({}M rounds of a hash loop each)",
        config.cpu_rounds / 1_000_000
    );
    let one = point(chart, "portaltest", n);
    let auto = point(chart, "portaltest_auto", n);
    let libtest = point(chart, "plain", n);
    rows.push(row(
        &workload,
        Peer::Portaltest,
        format!(
            "one worker (default); {:.0} ms a test",
            one.wall() * 1000.0 / n as f64
        ),
        one.clone(),
        speed_ratio(&one, &libtest, "libtest's"),
        String::new(),
    ));
    rows.push(row(
        &workload,
        Peer::Portaltest,
        format!("{PORTALTEST_JOBS}=auto ({} workers)", cores()),
        auto.clone(),
        speed_ratio(&auto, &libtest, "libtest's"),
        met(
            speed(&auto, &libtest).is_some_and(|s| s >= 0.95),
            format!(
                ">= 0.95x libtest's speed (wall <= {})",
                secs(libtest.wall() / 0.95)
            ),
        ),
    ));
    rows.push(row(
        &workload,
        Peer::LibtestPlain,
        "default --test-threads".into(),
        libtest,
        "1 (baseline)".into(),
        String::new(),
    ));
}

/// Workload 7 (and its chart): tests that spin ~20 ms, then await a 100 ms timer,
/// #[tokio::test] against portaltest with one worker and with a worker per core.
fn w7_cpu_then_timer(runner: &Runner, config: &Config, chart: &mut Chart, rows: &mut Vec<Row>) {
    let want_row = config.wants("W7");
    if !(want_row || config.wants("chart") || config.wants(chart.stem)) {
        return;
    }
    eprintln!("workload 7 and chart: tests that spin, then await a 100 ms timer");
    let n = config.cpu_wait_tests;
    sweep(
        runner,
        config,
        chart,
        Suite::CpuWait,
        &CPU_WAIT_WAYS,
        n,
        want_row,
    );
    if !want_row {
        return;
    }
    let workload = format!(
        "7. {n} tests spin {}M rounds (~20 ms), then await a 100 ms timer",
        config.cpu_wait_rounds / 1_000_000
    );
    let one = point(chart, "portaltest", n);
    let auto = point(chart, "portaltest_auto", n);
    let tokio = point(chart, "tokio_test", n);
    // One worker runs the CPU parts one after another: at best (20 + 100) ms x n /
    // threads against 20 ms x n + 100 ms (with the nominal 20 ms of CPU).
    let threads = cores() as f64;
    let bound = 120.0 * n as f64 / threads / (20.0 * n as f64 + 100.0);
    let whose = "#[tokio::test]'s";
    rows.push(row(
        &workload,
        Peer::Portaltest,
        "one worker (default)".into(),
        one.clone(),
        speed_ratio(&one, &tokio, whose),
        format!("(one worker: ~{bound:.1}x at best on {threads} cores, see notes)"),
    ));
    rows.push(row(
        &workload,
        Peer::Portaltest,
        format!("{PORTALTEST_JOBS}=auto ({} workers)", cores()),
        auto.clone(),
        speed_ratio(&auto, &tokio, whose),
        met(
            speed(&auto, &tokio).is_some_and(|s| s >= 4.0),
            format!(">= 4x {whose} speed (wall <= {})", secs(tokio.wall() / 4.0)),
        ),
    ));
    rows.push(row(
        &workload,
        Peer::TokioTest,
        "default --test-threads".into(),
        tokio,
        "1 (baseline)".into(),
        String::new(),
    ));
}

/// Workload 8: the supervisor's cost, workload 2's portaltest binary supervised (the
/// default) against everything in one process.
fn w8_supervisor(runner: &Runner, config: &Config, rows: &mut Vec<Row>) {
    if !config.wants("W8") {
        return;
    }
    eprintln!("workload 8: trivial tests, supervised and in-process");
    let name = target_name(Peer::Portaltest, Suite::Trivial);
    let specs = [
        Spec {
            name: name.clone(),
            args: Vec::new(),
            env: DEFAULT,
        },
        Spec {
            name,
            args: Vec::new(),
            env: IN_PROCESS,
        },
    ];
    let [supervised, in_process]: [Stats; 2] = runner
        .measure_interleaved(&specs, config.repeats)
        .try_into()
        .expect("two specs, two results");
    let workload = format!(
        "8. {} trivial tests: the supervisor's cost",
        config.trivial_tests
    );
    let pairs = pair_ratios(&supervised, &in_process);
    let (ratio, ok) = match ratio_summary(&pairs) {
        Some((wall, lo, hi)) if supervised.ok() && in_process.ok() => (
            format!(
                "{wall:.2}x in-process wall ({lo:.2}-{hi:.2}x over {} pairs), {:.2}x RSS",
                pairs.len(),
                supervised.rss() / in_process.rss()
            ),
            wall <= 1.2,
        ),
        _ => ("n/a".into(), false),
    };
    rows.push(row(
        &workload,
        Peer::Portaltest,
        "supervised (default: the tests run in a worker process)".into(),
        supervised,
        ratio,
        met(
            ok,
            format!(
                "<= 1.2x in-process wall ({})",
                secs(1.2 * in_process.wall())
            ),
        ),
    ));
    rows.push(row(
        &workload,
        Peer::Portaltest,
        format!("{PORTALTEST_IN_PROCESS}=1 (one process, no worker)"),
        in_process,
        "1 (baseline)".into(),
        String::new(),
    ));
}
