//! The failure modes that the crate docs' "Why not `block_on`" section shows, checked
//! against the tokio in use, so the docs stay true: what users reach for today, and
//! what a portal does instead in the same spot.

use std::panic::catch_unwind;
use std::sync::mpsc;
use std::time::Duration;

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

/// The sync function that needs async I/O, as users write it today.
fn sync_lookup_with_block_on() -> u32 {
    tokio::runtime::Handle::current().block_on(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        7
    })
}

#[test]
fn handle_block_on_inside_a_runtime_panics() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(async { catch_unwind(sync_lookup_with_block_on) })
        .unwrap_err();
    assert!(
        panic_text(err).contains("Cannot start a runtime from within a runtime"),
        "tokio's message changed: update the crate docs' Why section"
    );
}

#[test]
fn block_in_place_on_a_current_thread_runtime_panics() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(async { catch_unwind(|| tokio::task::block_in_place(sync_lookup_with_block_on)) })
        .unwrap_err();
    assert!(
        panic_text(err)
            .contains("can call blocking only when running on the multi-threaded runtime"),
        "tokio's message changed: update the crate docs' Why section"
    );
}

#[test]
fn futures_block_on_hangs_on_a_current_thread_runtime() {
    // The thread that blocks never comes back; we only wait a while and leave it.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // The timer needs this thread's runtime, which futures' block_on now blocks.
            futures::executor::block_on(tokio::time::sleep(Duration::from_millis(10)));
        });
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "a 10 ms timer should never fire while its runtime's only thread is blocked"
    );
}

#[test]
fn the_same_sync_function_with_await_works() {
    fn sync_lookup() -> u32 {
        stackportal::await_(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            7
        })
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(stackportal::with_portal_run_sync(sync_lookup));
    assert_eq!(out, 7);
}
