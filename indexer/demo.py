"""The embedded demo: a small Rust crate with a realistic git history.

`build_demo_repo(dest)` creates a git repository at `dest` holding `roster`, a tiny
user-roster crate (config, error type, model, storage trait, services, a binary), and
41 commits of development on it. It is the repository `commit-indexer demo` indexes
(there is no network, so it is what a new user sees first) and the fixture the tests
build on.

The history is written to exercise the indexer, the way real projects do:

- modules added one by one; functions whose bodies and signatures change; methods
  added to impls; struct fields added and retyped;
- a rename: `src/db.rs` -> `src/storage.rs` (`git mv` plus a small edit, same commit);
- a struct added early and deleted later: `LegacyConfig` (see `DELETED_STRUCT`);
- a feature branch (`feature/permissions`, 4 commits) merged with `--no-ff` while main
  moved on (3 commits on other files), so the merge is real but conflict-free;
- a `git revert` that brings `src/config.rs` and `src/main.rs` back to earlier blobs;
- messages with and without a body; an annotated tag `v0.1.0`.

The Rust items cover pub structs with docs and derives, enums, a trait with required
and default methods, trait and inherent impls, generics with bounds and where-clauses,
type aliases, const and static, `macro_rules!`, inline `mod tests`, grouped, nested,
aliased and glob `use` declarations, and functions that use a struct and a trait
defined in two other files. Every version of every `.rs` file parses cleanly with
tree-sitter-rust; the crate is meant to read like real code, not to be built by cargo.

What it does not do: fetch anything, touch the user's git configuration, or depend on
it. It drives the `git` CLI with an environment stripped of `GIT_*` variables, no global
or system config, no hook templates, and fixed identities and dates (one hour apart,
from 2024-01-01 UTC), so two builds anywhere give the same commit ids.

The history is data: `HISTORY` is a list of steps, each commit a list of file changes
(write a file, replace a unique snippet, delete, move). Snippets are read from and
written to the work tree, so a change on the branch is simply absent on main until the
merge. The Rust text makes this module longer than the others; it is all data.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DELETED_STRUCT",
    "FEATURE_BRANCH",
    "RENAMED_FILE",
    "REVERTED_FILES",
    "TAG",
    "DemoRepo",
    "build_demo_repo",
]

DELETED_STRUCT = "LegacyConfig"
"""A struct defined in src/config.rs from the 3rd commit until "Remove LegacyConfig"."""

RENAMED_FILE = ("src/db.rs", "src/storage.rs")
FEATURE_BRANCH = "feature/permissions"
TAG = "v0.1.0"
REVERTED_FILES = ("src/config.rs", "src/main.rs")
"""Files the revert commit brings back to the blobs they had before the reverted commit."""

_NAME = "Demo Developer"
_EMAIL = "dev@roster.example"
_EPOCH = 1704067200  # 2024-01-01T00:00:00Z
_STEP_SECONDS = 3600


@dataclass(frozen=True)
class DemoRepo:
    path: Path  # the work tree
    commits: int  # number of commits created
    head: str  # hex oid of HEAD


# -- the vocabulary of the history ---------------------------------------------------


@dataclass(frozen=True)
class Write:
    """Create or overwrite a file."""

    path: str
    text: str


@dataclass(frozen=True)
class Edit:
    """Replace `old` by `new`; `old` must occur exactly once unless `every` is set."""

    path: str
    old: str
    new: str
    every: bool = False


@dataclass(frozen=True)
class Delete:
    path: str


@dataclass(frozen=True)
class Move:
    """`git mv src dst`."""

    src: str
    dst: str


Change = Write | Edit | Delete | Move


@dataclass(frozen=True)
class Commit:
    message: str
    changes: Sequence[Change]
    label: str | None = None  # lets a later Revert name this commit


@dataclass(frozen=True)
class Branch:
    """Create a branch at HEAD and switch to it."""

    name: str


@dataclass(frozen=True)
class Switch:
    name: str


@dataclass(frozen=True)
class Merge:
    """`git merge --no-ff` of `branch` into the current branch, committed with `message`."""

    branch: str
    message: str


@dataclass(frozen=True)
class Revert:
    """`git revert` of the commit labelled `label`; `reason` becomes the message body."""

    label: str
    reason: str


@dataclass(frozen=True)
class Tag:
    """An annotated tag on HEAD."""

    name: str
    message: str


Step = Commit | Branch | Switch | Merge | Revert | Tag


def _lib_rs(*mods: str) -> str:
    """src/lib.rs declaring `mods` (all public except `macros`)."""
    lines = ["//! roster: a tiny user roster with users, roles and a pluggable store.", ""]
    if "macros" in mods:
        lines += ["#[macro_use]", "mod macros;", ""]
    lines += [f"pub mod {m};" for m in sorted(mods) if m != "macros"]
    if "error" in mods:
        lines += ["", "pub use error::{Error, Result};"]
    return "\n".join(lines) + "\n"


# -- the files as first written ------------------------------------------------------

CARGO_TOML = """\
[package]
name = "roster"
version = "0.1.0"
edition = "2021"
description = "A tiny user roster: users, roles and a pluggable store."
license = "MIT"

