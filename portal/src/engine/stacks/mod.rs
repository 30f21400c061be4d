//! A per-thread pool of portal stacks.
//!
//! Mapping a fresh stack costs two system calls (~5 us); reusing one costs a few
//! nanoseconds, so finished portals give their stack back here. Every stack mapped
//! counts against a process-wide limit ([`budget::max_stacks`]): a portal past it panics
//! instead of starving the process of memory mappings.
//!
//! # Layout and what it keeps resident
//!
//! * One *hot* slot serves the common cycle of one portal finishing and the next
//!   starting: a `give` then a `take`, no list, no system call, no atomic. The hot stack
//!   keeps every page its portals touched (at most one stack).
//! * Stacks displaced from the hot slot are parked in two lists, at most [`POOL_CAP`]
//!   stacks in all; beyond that, and while more than half of the process's limit of
//!   portal stacks is mapped ([`budget::crowded`]), they are unmapped instead.
//!   - *Warm*: parked as they are, as long as the warm stacks' sizes add up to at most
//!     [`WARM_BUDGET`] (16 MiB: 8 stacks of the default 2 MiB).
//!   - *Cold*: past that budget, a parked stack is trimmed: on Linux its pages below the
//!     top [`KEEP`] bytes (32 KiB, more than shallow portals use) are released with
//!     `madvise(MADV_DONTNEED)`, and the 4 KiB just below that line are painted with a
//!     marker (see `trim`). A stack whose marker is still intact when it is parked
//!     again was not used below the line since: it is parked without a system call.
//!     `MADV_DONTNEED` rather than `MADV_FREE`: the latter leaves the pages counted in
//!     the resident set until the kernel runs short of memory.
//!
//!   `take` prefers a warm stack of the right size, then a cold one, then maps a new
//!   one, so that the warm budget goes to the stacks in use.
//!
//! What one thread's pool keeps resident is therefore at most: the hot stack's touched
//! pages + [`WARM_BUDGET`] + [`POOL_CAP`] x ([`KEEP`] + 4 KiB), i.e. one stack + 16 MiB +
//! 9 MiB: 27 MiB with the default 2 MiB stacks, however deep its portals went. (Without
//! trimming it would be up to 257 whole stacks: 256 portals that each touch 600 KiB of a
//! 1 MiB stack would leave 155 MiB resident after they finished, where trimming leaves
//! 19 MiB.) The one way past the bound: a frame that spans the whole 4 KiB under the
//! line without writing to it (a large uninitialised buffer) while deeper frames touch
//! pages below; see `trim`.
//!
//! Costs, measured on a 2-core VM (release): trimming adds nothing to the hot cycle, nor
//! to a burst of up to 9 concurrent portals of the default size, which cycles through
//! the hot slot and the warm list; each stack parked cold costs ~0.1 us (the marker
//! check touches a page the portal did not), and ~1 us + page faults when it was used
//! below the line and gets trimmed. On other platforms stacks are not trimmed.

mod budget;
#[allow(unsafe_code)] // reads, paints and releases (madvise) an idle stack's pages
mod trim;

use std::cell::{Cell, RefCell};

use corosensei::stack::{DefaultStack, Stack, StackPointer};

use self::budget::Slot;

/// Most stacks kept per thread (hot slot excluded).
pub(crate) const POOL_CAP: usize = 256;

/// Bytes of stack (by their usable size) parked untrimmed per thread, besides the hot
/// slot.
pub(crate) const WARM_BUDGET: usize = 16 << 20;

/// Bytes at the top of a cold stack left resident: what shallow portals use, so that
/// they run on a trimmed stack without a page fault.
pub(crate) const KEEP: usize = 32 << 10;

/// A mapped portal stack with its usable size and its place in the count of mapped
/// stacks: the only stack type the engine hands to corosensei. However it is dropped
/// (unmapped by a full pool, inside a coroutine that a panic tore down, with a thread's
/// pool at exit), the stack is unmapped first and then uncounted (fields drop in
/// order), so the count of mapped stacks cannot drift from the truth.
pub(crate) struct PortalStack {
    stack: DefaultStack,
    size: usize,
    _slot: Slot,
}

impl PortalStack {
    /// Usable bytes of the stack.
    #[inline(always)]
    pub(crate) fn size(&self) -> usize {
        self.size
    }
}

#[allow(unsafe_code)] // `Stack` is an unsafe trait
                      // SAFETY: every method forwards to the `DefaultStack` inside, which implements `Stack`
                      // correctly; `PortalStack` owns it and adds nothing to the memory it describes.
