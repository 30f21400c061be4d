//! The fixtures every portaltest target of this crate shares: `mod common;` in a target
//! registers them there. Each test binary (each process, under nextest) creates the
//! ones it uses, once, on first use.

// Each target uses only some of them.
#![allow(dead_code)]

use example_tests::{Client, Server, ServerConfig};
use portaltest::fixture;
use sqlx::SqlitePool;

/// The service, on a loopback port, with a temporary database (or `DATABASE_URL`),
/// shut down gracefully after the last test.
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
pub async fn pool() -> SqlitePool {
    server().pool.clone()
}

/// One HTTP client (and its connection pool) shared by every test.
#[fixture]
pub async fn client() -> Client {
    Client::new(server().url())
}
