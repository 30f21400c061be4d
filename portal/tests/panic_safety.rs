//! Panic safety of the engine: a panic from user code at any point (a captured value's
//! `Drop`, an output's, a panic payload's, a guard cleanup's, the cleanup spawner's)
//! cannot break the engine's paired steps (`CURRENT` set/restore, the coroutine's
//! started/done state, the count of mapped stacks), and drop, cancel and teardown paths
//! never abort. Cases whose failure is a crash, a hang or an abort
//! run in a child process (this binary re-executed with `CHILD_ENV=case`), watched
//! with a bounded wait.

use std::cell::Cell;
use std::future::Future;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use stackportal::{await_, guard, has_portal, Builder, Portal};

mod test_env;

const CHILD_ENV: &str = "STACKPORTAL_PANIC_SAFETY_CHILD";

fn is_child(case: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(case)
}

struct Child {
    success: bool,
    code: Option<i32>,
    stderr: String,
    stdout: String,
}

/// Runs `test` of this binary in a child with `CHILD_ENV=case` and `env`; kills it and
/// panics if it has not exited after 60 s (a hang).
fn run_child(case: &str, test: &str, env: &[(&str, &str)], stderr: Option<Stdio>) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, case)
        .env_remove("STACKPORTAL_MAX_STACKS")
        .env_remove("STACKPORTAL_STACK_SIZE")
        .envs(env.iter().copied())
        .stdout(Stdio::piped());
    match stderr {
        Some(stdio) => cmd.stderr(stdio),
        None => cmd.stderr(Stdio::piped()),
    };
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child `{case}` hung (killed after 60 s)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Child {
        success: out.status.success(),
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

fn assert_child_ok(case: &str, test: &str, env: &[(&str, &str)]) -> Child {
    let child = run_child(case, test, env, None);
    assert!(
        child.success,
        "child `{case}` failed ({:?}):\n{}\n{}",
        child.code, child.stdout, child.stderr
    );
    child
}

/// A value whose `Drop` panics the first `n` times any `Bomb` is dropped.
struct Bomb(Rc<Cell<u32>>);

impl Drop for Bomb {
    fn drop(&mut self) {
        let left = self.0.get();
        if left > 0 {
            self.0.set(left - 1);
            panic!("Bomb::drop");
        }
    }
}

/// A panic payload whose `Drop` panics.
struct BombPayload;

impl Drop for BombPayload {
    fn drop(&mut self) {
        panic!("BombPayload::drop");
    }
}

static BOX_DROPS: AtomicUsize = AtomicUsize::new(0);

struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        BOX_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once<T>(portal: &mut Portal<T>) -> Poll<T> {
    Pin::new(portal).poll(&mut Context::from_waker(Waker::noop()))
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<other>".to_owned()
    }
}

/// Keeps the panics these tests provoke off stderr; others print as usual.
fn quiet_panics() {
    quiet_panics_once();
}

// ---- finding 1: a never-polled portal whose capture's Drop panics -------------------

#[test]
fn an_unpolled_portal_whose_capture_panics_on_drop_drops_it_once() {
    if is_child("unpolled") {
        quiet_panics();
        for _ in 0..3 {
            let bomb = Bomb(Rc::new(Cell::new(1)));
            let boxed = Box::new(Counted);
            let portal = Builder::new().name("unpolled").run_sync(move || {
                let _ = (&bomb, &boxed);
            });
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(portal)));
            let payload = dropped.expect_err("the capture's panic comes out of the drop");
            assert_eq!(panic_text(&*payload), "Bomb::drop");
        }
        assert_eq!(
            BOX_DROPS.load(Ordering::SeqCst),
            3,
            "each capture dropped once"
        );
        assert!(!has_portal());
        // The engine still works.
        assert_eq!(
            futures::executor::block_on(stackportal::with_portal_run_sync(|| 5)),
            5
        );
        return;
    }
    assert_child_ok(
        "unpolled",
        "an_unpolled_portal_whose_capture_panics_on_drop_drops_it_once",
        &[],
    );
}

// ---- finding 2: the realistic trigger (a Runtime in an unpolled select! arm) ---------

#[test]
fn an_unpolled_portal_owning_a_runtime_dropped_by_select_is_not_a_double_free() {
    if is_child("select_runtime") {
        quiet_panics();
        let rt = test_env::rt();
        let result = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                let inner = test_env::rt();
                let data = vec![1u8; 1000];
                let portal = stackportal::with_portal_run_sync(move || {
                    let _ = (&inner, &data);
                });
                tokio::select! {
                    biased;
                    () = async {} => {}
                    () = portal => {}
                }
            })
        }));
        let payload = result.expect_err("dropping a runtime inside block_on panics");
        assert!(
            panic_text(&*payload).contains("Cannot drop a runtime"),
            "{}",
            panic_text(&*payload)
        );
        assert!(!has_portal());
        return;
    }
    assert_child_ok(
        "select_runtime",
        "an_unpolled_portal_owning_a_runtime_dropped_by_select_is_not_a_double_free",
        &[],
    );
}

