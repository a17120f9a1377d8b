//! Client secrets: generated once, shown once, stored only as a keyed hash.

use std::fmt;

use subtle::ConstantTimeEq;

use crate::random::{RandomError, random_base64url, random_bytes};
use crate::store::{Store, StoreError};

/// Name of the setting that holds the HMAC key.
// Issue 4 moves this key under the master key; until then it sits in the database in the clear,
// so a stolen database still lets nobody log in (secrets are not recoverable from the hashes)
// but does let an attacker test guesses offline.
const HMAC_KEY_SETTING: &str = "client_secret_hmac_key";

/// Why the secret machinery could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The OS RNG failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The key could not be read or stored.
    #[error("cannot load the client secret hashing key")]
    Store(#[from] StoreError),
    /// The stored key has the wrong length.
    #[error("stored client secret hashing key is corrupt")]
    CorruptKey,
}

/// A freshly generated client secret: 256 bits from the OS RNG, base64url.
///
/// `Debug` is redacted so the secret cannot end up in logs by accident.
pub struct ClientSecret(String);

impl ClientSecret {
    /// Draws a new secret.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(random_base64url::<32>()?))
    }

    /// The secret itself, for the one time it is shown.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Hashes client secrets with HMAC-SHA256 under a server key kept in the database.
///
/// A keyed hash rather than a password hash: the secrets are 256-bit random values, so
/// stretching adds nothing, and a keyed hash is useless to whoever steals only the table.
pub struct SecretHasher {
    key: [u8; 32],
}

impl SecretHasher {
    /// Loads the server key from `store`, generating and storing it on first use.
    pub async fn load(store: &Store) -> Result<Self, SecretError> {
        let candidate = random_bytes::<32>()?;
        let stored = store
            .setting_or_insert(HMAC_KEY_SETTING, &candidate)
            .await?;
        let key = stored
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::CorruptKey)?;
        Ok(Self { key })
    }

    /// The keyed hash of `secret`, as stored.
    pub fn hash(&self, secret: &str) -> [u8; 32] {
        hmac_sha256::HMAC::mac(secret.as_bytes(), self.key)
    }

    /// Whether `secret` hashes to `stored`, compared in constant time.
    pub fn verify(&self, secret: &str, stored: &[u8]) -> bool {
        self.hash(secret)[..].ct_eq(stored).into()
    }
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher(<redacted>)")
    }
}
