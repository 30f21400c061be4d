//! The fixtures every portaltest target of this crate shares: `mod common;` in a target
//! registers them there. Each test binary (each process, under nextest) creates the
//! ones it uses, once, on first use.

// Each target uses only some of them.
#![allow(dead_code, unused_imports)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use example_tests::{Client, Server, ServerConfig};
use portaltest::fixture;
use sqlx::AnyPool;

mod isolated;
pub use isolated::isolated;

/// The service, on a loopback port, with a temporary SQLite database (or `DATABASE_URL`:
/// `sqlite://...` or `postgres://...`), shut down gracefully after the last test.
#[fixture(teardown = stop_server)]
pub async fn server() -> Server {
    Server::start(ServerConfig::from_env())
        .await
        .expect("start the server")
}

async fn stop_server(server: &Server) {
    server.stop().await;
}

/// The server's database pool, for checking what the API wrote.
#[fixture]
pub async fn pool() -> AnyPool {
    server().pool.clone()
}

/// One HTTP client (and its connection pool) shared by every test.
#[fixture]
pub async fn client() -> Client {
    Client::new(server().url())
}

/// A title no other test uses, in this run or an earlier one: tests share one database
/// (and with `DATABASE_URL`, one that outlives the run), and titles are unique.
pub fn unique(what: &str) -> String {
    static RUN: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{}-{nanos:x}", std::process::id())
    });
    format!("{what} #{run}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
