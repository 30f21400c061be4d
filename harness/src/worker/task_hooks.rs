//! With `--cfg tokio_unstable` (tokio's task hooks exist only then): a task started
//! with `tokio::spawn` by a test is charged to that test, as `portaltest::spawn_local`
//! tasks always are. tokio's `LocalSet` has no hooks, so `tokio::task::spawn_local`
//! tasks stay output of no test even then.

#[cfg(tokio_unstable)]
mod hooks {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    use tokio::runtime::TaskMeta;
    use tokio::task::Id;

    use crate::worker::attribution;

    thread_local! {
        /// The tasks that tests spawned, and whose each is.
        static OWNERS: RefCell<HashMap<Id, usize>> = RefCell::default();
        /// The hooked poll in progress: its slot, and the slot polled before it. (Kept
        /// here: a task that ends in this poll is forgotten before the poll's end.)
        static POLL: Cell<Option<(usize, Option<usize>)>> = const { Cell::new(None) };
    }

    fn spawned(meta: &TaskMeta<'_>) {
        let Some(ctx) = attribution::ctx() else {
            return;
        };
        if let (Some(slot), false) = (ctx.current.get(), attribution::in_fixture_setup()) {
            OWNERS.with(|o| o.borrow_mut().insert(meta.id(), slot));
        }
    }

    fn before_poll(meta: &TaskMeta<'_>) {
        let Some(slot) = OWNERS.with(|o| o.borrow().get(&meta.id()).copied()) else {
            return;
        };
        let Some(ctx) = attribution::ctx() else {
            return;
        };
        let outer = ctx.current.get();
        // What came before this poll is not this test's.
        ctx.drain_to(outer);
        ctx.current.set(Some(slot));
        POLL.with(|p| p.set(Some((slot, outer))));
    }

    fn after_poll(_meta: &TaskMeta<'_>) {
        let Some((slot, outer)) = POLL.with(|p| p.take()) else {
            return;
        };
        let Some(ctx) = attribution::ctx() else {
            return;
        };
        ctx.drain_to(Some(slot));
        ctx.current.set(outer);
    }

    fn terminated(meta: &TaskMeta<'_>) {
        // `try_with`: a task may end while the thread's locals are being destroyed.
        let _ = OWNERS.try_with(|o| o.borrow_mut().remove(&meta.id()));
    }

    pub(crate) fn install(builder: &mut tokio::runtime::Builder) {
        builder
            .on_task_spawn(spawned)
            .on_before_task_poll(before_poll)
            .on_after_task_poll(after_poll)
            .on_task_terminate(terminated);
    }
}

/// Installs the hooks on the shared runtime's builder, where tokio has them.
pub(crate) fn install(builder: &mut tokio::runtime::Builder) {
    #[cfg(tokio_unstable)]
    hooks::install(builder);
    #[cfg(not(tokio_unstable))]
    let _ = builder;
}
