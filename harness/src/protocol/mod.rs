//! What the supervisor and its workers say to each other: the events and commands and
//! their wire format, the board (a shared-memory word naming the test being polled),
//! and the sink that events go to. The only module both processes import.

// A word in shared memory, and a crash handler that writes to it.
#[allow(unsafe_code)]
pub(crate) mod board;
pub(crate) mod events;
pub(crate) mod sink;
