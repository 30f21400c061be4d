//! A run whose tests pass but whose fixture teardown fails: the exit code must be 101.
use portaltest::fixture;

#[fixture(teardown = explode)]
async fn fragile() -> u8 {
    7
}

async fn explode(_: &u8) {
    println!("teardown is about to fail");
    panic!("teardown exploded");
}

#[portaltest::test]
fn uses_fragile() {
    assert_eq!(*fragile(), 7);
}

portaltest::main!();
