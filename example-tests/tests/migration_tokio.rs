//! BEFORE the migration: four tests written with `#[tokio::test]`, sharing a server the
//! way people try to (see `migration_portaltest.rs` for the same tests AFTER).
//!
//! The natural version keeps the server and client in a `static OnceCell`. It breaks:
//! each `#[tokio::test]` has its own runtime, the server task and the client's
//! connections belong to the runtime of the first test that touched them, and when that
//! test ends they die with it (tokio-rs/tokio#2374). The first test below shows this,
//! deterministically, by doing what two consecutive `#[tokio::test]`s do.
//!
//! The usual workaround, used by the remaining tests: run the server on a runtime of its
//! own in a background thread that lives as long as the process, give every test its
//! own client, and open a separate database connection for direct checks. It works, but
//! the server is never shut down (no teardown can run: the thread is never joined), its
//! database is never cleaned up, and every test pays for new connections.
//!
//! Both use SQLite files of their own and ignore `DATABASE_URL`: the titles below are
//! fixed, which only a fresh database per process tolerates.

use std::sync::LazyLock;

use example_tests::{Client, NewNote, Server, ServerConfig};
use tokio::sync::OnceCell;

// ------------------------------------------------------------ the natural version

/// What the natural version amounts to: test 1 initialises the shared server and
/// client inside its runtime; test 2 uses them from a runtime of its own.
#[test]
fn a_static_server_dies_with_the_first_tests_runtime() {
    static SHARED: OnceCell<(Server, Client)> = OnceCell::const_new();
    async fn shared() -> &'static (Server, Client) {
        SHARED
            .get_or_init(|| async {
                let server = Server::start(ServerConfig::default()).await.unwrap();
                let client = Client::new(server.url());
                (server, client)
            })
            .await
    }

    // "#[tokio::test] async fn first()": works.
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    first.block_on(async { assert_eq!(shared().await.1.health().await.unwrap(), "ok") });
    drop(first); // the test ends, and its runtime with it

    // "#[tokio::test] async fn second()": the same request now fails.
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = second.block_on(async {
        let request = shared().await.1.health();
        tokio::time::timeout(std::time::Duration::from_secs(5), request).await
    });
    match outcome {
        Ok(Ok(body)) => panic!("expected the shared server to be gone, got {body:?}"),
        Ok(Err(e)) => eprintln!("second test fails as expected: {e}"),
        Err(_) => eprintln!("second test hangs as expected (cut off after 5 s)"),
    }
}

// ------------------------------------------------------------ the workaround

struct Shared {
    url: String,
    database_url: String,
}

/// The server on a runtime of its own, in a thread that outlives every test.
static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    // Never deleted: no teardown runs. One file per process, since nextest runs every
    // test in a process of its own; they pile up in target/tmp until `cargo clean`.
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("migration_tokio-{}.db", std::process::id()));
    let database_url = format!("sqlite://{}", path.display());
    let (tx, rx) = std::sync::mpsc::channel();
    let db = database_url.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = Server::start(ServerConfig {
                database_url: Some(db),
            })
            .await
            .unwrap();
            tx.send(server.url()).unwrap();
            std::future::pending::<()>().await; // serve until the process exits
        })
    });
    Shared {
        url: rx.recv().unwrap(),
        database_url,
    }
});

fn client() -> Client {
    Client::new(SHARED.url.clone()) // per test: a shared one would die like the server
}

#[tokio::test]
async fn creates_a_note() {
    let note = client()
        .create(&NewNote {
            title: "tokio: created".into(),
            body: "b".into(),
            tags: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(note.version, 1);
}

#[tokio::test]
async fn reads_a_note_back() {
    let client = client();
    let new = NewNote {
        title: "tokio: read back".into(),
        body: "b".into(),
        tags: String::new(),
    };
    let note = client.create(&new).await.unwrap();
    assert_eq!(client.get(note.id).await.unwrap(), note);
}

#[tokio::test]
async fn duplicate_title_is_409() {
    let client = client();
    let new = NewNote {
        title: "tokio: duplicate".into(),
        body: "b".into(),
        tags: String::new(),
    };
    client.create(&new).await.unwrap();
    assert_eq!(client.create(&new).await.unwrap_err().status, 409);
}

#[tokio::test]
async fn the_database_has_the_row() {
    let note = client()
        .create(&NewNote {
            title: "tokio: in the database".into(),
            body: "b".into(),
            tags: String::new(),
        })
        .await
        .unwrap();
    // A pool of its own: the server's pool lives on the server's runtime.
    let pool = example_tests::db::connect(&SHARED.database_url)
        .await
        .unwrap();
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM notes WHERE id = $1")
        .bind(note.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    pool.close().await;
}
