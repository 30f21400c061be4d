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
