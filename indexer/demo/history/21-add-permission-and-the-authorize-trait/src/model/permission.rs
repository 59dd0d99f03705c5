//! Permissions and the trait for things that hold them.

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
