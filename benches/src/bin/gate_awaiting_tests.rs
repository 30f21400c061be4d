//! 1,000 `#[portaltest::test]`s that each `await_` a checkpoint once: the harness's
//! cost per test that suspends, counted in instructions by
//! `benches/benches/gate_harness.rs`.

/// Ten tests (the macro's fns are module-level items of where it expands).
macro_rules! tests {
    () => {
        #[portaltest::test]
        fn t0() {
            portaltest::await_(tokio::task::yield_now());
        }
        #[portaltest::test]
        fn t1() {
            portaltest::await_(tokio::task::yield_now());
        }
        #[portaltest::test]
        fn t2() {
            portaltest::await_(tokio::task::yield_now());
        }
        #[portaltest::test]
        fn t3() {
            portaltest::await_(tokio::task::yield_now());
        }
        #[portaltest::test]
        fn t4() {
            portaltest::await_(tokio::task::yield_now());
        }
        #[portaltest::test]
        fn t5() {
            portaltest::await_(tokio::task::yield_now());
        }
        #[portaltest::test]
        fn t6() {
            portaltest::await_(tokio::task::yield_now());
        }
        #[portaltest::test]
        fn t7() {
            portaltest::await_(tokio::task::yield_now());
        }
        #[portaltest::test]
        fn t8() {
            portaltest::await_(tokio::task::yield_now());
        }
        #[portaltest::test]
        fn t9() {
            portaltest::await_(tokio::task::yield_now());
        }
    };
}

benches::thousand_of!(tests);

portaltest::main!();
