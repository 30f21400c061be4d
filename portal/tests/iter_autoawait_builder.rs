//! The API around `await_`, used from sync code: `iter` over streams, `#[autoawait]`
//! functions and methods, `Builder`'s stack sizes, and `Portal`'s `Unpin` and `Debug`.

// `#[autoawait]` expands to safe code: a crate that denies `unsafe_code` can use it.
#![deny(unsafe_code)]

use std::time::Duration;

use futures::stream::{self, StreamExt};
use stackportal::{autoawait, await_, iter, with_portal_run_sync, Builder};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn iter_consumes_a_stream_that_really_suspends() {
    let out = rt().block_on(with_portal_run_sync(|| {
        let ticks = stream::iter(0..5).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            i * i
        });
        iter(ticks).collect::<Vec<_>>()
    }));
    assert_eq!(out, [0, 1, 4, 9, 16]);
}

#[test]
fn iter_over_a_tokio_channel() {
    let rt = rt();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let (tx, rx) = tokio::sync::mpsc::channel::<u32>(2);
        tokio::task::spawn_local(async move {
            for i in 1..=10 {
                tx.send(i).await.unwrap();
            }
        });
        let rx = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) });
        let total: u32 = with_portal_run_sync(move || iter(rx).sum()).await;
        assert_eq!(total, 55);
    });
}

#[autoawait]
async fn add_later(a: u32, b: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    a + b
}

#[autoawait]
async fn fallible(ok: bool) -> Result<u32, String> {
    tokio::task::yield_now().await;
    if !ok {
        return Err("no".into());
    }
    let v: u32 = "5".parse().map_err(|_| "parse".to_string())?;
    Ok(v)
}

struct Account {
    balance: i64,
}

impl Account {
    #[autoawait]
    async fn deposit(&mut self, amount: i64) -> i64 {
        tokio::task::yield_now().await;
        self.balance += amount;
        self.balance
    }

    #[autoawait]
    async fn generic<T: std::fmt::Display>(&self, label: T) -> String {
        format!("{label}: {}", self.balance)
    }
}

#[test]
fn autoawait_makes_sync_functions_and_methods() {
    let out = rt().block_on(with_portal_run_sync(|| {
        let mut acct = Account { balance: 0 };
        acct.deposit(10);
        acct.deposit(5);
        (
            add_later(2, 3),
            fallible(true),
            fallible(false),
            acct.generic("balance"),
        )
    }));
    assert_eq!(out, (5, Ok(5), Err("no".into()), "balance: 15".to_string()));
}

#[test]
fn builder_stack_size_rounds_to_pages_and_minimum() {
    let p = Builder::new().stack_size(1).run_sync(|| ());
    assert_eq!(p.stack_size(), stackportal::MIN_STACK_SIZE);
    let p = Builder::new().stack_size(100_001).run_sync(|| ());
    assert!(p.stack_size() >= 100_001 && p.stack_size().is_multiple_of(4096));
    let p = Builder::new().run_sync(|| ());
    assert_eq!(p.stack_size(), stackportal::DEFAULT_STACK_SIZE);
}

#[test]
fn deep_recursion_fits_in_a_bigger_stack() {
    #[inline(never)]
    fn depth(n: u32) -> u32 {
        let pad = std::hint::black_box([0u8; 256]);
        if n == 0 {
            return await_(async { u32::from(pad[0]) });
        }
        depth(n - 1) + 1
    }
    let out = futures::executor::block_on(
        Builder::new()
            .stack_size(16 << 20)
            .run_sync(|| depth(20_000)),
    );
    assert_eq!(out, 20_000);
}

#[test]
fn portal_is_unpin_and_debug() {
    fn assert_unpin<T: Unpin>(_: &T) {}
    let p = with_portal_run_sync(|| 1);
    assert_unpin(&p);
    assert!(format!("{p:?}").contains("not started"));
}