// ---- findings 3 and 4: a deferred cleanup's payload whose Drop panics ---------------

/// A portal whose body holds a guard and then panics (when `panic_body`) or waits
/// forever; the guard's cleanup panics with a payload whose `Drop` panics. Always the
/// same closure type, so portals land at the same frame address.
fn guarded(panic_body: bool) -> Portal<()> {
    stackportal::with_portal_run_sync(move || {
        let _g = guard((), move |()| async move {
            if panic_body {
                panic::panic_any(BombPayload);
            }
        });
        if panic_body {
            panic!("body");
        }
        await_(std::future::pending::<()>());
    })
}

/// Returns the text of the panic that came out of the portal's poll.
fn body_panic_with_a_bomb_payload_in_its_cleanup() -> String {
    let mut portal = guarded(true);
    let result = catch_unwind(AssertUnwindSafe(|| poll_once(&mut portal)));
    let payload = result.expect_err("the body's panic comes out of poll");
    drop(portal);
    let text = panic_text(&*payload);
    std::mem::forget(payload); // may be a `BombPayload` on a broken engine
    text
}

#[test]
fn current_is_restored_when_a_cleanup_payload_panics_on_drop() {
    quiet_panics_once();
    // The first panic wins; the cleanup's payload is dropped quietly.
    assert_eq!(body_panic_with_a_bomb_payload_in_its_cleanup(), "body");
    assert!(!has_portal());
    // `await_` sees no portal at all (a dangling `CURRENT` said "not the running portal").
    let misuse = catch_unwind(|| await_(async {})).expect_err("await_ outside a portal panics");
    assert!(
        panic_text(&*misuse).contains("called outside a portal"),
        "{}",
        panic_text(&*misuse)
    );
}

fn quiet_panics_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let text = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if !matches!(
                text,
                "body" | "BombPayload::drop" | "Bomb::drop" | "the test failed" | "the body failed"
            ) && !info.payload().is::<BombPayload>()
            {
                default(info);
            }
        }));
    });
}

#[test]
fn current_does_not_dangle_into_an_unmapped_stack() {
    if is_child("evicted") {
        quiet_panics();
        body_panic_with_a_bomb_payload_in_its_cleanup();
        // Evict the stack the frame lived on: two more stacks at once exceed the budget
        // of 2, which unmaps the idle ones first.
        // (The fresh mappings may land where the old stack was, so the check below
        // need not crash on a dangling `CURRENT`; `await_`'s message tells for sure.)
        let a = Builder::new().stack_size(128 * 1024).run_sync(|| 1);
        let b = Builder::new().stack_size(128 * 1024).run_sync(|| 2);
        assert!(!has_portal());
        let misuse = catch_unwind(|| await_(async {})).unwrap_err();
        assert!(
            panic_text(&*misuse).contains("called outside a portal"),
            "{}",
            panic_text(&*misuse)
        );
        assert_eq!(
            futures::executor::block_on(a) + futures::executor::block_on(b),
            3
        );
        assert!(!has_portal());
        return;
    }
    assert_child_ok(
        "evicted",
        "current_does_not_dangle_into_an_unmapped_stack",
        &[("STACKPORTAL_MAX_STACKS", "2")],
    );
}

#[test]
fn the_next_portal_is_not_its_own_parent_after_such_a_panic() {
    if is_child("self_parent") {
        quiet_panics();
        body_panic_with_a_bomb_payload_in_its_cleanup();
        let mut portal = guarded(false);
        assert!(poll_once(&mut portal).is_pending());
        drop(portal); // hands the guard's cleanup off: looped forever
        println!("dropped");
        return;
    }
    let child = assert_child_ok(
        "self_parent",
        "the_next_portal_is_not_its_own_parent_after_such_a_panic",
        &[],
    );
    assert!(child.stdout.contains("dropped"), "{}", child.stdout);
}

// ---- finding 10: stacks dropped outside `recycle` are uncounted ---------------------

