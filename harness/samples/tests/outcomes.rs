//! One test per outcome libtest knows (some fail on purpose).
use portaltest::{await_, guard};
use std::time::Duration;

mod support;
use support::log;

#[portaltest::test]
fn passes() {
    println!("output of a passing test");
    await_(tokio::task::yield_now());
}

#[portaltest::test]
fn fails_assert() {
    println!("stdout of the failing test");
    await_(tokio::task::yield_now());
    eprintln!("stderr of the failing test");
    tracing::info!("tracing event of the failing test");
    assert_eq!(1 + 1, 3, "arithmetic is broken");
}

#[portaltest::test]
fn returns_err() -> Result<(), String> {
    Err("bad thing happened".into())
}

#[portaltest::test]
async fn async_panics() {
    tokio::task::yield_now().await;
    panic!("async boom");
}

#[portaltest::test]
#[should_panic]
fn should_panic_ok() {
    panic!("boom");
}

#[portaltest::test]
#[should_panic(expected = "boom")]
fn should_panic_expected_ok() {
    panic!("a big boom");
}

#[portaltest::test]
#[should_panic(expected = "xyz")]
fn should_panic_wrong_message() {
    panic!("boom");
}

#[portaltest::test]
#[should_panic]
fn should_panic_but_did_not() {}

#[portaltest::test]
#[ignore]
fn ignored_plain() {
    panic!("must not run");
}

#[portaltest::test]
#[ignore = "needs network"]
fn ignored_with_reason() {}

struct Noisy;
impl Drop for Noisy {
    fn drop(&mut self) {
        println!("destructor ran on timeout");
        log("destructor ran");
    }
}

#[portaltest::test(timeout = "200ms")]
fn times_out() {
    let _noisy = Noisy;
    let _g = guard((), |_| async {
        tokio::task::yield_now().await;
        log("guard cleanup ran");
    });
    await_(std::future::pending::<()>());
}

#[portaltest::test]
fn blocks_the_thread() {
    std::thread::sleep(Duration::from_millis(300));
}

mod nested {
    mod deeper {
        #[portaltest::test]
        fn named_by_path() {}
    }
}

portaltest::main!();
