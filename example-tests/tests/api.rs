//! The notes API, tested from ordinary sync functions under the portaltest harness.
//!
//! Every test shares one running server, one database pool and one HTTP client
//! (fixtures, created once on first use and torn down after the last test), and all the
//! tests run interleaved on one thread: while one waits for a response, the others run.
//! A test is plain sync code that calls `await_` wherever it needs an async result.

use std::time::{Duration, Instant};

use example_tests::{ApiError, Client, NewNote, Note, Page, UpdateNote};
use portaltest::{await_, guard, iter};

mod common;

use common::{client, pool, server, unique};

// ---------------------------------------------------------------- helpers

fn new_note(title: &str) -> NewNote {
    NewNote {
        title: title.to_string(),
        body: format!("body of {title}"),
        tags: String::new(),
    }
}

/// Sync helper built on `await_`: creates a note or fails the test with the API error.
fn create(title: &str) -> Note {
    await_(client().create(&new_note(title))).unwrap_or_else(|e| panic!("create {title:?}: {e}"))
}

fn expect_error<T: std::fmt::Debug>(result: Result<T, ApiError>, status: u16) -> ApiError {
    match result {
        Err(e) if e.status == status => e,
        other => panic!("expected HTTP {status}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- happy paths

#[portaltest::test]
fn health_check_answers_ok() {
    assert_eq!(await_(client().health()).unwrap(), "ok");
}

#[portaltest::test]
fn create_returns_the_note_at_version_1() {
    let title = unique("create");
    let note = create(&title);
    assert!(note.id > 0);
    assert_eq!(note.title, title);
    assert_eq!(note.body, format!("body of {title}"));
    assert_eq!(note.version, 1);
}

#[portaltest::test]
fn get_returns_what_was_created() {
    let note = create(&unique("get"));
    assert_eq!(await_(client().get(note.id)).unwrap(), note);
}

#[portaltest::test]
fn update_changes_the_content_and_bumps_the_version() {
    let note = create(&unique("update"));
    let new_title = unique("updated");
    let update = UpdateNote {
        title: new_title.clone(),
        body: "new body".into(),
        version: note.version,
    };
    let updated = await_(client().update(note.id, &update)).unwrap();
    assert_eq!(
        (
            updated.title.as_str(),
            updated.body.as_str(),
            updated.version
        ),
        (new_title.as_str(), "new body", 2)
    );
    assert_eq!(await_(client().get(note.id)).unwrap(), updated);
}

#[portaltest::test]
fn delete_removes_the_note() {
    let note = create(&unique("delete"));
    await_(client().delete(note.id)).unwrap();
    expect_error(await_(client().get(note.id)), 404);
}

#[portaltest::test]
fn tags_are_stored() -> Result<(), ApiError> {
    let note = await_(client().create(&NewNote {
        tags: "rust,async".into(),
        ..new_note(&unique("tags"))
    }))?;
    assert_eq!(await_(client().get(note.id))?.tags, "rust,async");
    Ok(())
}

#[portaltest::test]
fn the_database_pool_sees_what_the_api_wrote() {
    let note = create(&unique("pool"));
    let (title, version): (String, i64) = await_(
        sqlx::query_as("SELECT title, version FROM notes WHERE id = $1")
            .bind(note.id)
            .fetch_one(&*pool()),
    )
    .unwrap();
    assert_eq!((title, version), (note.title, 1));
}

/// An `async fn` test: the same fixtures, awaited natively.
#[portaltest::test]
async fn async_test_creates_and_reads_back() {
    let client = client();
    let note = client.create(&new_note(&unique("async"))).await.unwrap();
    let read = client.get(note.id).await.unwrap();
    assert_eq!(read, note);
}

// ---------------------------------------------------------------- validation errors

#[portaltest::test]
fn empty_title_is_rejected_with_400() {
    let e = expect_error(await_(client().create(&new_note(""))), 400);
    assert_eq!(e.error, "title must not be empty");
}

#[portaltest::test]
fn whitespace_title_is_rejected_with_400() {
    expect_error(await_(client().create(&new_note("   \t"))), 400);
}

#[portaltest::test]
fn overlong_title_is_rejected_with_400() {
    let title = "x".repeat(example_tests::model::MAX_TITLE_CHARS + 1);
    let e = expect_error(await_(client().create(&new_note(&title))), 400);
    assert!(e.error.contains("at most 200"), "{}", e.error);
}

#[portaltest::test]
fn malformed_json_is_rejected_with_400() {
    expect_error(
        await_(client().create_raw("application/json", "{\"title\": ")),
        400,
    );
}

#[portaltest::test]
fn missing_field_is_rejected_with_400() {
    let e = expect_error(
        await_(client().create_raw("application/json", "{\"title\": \"no body\"}")),
        400,
    );
    assert!(
        e.error.contains("body"),
        "names the missing field: {}",
        e.error
    );
}

#[portaltest::test]
fn wrong_content_type_is_rejected_with_400() {
    expect_error(
        await_(client().create_raw("text/plain", "{\"title\":\"t\",\"body\":\"b\"}")),
        400,
    );
}

#[portaltest::test]
fn non_numeric_id_is_rejected_with_400() {
    let e = expect_error(await_(client().get_path::<Note>("/notes/abc")), 400);
    assert!(e.error.starts_with("invalid note id"), "{}", e.error);
}

#[portaltest::test]
fn missing_note_is_404() {
    expect_error(await_(client().get(i64::MAX)), 404);
}

#[portaltest::test]
fn updating_a_missing_note_is_404() {
    let update = UpdateNote {
        title: unique("ghost"),
        body: String::new(),
        version: 1,
    };
    expect_error(await_(client().update(i64::MAX, &update)), 404);
}

#[portaltest::test]
fn deleting_a_missing_note_is_404() {
    expect_error(await_(client().delete(i64::MAX)), 404);
}

#[portaltest::test]
fn updating_with_an_empty_title_is_400() {
    let note = create(&unique("empty update"));
    let update = UpdateNote {
        title: String::new(),
        body: String::new(),
        version: note.version,
    };
    expect_error(await_(client().update(note.id, &update)), 400);
}

#[portaltest::test]
fn duplicate_title_is_409() {
    let title = unique("dup");
    create(&title);
    let e = expect_error(await_(client().create(&new_note(&title))), 409);
    assert_eq!(e.error, "a note with this title exists");
}

#[portaltest::test]
fn renaming_onto_an_existing_title_is_409() {
    let taken = create(&unique("taken")).title;
    let note = create(&unique("rename"));
    let update = UpdateNote {
        title: taken,
        body: String::new(),
        version: note.version,
    };
    expect_error(await_(client().update(note.id, &update)), 409);
}

#[portaltest::test]
fn stale_version_is_409_and_says_the_current_one() {
    let note = create(&unique("stale"));
    let first = UpdateNote {
        title: unique("stale v2"),
        body: String::new(),
        version: 1,
    };
    await_(client().update(note.id, &first)).unwrap();
    let again = UpdateNote {
        title: unique("stale v2 again"),
        ..first
    };
    let e = expect_error(await_(client().update(note.id, &again)), 409);
    assert!(e.error.contains("version 2"), "{}", e.error);
}

#[portaltest::test]
fn page_limit_out_of_range_is_400() {
    expect_error(await_(client().page(0, None)), 400);
    expect_error(await_(client().page(101, None)), 400);
    expect_error(await_(client().get_path::<Page>("/notes?limit=ten")), 400);
}

#[portaltest::test]
fn slow_endpoint_rejects_delays_over_the_limit() {
    expect_error(
        await_(client().slow(example_tests::model::MAX_SLOW_MS + 1)),
        400,
    );
}

// ---------------------------------------------------------------- concurrency

/// Two clients read version 1 and both try to update: exactly one wins, the other
/// gets 409, and the row holds the winner's content.
#[portaltest::test]
fn two_clients_updating_the_same_row_one_wins() {
    let note = create(&unique("race"));
    let (alice, bob) = (Client::new(server().url()), Client::new(server().url()));
    let (a_title, b_title) = (unique("alice"), unique("bob"));
    let a = UpdateNote {
        title: a_title.clone(),
        body: "alice".into(),
        version: note.version,
    };
    let b = UpdateNote {
        title: b_title.clone(),
        body: "bob".into(),
        version: note.version,
    };
    let (ra, rb) =
        await_(async { tokio::join!(alice.update(note.id, &a), bob.update(note.id, &b)) });
    let winner = match (ra, rb) {
        (Ok(w), Err(e)) | (Err(e), Ok(w)) => {
            assert_eq!(e.status, 409, "the loser gets a version conflict: {e}");
            w
        }
        other => panic!("exactly one update must win: {other:?}"),
    };
    assert_eq!(winner.version, 2);
    assert!(winner.title == a_title || winner.title == b_title);
    assert_eq!(await_(client().get(note.id)).unwrap(), winner);
}

/// Ten concurrent creates with one title: one 201, nine 409s.
#[portaltest::test]
fn concurrent_creates_of_one_title_one_wins() {
    let title = unique("contended");
    let note = new_note(&title);
    let results = await_(async {
        let client = client();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let (client, note) = ((*client).clone(), note.clone());
            set.spawn(async move { client.create(&note).await });
        }
        set.join_all().await
    });
    let created = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.status == 409))
        .count();
    assert_eq!((created, conflicts), (1, 9), "{results:?}");
}