#[test]
fn stacks_of_portals_whose_output_panics_on_drop_are_uncounted() {
    if is_child("budget") {
        quiet_panics();
        for _ in 0..4 {
            let mut portal = stackportal::with_portal_run_sync(|| {
                // Swallows the cancellation (allowed) and returns a bomb.
                let _ = catch_unwind(|| await_(std::future::pending::<()>()));
                Bomb(Rc::new(Cell::new(1)))
            });
            assert!(poll_once(&mut portal).is_pending());
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(portal)));
            assert_eq!(
                panic_text(&*dropped.expect_err("the output's drop panics")),
                "Bomb::drop"
            );
        }
        assert!(stackportal::__private::mapped_stacks() <= 1);
        let portal = stackportal::with_portal_run_sync(|| 7);
        assert_eq!(futures::executor::block_on(portal), 7);
        return;
    }
    assert_child_ok(
        "budget",
        "stacks_of_portals_whose_output_panics_on_drop_are_uncounted",
        &[("STACKPORTAL_MAX_STACKS", "4")],
    );
}

// ---- finding 14: the message names the panic that came before the cancellation ------

#[test]
fn a_panic_before_cancellation_is_not_reported_as_one_during_the_unwind() {
    if is_child("message") {
        quiet_panics();
        let mut portal = stackportal::with_portal_run_sync(|| {
            let _g = guard((), |()| std::future::pending::<()>());
            panic!("the body failed");
        });
        assert!(
            poll_once(&mut portal).is_pending(),
            "awaiting the deferred cleanup"
        );
        drop(portal);
        return;
    }
    let child = assert_child_ok(
        "message",
        "a_panic_before_cancellation_is_not_reported_as_one_during_the_unwind",
        &[],
    );
    assert!(
        !child.stderr.contains("while its stack was being unwound"),
        "{}",
        child.stderr
    );
    assert!(
        child
            .stderr
            .contains("panicked, and the portal was dropped")
            && child.stderr.contains("the body failed"),
        "{}",
        child.stderr
    );
}

// ---- finding 7: a fresh portal in a Drop during an unrelated panic -------------------

struct Fixture;

impl Drop for Fixture {
    fn drop(&mut self) {
        let rt = test_env::rt();
        let out = rt.block_on(stackportal::with_portal_run_sync(|| {
            await_(tokio::time::sleep(Duration::from_millis(1)));
            "cleaned up"
        }));
        println!("{out}");
    }
}

#[test]
fn a_fresh_portal_may_suspend_in_a_drop_during_an_unrelated_panic() {
    if is_child("fixture") {
        quiet_panics();
        let result = catch_unwind(|| {
            let _fixture = Fixture;
            panic!("the test failed");
        });
        assert!(result.is_err());
        return;
    }
    let child = assert_child_ok(
        "fixture",
        "a_fresh_portal_may_suspend_in_a_drop_during_an_unrelated_panic",
        &[],
    );
    assert!(child.stdout.contains("cleaned up"), "{}", child.stdout);
}

// ---- finding 11: reports never panic when stderr cannot be written ------------------

#[test]
#[cfg(target_os = "linux")]
fn cancelling_with_an_unwritable_stderr_does_not_abort() {
    if is_child("dev_full") {
        let mut portal = stackportal::with_portal_run_sync(|| {
            let _g = guard((), |()| std::future::pending::<()>());
            await_(std::future::pending::<()>());
        });
        assert!(poll_once(&mut portal).is_pending());
        drop(portal); // reports the lost cleanup on stderr, which is /dev/full
        println!("survived");
        return;
    }
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let child = run_child(
        "dev_full",
        "cancelling_with_an_unwritable_stderr_does_not_abort",
        &[],
        Some(Stdio::from(full)),
    );
    assert!(child.success, "{:?}: {}", child.code, child.stdout);
    assert!(child.stdout.contains("survived"), "{}", child.stdout);
}

// ---- finding 12: over-aligned bodies -------------------------------------------------

#[repr(align(4096))]
struct Page([u8; 4096]);

#[test]
fn an_over_aligned_body_runs() {
    let pages: [Page; 0] = [];
    let portal = stackportal::with_portal_run_sync(move || {
        let _ = &pages;
        await_(async { 3 })
    });
    assert_eq!(futures::executor::block_on(portal), 3);
    let one = Page([7; 4096]);
    let portal = stackportal::with_portal_run_sync(move || one.0[4095]);
    assert_eq!(futures::executor::block_on(portal), 7);
}

// ---- finding 13: stack size bounds ---------------------------------------------------

#[test]
fn builder_debug_never_panics() {
    let text = format!("{:?}", Builder::new().stack_size(usize::MAX));
    assert!(text.contains("stack_size"), "{text}");
}

