//! Small macros used across the crate.

/// Return early with `$err` unless `$cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $err:expr $(,)?) => {
        if !$cond {
            return Err($err.into());
        }
    };
}
