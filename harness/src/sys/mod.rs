//! OS-facing helpers: capture files, the exit guard, temporary files and a sleep on
//! the real-time clock.

// Redirects the process's stdout and stderr (`dup2` on raw fds).
#[allow(unsafe_code)]
pub(crate) mod capture;
// An `atexit` handler, registered through libc.
#[allow(unsafe_code)]
pub(crate) mod exit_guard;
pub(crate) mod realtime;
pub(crate) mod temp;
