//! The README's example, all passing: used for the plain run, `--list` and nextest.
use portaltest::{await_, fixture};
use std::cell::RefCell;
use std::time::Duration;

struct TestServer {
    users: RefCell<Vec<String>>,
}

impl TestServer {
    async fn start() -> TestServer {
        tokio::time::sleep(Duration::from_millis(5)).await;
        TestServer {
            users: RefCell::new(Vec::new()),
        }
    }
    async fn list_users(&self) -> Vec<String> {
        tokio::task::yield_now().await;
        self.users.borrow().clone()
    }
}

#[fixture]
async fn server() -> TestServer {
    TestServer::start().await
}

#[portaltest::test]
fn lists_users() {
    let users = await_(server().list_users());
    assert!(users.is_empty());
}

#[portaltest::test(timeout = "5s")]
async fn also_async() {
    assert!(server().list_users().await.is_empty());
}

mod users {
    use super::*;

    #[portaltest::test]
    fn creates_user() -> Result<(), String> {
        await_(tokio::time::sleep(Duration::from_millis(1)));
        Ok(())
    }

    #[portaltest::test]
    #[ignore = "slow"]
    fn slow_one() {}
}

portaltest::main!();
