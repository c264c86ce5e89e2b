//! Configuration errors. Each one names the key (or file, or variable) at fault and says what is
//! expected, because the operator reading it has only the message to fix the deployment with.
//! Messages never echo an environment value or a line of the file: either may hold a secret.

use std::fmt;
use std::path::PathBuf;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file given explicitly cannot be read (missing, unreadable, not UTF-8).
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}: invalid TOML: {message}", location(path, *line_column))]
    Syntax {
        path: PathBuf,
        /// 1-based line and column (in characters), when the parser reports a position.
        line_column: Option<(usize, usize)>,
        message: String,
    },
    /// A `SALESPULSE_<SECTION>__<KEY>` variable names no configuration key.
    #[error("{var}: {message}")]
    Environment { var: String, message: String },
    /// A key has a bad value, an unknown name or conflicts with another key.
    #[error("{key}: {message}{}", origin_suffix(origin.as_ref()))]
    Invalid {
        /// The key path, e.g. `business.timezone` or `roster[1].role`.
        key: String,
        message: String,
        /// Where the value came from, when not from the built-in defaults.
        origin: Option<Origin>,
    },
}

impl ConfigError {
    /// The key path at fault, for [`ConfigError::Invalid`].
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Where a configuration value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "in {}", path.display()),
            Origin::Env(var) => write!(f, "set by {var}"),
        }
    }
}

fn origin_suffix(origin: Option<&Origin>) -> String {
    origin.map(|o| format!(" [{o}]")).unwrap_or_default()
}

fn location(path: &std::path::Path, line_column: Option<(usize, usize)>) -> String {
    match line_column {
        Some((line, column)) => format!("{}:{line}:{column}", path.display()),
        None => path.display().to_string(),
    }
}
