//! The database, SQLite or PostgreSQL: connecting, migrating, and the queries the
//! handlers run.
//!
//! The URL picks the backend (`sqlite://...` or `postgres://...`), and everything goes
//! through sqlx's [`Any`](sqlx::Any) driver, so one set of queries serves both: they use
//! `$1`-style placeholders, which both understand, and only `BIGINT`/`TEXT` columns
//! (`i64`/`String`). Only the table definitions differ, so each backend has its own
//! migrations folder, `migrations/sqlite` and `migrations/postgres`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyPool, ConnectOptions, Connection};

use crate::model::{NewNote, Note, UpdateNote};

/// Whether `url` names a SQLite database (else it is PostgreSQL).
fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// The migrations for the backend of `url`.
fn migrations_dir(url: &str) -> PathBuf {
    let backend = if is_sqlite(url) { "sqlite" } else { "postgres" };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend)
}

/// Connects to the database at `url` (a SQLite file, created if needed, or a PostgreSQL
/// database) and applies the migrations in `example-tests/migrations/<backend>/`.
///
/// Not `sqlite::memory:`: through the `Any` driver, every connection of the pool would
/// open an in-memory database of its own.
pub async fn connect(url: &str) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    if is_sqlite(url) {
        prepare_sqlite(url).await?;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .connect(url)
        .await?;
    sqlx::migrate::Migrator::new(migrations_dir(url))
        .await?
        .run(&pool)
        .await?;
    Ok(pool)
}

/// What the `Any` driver cannot ask for in a SQLite URL: create the file if it is
/// missing, and switch the database to WAL, so that readers never wait for a writer (the
/// journal mode is stored in the file; every later connection uses it). The 5 s busy
/// timeout is sqlx's default for every connection.
async fn prepare_sqlite(url: &str) -> Result<(), sqlx::Error> {
    SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .connect()
        .await?
        .close()
        .await
}

/// Why a write failed, in the service's terms.
#[derive(Debug)]
pub enum WriteError {
    /// Another note has this title.
    DuplicateTitle,
    /// No note with this id.
    NotFound,
    /// The note exists, but its version is not the one the update was based on.
    StaleVersion {
        current: i64,
    },
    Db(sqlx::Error),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => WriteError::DuplicateTitle,
            _ => WriteError::Db(e),
        }
    }
}

pub async fn insert(pool: &AnyPool, note: &NewNote) -> Result<Note, WriteError> {
    Ok(sqlx::query_as::<_, Note>(
        "INSERT INTO notes (title, body, tags) VALUES ($1, $2, $3) RETURNING id, title, body, tags, version",
    )
    .bind(&note.title)
    .bind(&note.body)
    .bind(&note.tags)
    .fetch_one(pool)
    .await?)
}

pub async fn get(pool: &AnyPool, id: i64) -> Result<Option<Note>, sqlx::Error> {
    sqlx::query_as::<_, Note>("SELECT id, title, body, tags, version FROM notes WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn list(pool: &AnyPool, after: i64, limit: u32) -> Result<Vec<Note>, sqlx::Error> {
    sqlx::query_as::<_, Note>(
        "SELECT id, title, body, tags, version FROM notes WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
}

/// Compare-and-swap on `version`: the update applies only if nobody updated the note
/// since the caller read it.
pub async fn update(pool: &AnyPool, id: i64, update: &UpdateNote) -> Result<Note, WriteError> {
    let updated = sqlx::query_as::<_, Note>(
        "UPDATE notes SET title = $1, body = $2, version = version + 1 WHERE id = $3 AND version = $4 \
         RETURNING id, title, body, tags, version",
    )
    .bind(&update.title)
    .bind(&update.body)
    .bind(id)
    .bind(update.version)
    .fetch_optional(pool)
    .await?;
    match updated {
        Some(note) => Ok(note),
        None => match get(pool, id).await? {
            Some(current) => Err(WriteError::StaleVersion {
                current: current.version,
            }),
            None => Err(WriteError::NotFound),
        },
    }
}

pub async fn delete(pool: &AnyPool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM notes WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
