//! Error type shared by the whole crate.

use std::fmt;

/// Everything that can go wrong in roster.
#[derive(Debug)]
pub enum Error {
    /// No user has this id.
    NotFound(u64),
    /// A value failed validation; `field` names it.
    Invalid { field: &'static str, reason: String },
    /// Reading or writing a file failed.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(id) => write!(f, "no user with id {id}"),
            Error::Invalid { field, reason } => write!(f, "invalid {field}: {reason}"),
            Error::Io(err) => write!(f, "i/o error: {err}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(err)
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;
