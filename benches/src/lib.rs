//! Benchmarks of stackportal and portaltest; see `benches/`. The library holds what
//! the benchmark binaries share.

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
