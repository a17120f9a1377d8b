//! Size and depth limits, checked before any parsing work is done.
//!
//! Every input the core accepts is attacker-reachable (tokens directly, JWKS through a compromised
//! or misconfigured endpoint), so each has a bound that is cheap to check first.

/// Largest accepted compact token, in bytes. Service tokens are well under 2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Largest accepted JWKS document, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Most keys read from one JWKS document; more is refused as malformed rather than truncated.
pub const MAX_JWKS_KEYS: usize = 100;

/// Deepest JSON nesting accepted in a header, claim set, JWKS or configuration.
pub const MAX_JSON_DEPTH: usize = 16;

/// Largest accepted filter configuration, in bytes.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// Smallest RSA modulus accepted, in bits (NIST SP 800-57: 2048 is the floor today).
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted, in bits; bigger keys only cost verification time.
pub const MAX_RSA_BITS: usize = 8192;

/// Largest configurable clock skew, in seconds.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 600;

/// Largest configurable revocation feed, in bytes: every worker VM holds the parsed feed.
pub const MAX_REVOCATION_BYTES: usize = 64 * 1024 * 1024;

/// Longest delegation chain a provider or the issuer may be configured to accept: no real chain
/// of agents is deeper, and a token's JSON nesting limit bounds it anyway.
pub const MAX_DELEGATION_DEPTH: u64 = 10;