unsafe impl Stack for PortalStack {
    #[inline(always)]
    fn base(&self) -> StackPointer {
        self.stack.base()
    }

    #[inline(always)]
    fn limit(&self) -> StackPointer {
        self.stack.limit()
    }

    #[cfg(windows)]
    #[inline(always)]
    fn teb_fields(&self) -> corosensei::stack::StackTebFields {
        self.stack.teb_fields()
    }

    #[cfg(windows)]
    #[inline(always)]
    fn update_teb_fields(&mut self, stack_limit: usize, guaranteed_stack_bytes: usize) {
        self.stack
            .update_teb_fields(stack_limit, guaranteed_stack_bytes)
    }
}

type Entry = PortalStack;

struct Pool {
    /// Untrimmed stacks, whose sizes add up to `warm_bytes` <= `WARM_BUDGET`.
    warm: Vec<Entry>,
    warm_bytes: usize,
    /// Trimmed stacks.
    cold: Vec<Entry>,
}

impl Pool {
    const fn new() -> Self {
        Pool {
            warm: Vec::new(),
            warm_bytes: 0,
            cold: Vec::new(),
        }
    }

    fn take(&mut self, size: usize) -> Option<Entry> {
        if let Some(at) = self.warm.iter().rposition(|e| e.size == size) {
            let entry = self.warm.swap_remove(at);
            self.warm_bytes -= entry.size;
            return Some(entry);
        }
        let at = self.cold.iter().rposition(|e| e.size == size)?;
        Some(self.cold.swap_remove(at))
    }

    fn park(&mut self, entry: Entry) {
        if self.warm.len() + self.cold.len() >= POOL_CAP || budget::crowded() {
            return; // `entry` is dropped: unmapped.
        }
        if self.warm_bytes + entry.size <= WARM_BUDGET {
            self.warm_bytes += entry.size;
            self.warm.push(entry);
        } else {
            if !trim::is_trimmed(&entry.stack) {
                trim::trim(&entry.stack);
            }
            self.cold.push(entry);
        }
    }

    fn len(&self) -> usize {
        self.warm.len() + self.cold.len()
    }

    /// Unmaps every stack; returns how many.
    fn clear(&mut self) -> usize {
        let n = self.len();
        *self = Pool::new();
        n
    }
}

thread_local! {
    static HOT: Cell<Option<Entry>> = const { Cell::new(None) };
    static POOL: RefCell<Pool> = const { RefCell::new(Pool::new()) };
}

/// A stack with `size` usable bytes: from the pool, or freshly mapped.
///
/// # Panics
///
/// When the process already has [`budget::max_stacks`] portal stacks mapped, or the
/// mapping fails.
pub(crate) fn take(size: usize) -> PortalStack {
    match HOT.try_with(Cell::take) {
        Ok(Some(entry)) if entry.size == size => return entry,
        Ok(Some(other)) => park(other),
        _ => {}
    }
    match POOL.try_with(|pool| pool.borrow_mut().take(size)) {
        Ok(Some(entry)) => entry,
        _ => map(size),
    }
}

#[cold]
#[inline(never)]
fn map(size: usize) -> PortalStack {
    let slot = Slot::reserve().unwrap_or_else(|_| {
        // This thread's idle stacks (none of them of this size) count too: unmap them
        // and try again before giving up.
        let released = POOL.try_with(|pool| pool.borrow_mut().clear()).unwrap_or(0);
        Slot::reserve().unwrap_or_else(|live| budget::refuse(live, released))
    });
    // On a panic, `slot` is dropped: the stack is not counted.
    let stack = DefaultStack::new(size).unwrap_or_else(|err| {
        panic!(
            "stackportal: could not map a {size}-byte portal stack: {err}.\nLower the \
             stack size (`Builder::stack_size` or STACKPORTAL_STACK_SIZE), run fewer \
             portals at once, or raise the process's memory limits (ulimit -v, \
             vm.max_map_count)."
        )
    });
    PortalStack {
        stack,
        size,
        _slot: slot,
    }
}

/// Returns a stack to this thread's pool, or unmaps it when the pool is full.
pub(crate) fn give(stack: PortalStack) {
    // During thread teardown `try_with` fails and drops (unmaps, uncounts) the stack.
    if let Ok(Some(displaced)) = HOT.try_with(|hot| hot.replace(Some(stack))) {
        park(displaced);
    }
}

/// Portal stacks mapped by this process right now (for tests).
pub(crate) fn mapped() -> usize {
    budget::live()
}

fn park(entry: Entry) {
    let _ = POOL.try_with(|pool| pool.borrow_mut().park(entry));
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
