//! libtest parity and output placement: several filters, `--list`, `--logfile`, a
//! panic's backtrace, output of no test (a task a fixture spawned), tracing.
use portaltest::{await_, fixture};
use std::time::Duration;

/// A "server" whose task logs on its own, outside any test's poll.
#[fixture]
async fn server() -> u16 {
    tokio::task::spawn_local(async {
        for i in 0..3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            println!("STRAY server tick {i}");
            tracing::info!("STRAY server log {i}");
        }
    });
    8080
}

mod alpha {
    use super::*;

    #[portaltest::test]
    fn one() {
        assert_eq!(*server(), 8080);
        await_(tokio::time::sleep(Duration::from_millis(60)));
    }

    #[portaltest::test]
    async fn two() {
        assert_eq!(*server(), 8080);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}

#[portaltest::test]
fn beta() {}

mod panics {
    #[inline(never)]
    fn helper_that_panics(n: u32) {
        if n > 0 {
            panic!("deep panic {n}");
        }
    }

    #[portaltest::test]
    fn deep() {
        helper_that_panics(std::hint::black_box(3));
    }

    #[portaltest::test]
    async fn deep_async() {
        tokio::task::yield_now().await;
        helper_that_panics(std::hint::black_box(4));
    }
}

mod tracing_setup {
    #[portaltest::test]
    fn traced() {
        let span = tracing::info_span!("work");
        let _entered = span.enter();
        tracing::debug!("DEBUG IN SPAN");
    }

    #[portaltest::test]
    fn user_init() {
        tracing_subscriber::fmt().init();
        tracing::info!("USER SUBSCRIBER");
    }
}

portaltest::main!();
