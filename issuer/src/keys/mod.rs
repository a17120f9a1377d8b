//! Signing keys: generation, sealing at rest, rotation, the active signer and the public JWKS.
//!
//! Exactly one key is `current` and signs new tokens. Rotation makes a new key current and
//! keeps the previous ones published as `retired`, so tokens they signed keep verifying.

mod alg;
mod jwk;
mod material;
mod rotation;
mod sealer;
mod signer;

pub use alg::{RSA_MODULUS_BITS, SigningAlg, UnknownAlg};
pub use jwk::{Jwk, Jwks};
pub use material::{PrivateKey, VerifyingKey};
pub use rotation::{KeyInfo, KeyStatus, PublishedKey, ensure_current, list, published, rotate};
pub use sealer::{KeySealer, PlaintextSealer, SealError};
pub use signer::{ACCESS_TOKEN_TYP, Keyring, SigningKey};

use crate::store::StoreError;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No key is current; the server bootstraps one, so this means the database was emptied.
    #[error("no current signing key")]
    NoCurrentKey,
    /// An algorithm name is not one the issuer signs with.
    #[error(transparent)]
    UnknownAlg(#[from] UnknownAlg),
    /// A stored key cannot be used.
    #[error("stored signing key {kid:?} is unusable: {reason}")]
    Corrupt {
        /// The key's id.
        kid: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Sealing or unsealing a private key failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The cryptographic library refused an operation.
    #[error("cryptographic operation failed")]
    Crypto(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The background task generating a key did not finish.
    #[error("key generation task failed")]
    Task(#[from] tokio::task::JoinError),
    /// The database failed.
    #[error("key storage failed")]
    Store(#[from] StoreError),
}

impl KeyError {
    /// Wraps an error from jwt-simple, whose `anyhow::Error` is not a `std::error::Error`.
    fn crypto(err: jwt_simple::Error) -> Self {
        Self::Crypto(err.into())
    }
}
