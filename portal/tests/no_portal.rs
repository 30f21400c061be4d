//! `await_` outside a portal panics with a message that says how to open one, and the
//! future is dropped, not leaked.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use stackportal::{await_, has_portal};

struct CountDrops(Rc<Cell<u32>>);
impl Drop for CountDrops {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn await_outside_a_portal_panics_and_drops_the_future() {
    let drops = Rc::new(Cell::new(0));
    let held = CountDrops(drops.clone());
    let payload = catch_unwind(AssertUnwindSafe(|| {
        await_(async move {
            let _held = held;
        })
    }))
    .unwrap_err();
    let msg = match payload.downcast_ref::<&str>() {
        Some(s) => s.to_string(),
        None => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default(),
    };
    assert!(msg.contains("outside a portal"), "{msg}");
    assert!(
        msg.contains("with_portal_run"),
        "the message names the fix: {msg}"
    );
    assert_eq!(drops.get(), 1, "the future was dropped exactly once");
}

#[test]
fn await_in_plain_async_code_panics_too() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let res = rt.block_on(async { catch_unwind(|| await_(async { 1 })) });
    assert!(res.is_err());
}

#[test]
fn has_portal_never_panics() {
    assert!(!has_portal());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(!rt.block_on(async { has_portal() }));
    // On another thread, and from a thread-local destructor.
    std::thread::spawn(|| {
        struct Check;
        impl Drop for Check {
            fn drop(&mut self) {
                assert!(!has_portal());
            }
        }
        thread_local!(static C: Check = const { Check });
        C.with(|_| ());
        assert!(!has_portal());
    })
    .join()
    .unwrap();
}
