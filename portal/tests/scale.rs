//! Scale: 10,000 portals suspended at once on one thread all complete; 1,000,000
//! portals created and finished one after another keep RSS flat (pooled stacks).

use std::cell::Cell;
use std::rc::Rc;

use stackportal::{await_, with_portal_run_sync};

mod test_env;

/// RSS is process-wide: the two tests must not run at the same time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn ten_thousand_portals_suspended_at_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let suspended = Rc::new(Cell::new(0u32));
        let mut tasks = Vec::new();
        let n = test_env::scaled(10_000);
        for i in 0..n {
            let mut rx = tx.subscribe();
            let s = suspended.clone();
            tasks.push(tokio::task::spawn_local(with_portal_run_sync(move || {
                s.set(s.get() + 1);
                await_(rx.recv()).unwrap();
                i
            })));
        }
        // Let every portal reach its await_.
        while suspended.get() < n {
            tokio::task::yield_now().await;
        }
        tx.send(()).unwrap();
        let mut sum = 0u64;
        for t in tasks {
            sum += u64::from(t.await.unwrap());
        }
        assert_eq!(sum, (0..u64::from(n)).sum());
    });
}

#[cfg(target_os = "linux")]
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[cfg(target_os = "linux")]
#[test]
fn a_million_sequential_portals_keep_rss_flat() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut pool = futures::executor::LocalPool::new();
    let mut run = |n: u32| {
        for i in 0..n {
            let out = pool.run_until(with_portal_run_sync(move || await_(async move { i })));
            assert_eq!(out, i);
        }
    };
    run(test_env::scaled(10_000)); // warm up: the pool and the allocator reach their steady state
    let before = rss_bytes();
    run(test_env::scaled(1_000_000));
    let after = rss_bytes();
    let growth = after.saturating_sub(before);
    // One leaked 2 MiB stack mapping per portal would be terabytes of address space
    // and, touched, gigabytes of RSS; allow a little allocator noise.
    assert!(
        growth < 4 << 20,
        "RSS grew by {growth} bytes over 1,000,000 portals"
    );
    assert!(
        stackportal::__private::pooled_stacks() >= 1,
        "stacks are recycled"
    );
}