[dependencies]
"""

README_MD = """\
# roster

A tiny user roster: users, roles and a pluggable store.

    cargo run -- ada ada@example.com
"""

MAIN_RS = """\
fn main() {
    println!("roster {}", env!("CARGO_PKG_VERSION"));
}
"""

ERROR_RS = """\
//! Error type shared by the whole crate.

use std::fmt;

/// Everything that can go wrong in roster.
#[derive(Debug)]
pub enum Error {
    NotFound(u64),
    Invalid { field: &'static str, reason: String },
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(id) => write!(f, "no user with id {id}"),
            Error::Invalid { field, reason } => write!(f, "invalid {field}: {reason}"),
            Error::Io(err) => write!(f, "i/o error: {err}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(err)
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;
"""

CONFIG_RS = """\
//! Runtime configuration.

use std::path::PathBuf;

/// Port used when none is configured.
pub const DEFAULT_PORT: u16 = 8080;

/// Name shown in logs and the banner.
pub static APP_NAME: &str = "roster";

/// Settings for a running roster instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// TCP port to listen on.
    pub port: u16,
    /// Directory where the store keeps its files.
    pub data_dir: PathBuf,
    /// Log every request.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: DEFAULT_PORT,
            data_dir: PathBuf::from("data"),
            verbose: false,
        }
    }
}

/// Configuration format of roster 0.0.x, kept so old files can be upgraded.
#[derive(Debug, Clone)]
pub struct LegacyConfig {
    pub host_port: String,
    pub data_path: String,
}

impl LegacyConfig {
    /// Convert to the current format, falling back to defaults for bad values.
    pub fn upgrade(self) -> Config {
        let port = self
            .host_port
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(DEFAULT_PORT);
        Config {
            port,
            data_dir: PathBuf::from(self.data_path),
            ..Config::default()
        }
    }
}

impl From<LegacyConfig> for Config {
    fn from(legacy: LegacyConfig) -> Self {
        legacy.upgrade()
    }
}
"""

MODEL_MOD_RS = """\
//! Domain model.

mod user;

pub use user::{Role, User};
"""

USER_RS = """\
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
"""

DB_RS = """\
//! A store for users, in memory for now.

use std::collections::*;

use crate::error::{Error, Result};
use crate::model::User;

/// Anything that can hold users.
pub trait Store {
    /// Look a user up by id.
    fn get(&self, id: u64) -> Option<&User>;

    /// Insert or replace a user.
    fn put(&mut self, user: User) -> Result<()>;

    /// True if a user with this id exists.
    fn contains(&self, id: u64) -> bool {
        self.get(id).is_some()
    }
}

/// A store that keeps everything in a hash map.
#[derive(Debug, Default)]
pub struct MemoryDb {
    users: HashMap<u64, User>,
}

impl MemoryDb {
    pub fn new() -> Self {
        MemoryDb { users: HashMap::new() }
    }
}

impl Store for MemoryDb {
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
}
"""

MACROS_RS = """\
//! Small macros used across the crate.

/// Return early with `$err` unless `$cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $err:expr $(,)?) => {
        if !$cond {
            return Err($err.into());
        }
    };
}
"""

MAIN_WIRED_RS = """\
use std::process::ExitCode;

