//! Users and their roles.

/// What a user is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Member,
    Guest,
}

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub role: Role,
}

impl User {
    /// Create a member with the given id, name and email.
    pub fn new(id: u64, name: &str, email: &str) -> User {
        User {
            id,
            name: name.to_string(),
            email: email.to_string(),
            role: Role::Member,
        }
    }

    /// True if the user has the admin role.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}
