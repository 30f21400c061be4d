//! What the end-to-end tests share: building the sample targets of `harness/samples`
//! and running one as a process.

#![allow(dead_code)] // each test file uses some of these

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds the sample targets (`cargo test -p portaltest-samples --no-run --test ..`, into
/// the same target directory) and returns their executables by name.
pub fn build_samples(samples: &[&str]) -> HashMap<String, PathBuf> {
    build_samples_with(samples, &[])
}

/// [`build_samples`] with extra environment for cargo (`RUSTFLAGS`, a target dir).
pub fn build_samples_with(samples: &[&str], env: &[(&str, &str)]) -> HashMap<String, PathBuf> {
    let mut cmd = Command::new(cargo());
    cmd.envs(env.iter().copied());
    cmd.current_dir(workspace_root()).args([
        "test",
        "-p",
        "portaltest-samples",
        "--no-run",
        "--message-format=json",
    ]);
    for s in samples {
        cmd.args(["--test", s]);
    }
    let out = cmd.output().expect("cannot run cargo");
    assert!(
        out.status.success(),
        "building the samples failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bins = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(exe)) =
            (msg["target"]["name"].as_str(), msg["executable"].as_str())
        {
            bins.insert(name.to_string(), PathBuf::from(exe));
        }
    }
    for s in samples {
        assert!(
            bins.contains_key(*s),
            "no executable for sample `{s}` in cargo's output"
        );
    }
    bins
}

/// One run of a sample binary.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// No extra environment, for [`run_sample`].
pub const NO_ENV: &[(&str, &str)] = &[];

/// Runs `exe` with `args`, in an environment cleared of the variables that change the
/// harness's behaviour, plus `env`.
pub fn run_sample<V: AsRef<std::ffi::OsStr>>(exe: &Path, args: &[&str], env: &[(&str, V)]) -> Run {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env("RUST_BACKTRACE", "0")
        .env_remove("RUST_TEST_THREADS")
        .env_remove("PORTALTEST_TIMEOUT")
        .env_remove("PORTALTEST_BLOCKING_WARN_MS")
        .env_remove("PORTALTEST_PARTITION")
        .env_remove("PORTALTEST_SLOW_NOTICE_MS")
        .env_remove("PORTALTEST_SLOWEST")
        .env_remove("PORTALTEST_JOBS")
        .env_remove("PORTALTEST_IN_PROCESS")
        .env_remove("PORTALTEST_GRACE")
        .env_remove("PORTALTEST_TEARDOWN_TIMEOUT")
        .env_remove("NEXTEST")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("cannot run sample");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        took: started.elapsed(),
    }
}

impl Run {
    /// The tests that got a result line (`test NAME ... ok`), in the order of those
    /// lines.
    pub fn reported(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("test "))
            .filter_map(|l| l.split_once(" ... ").map(|(name, _)| name.to_string()))
            .collect()
    }

    pub fn assert_stdout(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    pub fn assert_no_stdout(&self, needle: &str) -> &Self {
        assert!(
            !self.stdout.contains(needle),
            "stdout has {needle:?}:\n{}",
            self.stdout
        );
        self
    }
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    /// The part of stdout after the failures header (the captured outputs).
    pub fn failure_section(&self) -> &str {
        let at = self
            .stdout
            .find("\nfailures:\n")
            .expect("no failures section");
        &self.stdout[at..]
    }
    /// The part of stdout before the failures header (the result lines).
    pub fn result_lines(&self) -> &str {
        match self.stdout.find("\nfailures:\n") {
            Some(at) => &self.stdout[..at],
            None => &self.stdout,
        }
    }
    /// The captured output shown for the failing test `name`.
    pub fn section(&self, name: &str) -> &str {
        let header = format!("---- {name} stdout ----\n");
        let at = self
            .stdout
            .find(&header)
            .unwrap_or_else(|| panic!("no section for {name}:\n{}", self.stdout));
        let rest = &self.stdout[at + header.len()..];
        let end = ["\n---- ", "\nfailures:\n"]
            .iter()
            .filter_map(|m| rest.find(m))
            .min()
            .unwrap_or(rest.len());
        &rest[..end]
    }
}

/// A log file the samples append to (`PORTALTEST_SAMPLE_LOG`).
/// A log file that a sample writes (its path in `PORTALTEST_SAMPLE_LOG` or the like),
/// removed when the test is done with it: a test run leaves no file behind.
pub struct LogFile(PathBuf);

impl std::ops::Deref for LogFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for LogFile {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for LogFile {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for LogFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn log_path(tag: &str) -> LogFile {
    let p = std::env::temp_dir().join(format!("portaltest-log-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    LogFile(p)
}

pub fn read_log(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Runs `cmd` (stdout and stderr piped) to its end, or kills it after `limit` and
/// fails: a run that never ends is a failure, not a hung test suite.
pub fn run_within(mut cmd: Command, limit: Duration) -> Run {
    use std::process::Stdio;
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("cannot run sample");
    wait_within(child, limit)
}

/// Waits for `child` (spawned with stdout and stderr piped) to end, or kills it after
/// `limit` and fails.
pub fn wait_within(mut child: std::process::Child, limit: Duration) -> Run {
    use std::io::Read;
    let started = Instant::now();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    // A descendant that holds the pipes open must not hang the test either.
    let join = |h: std::thread::JoinHandle<Vec<u8>>| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !h.is_finished() {
            assert!(
                Instant::now() < deadline,
                "a descendant of the run still holds its stdout or stderr"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        String::from_utf8_lossy(&h.join().unwrap()).into_owned()
    };
    Run {
        code: status.code(),
        stdout: join(out),
        stderr: join(err),
        took,
    }
}

/// A sample's command with the environment of [`run_sample`].
pub fn sample_command(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(args).env("RUST_BACKTRACE", "0");
    for var in [
        "RUST_TEST_THREADS",
        "PORTALTEST_TIMEOUT",
        "PORTALTEST_BLOCKING_WARN_MS",
        "PORTALTEST_PARTITION",
        "PORTALTEST_SLOW_NOTICE_MS",
        "PORTALTEST_SLOWEST",
        "PORTALTEST_JOBS",
        "PORTALTEST_IN_PROCESS",
        "PORTALTEST_GRACE",
        "PORTALTEST_TEARDOWN_TIMEOUT",
        "PORTALTEST_RETRIES",
        "NEXTEST",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            // The state follows the command's closing parenthesis.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            matches!(state, Some('Z') | Some('X') | None)
        }
    }
}

/// Waits up to `limit` for process `pid` to end; whether it did.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !process_gone(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Waits up to `limit` for a log line starting with `prefix`; the rest of it.
pub fn wait_for_log(log: &Path, prefix: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(rest) = read_log(log).iter().find_map(|l| l.strip_prefix(prefix)) {
            return rest.trim().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no {prefix:?} in the log in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The numbers after `prefix` in the log's lines.
pub fn logged_pids(log: &Path, prefix: &str) -> Vec<u32> {
    read_log(log)
        .iter()
        .filter_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
        .collect()
}
