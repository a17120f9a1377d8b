//! The verifier's core: given bytes and the current time, decide whether a request may pass.
//!
//! This crate does no I/O. It never reads a clock, a socket, a file or an environment variable,
//! and it holds no global state: a host (the Envoy filter, the JS package, the issuer's tests)
//! hands it a token, a JWKS document, the filter configuration, the request's method and path,
//! and `now` in Unix seconds, and gets back a value — a [`Decision`], a [`Verified`] token, or a
//! typed error with a stable machine code. That is what lets one implementation run inside Envoy,
//! in a browser and natively, and give the same answer everywhere.
//!
//! Where a token is parsed: [`compact`] (the three segments), [`header`], [`claims`].
//! Where a key is chosen: [`jwks`]. Where a signature is checked: [`alg`].
//! Where a decision is made: [`rules`] (which rule applies) and [`decision`] (what to answer),
//! consulting the issuer's revocation feed ([`revocation`]) once a token has verified.
//! Where a decision is explained to a person: [`explain`] (the admin UI's "why was this refused?").
//!
//! Security defaults are not options: the algorithm comes from the provider, never the token;
//! `none` does not exist; embedded keys (`jwk`, `jku`, `x5u`, `x5c`) are refused, as are unknown
//! `crit`, `b64` and nested tokens; base64url must be canonical; JSON with duplicate member
//! names or nested deeper than [`limits::MAX_JSON_DEPTH`] is refused.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, clippy::std_instead_of_core)]

extern crate alloc;
// Tests may use std; the library itself cannot, so accidental clock or env use fails to compile.
#[cfg(test)]
extern crate std;

pub mod alg;
pub mod cache;
pub mod claims;
pub mod compact;
pub mod config;
pub mod decision;
pub mod error;
pub mod es256;
pub mod explain;
pub mod header;
mod json;
pub mod jwks;
pub mod limits;
pub mod refresh;
pub mod revocation;
pub mod rules;
mod thumbprint;
mod verify;

pub use alg::Algorithm;
pub use cache::{CacheLimits, CacheStats, TokenCache};
pub use claims::Claims;
pub use config::{Config, ConfigError, KeySource, Provider, RemoteJwks, RevocationFeed};
pub use decision::{
    Awaiting, Decision, Denial, FeedState, Identity, KeyState, Keys, Request, TokenFacts, decide,
    decide_cached,
};
pub use error::VerifyError;
pub use explain::{Decoded, Explanation, decode, explain};
pub use header::Header;
pub use jwks::{Jwks, JwksError};
pub use refresh::{ProviderDocument, ProviderFeed, ProviderKeys, RefreshPolicy, Schedule};
pub use revocation::{RevocationError, Revocations};
pub use rules::{Matcher, Requirement, Rule};
pub use thumbprint::PublicJwk;
pub use verify::{Unverified, Verified, verify};
