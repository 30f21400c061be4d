//! OS-facing helpers: capture files, the exit guard, temporary files and a sleep on
//! the real-time clock.

pub(crate) mod capture;
pub(crate) mod exit_guard;
pub(crate) mod realtime;
