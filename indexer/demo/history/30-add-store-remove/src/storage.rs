//! Storage backends for users.

use std::collections::*;

use crate::error::{Error, Result};
use crate::model::User;

/// Anything that can hold users.
pub trait Store {
    /// Look a user up by id.
    fn get(&self, id: u64) -> Option<&User>;

    /// Insert or replace a user.
    fn put(&mut self, user: User) -> Result<()>;

    /// Remove a user and return it, if there was one.
    fn remove(&mut self, id: u64) -> Option<User>;

    /// Number of users held.
    fn len(&self) -> usize;

    /// True if the store holds no users.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if a user with this id exists.
    fn contains(&self, id: u64) -> bool {
        self.get(id).is_some()
    }
}

/// A store that keeps everything in a hash map.
#[derive(Debug, Default)]
pub struct MemoryStore {
    users: HashMap<u64, User>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore { users: HashMap::new() }
    }

    /// Iterate over all users in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &User> + '_ {
        self.users.values()
    }
}

impl Store for MemoryStore {
    fn get(&self, id: u64) -> Option<&User> {
        self.users.get(&id)
    }

    fn put(&mut self, user: User) -> Result<()> {
        if user.name.is_empty() {
            return Err(Error::Invalid { field: "name", reason: "empty".into() });
        }
        self.users.insert(user.id, user);
        Ok(())
    }

    fn remove(&mut self, id: u64) -> Option<User> {
        self.users.remove(&id)
    }

    fn len(&self) -> usize {
        self.users.len()
    }
}
