//! roster: a tiny user roster with users, roles and a pluggable store.

pub mod config;
pub mod db;
pub mod error;
pub mod model;

pub use error::{Error, Result};
