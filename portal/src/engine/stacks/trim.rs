//! Releasing the deep pages of idle pooled stacks (Linux), and the cheap test of
//! whether a stack needs it.
//!
//! A trimmed stack's pages below the *line* (`KEEP` bytes under its top) are released
//! with `madvise(MADV_DONTNEED)`; then the *probe*, the 4 KiB just below the line, is
//! painted with a marker. A portal that goes deeper than the line almost always writes
//! into the probe on its way down (return addresses, saved registers, locals), so while
//! the marker is intact, the pages below the line are taken to be still released and
//! the stack is parked without a system call. The check costs ~0.1 us (mostly for
//! touching a page that the portal did not touch); the `madvise` ~1 us here, plus the
//! page faults of the next deep portal.
//!
//! The test can be fooled only by a frame that spans the whole probe without writing
//! to it (a large uninitialised buffer, say) while deeper frames touch pages below: such
//! a stack keeps those pages until its probe is written.

#![cfg_attr(
    not(any(target_os = "linux", target_os = "android")),
    allow(dead_code, unused_imports)
)]

use corosensei::stack::DefaultStack;

use super::KEEP;

/// Bytes just below the line that are checked for the marker.
const PROBE_BYTES: usize = 4096;

/// What the probe is painted with: a word that code is unlikely to write ("STKPORTA").
const MARKER: u64 = 0x5354_4b50_4f52_5441;

/// The part of a stack to release, `[lo, line)`; the probe ends at `line`. None when
/// the stack is too small to have anything to release below its top `KEEP` bytes.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn region(stack: &DefaultStack) -> Option<(usize, usize)> {
    use corosensei::stack::Stack;

    let page = crate::engine::page_size();
    // The usable stack is [limit + one guard page, base); both ends are page-aligned.
    let lo = stack.limit().get() + page;
    let line = stack.base().get().checked_sub(KEEP)? & !(page - 1);
    (line >= lo + page.max(PROBE_BYTES)).then_some((lo, line))
}

/// The probe of a stack whose release region is `[_, line)`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn probe(line: usize) -> *mut u64 {
    (line - PROBE_BYTES) as *mut u64
}

/// Whether `stack` is still as [`trim`] left it: its probe holds the marker.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn is_trimmed(stack: &DefaultStack) -> bool {
    let Some((_, line)) = region(stack) else {
        return true;
    };
    // SAFETY: the probe is PROBE_BYTES of this stack's own read-write mapping, below
    // its top and above its guard page (`region`), aligned to 8, and alive while we
    // borrow `stack`. The pool owns the stack and no code runs on it, so nothing writes
    // it meanwhile. Its bytes are plain integers: zero in a fresh or released mapping,
    // else whatever the finished portal's code last wrote there (through a stack switch
    // the compiler cannot see across, as if written by foreign code); every bit pattern
    // is a valid `u64`.
    let words = unsafe { std::slice::from_raw_parts(probe(line), PROBE_BYTES / 8) };
    // A branch-free fold, so that the comparison vectorises.
    words.iter().fold(0, |acc, w| acc | (w ^ MARKER)) == 0
}

/// Releases the pages of `stack` below its top [`KEEP`] bytes and paints the probe.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn trim(stack: &DefaultStack) {
    let Some((lo, line)) = region(stack) else {
        return;
    };
    // SAFETY: [lo, line) is page-aligned and lies inside this stack's own private
    // anonymous read-write mapping (`region`), alive while we borrow `stack`. No code
    // runs on the stack and nothing points into it: it came back from a finished
    // coroutine (all its frames are gone), and the pool owns it. MADV_DONTNEED only
    // discards the pages' contents (they read as zero when next touched); it neither
    // unmaps them nor changes their protection, so the stack stays valid for the next
    // portal, and it does not split the mapping (no extra entry in vm.max_map_count).
    let rc = unsafe { libc::madvise(lo as *mut libc::c_void, line - lo, libc::MADV_DONTNEED) };
    if rc != 0 {
        // Nothing was released (only a bug could get here); leave the probe unpainted so
        // that the next park tries again.
        return;
    }
    // SAFETY: as in `is_trimmed`, the probe is memory of this stack that only the pool
    // uses now; we borrow it exclusively for this write, and any `u64` is valid there.
    let words = unsafe { std::slice::from_raw_parts_mut(probe(line), PROBE_BYTES / 8) };
    words.fill(MARKER);
}

/// Elsewhere stacks are not trimmed: `MADV_DONTNEED` does not release pages there.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn is_trimmed(_stack: &DefaultStack) -> bool {
    true
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn trim(_stack: &DefaultStack) {}
