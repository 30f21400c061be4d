//! Portals nest; `await_` works inside futures awaited by `await_`, ten levels deep;
//! `has_portal()` is restored after a portal finishes.

use std::future::Future;
use std::pin::Pin;

use stackportal::{await_, has_portal, with_portal_run, with_portal_run_sync};

#[test]
fn portal_inside_a_portal() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(with_portal_run_sync(|| {
        assert!(has_portal());
        let inner = await_(with_portal_run_sync(|| {
            await_(tokio::task::yield_now());
            assert!(has_portal());
            1
        }));
        assert!(has_portal(), "the outer portal is current again");
        inner + await_(async { 1 })
    }));
    assert_eq!(out, 2);
    assert!(!has_portal());
}

/// Alternates sync and async: level n (sync) awaits an async block that calls level
/// n-1 (sync) inside it, yielding at every level, and the values flow back up.
fn sync_level(n: u32) -> u32 {
    assert!(has_portal());
    if n == 0 {
        await_(tokio::task::yield_now());
        return 1;
    }
    await_(async move {
        tokio::task::yield_now().await;
        let below = sync_level(n - 1); // sync call inside a future awaited by await_
        tokio::task::yield_now().await;
        below * 2
    })
}

#[test]
fn ten_levels_of_sync_async_alternation() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(with_portal_run_sync(|| sync_level(10))), 1024);
}

fn nested_portals(n: u32) -> Pin<Box<dyn Future<Output = u32>>> {
    Box::pin(async move {
        if n == 0 {
            return 0;
        }
        with_portal_run(async move {
            tokio::task::yield_now().await;
            let below = await_(nested_portals(n - 1));
            assert!(has_portal());
            below + 1
        })
        .await
    })
}

#[test]
fn ten_nested_portals_each_awaiting_the_next() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(nested_portals(10)), 10);
    assert!(!has_portal());
}

#[test]
fn has_portal_is_restored_after_panicking_inner_portal() {
    let out = futures::executor::block_on(with_portal_run_sync(|| {
        let r = std::panic::catch_unwind(|| await_(with_portal_run_sync(|| panic!("inner"))));
        assert!(r.is_err());
        has_portal()
    }));
    assert!(out);
    assert!(!has_portal());
}
