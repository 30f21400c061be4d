//! Tests that share one database, isolated by a transaction each (`common::isolated()`,
//! rolled back by a guard), checked on both backends: `cargo test -p example-tests
//! --test isolation` on SQLite, and with `DATABASE_URL=postgres://...` (`.ci/postgres`).
//!
//! A row a test writes through its transaction must be invisible to any other test (to
//! another test's transaction and to the server's pool), and gone afterwards: when the
//! test ends, when it panics and when it is cancelled. "Gone" is checked by inserting the
//! same (unique) title again through the server's pool: that succeeds only if the row
//! was rolled back rather than committed, and it has to wait while the transaction is
//! still open (for its row lock on PostgreSQL, for the write lock on SQLite), so a
//! transaction left open fails the check too (after SQLite's 5 s busy timeout, or the
//! 10 s timeout below).

use std::time::Duration;

use portaltest::{await_, spawn_local};
use sqlx::AnyConnection;

mod common;
use common::{client, isolated, pool, unique};

/// Inserts a note titled `title` through `conn` and returns its id.
fn insert(conn: &mut AnyConnection, title: &str) -> i64 {
    let (id,): (i64,) = await_(
        sqlx::query_as("INSERT INTO notes (title, body) VALUES ($1, 'isolated') RETURNING id")
            .bind(title)
            .fetch_one(conn),
    )
    .expect("insert");
    id
}

/// How many notes titled `title` `conn` sees.
fn count(conn: &mut AnyConnection, title: &str) -> i64 {
    let (n,): (i64,) = await_(
        sqlx::query_as("SELECT COUNT(*) FROM notes WHERE title = $1")
            .bind(title)
            .fetch_one(conn),
    )
    .expect("count");
    n
}

/// How many notes titled `title` the server's pool (what everyone else sees) sees.
fn committed(title: &str) -> i64 {
    let mut conn = await_(pool().acquire()).expect("a connection of the server's pool");
    count(&mut conn, title)
}

/// No note titled `title` exists or is pending: see the module's comment.
fn assert_gone(title: &str) {
    let mut conn = await_(pool().acquire()).expect("a connection of the server's pool");
    let inserted = await_(tokio::time::timeout(Duration::from_secs(10), async {
        sqlx::query("INSERT INTO notes (title, body) VALUES ($1, 'check')")
            .bind(title)
            .execute(&mut *conn)
            .await
    }));
    match inserted {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!("the isolated row {title:?} was committed, or is still locked: {e}"),
        Err(_) => panic!("the transaction that wrote {title:?} is still open after 10 s"),
    }
    await_(
        sqlx::query("DELETE FROM notes WHERE title = $1")
            .bind(title)
            .execute(&mut *conn),
    )
    .expect("delete the check's row");
}

/// The checks below run on the backend `DATABASE_URL` names (SQLite without one).
#[portaltest::test]
fn the_database_is_the_one_database_url_names() {
    let expected = match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => "PostgreSQL",
        _ => "SQLite",
    };
    let tx = isolated();
    assert_eq!(tx.backend_name(), expected);
}

#[portaltest::test]
fn a_row_is_seen_only_by_the_test_that_wrote_it() {
    let title = unique("isolated");
    let mut mine = isolated();
    let mut other = isolated(); // what another test running meanwhile holds
    insert(&mut mine, &title);
    assert_eq!(count(&mut mine, &title), 1, "the writer sees its row");
    assert_eq!(count(&mut other, &title), 0, "another test's transaction");
    assert_eq!(committed(&title), 0, "the server's pool");
    drop(mine); // rolled back here
    assert_eq!(count(&mut other, &title), 0, "after the rollback");
    drop(other);
    assert_gone(&title);
}

#[portaltest::test]
fn a_row_is_gone_after_the_test() {
    let title = unique("rolled back");
    {
        let mut tx = isolated();
        insert(&mut tx, &title);
    } // the guard drops: the rollback is awaited here
    assert_gone(&title);
}

#[portaltest::test]
fn a_row_is_gone_when_the_test_panics() {
    let title = unique("panicked");
    // The body of a failing test, in a task of its own (in a portal, as tests are), so
    // that this test can look at the database afterwards.
    let failing = {
        let title = title.clone();
        spawn_local(async move {
            let mut tx = isolated();
            insert(&mut tx, &title);
            panic!("the test fails after writing");
        })
    };
    let outcome = await_(failing);
    assert!(outcome.is_err_and(|e| e.is_panic()), "the task panicked");
    assert_gone(&title); // the cleanup ran before the panic left the portal
}

#[portaltest::test]
fn a_row_is_gone_when_the_test_is_cancelled() {
    let title = unique("cancelled");
    let (written, wrote) = tokio::sync::oneshot::channel();
    // A test that hangs after writing, cancelled as its timeout would cancel it.
    let hanging = {
        let title = title.clone();
        spawn_local(async move {
            let mut tx = isolated();
            insert(&mut tx, &title);
            written.send(()).expect("the test waits for the write");
            await_(std::future::pending::<()>());
        })
    };
    await_(wrote).expect("the row is written");
    assert_eq!(committed(&title), 0, "the server's pool");
    hanging.abort();
    assert!(await_(hanging).is_err_and(|e| e.is_cancelled()));
    // The rollback now runs in a task of its own; the check waits for it.
    assert_gone(&title);
}

/// The transaction sees what was committed before it (here, through the API), may
/// change it privately, and leaves it as it was.
#[portaltest::test]
fn committed_rows_can_be_changed_privately() {
    let note = await_(client().create(&example_tests::NewNote {
        title: unique("shared"),
        body: "committed".into(),
        tags: String::new(),
    }))
    .expect("create through the API");
    let mut tx = isolated();
    // Write first, then read (see `isolated` on SQLite).
    await_(
        sqlx::query("UPDATE notes SET body = 'private' WHERE id = $1")
            .bind(note.id)
            .execute(&mut **tx),
    )
    .expect("update in the transaction");
    let (body,): (String,) = await_(
        sqlx::query_as("SELECT body FROM notes WHERE id = $1")
            .bind(note.id)
            .fetch_one(&mut **tx),
    )
    .expect("read in the transaction");
    assert_eq!(body, "private");
    assert_eq!(await_(client().get(note.id)).unwrap().body, "committed");
    drop(tx);
    assert_eq!(await_(client().get(note.id)).unwrap(), note);
}

portaltest::main!();
