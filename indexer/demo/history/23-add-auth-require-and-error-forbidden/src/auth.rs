//! Permission checks for service operations.

use crate::error::{Error, Result};
use crate::model::{Authorize, Permission};

/// Fail unless `actor` holds `permission`.
pub fn require<A>(actor: &A, permission: Permission) -> Result<()>
where
    A: Authorize + ?Sized,
{
    if actor.can(permission) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("missing {permission:?} permission")))
    }
}
