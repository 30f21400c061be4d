//! The entry point: reads the command line and the environment, selects the tests, and
//! runs them the way this invocation calls for: `--list` here; a worker's share when
//! this process is a worker ([`crate::worker`]); else under a supervisor that runs them
//! in worker processes ([`crate::supervisor`]), or in this very process (one test for
//! cargo-nextest, `PORTALTEST_IN_PROCESS=1` for debuggers).

pub(crate) mod partition;
pub(crate) mod plan;
pub(crate) mod shuffle;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::rc::Rc;

use libtest_mimic::{Arguments, Trial};

use crate::config::{Cli, EnvConfig, DEFAULT_IN_FLIGHT, WORKER_ENV};
use crate::fixtures::registry::{TestDef, TESTS};
use crate::report::printer::Printer;
use crate::report::Report;
use crate::sys::capture::Capture;
use crate::worker::{self, attribution, watchdog};
use plan::{exit_code, start_report, Plan, Selected};

/// The name libtest would print: the module path inside the target plus the fn name.
pub(crate) fn test_name(def: &TestDef) -> String {
    match def.module_path.split_once("::") {
        Some((_crate, rest)) => format!("{rest}::{}", def.name),
        None => def.name.to_string(),
    }
}

/// Every test of the binary, in name order: a test's id is its index here (the same in
/// the supervisor and its workers, which are the same binary).
pub(crate) fn all_tests() -> Vec<(String, &'static TestDef)> {
    let mut all: Vec<(String, &'static TestDef)> =
        TESTS.iter().map(|d| (test_name(d), d)).collect();
    all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    all
}

/// How many tests are in flight at once: `--test-threads`, else `RUST_TEST_THREADS`,
/// else [`DEFAULT_IN_FLIGHT`].
fn in_flight(args: &Arguments, env: &EnvConfig) -> usize {
    // Past tokio's largest semaphore the runtime would panic before any test ran.
    args.test_threads
        .or(env.threads)
        .unwrap_or(DEFAULT_IN_FLIGHT)
        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS)
}

/// Runs the tests of this binary with the command line of the process; see
/// [`crate::main!`].
pub(crate) fn run_main() -> ExitCode {
    if let Some(board) = std::env::var_os(WORKER_ENV) {
        return worker_main(board);
    }
    match Cli::parse(std::env::args_os()) {
        Ok(cli) => run_cli(cli),
        Err(err) => usage_error(&err.to_string()),
    }
}

/// libtest's way to reject a command line or an environment: `error: ...` on stderr,
/// exit code 101.
fn usage_error(err: &str) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    for line in err.lines() {
        let _ = writeln!(stderr, "error: {line}");
    }
    ExitCode::from(101)
}

/// `--list`, as libtest prints it: `NAME: test` lines, then (not in the terse format,
/// which cargo-nextest reads) a blank line and `N tests, 0 benchmarks`. With
/// `--logfile`, the log gets `test NAME` lines.
fn list(cli: &Cli, selected: &[Selected], logfile: Option<std::fs::File>) {
    let mut out = std::io::stdout().lock();
    if cli.args.format == Some(libtest_mimic::FormatSetting::Json) {
        list_json(&mut out, selected);
    } else {
        list_lines(&mut out, cli, selected);
    }
    let _ = out.flush();
    if let Some(mut log) = logfile {
        for t in selected {
            let _ = writeln!(log, "test {}", t.name);
        }
    }
}

