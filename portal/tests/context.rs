//! `await_` polls on the task's own `Context`: wakers, timers, I/O, channels,
//! task-locals, `Handle::current()` and the coop budget all work, and other tasks run
//! while a portal is suspended. Covered on every supported executor.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use stackportal::{await_, has_portal, with_portal_run, with_portal_run_sync};

mod test_env;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn timers_and_other_tasks_run_while_suspended() {
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l2 = log.clone();
        let other = tokio::task::spawn_local(async move {
            for i in 0..3 {
                l2.borrow_mut().push(format!("other {i}"));
                tokio::time::sleep(test_env::ms(5)).await;
            }
        });
        let l3 = log.clone();
        with_portal_run_sync(move || {
            l3.borrow_mut().push("portal start".into());
            await_(tokio::time::sleep(test_env::ms(30)));
            l3.borrow_mut().push("portal end".into());
        })
        .await;
        other.await.unwrap();
        let log = log.borrow();
        assert_eq!(log.first().map(String::as_str), Some("portal start"));
        assert_eq!(
            log.last().map(String::as_str),
            Some("portal end"),
            "{log:?}"
        );
        assert_eq!(
            log.len(),
            5,
            "the other task ran all its steps while the portal slept: {log:?}"
        );
    });
}

#[test]
fn channels_fed_by_other_tasks_on_the_same_thread() {
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
        tokio::task::spawn_local(async move {
            for i in 0..100 {
                tx.send(i).await.unwrap();
            }
        });
        let sum = with_portal_run_sync(move || {
            let mut sum = 0;
            while let Some(v) = await_(rx.recv()) {
                sum += v;
            }
            sum
        })
        .await;
        assert_eq!(sum, (0..100).sum::<u32>());
    });
}

#[test]
fn io_on_the_runtime_from_sync_code() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A sync echo server and a sync client, on one thread, through portals.
        let server = tokio::task::spawn_local(with_portal_run_sync(move || {
            let (mut sock, _) = await_(listener.accept()).unwrap();
            let mut buf = [0u8; 5];
            await_(sock.read_exact(&mut buf)).unwrap();
            await_(sock.write_all(&buf)).unwrap();
        }));
        let reply = with_portal_run_sync(move || {
            let mut sock = await_(tokio::net::TcpStream::connect(addr)).unwrap();
            await_(sock.write_all(b"hello")).unwrap();
            let mut buf = [0u8; 5];
            await_(sock.read_exact(&mut buf)).unwrap();
            buf
        })
        .await;
        server.await.unwrap();
        assert_eq!(&reply, b"hello");
    });
}

tokio::task_local! {
    static REQUEST_ID: u32;
}

#[test]
fn task_locals_and_runtime_handle_are_visible() {
    let rt = current_thread();
    rt.block_on(REQUEST_ID.scope(7, async {
        let (id, has_handle) = with_portal_run_sync(|| {
            let id = REQUEST_ID.with(|id| *id);
            let handle = tokio::runtime::Handle::current();
            // The handle works too: spawn onto the runtime and await the task.
            let joined = await_(handle.spawn(async { 5 })).unwrap();
            (id, joined == 5)
        })
        .await;
        assert_eq!(id, 7);
        assert!(has_handle);
    }));
}

#[test]
fn coop_budget_forces_a_yield_inside_a_portal() {
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        // 10,000 messages are ready at once: without the coop budget the receiving loop
        // would never yield. With it, `recv` returns Pending after a budget's worth of
        // ready values, so the flag-setting task gets to run before the loop ends.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let flag = Rc::new(Cell::new(false));
        let f2 = flag.clone();
        tokio::task::spawn_local(async move { f2.set(true) });
        let seen_at = with_portal_run_sync(move || {
            let mut n = 0;
            let mut seen_at = None;
            while await_(rx.recv()).is_some() {
                n += 1;
                if seen_at.is_none() && flag.get() {
                    seen_at = Some(n);
                }
            }
            seen_at
        })
        .await;
        let seen_at = seen_at.expect("the other task never ran during 10,000 receives");
        assert!(seen_at < 10_000);
    });
}

#[test]
fn with_portal_run_wraps_a_future() {
    fn sync_helper(x: u32) -> u32 {
        assert!(has_portal());
        await_(async move { x + 1 })
    }
    let rt = current_thread();
    let out = rt.block_on(with_portal_run(async {
        tokio::task::yield_now().await;
        sync_helper(41)
    }));
    assert_eq!(out, 42);
    assert!(!has_portal());
}

#[test]
fn futures_local_pool() {
    use futures::task::LocalSpawnExt;
    let mut pool = futures::executor::LocalPool::new();
    let spawner = pool.spawner();
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let out = Rc::new(Cell::new(0));
    let o2 = out.clone();
    spawner
        .spawn_local(
            async move { o2.set(with_portal_run_sync(move || await_(rx).unwrap() * 2).await) },
        )
        .unwrap();
    spawner
        .spawn_local(async move {
            // Let the portal suspend first.
            let mut yielded = false;
            std::future::poll_fn(|cx| {
                if std::mem::replace(&mut yielded, true) {
                    std::task::Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
            .await;
            tx.send(21).unwrap();
        })
        .unwrap();
    pool.run();
    assert_eq!(out.get(), 42);
}

#[test]
fn async_executor_local_executor() {
    let ex = async_executor::LocalExecutor::new();
    let (tx, rx) = futures::channel::oneshot::channel::<&str>();
    let out = futures_lite::future::block_on(ex.run(async {
        let portal = ex.spawn(with_portal_run_sync(move || await_(rx).unwrap()));
        ex.spawn(async move {
            futures_lite::future::yield_now().await;
            tx.send("from another task").unwrap();
        })
        .detach();
        portal.await
    }));
    assert_eq!(out, "from another task");
}
