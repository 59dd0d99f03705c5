//! roster: a tiny user roster with users, roles and a pluggable store.

#[macro_use]
mod macros;

pub mod config;
pub mod error;
pub mod model;
pub mod service;
pub mod storage;

pub use error::{Error, Result};