/// libtest's JSON listing (`--list --format json -Z unstable-options`): a `discovery`
/// line, one `discovered` line per test, a `completed` line with the counts. Columns
/// are not known here (only the line of the test's fn): they are 1.
fn list_json(out: &mut impl Write, selected: &[Selected]) {
    use crate::report::json::json_escape;
    let _ = writeln!(out, r#"{{ "type": "suite", "event": "discovery" }}"#);
    for t in selected {
        let _ = writeln!(
            out,
            r#"{{ "type": "test", "event": "discovered", "name": "{}", "ignore": {}, "ignore_message": "{}", "source_path": "{}", "start_line": {line}, "start_col": 1, "end_line": {line}, "end_col": 1 }}"#,
            json_escape(&t.name),
            t.def.ignore,
            json_escape(t.def.ignore_reason.unwrap_or("")),
            json_escape(t.def.file),
            line = t.def.line,
        );
    }
    let n = selected.len();
    let ignored = selected.iter().filter(|t| t.def.ignore).count();
    let _ = writeln!(
        out,
        r#"{{ "type": "suite", "event": "completed", "tests": {n}, "benchmarks": 0, "total": {n}, "ignored": {ignored} }}"#
    );
}

fn list_lines(out: &mut impl Write, cli: &Cli, selected: &[Selected]) {
    for t in selected {
        let _ = writeln!(out, "{}: test", t.name);
    }
    if !cli.is_terse() {
        let n = selected.len();
        if n != 0 {
            let _ = writeln!(out);
        }
        let plural = if n == 1 { "" } else { "s" };
        let _ = writeln!(out, "{n} test{plural}, 0 benchmarks");
    }
}

pub(crate) fn run_with_args(mut args: Arguments) -> ExitCode {
    if args.test_threads == Some(0) {
        return usage_error("argument for --test-threads must not be 0");
    }
    let filters = args.filter.take().into_iter().collect();
    run_cli(Cli {
        args,
        filters,
        partition: None,
        report_time: false,
        junit: false,
        shuffle: false,
        shuffle_seed: None,
    })
}

fn run_cli(cli: Cli) -> ExitCode {
    // Everything the environment says is read and checked before anything else (and
    // long before capture starts): a bad value is an error on the real stderr.
    let env = match EnvConfig::from_env() {
        Ok(env) => env,
        Err(err) => return usage_error(&err.to_string()),
    };
    let logfile = match &cli.args.logfile {
        None => None,
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(f),
            Err(err) => return usage_error(&format!("cannot create the log file {path}: {err}")),
        },
    };
    for warning in &env.warnings {
        eprintln!("{warning}");
    }
    let args = &cli.args;
    // Names are computed once: a 10,000-test binary pays this on every `--exact` run.
    let all = all_tests();
    let total = all.len();
    let mut selected = Vec::new();
    // The CI shard: `--partition`, else PORTALTEST_PARTITION. As in cargo-nextest it
    // applies after the other filters (only tests they keep advance `count:`), in name
    // order; the tests it leaves out count as filtered out.
    let mut partitioner = cli.partition.or(env.partition).map(|p| p.partitioner());
    for (id, (name, def)) in all.iter().enumerate() {
        let trial = Trial::test(name.clone(), || Ok(())).with_ignored_flag(def.ignore);
        if !cli.matches(name) || args.is_filtered_out(&trial) {
            continue;
        }
        if let Some(partitioner) = &mut partitioner {
            if !partitioner.keeps(name, def.ignore) {
                continue;
            }
        }
        let ignored = args.is_ignored(&trial);
        selected.push(Selected {
            id: id as u32,
            def,
            name: name.clone(),
            ignored,
        });
    }
    let filtered_out = (total - selected.len()) as u64;

    if args.list {
        list(&cli, &selected, logfile);
        return ExitCode::SUCCESS;
    }
    // Shuffled after selection and partitioning (a shard is the same set of tests
    // either way): the order in which tests start, in one worker or from the queue
    // that several share.
    let shuffle_seed = cli.shuffle_seed(&env);
    if let Some(seed) = shuffle_seed {
        crate::run::shuffle::shuffle(&mut selected, seed);
    }
    let threads = in_flight(args, &env);
    let to_run = selected.iter().filter(|t| !t.ignored).count();
    // One process: asked for; the single test that cargo-nextest runs per process
    // (`--exact NAME`, which must start in milliseconds); nothing to run; or no unix.
    let mut in_process =
        env.in_process || (args.exact && to_run <= 1) || to_run == 0 || !cfg!(unix);
    // A debugger or tracer attached to this process would never see a test run in a
    // worker process: the run stays here, and says so.
    if !in_process {
        if let Some(tracer) = tracer_pid() {
            eprintln!(
                "portaltest: a debugger or tracer is attached (pid {tracer}): the tests run in \
                 this process, not in worker processes (as with PORTALTEST_IN_PROCESS=1)"
            );
            in_process = true;
        }
    }
    let names = all.iter().map(|(n, _)| n.clone()).collect();
    let plan = Plan {
        tests: all,
        selected,
        threads,
        filtered_out,
        shuffle_seed,
    };
    if in_process {
        return run_in_process(&cli, env, plan, names, logfile);
    }
    // The supervisor's printer writes to this process's stdout: nothing is captured
    // here (the workers' output is); from a thread of its own, so that a stalled
    // consumer never stalls the supervisor's handling of events, deadlines, signals.
    let printer = Printer::stdout_in_background(args);
    let report = make_report(
        &cli,
        &env,
        printer,
        logfile,
        names,
        Box::new(std::io::stderr()),
    );
    #[cfg(unix)]
    {
        crate::supervisor::run(&cli, env, plan, report)
    }
    #[cfg(not(unix))]
    unreachable!("runs are in one process without unix")
}

