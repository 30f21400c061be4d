//! The JSON shapes of the API, shared by the server and the client.

use serde::{Deserialize, Serialize};

/// A stored note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Note {
    pub id: i64,
    pub title: String,
    pub body: String,
    /// Comma-separated tags, as given.
    pub tags: String,
    /// Starts at 1; every successful update increments it.
    pub version: i64,
}

/// The body of `POST /notes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewNote {
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub tags: String,
}

/// The body of `PUT /notes/{id}`: the new content and the version it was based on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateNote {
    pub title: String,
    pub body: String,
    pub version: i64,
}

/// One page of `GET /notes?limit=N&after=ID`, in ascending id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub items: Vec<Note>,
    /// The `after` value of the next page; `None` on the last page.
    pub next: Option<i64>,
}

/// An error response: the HTTP status and the service's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub status: u16,
    pub error: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.error)
    }
}

impl std::error::Error for ApiError {}

/// Longest title the service accepts, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Largest page the service returns.
pub const MAX_PAGE: u32 = 100;
/// Longest delay `GET /slow` accepts, in milliseconds.
pub const MAX_SLOW_MS: u64 = 10_000;
