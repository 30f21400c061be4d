//! Run-wide fixtures: one lazily created value per test process, shared by every test.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::thread::LocalKey;

use tokio::sync::Notify;

use crate::runner;

/// A boxed, local future (what the macros generate for fixture init and teardown).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

enum Slot<T> {
    Empty,
    Initializing,
    Ready(Rc<T>),
    Failed(String),
    TornDown,
}

struct State<T> {
    slot: RefCell<Slot<T>>,
    done: Notify,
}

/// The per-fixture storage behind a `#[fixture]` accessor (one per thread, in a
/// `thread_local!`; all tests run on the runtime thread). Not `Send`, not `Sync`: the
/// values it holds need neither.
#[doc(hidden)]
pub struct FixtureCell<T: 'static>(Rc<State<T>>);

impl<T: 'static> FixtureCell<T> {
    /// An empty cell.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        FixtureCell(Rc::new(State {
            slot: RefCell::new(Slot::Empty),
            done: Notify::new(),
        }))
    }
}

/// What tearing a fixture down takes: its teardown future (if any) and the value,
/// dropped once the teardown finished.
pub(crate) type TakeForTeardown = Box<dyn FnOnce() -> (Option<BoxFuture<()>>, Rc<dyn Any>)>;

/// A created fixture, in creation order, waiting for teardown.
pub(crate) struct Created {
    pub(crate) name: &'static str,
    /// Empties the cell and returns the teardown future (if any) and the value to drop.
    pub(crate) take: TakeForTeardown,
}

thread_local! {
    static CREATED: RefCell<Vec<Created>> = const { RefCell::new(Vec::new()) };
}

/// Takes the most recently created fixture that has not been torn down.
pub(crate) fn pop_created() -> Option<Created> {
    CREATED.with(|c| c.borrow_mut().pop())
}

enum Next<T> {
    Return(Rc<T>),
    Fail(String),
    Wait,
    Start,
}

/// The body of every `#[fixture]` accessor.
#[doc(hidden)]
#[track_caller]
pub fn fixture_get<T: 'static>(
    cell: &'static LocalKey<FixtureCell<T>>,
    name: &'static str,
    init: fn() -> BoxFuture<Result<T, String>>,
    teardown: Option<fn(Rc<T>) -> BoxFuture<()>>,
) -> Rc<T> {
    let state = cell.with(|c| c.0.clone());
    loop {
        let next = match &*state.slot.borrow() {
            Slot::Ready(v) => Next::Return(v.clone()),
            Slot::Failed(cause) => Next::Fail(format!("fixture `{name}` failed: {cause}")),
            Slot::TornDown => Next::Fail(format!(
                "fixture `{name}` was used after the fixtures were torn down (after all tests finished)"
            )),
            Slot::Initializing => Next::Wait,
            Slot::Empty => Next::Start,
        };
        match next {
            Next::Return(v) => return v,
            Next::Fail(msg) => panic!("{msg}"),
            Next::Wait => {
                // Registered as soon as it is created, so the initialising task (which
                // cannot run before this portal suspends) cannot be missed.
                let done = state.done.notified();
                stackportal::await_(done);
            }
            Next::Start => {
                if !runner::in_harness() {
                    panic!(
                        "fixture `{name}` was used outside a portaltest run: fixtures work in \
                         #[portaltest::test] functions of a target with `harness = false` and \
                         `portaltest::main!()`"
                    );
                }
                *state.slot.borrow_mut() = Slot::Initializing;
                let st = state.clone();
                // The initialisation is a task of its own, so that a test that times out
                // while waiting for it does not cancel it for the others.
                runner::spawn_for_current_test(
                    format!("fixture `{name}`"),
                    move |spawner| async move {
                        let portal = stackportal::Builder::new()
                            .cleanup_spawner(spawner)
                            .run(init());
                        let slot = match runner::CatchUnwind(portal).await {
                            Ok(Ok(value)) => {
                                let value = Rc::new(value);
                                register::<T>(name, st.clone(), teardown);
                                Slot::Ready(value)
                            }
                            Ok(Err(msg)) => Slot::Failed(msg),
                            Err(payload) => Slot::Failed(format!(
                                "panicked: {}",
                                runner::panic_message(&*payload)
                            )),
                        };
                        *st.slot.borrow_mut() = slot;
                        st.done.notify_waiters();
                    },
                );
            }
        }
    }
}

fn register<T: 'static>(
    name: &'static str,
    state: Rc<State<T>>,
    teardown: Option<fn(Rc<T>) -> BoxFuture<()>>,
) {
    let take: TakeForTeardown = Box::new(move || {
        let old = std::mem::replace(&mut *state.slot.borrow_mut(), Slot::TornDown);
        match old {
            Slot::Ready(value) => {
                let fut = teardown.map(|t| t(value.clone()));
                (fut, value as Rc<dyn Any>)
            }
            _ => (None, Rc::new(()) as Rc<dyn Any>),
        }
    });
    CREATED.with(|c| c.borrow_mut().push(Created { name, take }));
}
