//! Tests that end the process with `std::process::exit`. Supervised, such a test fails
//! alone and the others pass; in one process (`--exact`, `PORTALTEST_IN_PROCESS=1`) the
//! run must fail (exit 101) naming the test, even after `exit(0)`.

use std::time::Duration;

#[portaltest::test]
fn passes() {
    portaltest::await_(tokio::time::sleep(Duration::from_millis(50)));
}

#[portaltest::test]
fn exits_with_zero() {
    portaltest::await_(tokio::time::sleep(Duration::from_millis(10)));
    std::process::exit(0);
}

#[portaltest::test(isolated)]
fn isolated_exits_with_zero() {
    std::process::exit(0);
}

portaltest::main!();