use roster::config::{Config, APP_NAME};
use roster::db::{MemoryDb, Store};
use roster::model::User;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = Config::from_env();
    let (name, email) = match args.as_slice() {
        [name, email] => (name.as_str(), email.as_str()),
        _ => {
            eprintln!("usage: {APP_NAME} NAME EMAIL");
            return ExitCode::from(2);
        }
    };
    let mut store = MemoryDb::new();
    match User::new(1, name, email).and_then(|user| store.put(user)) {
        Ok(()) => {
            println!("{APP_NAME} listening on port {}", config.port);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
"""

SERVICE_RS = """\
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
    let mut id = 1;
    while store.contains(id) {
        id += 1;
    }
    id
}
"""

PERMISSION_RS = """\
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
"""

AUTH_RS = """\
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
"""

CHANGELOG_MD = """\
# Changelog

## 0.1.0

- Users with roles, validated on creation.
- A `Store` trait with an in-memory implementation.
- Configuration from the environment.
"""

# -- the history ---------------------------------------------------------------------

HISTORY: list[Step] = [
    Commit(
        "Initial commit",
        [
            Write("Cargo.toml", CARGO_TOML),
            Write("README.md", README_MD),
            Write(".gitignore", "/target\n"),
            Write("src/lib.rs", _lib_rs()),
            Write("src/main.rs", MAIN_RS),
        ],
    ),
    Commit(
        "Add error type",
        [Write("src/error.rs", ERROR_RS), Write("src/lib.rs", _lib_rs("error"))],
    ),
    Commit(
        "Add configuration module\n\n"
        "Config holds the runtime settings. LegacyConfig reads the 0.0.x format\n"
        "so that existing deployments can upgrade in place.",
        [Write("src/config.rs", CONFIG_RS), Write("src/lib.rs", _lib_rs("config", "error"))],
    ),
    Commit(
        "Add User model",
        [
            Write("src/model/mod.rs", MODEL_MOD_RS),
            Write("src/model/user.rs", USER_RS),
            Write("src/lib.rs", _lib_rs("config", "error", "model")),
        ],
    ),
    Commit(
        "Add in-memory database",
        [Write("src/db.rs", DB_RS), Write("src/lib.rs", _lib_rs("config", "db", "error", "model"))],
    ),
    Commit(
        "Add Config::from_env",
        [
            Edit(
                "src/config.rs",
                """\
            verbose: false,
        }
    }
}
""",
                """\
            verbose: false,
        }
    }
}

impl Config {
    /// Start from the defaults and apply `ROSTER_*` environment overrides.
    pub fn from_env() -> Config {
        let mut config = Config::default();
        if let Ok(port) = std::env::var("ROSTER_PORT") {
            config.port = port.parse().unwrap_or(DEFAULT_PORT);
        }
        if let Ok(dir) = std::env::var("ROSTER_DATA_DIR") {
            config.data_dir = PathBuf::from(dir);
        }
        config.verbose = std::env::var_os("ROSTER_VERBOSE").is_some();
        config
    }
}
""",
            )
        ],
    ),
    Commit(
        "Add ensure! macro",
        [
            Write("src/macros.rs", MACROS_RS),
            Write("src/lib.rs", _lib_rs("config", "db", "error", "macros", "model")),
        ],
    ),
    Commit(
        "Validate email addresses in User::new\n\n"
        "User::new now returns a Result; an address without an @ is rejected.",
        [
            Edit(
                "src/model/user.rs",
                "//! Users and their roles.\n",
                "//! Users and their roles.\n\nuse crate::error::{Error, Result};\n",
            ),
            Edit(
                "src/model/user.rs",
                """\
    pub fn new(id: u64, name: &str, email: &str) -> User {
        User {
            id,
            name: name.to_string(),
            email: email.to_string(),
            role: Role::Member,
        }
    }
""",
                """\
    pub fn new(id: u64, name: &str, email: &str) -> Result<User> {
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
""",
            ),
        ],
    ),
    Commit(
        "Add unit tests for User",
        [
            Edit(
                "src/model/user.rs",
                """\
        self.role == Role::Admin
    }
}
""",
                """\
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
""",
            )
        ],
    ),
    Commit("Wire config and store into main", [Write("src/main.rs", MAIN_WIRED_RS)]),
    Commit(
        "Add service layer\n\n"
        "register, import_all and promote work on any Store, so main no longer\n"
        "builds users by hand.",
        [
            Write("src/service.rs", SERVICE_RS),
            Write("src/lib.rs", _lib_rs("config", "db", "error", "macros", "model", "service")),
            Edit(
                "src/main.rs",
                "use roster::db::{MemoryDb, Store};\nuse roster::model::User;\n",
                "use roster::db::MemoryDb;\nuse roster::service::register;\n",
            ),
            Edit(
                "src/main.rs",
                """\
    match User::new(1, name, email).and_then(|user| store.put(user)) {
        Ok(()) => {
            println!("{APP_NAME} listening on port {}", config.port);
""",
                """\
    match register(&mut store, &config, name, email) {
        Ok(user) => {
            println!("registered {} as #{}", user.name, user.id);
""",
            ),
        ],
    ),
    Commit(
        "Add Store::len and MemoryDb::iter",
        [
            Edit(
                "src/db.rs",
                """\
    fn put(&mut self, user: User) -> Result<()>;
""",
                """\
    fn put(&mut self, user: User) -> Result<()>;

    /// Number of users held.
    fn len(&self) -> usize;

    /// True if the store holds no users.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
""",
            ),
            Edit(
                "src/db.rs",
                """\
        MemoryDb { users: HashMap::new() }
    }
""",
                """\
        MemoryDb { users: HashMap::new() }
    }

    /// Iterate over all users in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &User> + '_ {
        self.users.values()
    }
""",
            ),
            Edit(
                "src/db.rs",
                """\
        self.users.insert(user.id, user);
        Ok(())
    }
