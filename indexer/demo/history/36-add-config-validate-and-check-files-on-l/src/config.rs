//! Runtime configuration.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

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
    /// Registrations beyond this many users are refused.
    pub max_users: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: DEFAULT_PORT,
            data_dir: PathBuf::from("data"),
            verbose: false,
            max_users: 1000,
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
        if let Ok(max) = std::env::var("ROSTER_MAX_USERS") {
            config.max_users = max.parse().unwrap_or(config.max_users);
        }
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
}

fn parse_port(value: &str) -> Result<u16> {
    value.parse().map_err(|_| Error::Invalid {
        field: "port",
        reason: format!("{value:?} is not a port number"),
    })
}
