//! roster: a tiny user roster with users, roles and a pluggable store.

pub mod error;

pub use error::{Error, Result};