""",
                """\
        self.users.insert(user.id, user);
        Ok(())
    }

    fn len(&self) -> usize {
        self.users.len()
    }
""",
            ),
        ],
    ),
    Commit(
        "Start the id search at the store's length",
        [
            Edit(
                "src/service.rs",
                "    let mut id = 1;\n",
                "    let mut id = store.len() as u64 + 1;\n",
            )
        ],
    ),
    Commit(
        "Rename db module to storage\n\n"
        '"db" suggested a real database; this is a trait and an in-memory\n'
        "implementation of it.",
        [
            Move(*RENAMED_FILE),
            Edit(
                "src/storage.rs",
                "//! A store for users, in memory for now.\n",
                "//! Storage backends for users.\n",
            ),
            Write(
                "src/lib.rs",
                _lib_rs("config", "error", "macros", "model", "service", "storage"),
            ),
            Edit("src/service.rs", "use crate::db::Store;", "use crate::storage::Store;"),
            Edit("src/main.rs", "use roster::db::MemoryDb;", "use roster::storage::MemoryDb;"),
        ],
    ),
    Commit(
        "Rename MemoryDb to MemoryStore",
        [
            Edit("src/storage.rs", "MemoryDb", "MemoryStore", every=True),
            Edit("src/main.rs", "MemoryDb", "MemoryStore", every=True),
        ],
    ),
    Commit(
        "Add max_users limit to Config",
        [
            Edit(
                "src/config.rs",
                "    /// Log every request.\n    pub verbose: bool,\n",
                "    /// Log every request.\n    pub verbose: bool,\n"
                "    /// Registrations beyond this many users are refused.\n"
                "    pub max_users: usize,\n",
            ),
            Edit(
                "src/config.rs",
                "            verbose: false,\n",
                "            verbose: false,\n            max_users: 1000,\n",
            ),
            Edit(
                "src/config.rs",
                """\
        config.verbose = std::env::var_os("ROSTER_VERBOSE").is_some();
""",
                """\
        if let Ok(max) = std::env::var("ROSTER_MAX_USERS") {
            config.max_users = max.parse().unwrap_or(config.max_users);
        }
        config.verbose = std::env::var_os("ROSTER_VERBOSE").is_some();
""",
            ),
            Edit(
                "src/service.rs",
                "    let id = next_id(store);\n",
                """\
    ensure!(
        store.len() < config.max_users,
        Error::Invalid {
            field: "max_users",
            reason: format!("limit of {} users reached", config.max_users),
        }
    );
    let id = next_id(store);
