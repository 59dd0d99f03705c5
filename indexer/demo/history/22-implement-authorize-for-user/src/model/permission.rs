//! Permissions and the trait for things that hold them.

use super::user::{Role, User};

/// A single capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    Read,
    Write,
    Manage,
}

/// Something that can be granted permissions.
pub trait Authorize {
    /// Everything this actor may do.
    fn permissions(&self) -> Vec<Permission>;

    /// True if the actor holds `permission`.
    fn can(&self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }
}

impl Role {
    /// Permissions granted by this role.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Role::Admin => &[Permission::Read, Permission::Write, Permission::Manage],
            Role::Member => &[Permission::Read, Permission::Write],
            Role::Guest => &[Permission::Read],
        }
    }
}

impl Authorize for User {
    fn permissions(&self) -> Vec<Permission> {
        self.role.permissions().to_vec()
    }
}
