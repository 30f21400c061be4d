//! A per-thread pool of portal stacks.
//!
//! Mapping a fresh stack costs two system calls (~5 us); reusing one costs a few
//! nanoseconds, so finished portals give their stack back here. The pool is bounded:
//! beyond [`POOL_CAP`] stacks per thread, returned stacks are unmapped.

use std::cell::RefCell;

use corosensei::stack::DefaultStack;

/// Most stacks kept per thread. Each holds only the pages its portals touched, so
/// a full pool of typical (shallow) stacks costs a few MiB of resident memory.
pub(crate) const POOL_CAP: usize = 256;

thread_local! {
    static POOL: RefCell<Vec<(usize, DefaultStack)>> = const { RefCell::new(Vec::new()) };
}

/// A stack with `size` usable bytes: from the pool, or freshly mapped.
pub(crate) fn take(size: usize) -> DefaultStack {
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
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOL_CAP {
            pool.push((size, stack));
        }
    });
}

/// How many stacks this thread's pool holds (for tests and benchmarks).
pub(crate) fn pooled() -> usize {
    POOL.try_with(|pool| pool.borrow().len()).unwrap_or(0)
}
