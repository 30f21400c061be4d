//! Fixture extensions: teardowns that take the value, fixtures used from spawned tasks,
//! fallible fixtures behind a `Result` alias. Some tests fail on purpose.
use portaltest::{await_, fixture};
use std::cell::RefCell;
use std::rc::Rc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod support;
use support::log;

// --- A teardown that takes the value: no `RefCell<Option<..>>` needed. ---

struct Server {
    stop: oneshot::Sender<()>,
    task: JoinHandle<&'static str>,
}

#[fixture(teardown = stop_server)]
async fn server() -> Server {
    let (stop, stopped) = oneshot::channel();
    let task = tokio::task::spawn_local(async move {
        let _ = stopped.await;
        "stopped cleanly"
    });
    Server { stop, task }
}

async fn stop_server(server: Server) {
    server.stop.send(()).unwrap();
    let how = server.task.await.unwrap();
    log(&format!("server {how}"));
}

#[portaltest::test]
fn uses_server() {
    assert!(!server().task.is_finished());
}

// --- A teardown that takes the value while a reference is still alive. ---

#[fixture(teardown = stop_leaky)]
async fn leaky() -> String {
    "leaky".to_string()
}

async fn stop_leaky(_value: String) {
    log("teardown leaky ran");
}

thread_local! {
    static KEPT: RefCell<Option<Rc<String>>> = const { RefCell::new(None) };
}

#[portaltest::test]
fn keeps_a_reference() {
    KEPT.with(|k| *k.borrow_mut() = Some(leaky()));
}

// --- Fixtures from spawned tasks. ---

#[fixture]
async fn port() -> u16 {
    tokio::task::yield_now().await;
    8080
}

#[fixture]
async fn other_port() -> u16 {
    tokio::task::yield_now().await;
    9090
}

/// The first use of a fixture from a `tokio::spawn`ed task cannot wait for it: the
/// task panics with a message that says what to do instead.
#[portaltest::test]
async fn first_use_from_tokio_spawn() {
    let err = tokio::spawn(async { *port() }).await.unwrap_err();
    let payload = err.into_panic();
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    println!("{msg}");
    assert!(msg.contains("fixture `port`"), "{msg}");
    assert!(msg.contains("portaltest::spawn_local"), "{msg}");
}

#[portaltest::test]
fn first_use_from_portaltest_spawn_local() {
    let handle = portaltest::spawn_local(async { *other_port() + 1 });
    assert_eq!(await_(handle).unwrap(), 9091);
}

// --- A fallible fixture behind a `Result` alias. ---

type Res<T> = Result<T, String>;
type R = Res<u32>;

#[fixture(fallible)]
async fn aliased_ok() -> R {
    Ok(5)
}

#[fixture(fallible)]
async fn aliased_err() -> R {
    Err("no config file".to_string())
}

#[portaltest::test]
fn alias_ok_is_the_value() {
    assert_eq!(*aliased_ok() + 1, 6);
}

#[portaltest::test]
fn alias_err_fails_the_test() {
    let _ = aliased_err();
}

portaltest::main!();
