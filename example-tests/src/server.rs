//! The HTTP server: routes, handlers, and starting/stopping it on a loopback port.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use sqlx::AnyPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::db::{self, WriteError};
use crate::model::{ApiError, NewNote, Page, UpdateNote, MAX_PAGE, MAX_SLOW_MS, MAX_TITLE_CHARS};

/// Where the server keeps its data.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// A database URL: SQLite (`sqlite:///tmp/notes.db`, created if missing) or
    /// PostgreSQL (`postgres://user@host/db`, which must exist). `None`: a fresh SQLite
    /// file in a temporary directory, deleted when the server stops.
    /// [`ServerConfig::from_env`] reads it from `DATABASE_URL`.
    pub database_url: Option<String>,
}

impl ServerConfig {
    /// `DATABASE_URL` if set, else a temporary database.
    pub fn from_env() -> Self {
        ServerConfig {
            database_url: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
        }
    }
}

/// A running server.
pub struct Server {
    /// The loopback address it listens on.
    pub addr: SocketAddr,
    /// Its database pool (tests may inspect the database directly).
    pub pool: AnyPool,
    /// The URL of its database (the temporary file's, by default), for tests that
    /// open connections of their own.
    pub database_url: String,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    _tempdir: Option<tempfile::TempDir>,
}

impl Server {
    /// Opens the database, applies migrations, binds `127.0.0.1:0` and serves in a
    /// spawned task.
    pub async fn start(
        config: ServerConfig,
    ) -> Result<Server, Box<dyn std::error::Error + Send + Sync>> {
        let (url, tempdir) = match config.database_url {
            Some(url) => (url, None),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("example-tests-")
                    .tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("notes.db").display());
                (url, Some(dir))
            }
        };
        let pool = db::connect(&url).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(pool.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Server {
            addr,
            pool,
            database_url: url,
            shutdown: Mutex::new(Some(tx)),
            task: Mutex::new(Some(task)),
            _tempdir: tempdir,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, waits for in-flight requests, and closes the database.
    /// Calling it again does nothing.
    pub async fn stop(&self) {
        let shutdown = self
            .shutdown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(tx) = shutdown {
            let _ = tx.send(());
        }
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        self.pool.close().await;
    }

    /// Whether [`Server::stop`] has run.
    pub fn is_stopped(&self) -> bool {
        self.pool.is_closed()
    }
}

/// The service's routes.
pub fn router(pool: AnyPool) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/notes", get(list_notes).post(create_note))
        .route(
            "/notes/{id}",
            get(get_note).put(update_note).delete(delete_note),
        )
        .route("/slow", get(slow))
        .with_state(pool)
}

struct Error(StatusCode, String);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = ApiError {
            status: self.0.as_u16(),
            error: self.1,
        };
        (self.0, Json(body)).into_response()
    }
}

fn bad_request(msg: impl Into<String>) -> Error {
    Error(StatusCode::BAD_REQUEST, msg.into())
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

impl From<WriteError> for Error {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::DuplicateTitle => {
                Error(StatusCode::CONFLICT, "a note with this title exists".into())
            }
            WriteError::NotFound => Error(StatusCode::NOT_FOUND, "no such note".into()),
            WriteError::StaleVersion { current } => Error(
                StatusCode::CONFLICT,
                format!("version conflict: the note is at version {current}; re-read it and retry"),
            ),
            WriteError::Db(e) => internal(e),
        }
    }
}

fn validate_title(title: &str) -> Result<(), Error> {
    if title.trim().is_empty() {
        return Err(bad_request("title must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(bad_request(format!(
            "title must be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(())
}

fn id_from(path: Result<Path<i64>, PathRejection>) -> Result<i64, Error> {
    path.map(|Path(id)| id)
        .map_err(|e| bad_request(format!("invalid note id: {e}")))
}

async fn create_note(
    State(pool): State<AnyPool>,
    body: Result<Json<NewNote>, JsonRejection>,
) -> Result<(StatusCode, Json<crate::Note>), Error> {
    let Json(note) = body.map_err(|e| bad_request(e.body_text()))?;
    validate_title(&note.title)?;
    let created = db::insert(&pool, &note).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn get_note(
    State(pool): State<AnyPool>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<crate::Note>, Error> {
    let id = id_from(id)?;
    match db::get(&pool, id).await.map_err(internal)? {
        Some(note) => Ok(Json(note)),
        None => Err(WriteError::NotFound.into()),
    }
}

#[derive(Deserialize)]
struct ListParams {
    limit: Option<u32>,
    after: Option<i64>,
}

async fn list_notes(
    State(pool): State<AnyPool>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Page>, Error> {
    let Query(params) = params.map_err(|e| bad_request(e.body_text()))?;
    let limit = params.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_PAGE {
        return Err(bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let items = db::list(&pool, params.after.unwrap_or(0), limit)
        .await
        .map_err(internal)?;
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|n| n.id))
        .flatten();
    Ok(Json(Page { items, next }))
}

async fn update_note(
    State(pool): State<AnyPool>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<UpdateNote>, JsonRejection>,
) -> Result<Json<crate::Note>, Error> {
    let id = id_from(id)?;
    let Json(update) = body.map_err(|e| bad_request(e.body_text()))?;
    validate_title(&update.title)?;
    Ok(Json(db::update(&pool, id, &update).await?))
}

async fn delete_note(
    State(pool): State<AnyPool>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, Error> {
    let id = id_from(id)?;
    if db::delete(&pool, id).await.map_err(internal)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(WriteError::NotFound.into())
    }
}

#[derive(Deserialize)]
struct SlowParams {
    ms: u64,
}

/// Answers after `ms` milliseconds: a stand-in for a slow dependency.
async fn slow(
    params: Result<Query<SlowParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, Error> {
    let Query(SlowParams { ms }) = params.map_err(|e| bad_request(e.body_text()))?;
    if ms > MAX_SLOW_MS {
        return Err(bad_request(format!("ms must be at most {MAX_SLOW_MS}")));
    }
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(Json(serde_json::json!({ "slept_ms": ms })))
}