""",
            ),
        ],
    ),
    Commit(
        "Implement Display and FromStr for Role",
        [
            Edit(
                "src/model/user.rs",
                "use crate::error::{Error, Result};\n",
                "use std::fmt;\nuse std::str::FromStr;\n\nuse crate::error::{Error, Result};\n",
            ),
            Edit(
                "src/model/user.rs",
                "    Guest,\n}\n",
                """\
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
""",
            ),
        ],
    ),
    Commit(
        "Document error variants",
        [
            Edit(
                "src/error.rs",
                """\
    NotFound(u64),
    Invalid { field: &'static str, reason: String },
    Io(std::io::Error),
""",
                """\
    /// No user has this id.
    NotFound(u64),
    /// A value failed validation; `field` names it.
    Invalid { field: &'static str, reason: String },
    /// Reading or writing a file failed.
    Io(std::io::Error),
""",
            )
        ],
    ),
    Commit("Add changelog for 0.1.0", [Write("CHANGELOG.md", CHANGELOG_MD)]),
    Tag(TAG, "roster 0.1.0"),
    Commit(
        "Start 0.2.0 development",
        [Edit("Cargo.toml", 'version = "0.1.0"', 'version = "0.2.0-dev"')],
    ),
    # A feature branch; main moves on meanwhile, in files the branch leaves alone.
    Branch(FEATURE_BRANCH),
    Commit(
        "Add Permission and the Authorize trait",
        [
            Write("src/model/permission.rs", PERMISSION_RS),
            Write(
                "src/model/mod.rs",
                MODEL_MOD_RS.replace(
                    "mod user;\n\n",
                    "mod permission;\nmod user;\n\npub use permission::{Authorize, Permission};\n",
                ),
            ),
        ],
    ),
    Commit(
        "Implement Authorize for User\n\n"
        "Each role maps to a fixed set of permissions; a user has those of its role.",
        [
            Edit(
                "src/model/permission.rs",
                "//! Permissions and the trait for things that hold them.\n",
                "//! Permissions and the trait for things that hold them.\n\n"
                "use super::user::{Role, User};\n",
            ),
            Edit(
                "src/model/permission.rs",
                """\
        self.permissions().contains(&permission)
    }
}
""",
                """\
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
""",
            ),
        ],
    ),
    Commit(
        "Add auth::require and Error::Forbidden",
        [
            Write("src/auth.rs", AUTH_RS),
            Write(
                "src/lib.rs",
                _lib_rs("auth", "config", "error", "macros", "model", "service", "storage"),
            ),
            Edit(
                "src/error.rs",
                "    Io(std::io::Error),\n}\n",
                "    Io(std::io::Error),\n"
                "    /// The actor lacks a permission the operation needs.\n"
                "    Forbidden(String),\n}\n",
            ),
            Edit(
                "src/error.rs",
                '            Error::Io(err) => write!(f, "i/o error: {err}"),\n',
                '            Error::Io(err) => write!(f, "i/o error: {err}"),\n'
                '            Error::Forbidden(what) => write!(f, "forbidden: {what}"),\n',
            ),
        ],
    ),
    Commit(
        "Require the Manage permission to promote users",
        [
            Edit(
                "src/service.rs",
                "use crate::config::Config;\n",
                "use crate::auth;\nuse crate::config::Config;\n",
            ),
            Edit(
                "src/service.rs",
                "use crate::model::{User, Role as UserRole};\n",
                "use crate::model::{Authorize, Permission, User, Role as UserRole};\n",
            ),
            Edit(
                "src/service.rs",
                """\
/// Give a user the admin role.
pub fn promote<S: Store + ?Sized>(store: &mut S, id: u64) -> Result<()> {
""",
                """\
/// Give a user the admin role; `actor` needs the Manage permission.
pub fn promote<S, A>(store: &mut S, actor: &A, id: u64) -> Result<()>
where
    S: Store + ?Sized,
    A: Authorize + ?Sized,
{
    auth::require(actor, Permission::Manage)?;
""",
            ),
        ],
    ),
    Switch("main"),
    Commit(
        "Read configuration from a file",
        [
            Edit(
                "src/config.rs",
                "use std::path::PathBuf;\n",
                "use std::path::{Path, PathBuf};\n\nuse crate::error::{Error, Result};\n",
            ),
            Edit(
                "src/config.rs",
                """\
        config.verbose = std::env::var_os("ROSTER_VERBOSE").is_some();
        config
    }
""",
                """\
        config.verbose = std::env::var_os("ROSTER_VERBOSE").is_some();
        config
    }

    /// Parse a file of `key = value` lines; `#` starts a comment.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)?;
        let mut config = Config::default();
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| Error::Invalid {
                field: "config",
                reason: format!("line {}: expected key = value", lineno + 1),
            })?;
            let value = value.trim();
            match key.trim() {
                "port" => config.port = parse_port(value)?,
                "data_dir" => config.data_dir = PathBuf::from(value),
                "verbose" => config.verbose = value == "true",
                "max_users" => config.max_users = value.parse().unwrap_or(config.max_users),
                other => {
                    return Err(Error::Invalid {
                        field: "config",
                        reason: format!("unknown key {other:?}"),
                    })
                }
            }
        }
        Ok(config)
    }
}