/// The report of the run: results to `printer` (and the log file), the JUnit report
/// where it was asked for.
fn make_report(
    cli: &Cli,
    env: &EnvConfig,
    mut printer: Printer,
    logfile: Option<std::fs::File>,
    names: Vec<String>,
    real_stderr: Box<dyn Write>,
) -> Report {
    printer.set_log(logfile);
    printer.set_timing(cli.report_time, env.slowest);
    if cli.junit {
        printer.silence();
    }
    let mut report = Report::new(printer, names, cli.args.show_output, real_stderr);
    report.set_jobs(env.jobs.unwrap_or(1));
    if cli.junit || env.junit.is_some() {
        let path = if cli.junit { None } else { env.junit.clone() };
        report.set_junit(crate::report::junit::Junit::new(suite_name(), path));
    }
    report
}

/// The test target's name: the executable's, without the hash cargo appends
/// (`api-0123456789abcdef` is `api`).
fn suite_name() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tests".into());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_string()
        }
        _ => stem,
    }
}

/// The pid of the process tracing this one (a debugger, strace), if any: Linux's
/// `TracerPid` in `/proc/self/status`.
fn tracer_pid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let pid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))?
        .trim()
        .parse()
        .ok()?;
    (pid != 0).then_some(pid)
}

/// The run in this process: the worker's run loop with the report as its sink.
fn run_in_process(
    cli: &Cli,
    env: EnvConfig,
    plan: Plan,
    names: Vec<String>,
    logfile: Option<std::fs::File>,
) -> ExitCode {
    let args = &cli.args;
    crate::logging::install_tracing(&env);
    crate::worker::panic_hook::install_panic_hook(env.backtraces);
    crate::protocol::board::guard_forks();
    let capture = if args.nocapture {
        None
    } else {
        let capture = Capture::start();
        if capture.is_none() && cfg!(unix) {
            eprintln!(
                "portaltest: warning: cannot redirect stdout/stderr to a temporary file in {}; \
                 test output is not captured (as with --nocapture)",
                std::env::temp_dir().display()
            );
        }
        capture
    };
    let (printer, real_stderr, watchdog_err): (Printer, Box<dyn Write>, Box<dyn Write + Send>) =
        match &capture {
            Some(c) => {
                let out = c.real_stdout();
                let term = out.is_terminal();
                (
                    Printer::new(args, Box::new(out), term),
                    Box::new(c.real_stderr()),
                    Box::new(c.real_stderr()),
                )
            }
            None => (
                Printer::stdout(args),
                Box::new(std::io::stderr()),
                Box::new(std::io::stderr()),
            ),
        };
    let mut report = make_report(cli, &env, printer, logfile, names, real_stderr);
    let ids = start_report(&mut report, &plan);
    let sink = Rc::new(crate::report::Direct::new(report));
    let ctx = Rc::new(attribution::Ctx::new(
        capture,
        sink.clone(),
        env.blocking_warn,
    ));
    attribution::install(ctx.clone());
    if ctx.warn_after.is_some() || plan.tests.iter().any(|(_, d)| d.blocking_warn_ms.is_some()) {
        watchdog::start(ctx.names.clone(), watchdog_err);
    }
    // An exit of the process from here on (a test calling `std::process::exit`) fails.
    #[cfg(unix)]
    {
        use std::os::fd::IntoRawFd;
        let fd = match ctx.capture.borrow().as_ref() {
            // Kept open until the process ends.
            Some(c) => c.real_stderr().into_raw_fd(),
            None => 2,
        };
        crate::sys::exit_guard::arm(fd, watchdog::polling, ctx.names.clone());
    }
    worker::run(worker::Setup {
        tests: plan.tests,
        env,
        threads: plan.threads,
        ctx: ctx.clone(),
        source: worker::Source::Local(ids.into()),
        worker_process: false,
    });
    crate::sys::exit_guard::disarm();
    watchdog::stop();
    attribution::uninstall();
    drop(ctx);
    let report = match Rc::try_unwrap(sink) {
        Ok(direct) => direct.into_report(),
        Err(_) => unreachable!("portaltest: the run's state outlived it"),
    };
    exit_code(report.finish(plan.filtered_out, None))
}

