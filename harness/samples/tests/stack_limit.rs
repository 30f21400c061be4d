//! Six tests in flight at once, each holding a portal stack for 100 ms. Run with
//! `STACKPORTAL_MAX_STACKS=3`: stackportal refuses the portals past its limit, and the
//! harness must report those tests as failed, not lose them.

use std::time::Duration;

fn wait() {
    portaltest::await_(tokio::time::sleep(Duration::from_millis(100)));
}

#[portaltest::test]
fn t1() {
    wait()
}
#[portaltest::test]
fn t2() {
    wait()
}
#[portaltest::test]
fn t3() {
    wait()
}
#[portaltest::test]
fn t4() {
    wait()
}
#[portaltest::test]
fn t5() {
    wait()
}
#[portaltest::test]
fn t6() {
    wait()
}

portaltest::main!();
