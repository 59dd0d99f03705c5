//! Operations on the roster, independent of where users are stored.

use crate::config::Config;
use crate::db::Store;
use crate::error::{Error, Result};
use crate::model::{User, Role as UserRole};

/// Register a new member and return it.
pub fn register<S: Store>(store: &mut S, config: &Config, name: &str, email: &str) -> Result<User> {
    let id = next_id(store);
    let user = User::new(id, name, email)?;
    if config.verbose {
        eprintln!("registering {name} as #{id}");
    }
    store.put(user.clone())?;
    Ok(user)
}

/// Insert many users at once; stops at the first error.
pub fn import_all<S, I>(store: &mut S, users: I) -> Result<usize>
where
    S: Store,
    I: IntoIterator<Item = User>,
{
    let mut count = 0;
    for user in users {
        store.put(user)?;
        count += 1;
    }
    Ok(count)
}

/// Give a user the admin role.
pub fn promote<S: Store + ?Sized>(store: &mut S, id: u64) -> Result<()> {
    let mut user = store.get(id).cloned().ok_or(Error::NotFound(id))?;
    user.role = UserRole::Admin;
    store.put(user)
}

fn next_id<S: Store + ?Sized>(store: &S) -> u64 {
    let mut id = store.len() as u64 + 1;
    while store.contains(id) {
        id += 1;
    }
    id
}
