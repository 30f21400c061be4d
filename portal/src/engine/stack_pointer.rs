//! The stack pointer register, read with inline assembly per architecture: how
//! `running_frame` (frame.rs) tells whether the caller runs on the current portal's
//! stack.
//!
//! Its `unsafe`: the `asm!` blocks, which read one register and touch nothing else.

/// The stack pointer, read from the register: a local's address would do in most
/// builds, but AddressSanitizer moves locals to a "fake stack" on the heap.
#[inline(always)]
pub(super) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: copies the stack pointer register into a general register; touches no
    // memory, the stack or the flags.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    // SAFETY: as above.
    #[cfg(target_arch = "x86")]
    unsafe {
        std::arch::asm!("mov {}, esp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    // SAFETY: as above.
    #[cfg(any(
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "riscv32",
        target_arch = "loongarch64"
    ))]
    unsafe {
        std::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    // corosensei supports no other architecture; keep building (e.g. for docs).
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "riscv32",
        target_arch = "loongarch64"
    )))]
    {
        let marker = 0u8;
        sp = std::hint::black_box(&marker) as *const u8 as usize;
    }
    sp
}
