//! Benchmarks of stackportal and portaltest; see `benches/`. The library holds what
//! the benchmark binaries share.

use std::io;

/// Blocks until process `pid` (a child of ours) exits and reaps it; returns its raw
/// wait status and the resource usage of it and of the descendants it reaped
/// (`ru_maxrss`: the largest of them, not their sum).
pub fn wait4(pid: libc::pid_t) -> io::Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    loop {
        // SAFETY: `status` and `usage` are valid, writable and live for the call;
        // `usage` is zero-initialised (a valid `rusage`: plain integers), so
        // `assume_init` is sound whether or not the kernel filled it in. The caller
        // passes a child that nothing else waits for (its `Child` is never waited on),
        // so reaping it here cannot disturb other code.
        let (ret, usage) = unsafe {
            (
                libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()),
                usage.assume_init(),
            )
        };
        if ret == pid {
            return Ok((status, usage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// A thousand copies of what the macro `$ten!()` expands to, each in a module of its own
/// (`a::a` .. `j::j`): ten modules of [`hundred_of!`].
#[macro_export]
macro_rules! thousand_of {
    ($ten:ident) => {
        mod a {
            $crate::hundred_of!($ten);
        }
        mod b {
            $crate::hundred_of!($ten);
        }
        mod c {
            $crate::hundred_of!($ten);
        }
        mod d {
            $crate::hundred_of!($ten);
        }
        mod e {
            $crate::hundred_of!($ten);
        }
        mod f {
            $crate::hundred_of!($ten);
        }
        mod g {
            $crate::hundred_of!($ten);
        }
        mod h {
            $crate::hundred_of!($ten);
        }
        mod i {
            $crate::hundred_of!($ten);
        }
        mod j {
            $crate::hundred_of!($ten);
        }
    };
}

/// A hundred copies of what the macro `$ten!()` expands to, in modules `a` .. `j`.
#[macro_export]
macro_rules! hundred_of {
    ($ten:ident) => {
        mod a {
            $ten!();
        }
        mod b {
            $ten!();
        }
        mod c {
            $ten!();
        }
        mod d {
            $ten!();
        }
        mod e {
            $ten!();
        }
        mod f {
            $ten!();
        }
        mod g {
            $ten!();
        }
        mod h {
            $ten!();
        }
        mod i {
            $ten!();
        }
        mod j {
            $ten!();
        }
    };
}
