//! The process-wide budget of mapped portal stacks.
//!
//! Every portal stack is two memory mappings (the stack and its guard page), and Linux
//! caps the mappings of a process at `vm.max_map_count` (65,530 by default), shared
//! with everything else the process maps: thread stacks, libraries, allocator arenas.
//! Left unchecked, ~32,750 suspended portals use them all up, and then not only the
//! next portal fails but also `std::thread::spawn`, `malloc`'s large allocations, and
//! so on. So stackportal counts the portal stacks it has mapped (in live portals and
//! idle in the per-thread pools) and refuses to map one more past [`max_stacks`],
//! which leaves headroom for the rest of the process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The environment variable that overrides [`max_stacks`] (a number of stacks).
pub(crate) const MAX_STACKS_ENV: &str = "STACKPORTAL_MAX_STACKS";

/// Linux's default `vm.max_map_count`, assumed when it cannot be read.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
const DEFAULT_MAX_MAP_COUNT: usize = 65_530;

/// Mappings always left to the rest of the process (unless that is more than half of
/// `vm.max_map_count`): a quarter of it, and at least this many.
const MIN_HEADROOM: usize = 16_384;

/// Each portal stack is the stack mapping plus its guard-page mapping.
const MAPPINGS_PER_STACK: usize = 2;

/// Portal stacks mapped by this process right now: in live portals, and idle in the
/// per-thread pools. A plain counter: nothing is published through it.
static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Limit {
    stacks: usize,
    /// Where `stacks` comes from, for the refusal message.
    source: String,
}

static LIMIT: OnceLock<Limit> = OnceLock::new();

fn limit() -> &'static Limit {
    // A panic here (a bad STACKPORTAL_MAX_STACKS) leaves the cell empty: every later
    // attempt to map a stack panics with the same message.
    LIMIT.get_or_init(|| match std::env::var(MAX_STACKS_ENV) {
        Err(std::env::VarError::NotPresent) => from_kernel(),
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(stacks) if stacks > 0 => Limit {
                stacks,
                source: format!("set by {MAX_STACKS_ENV}={stacks}"),
            },
            _ => panic!(
                "{MAX_STACKS_ENV}={text:?} is not a positive number of portal stacks; set it \
                 to e.g. {MAX_STACKS_ENV}=20000, or unset it for the default ({}). Each \
                 portal stack takes 2 of the process's vm.max_map_count memory mappings: \
                 a limit past the default needs a higher `sysctl vm.max_map_count` too.",
                from_kernel().source
            ),
        },
        Err(err) => panic!(
            "{MAX_STACKS_ENV} is not valid unicode ({err}); set it to a number of portal \
             stacks, or unset it for the default ({})",
            from_kernel().source
        ),
    })
}

/// The most portal stacks the process may map at once (those of live portals and those
/// idle in the per-thread pools together); read once, on the first stack mapped.
///
/// On Linux every portal stack takes two memory mappings (the stack and its guard
/// page) out of the process's `vm.max_map_count` (65,530 by default), which the rest of
/// the process (thread stacks, libraries, the allocator) needs too. stackportal leaves
/// that headroom to the rest of the process: a quarter of `vm.max_map_count`, at least
/// 16,384 mappings (but at most half of it), and allows
/// `(vm.max_map_count - headroom) / 2` portal stacks: 24,573 with the default
/// `vm.max_map_count` of 65,530 (which it assumes when `/proc/sys/vm/max_map_count`
/// cannot be read). On other platforms there is no limit.
///
/// The environment variable `STACKPORTAL_MAX_STACKS` (a positive number of stacks)
/// replaces the computed limit; an invalid value panics when the first stack is mapped.
///
/// Opening a portal past the limit panics with a message that says how many stacks
/// are mapped and what to do: keep fewer portals in flight at once (a semaphore; fewer
/// test threads), raise `sysctl vm.max_map_count` (the limit follows it) and/or set
/// `STACKPORTAL_MAX_STACKS`. Smaller stacks do not help: the limit counts mappings,
/// not bytes.
pub(crate) fn max_stacks() -> usize {
    limit().stacks
}

/// Mappings left to the rest of the process for a given `vm.max_map_count`.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
fn headroom_for(max_map_count: usize) -> usize {
    (max_map_count / 4).max(MIN_HEADROOM).min(max_map_count / 2)
}

