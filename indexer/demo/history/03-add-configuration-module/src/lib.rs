//! roster: a tiny user roster with users, roles and a pluggable store.

pub mod config;
pub mod error;

pub use error::{Error, Result};
