//! A small but real async service, and the client its tests use.
//!
//! The service is an HTTP JSON API for notes ([`server`]), built on axum and hyper,
//! storing notes through sqlx ([`db`]) with migrations, in SQLite (a temporary file by
//! default) or PostgreSQL (`DATABASE_URL=postgres://...`). It listens on a
//! loopback port chosen by the OS. Validation errors are real (400, 404, 409), updates
//! use optimistic concurrency (a stale `version` is a 409), listings are paginated, and
//! `GET /slow?ms=N` answers after a deliberate async delay.
//!
//! The test targets in `tests/` exercise it from plain sync test functions under the
//! portaltest harness; the guide's cookbook (`harness/guide/cookbook.md`) walks through
//! them.

pub mod client;
pub mod db;
pub mod model;
pub mod server;

pub use client::Client;
pub use model::{ApiError, NewNote, Note, Page, UpdateNote};
pub use server::{Server, ServerConfig};
