//! The harness's `tracing` subscriber: events go to stdout, into the capture of the
//! test being polled, filtered by `RUST_LOG`.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::EnvConfig;
use crate::here;

/// Installs the subscriber, unless the environment says not to or the program has
/// installed one of its own.
pub(crate) fn install_tracing(env: &EnvConfig) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::EnvFilter;
    if !env.tracing {
        return;
    }
    // Validated already (`EnvConfig`): the full EnvFilter syntax, spans and fields too.
    let filter = env
        .rust_log
        .as_deref()
        .and_then(|s| EnvFilter::builder().parse(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Events go to stdout, that is into the capture of the test being polled (those
    // of an isolated test to its own buffer).
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(here::make_writer)
        .with_ansi(false)
        .with_target(true);
    // A subscriber that the program installed itself stays in charge.
    if tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init()
        .is_ok()
    {
        HARNESS_SUBSCRIBER.store(true, Ordering::Relaxed);
    }
}

/// Whether the harness installed its `tracing` subscriber (for the panic hook's hint).
pub(crate) static HARNESS_SUBSCRIBER: AtomicBool = AtomicBool::new(false);
