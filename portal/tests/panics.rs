//! A panic inside a portal comes out of the `Portal` future's `poll` with its original
//! payload.

use std::panic::{catch_unwind, AssertUnwindSafe};

use futures::FutureExt;
use stackportal::{await_, with_portal_run, with_portal_run_sync};

#[derive(Debug, PartialEq)]
struct MyPayload(u32);

#[test]
fn payload_comes_out_of_poll_unchanged() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(
            AssertUnwindSafe(with_portal_run_sync(|| {
                await_(tokio::task::yield_now());
                std::panic::panic_any(MyPayload(7));
            }))
            .catch_unwind(),
        )
        .unwrap_err();
    assert_eq!(err.downcast_ref::<MyPayload>(), Some(&MyPayload(7)));
}

#[test]
fn join_error_into_panic_sees_the_payload() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let handle = tokio::task::spawn_local(with_portal_run(async {
            tokio::task::yield_now().await;
            let n = std::hint::black_box(42);
            panic!("boom {n}");
        }));
        let err = handle.await.unwrap_err();
        assert!(err.is_panic());
        let payload = err.into_panic();
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("boom 42")
        );
    });
}

#[test]
fn panic_in_an_awaited_future_propagates_through_await_() {
    let out = futures::executor::block_on(with_portal_run_sync(|| {
        catch_unwind(AssertUnwindSafe(|| await_(async { panic!("inner") })))
            .map_err(|p| *p.downcast::<&str>().unwrap())
    }));
    assert_eq!(out, Err("inner"));
}

#[test]
fn panic_before_first_suspend() {
    let res = catch_unwind(|| {
        futures::executor::block_on(with_portal_run_sync(|| -> u32 { panic!("early") }))
    });
    assert_eq!(*res.unwrap_err().downcast::<&str>().unwrap(), "early");
}

/// A `Drop` impl that awaits while a panic unwinds the portal's stack must not suspend
/// mid-unwind (every other task on the thread would see `thread::panicking()`). A ready
/// future is fine; a pending one ends the process with a message naming the fix.
#[test]
fn await_in_drop_during_a_panic_never_suspends() {
    struct CloseOnDrop(bool);
    impl Drop for CloseOnDrop {
        fn drop(&mut self) {
            if self.0 {
                await_(tokio::time::sleep(std::time::Duration::from_millis(1)));
            } else {
                assert_eq!(await_(async { 5 }), 5);
            }
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var_os("STACKPORTAL_TEST_CHILD").is_some() {
        let _ = rt.block_on(
            AssertUnwindSafe(with_portal_run_sync(|| {
                let _c = CloseOnDrop(true);
                panic!("test failed");
            }))
            .catch_unwind(),
        );
        unreachable!("the pending await_ aborts");
    }
    // A ready future during the unwind: the panic comes out as usual.
    let err = rt
        .block_on(
            AssertUnwindSafe(with_portal_run_sync(|| {
                let _c = CloseOnDrop(false);
                panic!("test failed");
            }))
            .catch_unwind(),
        )
        .unwrap_err();
    assert_eq!(*err.downcast::<&str>().unwrap(), "test failed");

    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "await_in_drop_during_a_panic_never_suspends",
            "--nocapture",
        ])
        .env("STACKPORTAL_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(6), "SIGABRT: {stderr}");
    }
    assert!(!out.status.success());
    assert!(
        stderr.contains("while the thread was unwinding from a panic")
            && stderr.contains("stackportal::guard"),
        "says what happened and names the fix: {stderr}"
    );
}
