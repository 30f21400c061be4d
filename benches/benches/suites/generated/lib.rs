//! Support code of the generated suites: their `src/lib.rs`, copied there by
//! `benches/benches/suites/generate.rs` (which prepends a "generated" header). It is
//! compiled only in the generated project, not as part of the bench.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The shared runtime of the block-on peer (multi-thread, one worker per CPU).
pub static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
});

/// The usual sync-to-async helper of `#[test]` suites that share one runtime.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    tokio::task::block_in_place(|| RT.handle().block_on(fut))
}

/// Number of tests the barrier waits for: `SUITE_GATE` if set (the baseline run of
/// one test sets 1), else the suite's size.
pub fn gate_size(default: usize) -> usize {
    std::env::var("SUITE_GATE").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The CPU work of workloads 6 and 7: `rounds` dependent steps of a 64-bit hash mix
/// (about 1.7 ns a round on the machine of `results/`). Deterministic, and the same
/// code under every harness; callers `black_box` the rounds and the result.
pub fn spin(rounds: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..rounds {
        x ^= i;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 31;
    }
    x
}

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";

/// Starts an HTTP/1.1 server on 127.0.0.1 on the current runtime; every request
/// is answered after 1 ms of simulated latency. Returns its address.
pub async fn start_server() -> SocketAddr {
    // A backlog large enough for every client to connect at once (`TcpListener::bind`
    // uses 128: SYNs beyond it are dropped and retried a second later).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(4096).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(stream));
        }
    });
    addr
}

async fn serve(mut stream: TcpStream) {
    stream.set_nodelay(true).unwrap();
    let mut buf = Vec::with_capacity(1024);
    loop {
        let end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
        };
        buf.drain(..end);
        tokio::time::sleep(Duration::from_millis(1)).await;
        if stream.write_all(RESPONSE).await.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A keep-alive HTTP/1.1 client on one connection.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Client { stream, buf: Vec::with_capacity(1024) }
    }

    /// `GET path`; returns the body.
    pub async fn get(&mut self, path: &str) -> Vec<u8> {
        let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await.unwrap();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            assert!(self.stream.read_buf(&mut self.buf).await.unwrap() > 0, "connection closed");
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap();
        while self.buf.len() < head_end + length {
            assert!(self.stream.read_buf(&mut self.buf).await.unwrap() > 0, "connection closed");
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        body
    }
}
