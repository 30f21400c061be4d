//! A shared server fixture: one TCP echo server on a loopback port, started by the first
//! test that asks for it, used by every test, and stopped after the last one.
//!
//! Run with `cargo run -p portaltest --example echo_server`.

use portaltest::{await_, fixture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct EchoServer {
    port: u16,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

#[fixture(teardown = stop_server)]
async fn server() -> EchoServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => {
                    let (mut socket, _) = accepted.unwrap();
                    tokio::spawn(async move {
                        let (mut reader, mut writer) = socket.split();
                        let _ = tokio::io::copy(&mut reader, &mut writer).await;
                    });
                }
            }
        }
    });
    EchoServer { port, stop, task }
}

// Takes the value: no test holds a reference any more when the teardown runs.
async fn stop_server(server: EchoServer) {
    let _ = server.stop.send(());
    server.task.await.unwrap();
}

/// A sync helper: it awaits through the test's portal without blocking the thread.
fn echo(message: &str) -> String {
    await_(async {
        let mut stream = TcpStream::connect(("127.0.0.1", server().port))
            .await
            .unwrap();
        stream.write_all(message.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    })
}

#[portaltest::test]
fn echoes_a_line() {
    assert_eq!(echo("hello\n"), "hello\n");
}

#[portaltest::test(timeout = "5s")]
async fn echoes_from_an_async_test() {
    let mut stream = TcpStream::connect(("127.0.0.1", server().port))
        .await
        .unwrap();
    stream.write_all(b"async").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    assert_eq!(answer, b"async");
}

// A hundred tests' worth of requests at once, from one sync test.
#[portaltest::test]
fn echoes_many_at_once() {
    let answers = await_(async {
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..100 {
            tasks.spawn_local(async move {
                portaltest::spawn_local(async move { echo(&n.to_string()) })
                    .await
                    .unwrap()
            });
        }
        tasks.join_all().await
    });
    assert_eq!(answers.len(), 100);
}

portaltest::main!();
