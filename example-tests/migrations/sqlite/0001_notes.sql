-- Notes: a title unique across the service, a body, and a version for optimistic
-- concurrency control (every update must name the version it read).
CREATE TABLE notes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    title   TEXT    NOT NULL UNIQUE,
    body    TEXT    NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