// ---------------------------------------------------------------- guard, iter, ...

/// A per-test temporary note, deleted by an async cleanup when the guard drops, even
/// if the test fails or times out.
fn temp_note(title: &str) -> portaltest::AsyncGuard<Note> {
    let note = create(title);
    guard(note, |note| async move {
        let _ = client().delete(note.id).await;
    })
}

#[portaltest::test]
fn temporary_note_is_cleaned_up_through_a_guard() {
    let id = {
        let note = temp_note(&unique("temp"));
        assert_eq!(await_(client().get(note.id)).unwrap().title, note.title);
        note.id
    }; // dropped: the cleanup is awaited here
    expect_error(await_(client().get(id)), 404);
}

/// The paginated listing as a sync iterator: pages are fetched as it is consumed.
#[portaltest::test]
fn listing_streams_every_note_page_by_page() {
    let tag = unique("listing");
    let mut mine = Vec::new();
    for i in 0..7 {
        let note = await_(client().create(&NewNote {
            tags: tag.clone(),
            ..new_note(&unique(&format!("listed {i}")))
        }))
        .unwrap();
        mine.push(note.id);
    }
    // Other tests add notes meanwhile; ours are all there, in id order.
    let listed: Vec<i64> = iter(client().all(3))
        .map(|note| note.expect("a page"))
        .filter(|note| note.tags == tag)
        .map(|note| note.id)
        .collect();
    assert_eq!(listed, mine);
}

