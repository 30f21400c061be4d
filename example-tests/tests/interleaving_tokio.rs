//! The suite of `interleaving.rs`, written the way people write it today: 200
//! `#[tokio::test]`s, each with its own runtime and therefore its own server (a server
//! shared through a static would die with the first test's runtime; see
//! `migration_tokio.rs`). libtest runs them on as many threads as there are CPUs, so
//! the suite takes about 200 x (100 ms + server start) / CPUs.
//! `benches/results/interleaving.md` compares.

use example_tests::{Client, Server, ServerConfig};

const SLOW_MS: u64 = 100;

async fn slow_request() {
    let server = Server::start(ServerConfig::from_env())
        .await
        .expect("start the server");
    let client = Client::new(server.url());
    assert_eq!(client.slow(SLOW_MS).await.unwrap(), SLOW_MS);
    server.stop().await;
}

macro_rules! slow_tests {
    ($($module:ident)*) => {$(
        mod $module {
            #[tokio::test] async fn t0() { super::slow_request().await }
            #[tokio::test] async fn t1() { super::slow_request().await }
            #[tokio::test] async fn t2() { super::slow_request().await }
            #[tokio::test] async fn t3() { super::slow_request().await }
            #[tokio::test] async fn t4() { super::slow_request().await }
            #[tokio::test] async fn t5() { super::slow_request().await }
            #[tokio::test] async fn t6() { super::slow_request().await }
            #[tokio::test] async fn t7() { super::slow_request().await }
            #[tokio::test] async fn t8() { super::slow_request().await }
            #[tokio::test] async fn t9() { super::slow_request().await }
        }
    )*};
}

slow_tests!(m00 m01 m02 m03 m04 m05 m06 m07 m08 m09 m10 m11 m12 m13 m14 m15 m16 m17 m18 m19);