fn parse_port(value: &str) -> Result<u16> {
    value.parse().map_err(|_| Error::Invalid {
        field: "port",
        reason: format!("{value:?} is not a port number"),
    })
""",
            ),
        ],
    ),
    Commit(
        "Accept --config FILE in main",
        [
            Edit(
                "src/main.rs",
                "use std::process::ExitCode;\n",
                "use std::path::Path;\nuse std::process::ExitCode;\n",
            ),
            Edit(
                "src/main.rs",
                """\
    let config = Config::from_env();
    let (name, email) = match args.as_slice() {
        [name, email] => (name.as_str(), email.as_str()),
        _ => {
            eprintln!("usage: {APP_NAME} NAME EMAIL");
""",
                """\
    let (config, rest) = match args.as_slice() {
        [flag, path, rest @ ..] if flag == "--config" => match Config::from_file(Path::new(path)) {
            Ok(config) => (config, rest),
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(2);
            }
        },
        rest => (Config::from_env(), rest),
    };
    let (name, email) = match rest {
        [name, email] => (name.as_str(), email.as_str()),
        _ => {
            eprintln!("usage: {APP_NAME} [--config FILE] NAME EMAIL");
""",
            ),
        ],
    ),
    Commit(
        "Document the configuration file",
        [
            Edit(
                "README.md",
                "    cargo run -- ada ada@example.com\n",
                """\
    cargo run -- ada ada@example.com

## Configuration

Settings come from the environment (`ROSTER_PORT`, `ROSTER_DATA_DIR`,
`ROSTER_MAX_USERS`, `ROSTER_VERBOSE`) or from a file given with `--config`:

    # roster.conf
    port = 8080
    data_dir = /var/lib/roster
    verbose = true
""",
            )
        ],
    ),
    Merge(
        FEATURE_BRANCH,
        f"Merge branch '{FEATURE_BRANCH}'\n\n"
        "Adds the Permission enum, the Authorize trait and a permission check\n"
        "on promote.",
    ),
    Commit(
        f"Remove {DELETED_STRUCT}\n\n"
        "Every deployment has moved to the 0.1 format; the upgrade path was last\n"
        "needed by 0.0.9.",
        [
            Edit(
                "src/config.rs",
                """\

/// Configuration format of roster 0.0.x, kept so old files can be upgraded.
#[derive(Debug, Clone)]
pub struct LegacyConfig {
    pub host_port: String,
    pub data_path: String,
}

impl LegacyConfig {
    /// Convert to the current format, falling back to defaults for bad values.
    pub fn upgrade(self) -> Config {
        let port = self
            .host_port
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(DEFAULT_PORT);
        Config {
            port,
            data_dir: PathBuf::from(self.data_path),
            ..Config::default()
        }
    }
}

impl From<LegacyConfig> for Config {
    fn from(legacy: LegacyConfig) -> Self {
        legacy.upgrade()
    }
}
""",
                "",
            )
        ],
    ),
    Commit(
        "Make Config::from_env fail on invalid values",
        [
            Edit(
                "src/config.rs",
                """\
    /// Start from the defaults and apply `ROSTER_*` environment overrides.
    pub fn from_env() -> Config {
        let mut config = Config::default();
        if let Ok(port) = std::env::var("ROSTER_PORT") {
            config.port = port.parse().unwrap_or(DEFAULT_PORT);
        }
""",
                """\
    /// Start from the defaults and apply `ROSTER_*` environment overrides.
    ///
    /// A variable that is set but does not parse is an error.
    pub fn from_env() -> Result<Config> {
        let mut config = Config::default();
        if let Ok(port) = std::env::var("ROSTER_PORT") {
            config.port = parse_port(&port)?;
        }
""",
            ),
            Edit(
                "src/config.rs",
                """\
        config.verbose = std::env::var_os("ROSTER_VERBOSE").is_some();
        config
    }
""",
                """\
        config.verbose = std::env::var_os("ROSTER_VERBOSE").is_some();
        Ok(config)
    }
""",
            ),
            Edit(
                "src/main.rs",
                "        rest => (Config::from_env(), rest),\n",
                """\
        rest => match Config::from_env() {
            Ok(config) => (config, rest),
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(2);
            }
        },
""",
            ),
        ],
        label="strict-env",
    ),
    Commit(
        "Add Store::remove",
        [
            Edit(
                "src/storage.rs",
                "    fn put(&mut self, user: User) -> Result<()>;\n",
                "    fn put(&mut self, user: User) -> Result<()>;\n\n"
                "    /// Remove a user and return it, if there was one.\n"
                "    fn remove(&mut self, id: u64) -> Option<User>;\n",
            ),
            Edit(
                "src/storage.rs",
                "    fn len(&self) -> usize {\n",
                """\
    fn remove(&mut self, id: u64) -> Option<User> {
        self.users.remove(&id)
    }

    fn len(&self) -> usize {
""",
            ),
        ],
    ),
    Commit(
        "Add service::remove_user",
        [
            Edit(
                "src/service.rs",
                "fn next_id<",
                """\
/// Delete a user and return it; `actor` needs the Manage permission.
pub fn remove_user<S, A>(store: &mut S, actor: &A, id: u64) -> Result<User>
where
    S: Store + ?Sized,
    A: Authorize + ?Sized,
{
    auth::require(actor, Permission::Manage)?;
    store.remove(id).ok_or(Error::NotFound(id))
}

fn next_id<""",
            )
        ],
    ),
    Revert(
        "strict-env",
        'Deployments set ROSTER_PORT to an empty string to mean "the default";\n'
        "strict parsing turned that into a startup failure.",
    ),
    Commit(
        "Introduce the UserId type alias",
        [
            Edit(
                "src/model/user.rs",
                "/// What a user is allowed to do.\n",
                "/// Identifies a user within a store.\npub type UserId = u64;\n\n"
                "/// What a user is allowed to do.\n",
            ),
            Edit("src/model/user.rs", "    pub id: u64,\n", "    pub id: UserId,\n"),
            Edit("src/model/user.rs", "pub fn new(id: u64,", "pub fn new(id: UserId,"),
            Edit(
                "src/model/mod.rs",
                "pub use user::{Role, User};",
                "pub use user::{Role, User, UserId};",
            ),
            Edit("src/storage.rs", "id: u64", "id: UserId", every=True),
            Edit("src/storage.rs", "HashMap<u64, User>", "HashMap<UserId, User>"),
            Edit("src/storage.rs", "use crate::model::User;", "use crate::model::{User, UserId};"),
            Edit("src/service.rs", "id: u64", "id: UserId", every=True),
            Edit("src/service.rs", "store.len() as u64", "store.len() as UserId"),
            Edit("src/service.rs", ") -> u64 {", ") -> UserId {"),
            Edit("src/service.rs", "Permission, User, Role", "Permission, User, UserId, Role"),
            Edit("src/error.rs", "use std::fmt;\n", "use std::fmt;\n\nuse crate::model::UserId;\n"),
            Edit("src/error.rs", "    NotFound(u64),", "    NotFound(UserId),"),
        ],
    ),
    Commit(
        "Keep MemoryStore ordered by id\n\n"
        "Listing users in a stable order makes the output of iter() reproducible.",
        [
            Edit("src/storage.rs", "HashMap", "BTreeMap", every=True),
            Edit(
                "src/storage.rs",
                "/// A store that keeps everything in a hash map.",
                "/// A store that keeps users in memory, ordered by id.",
            ),
            Edit("src/storage.rs", "in no particular order.", "in id order."),
        ],
    ),
    Commit(
        "Add tests for the service layer",
        [
            Edit(
                "src/service.rs",
                """\
        id += 1;
    }
    id
}
""",
                """\
        id += 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;

    #[test]
    fn register_assigns_increasing_ids() {
        let mut store = MemoryStore::new();
        let config = Config::default();
        let a = register(&mut store, &config, "ada", "ada@example.com").unwrap();
        let b = register(&mut store, &config, "bob", "bob@example.com").unwrap();
        assert_eq!((a.id, b.id), (1, 2));
    }

    #[test]
    fn members_cannot_promote() {
        let mut store = MemoryStore::new();
        let config = Config::default();
        let eve = register(&mut store, &config, "eve", "eve@example.com").unwrap();
        assert!(promote(&mut store, &eve, eve.id).is_err());
    }
}
""",
            )
        ],
    ),
    Commit(
        "Implement Error::source",
        [
            Edit(
                "src/error.rs",
                "impl std::error::Error for Error {}\n",
                """\
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(err) => Some(err),
            _ => None,
        }
    }
}
""",
            )
        ],
    ),
    Commit(
        "Add Config::validate and check files on load",
        [
            Edit(
                "src/config.rs",
                "        Ok(config)\n    }\n",
                """\
        config.validate()?;
        Ok(config)
    }

    /// Check the values the type system cannot.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.port != 0,
            Error::Invalid { field: "port", reason: "must not be 0".into() }
        );
        ensure!(
            self.max_users > 0,
            Error::Invalid { field: "max_users", reason: "must be positive".into() }
        );
        Ok(())
    }
