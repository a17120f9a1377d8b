//! The verifier's core: given bytes and the current time, decide whether a request may pass.
//!
//! This crate does no I/O. It never reads a clock, a socket, a file or an environment variable,
//! and it holds no global state: a host (the Envoy filter, the JS package, the issuer's tests)
//! hands it a token, a JWKS document, the filter configuration, the request's method and path,
//! and `now` in Unix seconds, and gets back a value — a [`Decision`], a [`Verified`] token, or a
//! typed error with a stable machine code. That is what lets one implementation run inside Envoy,
//! in a browser and natively, and give the same answer everywhere.
//!
//! Where a token is parsed: [`compact`] (the three segments), `header.rs`, `claims.rs`.
//! Where a key is chosen: `jwks.rs`. Where a signature is checked: `alg.rs`.
//! What a provider's tokens must meet: [`Provider`] (`policy.rs`), read from the filter
//! configuration by [`Config`] (`config.rs`) or built with [`Provider::builder`].
//! Where a decision is made: `decision.rs`, one pipeline of named stages ([`Stage`]): the rule,
//! authentication (from the cache or by verification), revocation, delegation, scopes. [`explain`] reads the
//! trace the same pipeline fills. Every error's code, status and stage: `error.rs`, one table.
//! Where a remote document (JWKS, revocation feed) is scheduled and adopted: `refresh.rs`.
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

mod alg;
mod cache;
mod claims;
pub mod compact;
mod config;
mod decision;
pub mod defaults;
mod delegation;
mod error;
mod es256;
mod explain;
pub mod glob;
mod header;
mod identity;
mod json;
mod jwks;
mod keys;
pub mod limits;
mod pipeline;
mod policy;
mod refresh;
mod revocation;
mod rules;
pub mod scope;
mod thumbprint;
mod verify;

pub use alg::{Algorithm, MlDsaKey, PublicKey};
pub use cache::{CacheLimits, CacheStats, CachedToken, TokenCache, TokenDigest};
pub use claims::{Claims, Lifetime};
pub use config::{Config, ConfigError};
pub use decision::{Awaiting, Decision, Denial, Request, TokenFacts, bearer_token};
pub use delegation::{
    ANCESTORS_CLAIM, Actor, Admitted, Delegation, DelegationPolicy, DelegationRule,
    PROFILE_AI_AGENT, PROFILE_SERVICE, PROFILE_USER, admit,
};
pub use error::{Stage, VerifyError};
pub use es256::P256Key;
pub use explain::{
    ActorReport, ChainReport, Decoded, ErrorReport, Explanation, MatchReport, Outcome, RuleReport,
    Step, Verdict, decode, explain,
};
pub use header::Header;
pub use identity::{IDENTITY_HEADERS, Identity};
pub use jwks::{Jwk, Jwks, JwksError, Skipped};
pub use keys::{FeedState, KeyState, Keys};
pub use pipeline::{Trace, decide, decide_cached, decide_traced};
pub use policy::{FetchTarget, KeySource, Provider, ProviderBuilder, RemoteJwks, RevocationFeed};
pub use refresh::{
    Compare, Freshness, FreshnessLine, FreshnessReport, ProviderDocument, ProviderFeed,
    ProviderKeys, RefreshPolicy, SCHEDULE_BYTES, Schedule, SyncOutcome, max_age,
};
pub use revocation::{RevocationError, Revocations, Revoked, TokenRef};
pub use rules::{Matcher, PathMatch, Requirement, Rule, first_match};
pub use thumbprint::PublicJwk;
pub use verify::{Unverified, Verified, verify};
