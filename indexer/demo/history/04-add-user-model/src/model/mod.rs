//! Domain model.

mod user;

pub use user::{Role, User};
