//! `#[portaltest::test(blocking_warn = "..")]`: a test's own blocking warning
//! threshold. Every test here passes; harness/tests/samples.rs reads the warnings.
use portaltest::fixture;
use std::time::Duration;

/// Holds the runtime thread for 300 ms without yielding.
fn block() {
    std::thread::sleep(Duration::from_millis(300));
}

/// Warns: 300 ms is past its own 50 ms (whatever the run's threshold is).
#[portaltest::test(blocking_warn = "50ms")]
fn stricter() {
    block();
}

/// Does not warn: 300 ms is within its own 10 s (the run's default, 100 ms, would).
#[portaltest::test(blocking_warn = "10s")]
fn more_lenient() {
    block();
}

/// Never warns.
#[portaltest::test(blocking_warn = "0ms")]
async fn never() {
    block();
}

/// Warns at the run's threshold.
#[portaltest::test]
fn default_threshold() {
    block();
}

#[fixture]
async fn slow_to_build() -> u32 {
    block();
    1
}

/// The test's own threshold covers its own code, not a fixture set up for it: the
/// fixture warns at the run's threshold.
#[portaltest::test(blocking_warn = "10s")]
fn lenient_with_a_blocking_fixture() {
    assert_eq!(*slow_to_build(), 1);
}

portaltest::main!();
