//! tokio integration (feature `tokio`): tasks that run inside their own portal.

use std::future::IntoFuture;

use tokio::task::JoinHandle;

use crate::builder::Builder;

/// Spawns `future` as a task on the current [`tokio::task::LocalSet`] (or local
/// runtime), running inside its own portal for its whole life: greenback's
/// `bestow_portal` for the tasks you spawn. Guard cleanups that a cancelled (aborted)
/// task cannot await are spawned as local tasks too.
///
/// # Panics
///
/// Like [`tokio::task::spawn_local`], panics outside a `LocalSet` / local runtime.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # let local = tokio::task::LocalSet::new();
/// # local.block_on(&rt, async {
/// let handle = stackportal::spawn_local(async {
///     // sync code called from here may await_
///     stackportal::has_portal()
/// });
/// assert!(handle.await.unwrap());
/// # });
/// ```
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: IntoFuture,
    F::IntoFuture: 'static,
    F::Output: 'static,
{
    let portal = Builder::new()
        .cleanup_spawner(|cleanup| drop(tokio::task::spawn_local(cleanup)))
        .run(future);
    tokio::task::spawn_local(portal)
}