#[test]
fn an_oversized_stack_size_is_refused_naming_the_setting() {
    for bytes in [usize::MAX, usize::MAX & !4095] {
        let err =
            catch_unwind(|| Builder::new().stack_size(bytes).run_sync(|| ())).expect_err("refused");
        let text = panic_text(&*err);
        assert!(text.contains("Builder::stack_size"), "{text}");
        assert!(text.contains("stackportal"), "{text}");
    }
}

#[test]
fn an_oversized_stack_size_variable_is_refused_naming_it() {
    if is_child("env_size") {
        let err = catch_unwind(|| stackportal::with_portal_run_sync(|| ())).expect_err("refused");
        let text = panic_text(&*err);
        assert!(text.contains("STACKPORTAL_STACK_SIZE"), "{text}");
        assert!(!text.contains("integer overflow"), "{text}");
        return;
    }
    assert_child_ok(
        "env_size",
        "an_oversized_stack_size_variable_is_refused_naming_it",
        &[("STACKPORTAL_STACK_SIZE", "18446744073709547520")],
    );
}

// ---- panics out of a cancelled portal's drops do not leak or abort -------------------

#[test]
fn cancelled_output_and_payload_drops_are_contained() {
    quiet_panics_once();
    // The body swallows `Cancelled` and panics with a payload whose Drop panics.
    let mut portal = stackportal::with_portal_run_sync(|| {
        let _ = catch_unwind(|| await_(std::future::pending::<()>()));
        panic::panic_any(BombPayload);
    });
    assert!(poll_once(&mut portal).is_pending());
    drop(portal); // reported on stderr, payload dropped quietly
    assert!(!has_portal());
    let misuse = catch_unwind(|| await_(async {})).unwrap_err();
    assert!(panic_text(&*misuse).contains("called outside a portal"));
}

// ---- found by the scenario tester (tests/scenarios.rs) on the first fixed engine -----

/// Seed 904: a portal cancelled while a guard in a `Vec` awaited its cleanup in place,
/// with a cleanup spawner that panics. The guard raised `Cancelled` again from its
/// `Drop`, the next guard's `Drop` then ran during that unwind, and the process
/// aborted ("panic in a destructor during cleanup").
#[test]
fn guards_in_a_vec_cancelled_mid_cleanup_with_a_panicking_spawner_do_not_abort() {
    if is_child("vec_guards") {
        quiet_panics();
        let ran = Rc::new(Cell::new(0));
        let ran2 = ran.clone();
        let mut portal = Builder::new()
            .cleanup_spawner(|cleanup| {
                drop(cleanup);
                panic!("the spawner failed");
            })
            .run_sync(move || {
                let guards = vec![
                    guard((), |()| std::future::pending::<()>()),
                    guard((), move |()| async move { ran2.set(ran2.get() + 1) }),
                ];
                drop(guards); // the first cleanup is awaited in place: pending
                await_(std::future::pending::<()>());
            });
        assert!(poll_once(&mut portal).is_pending());
        drop(portal);
        println!("survived; second cleanup ran {} times", ran.get());
        return;
    }
    let child = assert_child_ok(
        "vec_guards",
        "guards_in_a_vec_cancelled_mid_cleanup_with_a_panicking_spawner_do_not_abort",
        &[],
    );
    assert!(child.stdout.contains("survived"), "{}", child.stdout);
    assert!(
        child.stderr.contains("cleanup spawner panicked"),
        "{}",
        child.stderr
    );
}

/// Seed 9: a portal dropped while its parent's stack unwinds from a panic; its code
/// catches `Cancelled` and awaits again. The second `Cancelled` was refused because
/// the *thread* was panicking, and the process aborted; only an unwind of the portal's
/// own stack must refuse it.
#[test]
fn a_portal_cancelled_by_its_unwinding_parent_may_raise_cancelled_again() {
    if is_child("parent_unwinds") {
        quiet_panics();
        let mut parent = stackportal::with_portal_run_sync(|| {
            let mut inner = stackportal::with_portal_run_sync(|| {
                let _ = catch_unwind(|| await_(std::future::pending::<()>()));
                await_(std::future::pending::<()>()); // raises Cancelled again
            });
            assert!(poll_once(&mut inner).is_pending());
            let _inner = inner; // dropped by the unwind below
            panic!("body");
        });
        let result = catch_unwind(AssertUnwindSafe(|| poll_once(&mut parent)));
        let payload = result.expect_err("the parent's panic comes out");
        assert_eq!(panic_text(&*payload), "body");
        println!("survived");
        return;
    }
    let child = assert_child_ok(
        "parent_unwinds",
        "a_portal_cancelled_by_its_unwinding_parent_may_raise_cancelled_again",
        &[],
    );
    assert!(child.stdout.contains("survived"), "{}", child.stdout);
}
