//! A sync TCP echo server and sync clients, written as plain blocking-style functions,
//! all talking to each other on ONE thread through portals (greenback's echo demo).
//!
//! Run: `cargo run -p stackportal --example echo`

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use stackportal::{await_, guard, iter, spawn_local};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Sync: serves one connection, echoing lines back upper-cased.
fn serve(stream: TcpStream, served: Rc<Cell<u32>>) {
    let (read, mut write) = stream.into_split();
    let lines = lines(BufReader::new(read));
    for line in iter(lines) {
        let line = line.expect("read a line");
        await_(write.write_all(format!("{}\n", line.to_uppercase()).as_bytes())).expect("write");
    }
    served.set(served.get() + 1);
}

/// Sync: a client that sends `n` lines, each after a short async sleep, and checks the echo.
fn client(addr: std::net::SocketAddr, id: u32, n: u32) -> u32 {
    let (read, write) = await_(TcpStream::connect(addr))
        .expect("connect")
        .into_split();
    // The write half is shut down by an async cleanup when the guard drops.
    let mut write = guard(write, |mut w| async move {
        let _ = w.shutdown().await;
    });
    let mut replies = iter(lines(BufReader::new(read)));
    for i in 0..n {
        await_(tokio::time::sleep(Duration::from_millis(10)));
        let msg = format!("client {id} line {i}");
        await_(write.write_all(format!("{msg}\n").as_bytes())).expect("write");
        let reply = replies.next().expect("a reply").expect("read");
        assert_eq!(reply, msg.to_uppercase());
    }
    n
}

/// A line stream over an async reader (what `tokio-stream`'s `LinesStream` does).
fn lines<R: tokio::io::AsyncBufRead + Unpin>(
    reader: R,
) -> impl futures_core::Stream<Item = std::io::Result<String>> {
    futures_lite::stream::unfold(reader.lines(), |mut lines| async move {
        match lines.next_line().await {
            Ok(Some(line)) => Some((Ok(line), lines)),
            Ok(None) => None,
            Err(e) => Some((Err(e), lines)),
        }
    })
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let (clients, lines) = (20u32, 5u32);
    let started = Instant::now();
    let total = local.block_on(&rt, async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Rc::new(Cell::new(0));
        let s = served.clone();
        // The server: a portal task that accepts and spawns a sync handler per connection.
        let server = spawn_local(async move {
            for _ in 0..clients {
                let (stream, _) = listener.accept().await.unwrap();
                spawn_local({
                    let s = s.clone();
                    async move { serve(stream, s) }
                });
            }
        });
        let handles: Vec<_> = (0..clients)
            .map(|id| spawn_local(async move { client(addr, id, lines) }))
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        server.await.unwrap();
        while served.get() < clients {
            tokio::task::yield_now().await;
        }
        total
    });
    let elapsed = started.elapsed();
    println!(
        "{clients} sync clients x {lines} lines echoed by a sync server on one thread: {total} lines in {:.0} ms \
         (each client sleeps {} ms in total; run one after another they would need {} ms)",
        elapsed.as_secs_f64() * 1000.0,
        lines * 10,
        clients * lines * 10
    );
    assert_eq!(total, clients * lines);
}
