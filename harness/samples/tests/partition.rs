//! For CI sharding (`--partition`, `PORTALTEST_PARTITION`) and libtest's notice for a
//! test that runs long: quick tests (some ignored) and, under `slow::`, two that sleep
//! for `SAMPLE_SLEEP_MS` (default 0), one of them with a time limit.
use std::time::Duration;

#[portaltest::test]
fn alpha() {}

#[portaltest::test]
fn bravo() {}

#[portaltest::test]
fn charlie() {}

#[portaltest::test]
fn delta() {}

#[portaltest::test]
fn echo() {}

#[portaltest::test]
fn foxtrot() {}

#[portaltest::test]
fn golf() {}

#[portaltest::test]
fn hotel() {}

#[portaltest::test]
fn india() {}

#[portaltest::test]
fn juliet() {}

mod more {
    #[portaltest::test]
    fn kilo() {}

    #[portaltest::test]
    fn lima() {}

    #[portaltest::test]
    fn mike() {}

    #[portaltest::test]
    fn november() {}

    #[portaltest::test]
    #[ignore]
    fn ignored_one() {}

    #[portaltest::test]
    #[ignore = "slow"]
    fn ignored_two() {}
}

#[portaltest::test]
#[ignore]
fn ignored_three() {}

mod slow {
    use super::*;

    fn sleep_ms() -> u64 {
        std::env::var("SAMPLE_SLEEP_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    #[portaltest::test]
    async fn no_limit() {
        tokio::time::sleep(Duration::from_millis(sleep_ms())).await;
    }

    #[portaltest::test(timeout = "1m")]
    async fn with_limit() {
        tokio::time::sleep(Duration::from_millis(sleep_ms())).await;
    }

    #[portaltest::test(isolated)]
    fn isolated_no_limit() {
        std::thread::sleep(Duration::from_millis(sleep_ms()));
    }
}

portaltest::main!();
