//! AFTER the migration: the four tests of `migration_tokio.rs` under portaltest. The
//! server, the client and the pool are fixtures: created once, on first use, in the one
//! runtime all tests share, and torn down after the last test. Tests are plain sync
//! functions (an `async fn` works too), and they run interleaved.

use example_tests::NewNote;
use portaltest::await_;

// The fixtures (in `common/mod.rs`, shared with the other targets):
//
//     #[fixture(teardown = stop_server)]
//     async fn server() -> Server { Server::start(ServerConfig::from_env()).await.unwrap() }
//     async fn stop_server(server: &Server) { server.stop().await }
//     #[fixture] async fn client() -> Client { Client::new(server().url()) }
//     #[fixture] async fn pool() -> AnyPool { server().pool.clone() }
//
// replace the `static OnceCell`, the background runtime thread and the per-test clients
// and pools of the #[tokio::test] version.
mod common;
use common::{client, pool, unique};

/// A note with a title unique to this run (the database may outlive it).
fn new_note(title: &str) -> NewNote {
    NewNote {
        title: unique(title),
        body: "b".into(),
        tags: String::new(),
    }
}

#[portaltest::test]
fn creates_a_note() {
    let note = await_(client().create(&new_note("portaltest: created"))).unwrap();
    assert_eq!(note.version, 1);
}

#[portaltest::test]
fn reads_a_note_back() {
    let note = await_(client().create(&new_note("portaltest: read back"))).unwrap();
    assert_eq!(await_(client().get(note.id)).unwrap(), note);
}

#[portaltest::test]
fn duplicate_title_is_409() {
    let new = new_note("portaltest: duplicate");
    await_(client().create(&new)).unwrap();
    assert_eq!(await_(client().create(&new)).unwrap_err().status, 409);
}

#[portaltest::test]
fn the_database_has_the_row() {
    let note = await_(client().create(&new_note("portaltest: in the database"))).unwrap();
    let (count,): (i64,) = await_(
        sqlx::query_as("SELECT COUNT(*) FROM notes WHERE id = $1")
            .bind(note.id)
            .fetch_one(&*pool()),
    )
    .unwrap();
    assert_eq!(count, 1);
}

portaltest::main!();