/// Whether more than half of [`max_stacks`] are mapped: then the pools stop keeping
/// idle stacks (beyond each thread's hot one), so that stacks idle in some threads'
/// pools never take more than half of the limit from portals elsewhere. Cheap: one
/// relaxed load; never panics.
pub(crate) fn crowded() -> bool {
    // No limit read yet means no stack mapped yet.
    LIMIT
        .get()
        .is_some_and(|limit| LIVE.load(Ordering::Relaxed) > limit.stacks / 2)
}

/// Portal stacks allowed for a given `vm.max_map_count` (at least one).
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
fn stacks_for(max_map_count: usize) -> usize {
    ((max_map_count - headroom_for(max_map_count)) / MAPPINGS_PER_STACK).max(1)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn from_kernel() -> Limit {
    const PATH: &str = "/proc/sys/vm/max_map_count";
    let (max_map_count, read) = match std::fs::read_to_string(PATH) {
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(n) => (n, format!("from vm.max_map_count = {n}")),
            Err(_) => (
                DEFAULT_MAX_MAP_COUNT,
                format!("{PATH} holds {text:?}, so from the default vm.max_map_count = {DEFAULT_MAX_MAP_COUNT}"),
            ),
        },
        Err(err) => (
            DEFAULT_MAX_MAP_COUNT,
            format!("{PATH} could not be read ({err}), so from the default vm.max_map_count = {DEFAULT_MAX_MAP_COUNT}"),
        ),
    };
    let headroom = headroom_for(max_map_count);
    Limit {
        stacks: stacks_for(max_map_count),
        source: format!(
            "{read}: ({max_map_count} - {headroom} mappings left to the rest of the \
             process) / 2 mappings per stack; {MAX_STACKS_ENV} overrides it"
        ),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn from_kernel() -> Limit {
    Limit {
        stacks: usize::MAX,
        source: "no limit on this platform; vm.max_map_count is Linux's".to_owned(),
    }
}

/// One portal stack counted in [`LIVE`]. Dropping it gives the count back: every
/// mapped stack (`PortalStack`) owns one, so that dropping the stack anywhere (a full
/// pool, a thread's exit, a coroutine dropped by a panic) uncounts it.
#[must_use]
pub(crate) struct Slot(());

impl Slot {
    /// Counts a stack about to be mapped; at the limit, returns how many are mapped.
    pub(crate) fn reserve() -> Result<Slot, usize> {
        let max = max_stacks();
        LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |live| {
            (live < max).then_some(live + 1)
        })
        .map(|_| Slot(()))
    }
}

/// Portal stacks mapped by this process right now.
pub(crate) fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Saturating, so that a stack given back that was never counted (a bug) cannot
        // wrap the count around and refuse every later portal.
        let _ = LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |live| {
            Some(live.saturating_sub(1))
        });
    }
}

/// The panic when a new portal stack would exceed [`max_stacks`].
#[cold]
#[inline(never)]
pub(crate) fn refuse(live: usize, released: usize) -> ! {
    let limit = limit();
    let released = if released > 0 {
        format!(" ({released} idle ones in this thread's pool were unmapped first)")
    } else {
        String::new()
    };
    panic!(
        "stackportal: cannot open another portal: {live} portal stacks are mapped in this \
         process{released}, and the limit is {max} portal stacks ({source}).\nEach portal stack \
         (of a live portal, or idle in a thread's pool) takes 2 memory mappings, its stack \
         and its guard page, out of the process's vm.max_map_count; past the limit the rest \
         of the process (thread stacks, libraries, the allocator) would run out of them.\n\
         Fixes: keep fewer portals in flight at once (bound them with a semaphore; run fewer \
         tests at once, e.g. --test-threads); raise the kernel's limit (`sysctl -w \
         vm.max_map_count=262144`; stackportal's limit follows it) and/or set \
         {MAX_STACKS_ENV}=<number of stacks>. Smaller stacks do not help: the limit counts \
         mappings, not bytes.",
        max = limit.stacks,
        source = limit.source,
    )
}

#[cfg(test)]
mod tests {
    use super::stacks_for;

    #[test]
    fn budget_leaves_headroom() {
        assert_eq!(stacks_for(65_530), (65_530 - 16_384) / 2);
        assert_eq!(stacks_for(262_144), (262_144 - 65_536) / 2);
        // A small limit still leaves half of it to the rest of the process.
        assert_eq!(stacks_for(10_000), 2_500);
        assert_eq!(stacks_for(0), 1);
    }
}
