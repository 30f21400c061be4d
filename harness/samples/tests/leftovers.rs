//! A target ported to portaltest with two libtest tests left behind: nothing runs them,
//! so the harness names them when the run starts.

#[portaltest::test]
fn ported() {}

#[test]
fn left_behind() {
    panic!("never compiled: a `harness = false` target drops #[test] fns");
}

#[test]
#[ignore]
fn also_left_behind() {}

portaltest::main!();
