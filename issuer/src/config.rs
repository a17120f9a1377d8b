//! Server configuration: what `issuer serve` needs once flags and environment are resolved.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::keys::{MasterKeySource, RotationPolicy, SigningAlg};

/// Default `--database-url`: a SQLite file under `./data/`, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/issuer.db";

/// Default `--public-addr`.
pub const DEFAULT_PUBLIC_ADDR: &str = "127.0.0.1:8080";

/// Default `--admin-addr`: loopback, because the admin port has no authentication of its own.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:8081";

/// Everything `issuer serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Database to open (created if missing).
    pub database_url: String,
    /// Listener for the OAuth endpoints; port 0 picks a free port.
    pub public_addr: SocketAddr,
    /// Listener for health and admin endpoints; port 0 picks a free port.
    pub admin_addr: SocketAddr,
    /// The `iss` of every token; `None` means `http://` + the bound public address.
    pub issuer_url: Option<IssuerUrl>,
    /// Algorithm of the current signing key.
    pub signing_alg: SigningAlg,
    /// Key rotation period and JWKS max-age.
    pub rotation: RotationPolicy,
    /// Where the master key that encrypts private keys at rest comes from.
    pub master_key: MasterKeySource,
    /// The verifier's JS package the admin UI loads (served at `/ui/verifier/`); without it
    /// the UI cannot verify tokens in the browser.
    pub verifier_js_dir: Option<PathBuf>,
    /// The gateway's filter configuration, checked at start-up and shown by the admin UI.
    pub gateway_config: Option<PathBuf>,
    /// The longest delegation chain token exchange may mint (1 to
    /// [`MAX_DELEGATION_DEPTH`](verifier_core::limits::MAX_DELEGATION_DEPTH)).
    pub max_delegation_depth: usize,
}

/// Parses a duration in seconds, with an optional unit: `90`, `90s`, `15m`, `12h`, `7d`.
pub fn parse_duration_secs(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => (&text[..at], Some(unit)),
        _ => (text, None),
    };
    let scale = match unit {
        None | Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        Some(other) => return Err(format!("unknown unit {other:?}: use s, m, h or d")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("{text:?} is not a duration such as 300, 90s, 15m, 12h or 7d"))
}

/// Why an issuer URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "issuer URL must be http:// or https:// followed by a host, with no query, fragment or spaces (RFC 8414 §2)"
)]
pub struct InvalidIssuerUrl;

/// The issuer identifier (RFC 8414 §2): the tokens' `iss` and the base of every endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerUrl(String);

impl IssuerUrl {
    /// `http://` + a bound address, the default when no URL is configured.
    pub fn from_addr(addr: SocketAddr) -> Self {
        Self(format!("http://{addr}"))
    }

    /// The identifier as a string, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute URL of `path` (which starts with `/`) on this issuer.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl FromStr for IssuerUrl {
    type Err = InvalidIssuerUrl;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or(InvalidIssuerUrl)?;
        let host_missing = rest.is_empty() || rest.starts_with('/');
        let forbidden = |c: char| c == '?' || c == '#' || c.is_whitespace() || c.is_control();
        if host_missing || rest.contains(forbidden) {
            return Err(InvalidIssuerUrl);
        }
        // `iss` is compared as a string (RFC 8414 §3.3), so settle on one spelling.
        Ok(Self(text.trim_end_matches('/').to_owned()))
    }
}

impl fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_url_validation() {
        let parsed = "https://auth.example.com/".parse::<IssuerUrl>();
        assert_eq!(
            parsed.map(|u| u.endpoint("/oauth/token")),
            Ok("https://auth.example.com/oauth/token".to_owned())
        );
        assert!("http://127.0.0.1:8080/tenant".parse::<IssuerUrl>().is_ok());
        for bad in [
            "ftp://x",
            "http://",
            "http:///x",
            "https://x?y=1",
            "https://x#f",
            "x",
        ] {
            assert_eq!(bad.parse::<IssuerUrl>(), Err(InvalidIssuerUrl), "{bad}");
        }
    }
}
