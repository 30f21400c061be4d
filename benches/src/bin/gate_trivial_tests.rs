//! 1,000 trivial `#[portaltest::test]`s: the harness's cost per test, counted in
//! instructions by `benches/benches/gate_harness.rs`.

/// Ten tests (the macro's fns are module-level items of where it expands).
macro_rules! tests {
    () => {
        #[portaltest::test]
        fn t0() {}
        #[portaltest::test]
        fn t1() {}
        #[portaltest::test]
        fn t2() {}
        #[portaltest::test]
        fn t3() {}
        #[portaltest::test]
        fn t4() {}
        #[portaltest::test]
        fn t5() {}
        #[portaltest::test]
        fn t6() {}
        #[portaltest::test]
        fn t7() {}
        #[portaltest::test]
        fn t8() {}
        #[portaltest::test]
        fn t9() {}
    };
}

benches::thousand_of!(tests);

portaltest::main!();
