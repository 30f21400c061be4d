//! Sync code that awaits: helpers that `await_`, async cleanup with `guard`, CPU work
//! moved off the runtime thread, `.await_()` in a chain, and a task spawned by a test.
//!
//! Run with `cargo run -p portaltest --example sync_helpers`.

use std::cell::RefCell;
use std::time::Duration;

use portaltest::{await_, fixture, guard, AwaitExt};

/// A stand-in for a database: a list of rows shared by every test.
#[fixture]
async fn rows() -> RefCell<Vec<String>> {
    tokio::time::sleep(Duration::from_millis(10)).await; // connect, migrate, ...
    RefCell::new(Vec::new())
}

/// A row that deletes itself when the test is done with it (also when the test panics
/// or times out), through an async cleanup run from sync code.
fn temp_row(name: &str) -> portaltest::AsyncGuard<String> {
    rows().borrow_mut().push(name.to_owned());
    guard(name.to_owned(), |name| async move {
        tokio::task::yield_now().await; // e.g. a DELETE over the network
        rows().borrow_mut().retain(|row| *row != name);
    })
}

#[portaltest::test]
fn cleans_up_after_itself() {
    {
        let row = temp_row("cleans_up_after_itself");
        assert!(rows().borrow().contains(&*row));
    } // the guard awaits its cleanup here
    assert!(!rows()
        .borrow()
        .iter()
        .any(|r| r == "cleans_up_after_itself"));
}

#[portaltest::test]
fn cpu_work_leaves_the_thread_free() {
    // The one rule: blocking work goes to tokio's blocking pool and is awaited.
    let sum = await_(tokio::task::spawn_blocking(|| {
        (0..1_000_000u64).sum::<u64>()
    }))
    .unwrap();
    assert_eq!(sum, 499_999_500_000);
}

#[portaltest::test]
fn awaits_in_a_chain() {
    let waited = tokio::time::timeout(Duration::from_secs(1), async { 42 })
        .await_()
        .unwrap();
    assert_eq!(waited, 42);
}

#[portaltest::test]
fn a_spawned_task_is_the_tests() {
    // Its output is charged to this test; it may use fixtures and await_.
    let task = portaltest::spawn_local(async {
        println!("printed by a task this test spawned");
        await_(tokio::time::sleep(Duration::from_millis(1)));
        rows().borrow().len()
    });
    let _rows = await_(task).unwrap();
}

portaltest::main!();
