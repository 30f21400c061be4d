//! Run-wide fixtures: one lazily created value per test process, shared by every test.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::thread::LocalKey;

use tokio::sync::Notify;

use crate::signatures::{Teardown, TeardownKind};
use crate::worker::attribution;

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

/// A fixture's identity (the address of its state) and name.
type FixtureId = (usize, &'static str);
/// An initialisation waiting for another fixture.
type Edge = (FixtureId, FixtureId);

thread_local! {
    static CREATED: RefCell<Vec<Created>> = const { RefCell::new(Vec::new()) };
    /// The fixture whose initialisation is being polled (identity, name).
    static INITIALISING: Cell<Option<FixtureId>> = const { Cell::new(None) };
    /// Which initialisation waits for which (identity, name) pairs: to report a cycle
    /// of fixtures using each other instead of hanging.
    static WAITS_FOR: RefCell<Vec<Edge>> = const { RefCell::new(Vec::new()) };
}

/// Polls a fixture's initialisation with `INITIALISING` set to it.
struct InitScope<F> {
    me: FixtureId,
    inner: F,
}

impl<F: Future + Unpin> Future for InitScope<F> {
    type Output = F::Output;
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        struct Restore(Option<FixtureId>);
        impl Drop for Restore {
            fn drop(&mut self) {
                INITIALISING.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(INITIALISING.with(|c| c.replace(Some(self.me))));
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// If the initialisation running now waiting for `target` closes a cycle, describes it.
fn cycle_through(target: FixtureId) -> Option<String> {
    let me = INITIALISING.with(Cell::get)?;
    WAITS_FOR.with(|w| {
        let w = w.borrow();
        let mut chain = vec![me.1, target.1];
        let mut at = target;
        loop {
            if at.0 == me.0 {
                return Some(chain.join("` uses `"));
            }
            let (_, next) = *w.iter().find(|(waiter, _)| waiter.0 == at.0)?;
            chain.push(next.1);
            at = next;
            if chain.len() > w.len() + 2 {
                return None;
            }
        }
    })
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
    teardown: Option<fn() -> Teardown<T>>,
) -> Rc<T> {
    let state = cell.with(|c| c.0.clone());
    let id = (Rc::as_ptr(&state) as *const () as usize, name);
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
        if matches!(next, Next::Wait | Next::Start)
            && !stackportal::has_portal()
            && attribution::in_harness()
        {
            panic!("{}", no_portal_message(name));
        }
        match next {
            Next::Return(v) => return v,
            Next::Fail(msg) => panic!("{msg}"),
            Next::Wait => {
                if let Some(cycle) = cycle_through(id) {
                    panic!("fixtures use each other in a cycle: `{cycle}`");
                }
                // Registered as soon as it is created, so the initialising task (which
                // cannot run before this portal suspends) cannot be missed.
                let done = state.done.notified();
                let edge = INITIALISING.with(Cell::get).map(|me| (me, id));
                struct Unregister(Option<Edge>);
                impl Drop for Unregister {
                    fn drop(&mut self) {
                        if let Some(edge) = self.0 {
                            WAITS_FOR.with(|w| {
                                let mut w = w.borrow_mut();
                                if let Some(i) = w
                                    .iter()
                                    .position(|e| e.0 .0 == edge.0 .0 && e.1 .0 == edge.1 .0)
                                {
                                    w.swap_remove(i);
                                }
                            });
                        }
                    }
                }
                if let Some(edge) = edge {
                    WAITS_FOR.with(|w| w.borrow_mut().push(edge));
                }
                let _unregister = Unregister(edge);
                stackportal::await_(done);
            }
            Next::Start => {
                if let Some(msg) = attribution::fixture_unavailable_here(name) {
                    panic!("{msg}");
                }
                if !attribution::in_harness() {
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
                if let Some(cause) = crate::worker::fixture_broken(name) {
                    // Every user says it the same way: "fixture `NAME` failed: CAUSE".
                    *state.slot.borrow_mut() = Slot::Failed(cause.clone());
                    panic!("fixture `{name}` failed: {cause}");
                }
                attribution::spawn_for_current_test(name, move |spawner| async move {
                    let portal = stackportal::Builder::new()
                        .name(format!("fixture `{name}`"))
                        .cleanup_spawner(spawner)
                        .run(init());
                    let scoped = InitScope {
                        me: id,
                        inner: portal,
                    };
                    let slot = match crate::panics::CatchUnwind(scoped).await {
                        Ok(Ok(value)) => {
                            let value = Rc::new(value);
                            register::<T>(name, st.clone(), teardown);
                            Slot::Ready(value)
                        }
                        Ok(Err(msg)) => Slot::Failed(msg),
                        Err(payload) => Slot::Failed(format!(
                            "panicked: {}",
                            crate::panics::panic_message(&*payload)
                        )),
                    };
                    *st.slot.borrow_mut() = slot;
                    attribution::fixture_ready(name);
                    st.done.notify_waiters();
                });
            }
        }
    }
}

/// Why a fixture cannot be created or waited for here: the accessor is sync, so waiting
/// needs the caller's portal, which a task started with `tokio::spawn` (or
/// `tokio::task::spawn_local`) does not have.
fn no_portal_message(name: &str) -> String {
    format!(
        "fixture `{name}` was first used from a task that does not run in a portal (one \
         started with `tokio::spawn` or `tokio::task::spawn_local`?), where its accessor \
         cannot wait for it to be created. Spawn the task with `portaltest::spawn_local` \
         instead, or call `{name}()` in the test before spawning and move what the task \
         needs into it"
    )
}

/// What a teardown that takes the value reports when the value is still shared.
fn still_shared_message(name: &str, others: usize) -> String {
    let refs = if others == 1 {
        "1 other reference to it is".to_string()
    } else {
        format!("{others} other references to it are")
    };
    format!(
        "the teardown of fixture `{name}` takes the value, but {refs} still alive (an \
         `Rc` from `{name}()` kept by a static, a task that is still running, or another \
         value), so the teardown did not run. Drop those references before the tests \
         end, or make the teardown borrow the value (`async fn(&T)`)"
    )
}

fn register<T: 'static>(
    name: &'static str,
    state: Rc<State<T>>,
    teardown: Option<fn() -> Teardown<T>>,
) {
    let take: TakeForTeardown = Box::new(move || {
        let old = std::mem::replace(&mut *state.slot.borrow_mut(), Slot::TornDown);
        let Slot::Ready(value) = old else {
            return (None, Rc::new(()) as Rc<dyn Any>);
        };
        match teardown.map(|t| t().0) {
            None => (None, value as Rc<dyn Any>),
            Some(TeardownKind::ByRef(stop)) => (Some(stop(value.clone())), value as Rc<dyn Any>),
            // The value moves into the teardown, which drops it (the runner holds none).
            Some(TeardownKind::ByValue(stop)) => {
                let fut: BoxFuture<()> = Box::pin(async move {
                    match Rc::try_unwrap(value) {
                        Ok(value) => stop(value).await,
                        Err(shared) => {
                            let others = Rc::strong_count(&shared) - 1;
                            drop(shared);
                            panic!("{}", still_shared_message(name, others));
                        }
                    }
                });
                (Some(fut), Rc::new(()) as Rc<dyn Any>)
            }
        }
    });
    CREATED.with(|c| c.borrow_mut().push(Created { name, take }));
}
