//! Every default of the filter configuration, in one place.
//!
//! A member the configuration leaves out takes the value here. Most are security decisions
//! (the `typ`, the skew, the lifetime, how long stale keys may serve), so they are named and
//! documented rather than written inline where the configuration is read. Hard bounds that no
//! configuration can move are in [`limits`](crate::limits).

/// The `typ` a provider requires (RFC 9068 §2.1: `at+jwt`, compared as a media type).
pub const DEFAULT_TYP: &str = "at+jwt";

/// The bounded clock skew applied to `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_CLOCK_SKEW_SECONDS: u64 = 60;

/// The longest token lifetime (`exp` − `iat`) accepted, in seconds.
pub const DEFAULT_MAX_LIFETIME_SECONDS: u64 = 24 * 60 * 60;

/// The realm in `WWW-Authenticate` challenges.
pub const DEFAULT_REALM: &str = "service";

/// How long a request may wait for a provider's first keys (or first feed), in milliseconds.
pub const DEFAULT_JWKS_WAIT_MS: u64 = 3_000;

/// How long one fetch of a JWKS or a feed may take, in milliseconds.
pub const DEFAULT_FETCH_TIMEOUT_MS: u64 = 5_000;

/// How often a remote JWKS is refreshed when its response gives no `max-age`, in seconds.
pub const DEFAULT_JWKS_REFRESH_SECONDS: u64 = 300;

/// The least time between two JWKS fetches forced by an unknown `kid`, in seconds.
pub const DEFAULT_REFETCH_COOLDOWN_SECONDS: u64 = 30;

/// How long keys stay usable after they stop being fresh while the JWKS endpoint fails (and how
/// old a revocation feed may grow), in seconds.
pub const DEFAULT_MAX_STALE_SECONDS: u64 = 3_600;

/// The interval between two fetches of a revocation feed, in seconds: the longest a
/// revocation goes unnoticed while the feed endpoint answers.
pub const DEFAULT_REVOCATION_REFRESH_SECONDS: u64 = 5;

/// The largest accepted revocation feed, in bytes (`revocations.max_bytes`).
pub const DEFAULT_MAX_REVOCATION_BYTES: usize = 4 * 1024 * 1024;

/// The most entries the verified-token cache holds.
pub const DEFAULT_CACHE_MAX_ENTRIES: usize = 10_000;

/// The most bytes (estimated) the verified-token cache holds.
pub const DEFAULT_CACHE_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Longest delegation chain accepted when a provider's `delegation` or the issuer's
/// `--max-delegation-depth` does not say.
pub const DEFAULT_MAX_DELEGATION_DEPTH: usize = 4;