/// A worker process: runs the tests its supervisor hands it (see
/// [`crate::supervisor`]); its stdin is the socket to the supervisor, its stdout and
/// stderr the capture file (or the supervisor's, with `--nocapture`).
fn worker_main(board: std::ffi::OsString) -> ExitCode {
    let env = match EnvConfig::from_env() {
        Ok(env) => env,
        Err(err) => return usage_error(&err.to_string()),
    };
    let threads = std::env::var(crate::config::WORKER_THREADS_ENV)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(DEFAULT_IN_FLIGHT);
    let capture = std::env::var_os(crate::config::WORKER_CAPTURE_ENV).is_some_and(|v| v == "1");
    let share = std::env::var_os(crate::config::WORKER_SHARE_ENV).is_some_and(|v| v == "1");
    // Not for the tests' own child processes: a portaltest binary that a test starts
    // must not take itself for a worker. (No other thread runs yet.)
    for name in [
        WORKER_ENV,
        crate::config::WORKER_THREADS_ENV,
        crate::config::WORKER_CAPTURE_ENV,
        crate::config::WORKER_SHARE_ENV,
    ] {
        std::env::remove_var(name);
    }
    #[cfg(unix)]
    {
        use std::os::unix::net::UnixStream;
        let Some(link) = crate::sys::capture::take_stdin() else {
            return usage_error("portaltest worker: no link to the supervisor on stdin");
        };
        if let Err(err) = crate::protocol::board::open(&board) {
            return usage_error(&format!("portaltest worker: cannot open the board: {err}"));
        }
        crate::protocol::board::guard_forks();
        crate::protocol::board::catch_crashes();
        let (link, rx) = match worker::link::Link::start(UnixStream::from(link), worker::on_command)
        {
            Ok(started) => started,
            Err(err) => return usage_error(&format!("portaltest worker: {err}")),
        };
        // A stop of this worker moves its deadlines; the supervisor's move with them.
        let stops = link.clone();
        crate::sys::realtime::on_stop(move |gap| {
            stops.send(&crate::protocol::events::Event::Stopped { gap })
        });
        crate::logging::install_tracing(&env);
        crate::worker::panic_hook::install_panic_hook(env.backtraces);
        let capture = if capture { Capture::inherited() } else { None };
        let sink: Rc<dyn crate::protocol::sink::Sink> = Rc::new(link.clone());
        let ctx = Rc::new(attribution::Ctx::new(capture, sink, env.blocking_warn));
        attribution::install(ctx.clone());
        let tests = all_tests();
        if ctx.warn_after.is_some() || tests.iter().any(|(_, d)| d.blocking_warn_ms.is_some()) {
            let warnings = worker::link::WarnWriter {
                link: link.clone(),
                buf: Vec::new(),
            };
            watchdog::start(ctx.names.clone(), Box::new(warnings));
        }
        worker::run(worker::Setup {
            tests,
            env,
            threads,
            ctx: ctx.clone(),
            source: worker::Source::Remote {
                rx,
                queue: Default::default(),
                ended: false,
                share,
            },
            worker_process: true,
        });
        watchdog::stop();
        attribution::uninstall();
        link.flush();
        ExitCode::SUCCESS
    }
    #[cfg(not(unix))]
    {
        let _ = (board, threads, capture, share);
        usage_error("portaltest: worker processes need unix")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(module_path: &'static str, name: &'static str) -> TestDef {
        TestDef::sample(module_path, name)
    }

    #[test]
    fn names_are_paths_inside_the_target() {
        assert_eq!(test_name(&def("api", "lists_users")), "lists_users");
        assert_eq!(
            test_name(&def("api::users", "creates_user")),
            "users::creates_user"
        );
        assert_eq!(test_name(&def("api::a::b", "c")), "a::b::c");
    }
}
