//! The SQLite database: connecting, migrating, and the queries the handlers run.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;

use crate::model::{NewNote, Note, UpdateNote};

/// Opens (creating if needed) the SQLite database at `url` and applies the migrations
/// in `example-tests/migrations/`.
pub async fn connect(url: &str) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(std::time::Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    sqlx::migrate::Migrator::new(migrations)
        .await?
        .run(&pool)
        .await?;
    Ok(pool)
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

pub async fn insert(pool: &SqlitePool, note: &NewNote) -> Result<Note, WriteError> {
    Ok(sqlx::query_as::<_, Note>(
        "INSERT INTO notes (title, body, tags) VALUES (?, ?, ?) RETURNING id, title, body, tags, version",
    )
    .bind(&note.title)
    .bind(&note.body)
    .bind(&note.tags)
    .fetch_one(pool)
    .await?)
}

pub async fn get(pool: &SqlitePool, id: i64) -> Result<Option<Note>, sqlx::Error> {
    sqlx::query_as::<_, Note>("SELECT id, title, body, tags, version FROM notes WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn list(pool: &SqlitePool, after: i64, limit: u32) -> Result<Vec<Note>, sqlx::Error> {
    sqlx::query_as::<_, Note>(
        "SELECT id, title, body, tags, version FROM notes WHERE id > ? ORDER BY id LIMIT ?",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
}

/// Compare-and-swap on `version`: the update applies only if nobody updated the note
/// since the caller read it.
pub async fn update(pool: &SqlitePool, id: i64, update: &UpdateNote) -> Result<Note, WriteError> {
    let updated = sqlx::query_as::<_, Note>(
        "UPDATE notes SET title = ?, body = ?, version = version + 1 WHERE id = ? AND version = ? \
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

pub async fn delete(pool: &SqlitePool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM notes WHERE id = ?")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
