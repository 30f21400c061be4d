//! Isolating tests that share one database: a transaction per test, rolled back by a
//! guard. The same code on SQLite and PostgreSQL.

use portaltest::{await_, fixture, guard, AsyncGuard};
use sqlx::{Any, AnyPool, Transaction};

use super::server;

/// A transaction of the calling test's own on the shared database, rolled back when the
/// guard drops: at the end of its scope, and also when the test panics or is cancelled
/// by its timeout (portaltest awaits a guard's cleanup in all three cases).
///
/// The test sees what others committed; what it writes through the transaction only it
/// sees, and the rollback removes it. Queries run on `&mut **tx` (the guard derefs to
/// the sqlx [`Transaction`], which derefs to the connection):
///
/// ```ignore
/// let mut tx = isolated();
/// await_(sqlx::query("INSERT INTO notes (title, body) VALUES ($1, '')")
///     .bind(&title)
///     .execute(&mut **tx))?;
/// // ... only this test sees the note ...
/// drop(tx); // or the end of the test: rolled back, the note never existed
/// ```
///
/// Why a guard: sqlx rolls back a dropped transaction too, but in the background, once
/// its connection is back in the pool. The guard awaits the rollback: where it drops,
/// before a panicking test's failure is reported, and for a cancelled test in a task the
/// harness waits for before it ends. So what follows the drop sees it done, and a failed
/// rollback fails the test.
///
/// Only what goes through the transaction is isolated: the service's handlers write
/// through their own pool, so notes created over HTTP are committed as usual (the API
/// tests keep out of each other's way with [`unique`](super::unique) titles instead).
///
/// On SQLite, a transaction that writes holds the database's one write lock until it
/// ends: other writers wait for it (up to sqlx's 5 s busy timeout), and a transaction
/// that read before another connection committed cannot write any more
/// (`SQLITE_BUSY_SNAPSHOT`). Keep such tests short and write before reading, or run them
/// with `--test-threads 1`. PostgreSQL has row locks and neither limit.
pub fn isolated() -> AsyncGuard<Transaction<'static, Any>> {
    let tx = await_(isolation_pool().begin()).expect("begin the test's transaction");
    guard(tx, |tx| async move {
        tx.rollback()
            .await
            .expect("roll back the test's transaction");
    })
}

/// The connections [`isolated`] takes, to the server's database: a pool of their own
/// (up to 8), since each is held for a whole test and taking them from the server's pool
/// would leave its handlers waiting. Closed after the last test.
#[fixture(teardown = close_pool)]
pub async fn isolation_pool() -> AnyPool {
    example_tests::db::connect(&server().database_url)
        .await
        .expect("connect to the server's database")
}

async fn close_pool(pool: &AnyPool) {
    pool.close().await;
}
