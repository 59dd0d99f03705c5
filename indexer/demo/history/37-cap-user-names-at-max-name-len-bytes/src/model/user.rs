//! Users and their roles.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Longest accepted user name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Identifies a user within a store.
pub type UserId = u64;

/// What a user is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Member,
    Guest,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Guest => "guest",
        };
        f.write_str(name)
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Role> {
        match s {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "guest" => Ok(Role::Guest),
            other => Err(Error::Invalid {
                field: "role",
                reason: format!("unknown role {other:?}"),
            }),
        }
    }
}

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub role: Role,
}

impl User {
    /// Create a member with the given id, name and email.
    pub fn new(id: UserId, name: &str, email: &str) -> Result<User> {
        ensure!(
            !name.is_empty() && name.len() <= MAX_NAME_LEN,
            Error::Invalid {
                field: "name",
                reason: format!("must be 1 to {MAX_NAME_LEN} bytes"),
            }
        );
        ensure!(
            email.contains('@'),
            Error::Invalid {
                field: "email",
                reason: format!("{email:?} has no @"),
            }
        );
        Ok(User {
            id,
            name: name.to_string(),
            email: email.to_string(),
            role: Role::Member,
        })
    }

    /// True if the user has the admin role.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_user_is_member() {
        let user = User::new(1, "ada", "ada@example.com").unwrap();
        assert_eq!(user.role, Role::Member);
        assert!(!user.is_admin());
    }

    #[test]
    fn rejects_email_without_at() {
        assert!(User::new(2, "bob", "bob.example.com").is_err());
    }
}
