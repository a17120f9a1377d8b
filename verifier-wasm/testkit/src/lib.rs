//! The verifier's test kit: one copy of what the core tests, the fuzz targets, the issuer tests
//! and the end-to-end tests each need to make and break tokens.
//!
//! - Deterministic signers ([`Signer`]) that sign ARBITRARY header and payload text, so hostile
//!   tokens (duplicate members, odd encodings, forbidden headers) can be crafted with a valid
//!   signature and a refusal is shown to come from the check under test, not from a broken
//!   signature.
//! - The fixture claim set ([`claims`]) and JWKS, provider and configuration builders (providers
//!   are obtained through [`verifier_core::Config::parse`], which also exercises its parsing).
//! - Tamperers in the spirit of rustls' `transfer_altered`: take a good token, change one thing.
//! - A static key set ([`TestKeys`]) for `decide`, and a fixed clock ([`NOW`]); assertions are on
//!   `error.code()`, never on message text.
//!
//! Dev-only: nothing outside tests may depend on it.

mod checks;
mod claims;
mod config;
mod encoding;
mod hmac;
#[cfg(feature = "jwt-simple")]
mod jwt_simple;
mod keys;
mod signer;
mod tamper;

pub use checks::{bearer, check, check_at, code, code_at, denial, jwks_code, outcome, request};
pub use claims::{act, claims, claims_text_with, claims_with, delegated, merge, nested};
pub use config::{
    config_json, every_algorithm, jwks, local_jwks, parse_config, provider, provider_from,
    provider_json, provider_with, public_jwk,
};
pub use encoding::{b64, hex, padded, unb64, unhex, with_stray_bits};
pub use hmac::{hmac, hs_token};
#[cfg(feature = "jwt-simple")]
pub use jwt_simple::{
    JwtSimpleAccessClaims, jwt_simple_at_jwt, jwt_simple_claims, rs256_jwt_simple_pair,
};
pub use keys::TestKeys;
pub use signer::{RSA_ALGORITHMS, Signer};
pub use tamper::{
    alter_header, alter_payload, alter_segment, decode_claims, decode_header, decode_segment,
    der_signature, flip_signature_byte, segments, tamper_signature, unsecured, with_signature,
};

/// The verifier's clock in every test, Unix seconds (2023-11-14).
pub const NOW: u64 = 1_700_000_000;
/// The issuer every test provider trusts.
pub const ISSUER: &str = "https://issuer.test";
/// The audience every test provider accepts.
pub const AUDIENCE: &str = "svc.api";
/// The name of the provider in [`config_json`] and [`provider_with`]'s configuration.
pub const PROVIDER: &str = "test";
