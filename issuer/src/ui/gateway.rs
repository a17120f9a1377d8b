//! The gateway's filter configuration (`--gateway-config`), shown by the admin UI so it can
//! explain what the gateway would decide, with the same rules the gateway runs.
//!
//! Read and checked once at start-up with the filter's own parser (`verifier_core::Config`):
//! a file the gateway would refuse is refused here too, naming the field, so the UI never
//! explains decisions from a configuration no gateway could load.

use std::io::Read;
use std::path::Path;

use serde_json::Value;
use verifier_core::limits::MAX_CONFIG_BYTES;
use verifier_core::{Config, ConfigError};

/// Why the gateway configuration file cannot be used; `issuer serve` refuses to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayConfigError {
    /// The file could not be read.
    #[error("cannot read the gateway configuration {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The filter would refuse it; the error names the field (`rules[1].match.prefix`).
    #[error("gateway configuration {path}: {error}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, and where.
        error: ConfigError,
    },
}

/// A checked filter configuration and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    /// The file, as given on the command line.
    pub source: String,
    /// The document, as the gateway reads it.
    pub document: Value,
}

impl GatewayConfig {
    /// Reads and checks the configuration at `path`.
    pub fn load(path: &Path) -> Result<Self, GatewayConfigError> {
        let source = path.display().to_string();
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| {
                // One byte past the limit, so the parser reports the size instead of a
                // truncated document.
                file.take(MAX_CONFIG_BYTES as u64 + 1)
                    .read_to_end(&mut bytes)
            })
            .map_err(|err| GatewayConfigError::Read {
                path: source.clone(),
                source: err,
            })?;
        Self::parse(source, &bytes)
    }

    /// Checks `bytes`, read from `source`.
    pub fn parse(source: String, bytes: &[u8]) -> Result<Self, GatewayConfigError> {
        let invalid = |error| GatewayConfigError::Invalid {
            path: source.clone(),
            error,
        };
        Config::parse(bytes).map_err(invalid)?;
        // The filter's parser accepted it (one object, no duplicate names, bounded depth), so
        // serde_json reads the very same document.
        let document = serde_json::from_slice(bytes).map_err(|err| {
            invalid(ConfigError {
                path: String::new(),
                message: err.to_string(),
            })
        })?;
        Ok(Self { source, document })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_configuration_names_the_field() {
        let bad = br#"{"providers": {"local": {"issuer": "http://i", "audiences": ["a"],
            "algorithms": ["HS256"], "local_jwks": "{\"keys\":[]}"}}, "rules": []}"#;
        let err = GatewayConfig::parse("gw.json".to_owned(), bad).expect_err("invalid");
        let text = err.to_string();
        assert!(
            text.starts_with("gateway configuration gw.json: "),
            "{text}"
        );
        assert!(text.contains("providers.local"), "{text}");
        assert!(GatewayConfig::parse("x".to_owned(), b"[]").is_err());
    }

    #[test]
    fn unreadable_files_are_an_error() {
        let err = GatewayConfig::load(Path::new("/nonexistent/gw.json")).expect_err("missing");
        assert!(matches!(err, GatewayConfigError::Read { .. }));
    }
}
