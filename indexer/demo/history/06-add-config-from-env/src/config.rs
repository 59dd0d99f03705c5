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
