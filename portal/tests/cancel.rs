//! Dropping a suspended `Portal` runs every destructor on its stack exactly once,
//! without abort or hang, also while another panic unwinds; an `await_` reached during
//! the teardown never suspends.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::task::noop_waker;
use stackportal::{await_, with_portal_run_sync, Cancelled, Portal};

struct CountDrops(Rc<Cell<u32>>);
impl Drop for CountDrops {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// Polls once: the portal runs until its first pending `await_` and suspends there.
fn poll_once<T>(portal: &mut Portal<T>) -> Poll<T> {
    let waker = noop_waker();
    std::pin::Pin::new(portal).poll(&mut Context::from_waker(&waker))
}
use std::future::Future;

/// Nested sync frames, each holding a value with a destructor, the innermost suspended
/// in `await_(pending())`.
fn deep(drops: &Rc<Cell<u32>>, depth: u32) {
    let _held = CountDrops(drops.clone());
    if depth == 0 {
        await_(std::future::pending::<()>());
        unreachable!("a pending future never completes");
    }
    deep(drops, depth - 1);
}

#[test]
fn dropping_a_suspended_portal_runs_each_destructor_once() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let mut portal = with_portal_run_sync(move || deep(&d, 9));
    assert!(poll_once(&mut portal).is_pending());
    assert_eq!(drops.get(), 0);
    drop(portal);
    assert_eq!(drops.get(), 10, "ten frames, ten destructors, once each");
}

#[test]
fn dropping_before_the_first_poll_drops_the_closure() {
    let drops = Rc::new(Cell::new(0));
    let held = CountDrops(drops.clone());
    let portal = with_portal_run_sync(move || drop(held));
    drop(portal);
    assert_eq!(drops.get(), 1);
}

#[test]
fn dropping_a_suspended_portal_while_another_panic_unwinds() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let result = catch_unwind(AssertUnwindSafe(move || {
        let mut portal = with_portal_run_sync(move || deep(&d, 4));
        assert!(poll_once(&mut portal).is_pending());
        // `portal` is dropped during this unwind.
        panic!("outer panic");
    }));
    assert_eq!(
        *result.unwrap_err().downcast::<&str>().unwrap(),
        "outer panic"
    );
    assert_eq!(drops.get(), 5);
}

#[test]
fn the_pending_await_unwinds_with_cancelled() {
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let mut portal = with_portal_run_sync(move || {
        let res = catch_unwind(AssertUnwindSafe(|| await_(std::future::pending::<()>())));
        let payload = res.unwrap_err();
        *s.borrow_mut() = Some(payload.is::<Cancelled>());
        resume_unwind(payload);
    });
    assert!(poll_once(&mut portal).is_pending());
    drop(portal);
    assert_eq!(*seen.borrow(), Some(true));
}

/// Teardown semantics of `await_` (documented on `await_`): a ready future still
/// completes, a pending one raises `Cancelled` again instead of suspending.
#[test]
fn await_during_teardown_polls_once_and_never_suspends() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let mut portal = with_portal_run_sync(move || {
        let res = catch_unwind(AssertUnwindSafe(|| await_(std::future::pending::<()>())));
        assert!(res.unwrap_err().is::<Cancelled>());
        // The portal is being torn down: a ready future is fine...
        l.borrow_mut().push(await_(async { "ready" }));
        assert!(!stackportal::has_portal());
        // ...a pending one cannot suspend: it raises Cancelled again.
        let again = catch_unwind(AssertUnwindSafe(|| await_(std::future::pending::<()>())));
        if again.unwrap_err().is::<Cancelled>() {
            l.borrow_mut().push("cancelled again");
        }
        // Swallowing the cancellation is allowed: the portal still finishes.
    });
    assert!(poll_once(&mut portal).is_pending());
    drop(portal);
    assert_eq!(*log.borrow(), vec!["ready", "cancelled again"]);
}

#[test]
fn cancellation_by_timeout_on_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let res = rt.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_millis(10),
            with_portal_run_sync(move || {
                let _held = CountDrops(d);
                await_(tokio::time::sleep(std::time::Duration::from_secs(3600)));
            }),
        )
        .await
    });
    assert!(res.is_err(), "timed out");
    assert_eq!(drops.get(), 1);
}

#[test]
fn nested_portals_are_torn_down_inside_out() {
    let order = Rc::new(RefCell::new(Vec::new()));
    struct Log(Rc<RefCell<Vec<&'static str>>>, &'static str);
    impl Drop for Log {
        fn drop(&mut self) {
            self.0.borrow_mut().push(self.1);
        }
    }
    let o = order.clone();
    let mut portal = with_portal_run_sync(move || {
        let _outer = Log(o.clone(), "outer");
        let o2 = o.clone();
        await_(with_portal_run_sync(move || {
            let _inner = Log(o2, "inner");
            await_(std::future::pending::<()>());
        }));
    });
    assert!(poll_once(&mut portal).is_pending());
    drop(portal);
    assert_eq!(*order.borrow(), vec!["inner", "outer"]);
}

#[test]
fn a_destructor_awaiting_a_pending_future_during_teardown_aborts_with_a_message() {
    // Runs itself in a child process: the expected outcome is an abort.
    if std::env::var_os("STACKPORTAL_TEST_CHILD").is_some() {
        struct AwaitsInDrop;
        impl Drop for AwaitsInDrop {
            fn drop(&mut self) {
                await_(std::future::pending::<()>());
            }
        }
        let mut portal = with_portal_run_sync(|| {
            let _g = AwaitsInDrop;
            await_(std::future::pending::<()>());
        });
        assert!(poll_once(&mut portal).is_pending());
        drop(portal);
        unreachable!("the process aborts in the drop above");
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_destructor_awaiting_a_pending_future_during_teardown_aborts_with_a_message",
            "--nocapture",
        ])
        .env("STACKPORTAL_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("while its portal was being torn down"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stackportal::guard"),
        "names the fix: {stderr}"
    );
}
