//! 200 tests that each wait on the service's slow endpoint (100 ms), sharing one
//! server. Under portaltest they all run interleaved on one thread, so the suite takes
//! about as long as a few slow requests, not the sum (20 s). `interleaving_tokio.rs`
//! is the same suite written with `#[tokio::test]`; `benches/results/interleaving.md`
//! compares the two.

use portaltest::await_;

mod common;
use common::client;

/// Milliseconds each request waits on the server.
const SLOW_MS: u64 = 100;

/// The body of every test: one slow request, checked.
fn slow_request() {
    assert_eq!(await_(client().slow(SLOW_MS)).unwrap(), SLOW_MS);
}

macro_rules! slow_tests {
    ($($module:ident)*) => {$(
        mod $module {
            #[portaltest::test] fn t0() { super::slow_request() }
            #[portaltest::test] fn t1() { super::slow_request() }
            #[portaltest::test] fn t2() { super::slow_request() }
            #[portaltest::test] fn t3() { super::slow_request() }
            #[portaltest::test] fn t4() { super::slow_request() }
            #[portaltest::test] fn t5() { super::slow_request() }
            #[portaltest::test] fn t6() { super::slow_request() }
            #[portaltest::test] fn t7() { super::slow_request() }
            #[portaltest::test] fn t8() { super::slow_request() }
            #[portaltest::test] fn t9() { super::slow_request() }
        }
    )*};
}

slow_tests!(m00 m01 m02 m03 m04 m05 m06 m07 m08 m09 m10 m11 m12 m13 m14 m15 m16 m17 m18 m19);

portaltest::main!();
