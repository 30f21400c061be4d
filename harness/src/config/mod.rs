//! The run's configuration from the command line and the environment, read and
//! validated in one place before anything else happens (in particular before output
//! capture starts, so that a bad value is reported on the real stderr).
//!
//! * [`vars`]: the table of environment variables (name, kind, default, help) and the
//!   public `*_ENV` names;
//! * [`env`]: the environment parsed by that table ([`EnvConfig`]);
//! * [`cli`]: the command line ([`Cli`]);
//! * [`errors`]: the mistakes either can hold ([`ConfigError`]) and their texts;
//! * [`duration`]: `500ms`, `5s`, `2m`;
//! * [`reference`]: the table rendered for `harness/guide/environment.md`.

mod cli;
mod duration;
mod env;
mod errors;
mod reference;
mod vars;

pub(crate) use cli::Cli;
pub(crate) use duration::format_limit;
pub use duration::parse_duration;
pub(crate) use env::{Backtraces, EnvConfig};
pub use vars::{
    BLOCKING_WARN_ENV, GRACE_ENV, IN_PROCESS_ENV, JOBS_ENV, JUNIT_ENV, PARTITION_ENV, RETRIES_ENV,
    SHUFFLE_SEED_ENV, SLOWEST_ENV, SLOW_NOTICE_ENV, TEARDOWN_TIMEOUT_ENV, TIMEOUT_ENV, TRACING_ENV,
};
pub(crate) use vars::{
    DEFAULT_IN_FLIGHT, WORKER_CAPTURE_ENV, WORKER_ENV, WORKER_SHARE_ENV, WORKER_THREADS_ENV,
};
