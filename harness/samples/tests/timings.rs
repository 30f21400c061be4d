//! Tests that wait 50, 150 and 300 ms, interleaved: for `--report-time` and
//! `PORTALTEST_SLOWEST`. Each test's time covers its wait even though all three wait
//! at once (the run takes about 300 ms, not 500).
use portaltest::await_;
use std::time::Duration;

#[portaltest::test]
async fn fast() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[portaltest::test]
fn medium() {
    await_(tokio::time::sleep(Duration::from_millis(150)));
}

#[portaltest::test]
async fn slow() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[portaltest::test]
async fn fails_after_a_wait() {
    tokio::time::sleep(Duration::from_millis(10)).await;
    panic!("on purpose");
}

#[portaltest::test]
#[ignore]
fn ignored() {}

portaltest::main!();
