//! A per-thread pool of portal stacks.
//!
//! Mapping a fresh stack costs two system calls (~5 us); reusing one costs a few
//! nanoseconds, so finished portals give their stack back here. The pool is bounded:
//! beyond [`POOL_CAP`] stacks per thread, returned stacks are unmapped. One "hot" slot
//! in front of it serves the common cycle of one portal finishing and the next
//! starting without touching the list.

use std::cell::{Cell, RefCell};

use corosensei::stack::DefaultStack;

/// Most stacks kept per thread. Each holds only the pages its portals touched, so
/// a full pool of typical (shallow) stacks costs a few MiB of resident memory.
pub(crate) const POOL_CAP: usize = 256;

/// A pooled stack and its usable size.
type SizedStack = (usize, DefaultStack);

thread_local! {
    static HOT: Cell<Option<SizedStack>> = const { Cell::new(None) };
    static POOL: RefCell<Vec<SizedStack>> = const { RefCell::new(Vec::new()) };
}

/// A stack with `size` usable bytes: from the pool, or freshly mapped.
pub(crate) fn take(size: usize) -> DefaultStack {
    match HOT.try_with(Cell::take) {
        Ok(Some((s, stack))) if s == size => return stack,
        Ok(Some(other)) => park(other),
        _ => {}
    }
    let pooled = POOL
        .try_with(|pool| {
            let mut pool = pool.borrow_mut();
            let at = pool.iter().rposition(|(s, _)| *s == size)?;
            Some(pool.swap_remove(at).1)
        })
        .ok()
        .flatten();
    pooled.unwrap_or_else(|| {
        DefaultStack::new(size).unwrap_or_else(|err| {
            panic!(
                "stackportal: could not map a {size}-byte portal stack: {err}.\nLower the \
                 stack size (`Builder::stack_size` or STACKPORTAL_STACK_SIZE), run fewer \
                 portals at once, or raise the process's memory limits (ulimit -v, \
                 vm.max_map_count)."
            )
        })
    })
}

/// Returns a stack to this thread's pool, or unmaps it when the pool is full.
pub(crate) fn give(size: usize, stack: DefaultStack) {
    if let Ok(Some(displaced)) = HOT.try_with(|hot| hot.replace(Some((size, stack)))) {
        park(displaced);
    }
    // During thread teardown `try_with` fails and drops (unmaps) the stack.
}

fn park(entry: SizedStack) {
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOL_CAP {
            pool.push(entry);
        }
    });
}

/// How many stacks this thread's pool holds (for tests and benchmarks).
pub(crate) fn pooled() -> usize {
    let hot = HOT.try_with(|hot| {
        let entry = hot.take();
        let n = usize::from(entry.is_some());
        hot.set(entry);
        n
    });
    hot.unwrap_or(0) + POOL.try_with(|pool| pool.borrow().len()).unwrap_or(0)
}
