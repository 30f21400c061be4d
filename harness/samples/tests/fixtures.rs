//! Fixtures: one initialisation under concurrency, dependencies, teardown order, failures.
use portaltest::{await_, fixture};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod support;
use support::log;

static INITS: AtomicUsize = AtomicUsize::new(0);

#[fixture]
async fn counted() -> usize {
    INITS.fetch_add(1, Ordering::SeqCst);
    log("init counted");
    // Long enough that every test reaches the fixture while this runs.
    tokio::time::sleep(Duration::from_millis(50)).await;
    42
}

mod counted_users {
    use super::*;
    fn check() {
        assert_eq!(*counted(), 42);
        assert_eq!(INITS.load(Ordering::SeqCst), 1);
    }
    #[portaltest::test]
    fn a() {
        check()
    }
    #[portaltest::test]
    fn b() {
        check()
    }
    #[portaltest::test]
    async fn c() {
        check()
    }
    #[portaltest::test]
    fn d() {
        check()
    }
}

#[fixture(teardown = teardown_base)]
async fn base() -> String {
    log("init base");
    "base".to_string()
}

async fn teardown_base(value: &String) {
    tokio::task::yield_now().await;
    log(&format!("teardown {value}"));
}

#[fixture(teardown = teardown_derived)]
async fn derived() -> String {
    // Fixtures may use fixtures (sync accessor inside the async fn).
    let b = base();
    log("init derived");
    format!("{b}+derived")
}

async fn teardown_derived(value: &String) {
    log(&format!("teardown {value}"));
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        log("drop tempdir");
    }
}

#[fixture(teardown = teardown_tempdir)]
async fn tempdir() -> TempDir {
    let dir = std::env::temp_dir().join(format!("portaltest-sample-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    log(&format!("tempdir {}", dir.display()));
    TempDir(dir)
}

async fn teardown_tempdir(dir: &TempDir) {
    assert!(dir.0.exists());
    log("teardown tempdir");
}

#[portaltest::test]
fn uses_derived_and_tempdir() {
    assert!(tempdir().0.exists());
    assert_eq!(*derived(), "base+derived");
    await_(tokio::task::yield_now());
}

#[fixture]
async fn broken() -> String {
    log("init broken");
    tokio::task::yield_now().await;
    panic!("database unreachable");
}

#[portaltest::test]
fn broken_user_1() {
    let _ = broken();
}

#[portaltest::test]
fn broken_user_2() {
    let _ = broken();
}

#[fixture]
async fn err_fixture() -> Result<u32, String> {
    Err("no config file".to_string())
}

#[portaltest::test]
fn err_user() {
    let _ = err_fixture();
}

#[fixture]
async fn chicken() -> u32 {
    *egg() + 1
}

#[fixture]
async fn egg() -> u32 {
    *chicken() + 1
}

#[portaltest::test(timeout = "10s")]
fn cycle_user() {
    let _ = chicken();
}

portaltest::main!();
