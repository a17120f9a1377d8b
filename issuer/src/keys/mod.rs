//! Signing keys: generation, sealing at rest, rotation, the active signer and the public JWKS.
//!
//! Keys move `next` (published, not signing) → `current` (signing) → `retired` (published until
//! every token it signed has expired) → deleted. A next key is published at least one JWKS
//! max-age before it signs, so every gateway already holds it when the first token arrives.

mod alg;
mod at_rest;
mod jwk;
pub mod master_key;
mod material;
mod rotation;
mod sealer;
mod signer;

pub use alg::{RSA_MODULUS_BITS, SigningAlg, UnknownAlg};
pub use at_rest::{dev_key_path, open_sealer, reseal_all};
pub use jwk::{Jwk, Jwks};
pub use master_key::{MasterKey, MasterKeyError, MasterKeyOrigin, MasterKeySource};
pub use material::PrivateKey;
pub use rotation::{
    KeyInfo, KeyStatus, Maintenance, PublishedKey, RETIRED_KEY_SLACK_SECS, RotationPolicy, Urgency,
    ensure_ready, list, maintain, published, rotate, with_schedule,
};
pub use sealer::{AES_GCM_SEALER, AesGcmSealer, PLAINTEXT_SEALER, needs_reseal, open_stored};
pub use sealer::{KeySealer, PlaintextSealer, SealError};
pub use signer::{ACCESS_TOKEN_TYP, Keyring, SigningKey};

use std::sync::Arc;

use crate::store::StoreError;

/// The signing algorithm, rotation policy and at-rest protection of keys.
#[derive(Debug, Clone)]
pub struct KeySettings {
    /// Algorithm of new keys.
    pub alg: SigningAlg,
    /// When keys rotate; its publication lead is also the JWKS `max-age`.
    pub rotation: RotationPolicy,
    /// How private keys are protected at rest.
    pub sealer: Arc<dyn KeySealer>,
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No key is current; the server bootstraps one, so this means the database was emptied.
    #[error("no current signing key")]
    NoCurrentKey,
    /// A planned rotation would sign with a key gateways may not have fetched yet.
    #[error("the next key is not ready to sign{}", match .ready_at { Some(t) => format!(" until {t} (Unix time): it must be published for a full JWKS max-age first"), None => String::new() })]
    NextNotReady {
        /// When it will be (`None`: there is no next key yet).
        ready_at: Option<crate::clock::UnixTime>,
    },
    /// Another process rotated at the same moment; nothing was changed here.
    #[error("another process rotated the keys concurrently")]
    Concurrent,
    /// The rotation settings contradict each other.
    #[error("invalid key rotation policy: {0}")]
    Policy(&'static str),
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
    /// The master key could not be loaded.
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    /// The master key is not the one this database's private keys are sealed with.
    #[error(
        "this master key is not the one the signing keys in this database are sealed with \
         (set the same ISSUER_MASTER_KEY / ISSUER_MASTER_KEY_FILE as the running issuer)"
    )]
    WrongMasterKey,
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
