//! Domain model.

mod permission;
mod user;

pub use permission::{Authorize, Permission};
pub use user::{Role, User, UserId};