#[portaltest::test(timeout = "5s")]
fn slow_endpoint_answers_within_the_timeout() {
    let started = Instant::now();
    assert_eq!(await_(client().slow(200)).unwrap(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[portaltest::test]
#[should_panic(expected = "HTTP 404")]
fn reading_a_deleted_note_panics_in_a_sync_helper() {
    let note = create(&unique("gone"));
    await_(client().delete(note.id)).unwrap();
    // A sync helper that panics with the API error, as test helpers often do.
    await_(client().get(note.id)).unwrap_or_else(|e| panic!("{e}"));
}

/// Fills the database with 2,000 notes and lists them all: minutes under a
/// `DATABASE_URL` on slow storage, so it only runs when asked.
#[portaltest::test]
#[ignore = "load test: writes 2,000 notes; run with `cargo test -p example-tests --test api -- --ignored`"]
fn two_thousand_notes_list_completely() {
    let tag = unique("bulk");
    for i in 0..2_000 {
        await_(client().create(&NewNote {
            tags: tag.clone(),
            ..new_note(&unique(&format!("bulk {i}")))
        }))
        .unwrap();
    }
    let count = iter(client().all(100))
        .filter(|n| n.as_ref().unwrap().tags == tag)
        .count();
    assert_eq!(count, 2_000);
}

portaltest::main!();
