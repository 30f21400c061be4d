//! Flaky tests and retries (`retries = N`, PORTALTEST_RETRIES): checked by
//! harness/tests/reports.rs in every output format and in the JUnit report.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Fails the first `n` times it is called from the test `counter` belongs to.
fn fail_first(counter: &AtomicUsize, n: usize) {
    let try_ = counter.fetch_add(1, Ordering::SeqCst) + 1;
    println!("try {try_}");
    assert!(try_ > n, "flaky failure on try {try_}");
}

#[portaltest::test(retries = 2)]
fn flaky_once() {
    static TRIES: AtomicUsize = AtomicUsize::new(0);
    portaltest::await_(tokio::time::sleep(std::time::Duration::from_millis(5)));
    fail_first(&TRIES, 1);
}

#[portaltest::test(retries = 1)]
fn always_fails() {
    static TRIES: AtomicUsize = AtomicUsize::new(0);
    fail_first(&TRIES, usize::MAX);
}

/// Retried only with PORTALTEST_RETRIES.
#[portaltest::test]
fn flaky_without_attribute() {
    static TRIES: AtomicUsize = AtomicUsize::new(0);
    fail_first(&TRIES, 1);
}

#[portaltest::test]
fn passes() {}

#[portaltest::test]
#[ignore = "not today"]
fn skipped() {}

portaltest::main!();
