//! rstest's parameterised tests under portaltest: `#[rstest]` above
//! `#[portaltest::test]` expands each `#[case]` and each combination of `#[values]`
//! into a test of its own (`adds::case_1`, `multiplies::x_1_1_y_2_10`, ...), each marked
//! `#[portaltest::test]`. One case fails on purpose.
use portaltest::{await_, fixture};
use rstest::rstest;
use std::time::Duration;

#[fixture]
async fn offset() -> u32 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    100
}

/// Sync, with `#[case]`s; the third one fails.
#[rstest]
#[case(1, 2, 3)]
#[case(2, 2, 4)]
#[case::wrong(2, 2, 5)]
#[portaltest::test]
fn adds(#[case] a: u32, #[case] b: u32, #[case] sum: u32) {
    await_(tokio::task::yield_now());
    assert_eq!(a + b, sum);
}

/// Async, with `#[case]`s and a portaltest fixture.
#[rstest]
#[case::small(1)]
#[case::large(1000)]
#[portaltest::test]
async fn async_adds(#[case] n: u32) {
    tokio::task::yield_now().await;
    assert_eq!(*offset() + n - n, 100);
}

/// Sync, every combination of `#[values]`.
#[rstest]
#[portaltest::test]
fn multiplies(#[values(1, 2)] x: u32, #[values(1, 10)] y: u32) {
    assert_eq!(x * y / y, x);
}

/// Async, `#[values]` and a time limit.
#[rstest]
#[portaltest::test(timeout = "5s")]
async fn waits(#[values(1, 5)] ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

portaltest::main!();
