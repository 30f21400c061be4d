//! Output of tasks that tests spawn (harness/tests/samples.rs): `portaltest::spawn_local`
//! tasks are charged to their test, also after it ended; `tokio::spawn`ed ones are
//! output of no test. Everything passes; run it with `--show-output`.

/// Its task prints while the test waits for it.
#[portaltest::test]
async fn task_prints_during_the_test() {
    println!("TEST BEFORE");
    portaltest::spawn_local(async {
        tokio::task::yield_now().await;
        println!("TASK DURING");
        // Sync code in the task may await_ (a portal of its own).
        portaltest::await_(tokio::task::yield_now());
        eprintln!("TASK DURING on stderr");
    })
    .await
    .unwrap();
    println!("TEST AFTER");
}

/// Its task prints once the test is over: the sender it waits for is dropped when the
/// test returns.
#[portaltest::test]
fn task_outlives_the_test() {
    let (keep, gone) = tokio::sync::oneshot::channel::<()>();
    drop(portaltest::spawn_local(async move {
        let _ = gone.await;
        println!("TASK AFTER THE END");
    }));
    println!("TEST ENDS");
    drop(keep);
}

/// Its task panics: the panic names the test.
#[portaltest::test]
async fn task_panics() {
    let joined = portaltest::spawn_local(async {
        tokio::task::yield_now().await;
        panic!("TASK PANIC");
    })
    .await;
    assert!(joined.is_err());
}

/// A fixture's task serves the run, not the test that used the fixture first: its
/// output is output of no test.
#[portaltest::fixture]
async fn server() -> u16 {
    let (ready, up) = tokio::sync::oneshot::channel();
    portaltest::spawn_local(async move {
        println!("FIXTURE TASK");
        let _ = ready.send(());
    });
    let _ = up.await;
    8080
}

#[portaltest::test]
fn uses_a_fixture_with_a_task() {
    assert_eq!(*server(), 8080);
}

/// A `tokio::spawn`ed task: tokio has no stable hook around its polls, so its output is
/// output of no test (its test's with `--cfg tokio_unstable`, tokio's task hooks).
#[portaltest::test]
async fn tokio_task_prints() {
    tokio::spawn(async { println!("TOKIO TASK") })
        .await
        .unwrap();
}

/// A `tokio::spawn`ed task that prints after its test ended (its test's, marked so,
/// only with `--cfg tokio_unstable`).
#[portaltest::test]
fn tokio_task_outlives_the_test() {
    let (keep, gone) = tokio::sync::oneshot::channel::<()>();
    drop(tokio::spawn(async move {
        let _ = gone.await;
        println!("TOKIO LATE");
    }));
    drop(keep);
}

portaltest::main!();
