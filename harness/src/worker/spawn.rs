//! [`spawn_local`]: stackportal's task with a portal of its own, whose output (and
//! panics, blocking and paused clocks) is charged to the test that spawned it.

use std::future::IntoFuture;

use tokio::task::JoinHandle;

use crate::worker::attribution::{self, Attributed};

/// Spawns `future` on the run's `LocalSet` as a task that runs inside a portal of its
/// own; see the crate's [`spawn_local`] docs.
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: IntoFuture,
    F::IntoFuture: 'static,
    F::Output: 'static,
{
    let owner = attribution::ctx().and_then(|ctx| {
        let slot = ctx.current.get()?;
        Some((ctx, slot))
    });
    let Some((ctx, slot)) = owner.filter(|_| !attribution::in_fixture_setup()) else {
        // Not spawned by a test on the shared runtime (a fixture's setup, whose tasks
        // serve the whole run; an isolated test's thread; a task of no test; outside a
        // run): stackportal's own, and its output is output of no test.
        return stackportal::spawn_local(future);
    };
    let label = format!(
        "a task spawned by `{}`",
        crate::fmt::slot_name(&ctx.names, slot)
    );
    let portal = stackportal::Builder::new()
        .cleanup_spawner(attribution::cleanup_spawner(ctx.clone(), Some(slot)))
        .run(future);
    tokio::task::spawn_local(Attributed {
        slot,
        fut: Box::pin(portal),
        ctx,
        label: Some(label),
    })
}