""",
            )
        ],
    ),
    Commit(
        "Cap user names at MAX_NAME_LEN bytes",
        [
            Edit(
                "src/model/user.rs",
                "/// Identifies a user within a store.\n",
                "/// Longest accepted user name, in bytes.\npub const MAX_NAME_LEN: usize = 64;\n\n"
                "/// Identifies a user within a store.\n",
            ),
            Edit(
                "src/model/user.rs",
                "        ensure!(\n            email.contains('@'),\n",
                """\
        ensure!(
            !name.is_empty() && name.len() <= MAX_NAME_LEN,
            Error::Invalid {
                field: "name",
                reason: format!("must be 1 to {MAX_NAME_LEN} bytes"),
            }
        );
        ensure!(
            email.contains('@'),
""",
            ),
        ],
    ),
    Commit(
        "Print the store size after registering",
        [
            Edit(
                "src/main.rs",
                "use roster::storage::MemoryStore;",
                "use roster::storage::{MemoryStore, Store};",
            ),
            Edit(
                "src/main.rs",
                '            println!("registered {} as #{}", user.name, user.id);\n',
                '            println!("registered {} as #{}", user.name, user.id);\n'
                '            println!("{} user(s) in the store", store.len());\n',
            ),
        ],
    ),
    Commit(
        "Group the imports in service.rs",
        [
            Edit(
                "src/service.rs",
                """\
use crate::auth;
use crate::config::Config;
use crate::storage::Store;
use crate::error::{Error, Result};
use crate::model::{Authorize, Permission, User, UserId, Role as UserRole};
""",
                """\
use crate::{
    auth,
    config::Config,
    error::{Error, Result},
    model::{Authorize, Permission, Role as UserRole, User, UserId},
    storage::Store,
};
""",
            )
        ],
    ),
]


# -- running it ----------------------------------------------------------------------


class _Git:
    """Runs git in one repository, isolated from the machine, with a commit clock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commits = 0
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        self._env.update(
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME=_NAME,
            GIT_AUTHOR_EMAIL=_EMAIL,
            GIT_COMMITTER_NAME=_NAME,
            GIT_COMMITTER_EMAIL=_EMAIL,
        )

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        # The clock reads the number of commits made so far: commit N (from 0) is dated
        # N hours after _EPOCH; a tag gets the date the next commit will have.
        date = f"{_EPOCH + self.commits * _STEP_SECONDS} +0000"
        env = dict(self._env, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        done = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
            cwd=self.path,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def commit(self, message: str) -> None:
        self("add", "-A")
        self("commit", "-q", "--cleanup=verbatim", "-F", "-", stdin=message + "\n")
        self.commits += 1

    def head(self) -> str:
        return self("rev-parse", "HEAD").strip()


def _apply(root: Path, git: _Git, change: Change) -> None:
    if isinstance(change, Move):
        git("mv", change.src, change.dst)
        return
    file = root / change.path
    if isinstance(change, Delete):
        file.unlink()
    elif isinstance(change, Write):
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(change.text, encoding="utf-8", newline="\n")
    else:
        text = file.read_text(encoding="utf-8")
        found = text.count(change.old)
        if found == 0 or (found > 1 and not change.every):
            raise AssertionError(f"demo history: {change.path}: {found} matches for {change.old!r}")
        file.write_text(text.replace(change.old, change.new), encoding="utf-8", newline="\n")


def build_demo_repo(dest: Path) -> DemoRepo:
    """Create a git repo at dest (must not exist or be an empty dir) holding the demo crate's
    history."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"cannot build the demo repository in {dest}: it exists and is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    git = _Git(dest)
    # An empty --template: no sample hooks, nothing from the machine's template dir.
    git("init", "-q", "-b", "main", "--template=")
    labels: dict[str, str] = {}
    for step in HISTORY:
        if isinstance(step, Commit):
            for change in step.changes:
                _apply(dest, git, change)
            git.commit(step.message)
            if step.label:
                labels[step.label] = git.head()
        elif isinstance(step, Branch):
            git("switch", "-q", "-c", step.name)
        elif isinstance(step, Switch):
            git("switch", "-q", step.name)
        elif isinstance(step, Merge):
            git("merge", "-q", "--no-ff", "--no-commit", step.branch)
            git.commit(step.message)
        elif isinstance(step, Revert):
            oid = labels[step.label]
            subject = git("log", "-1", "--format=%s", oid).strip()
            git("revert", "--no-commit", oid)
            git.commit(f'Revert "{subject}"\n\nThis reverts commit {oid}.\n\n{step.reason}')
        elif isinstance(step, Tag):
            git("tag", "-a", step.name, "-m", step.message)
    return DemoRepo(path=dest, commits=git.commits, head=git.head())
