//! The admin API credential: a 256-bit random bearer token, shown once, stored as SHA-256.
//!
//! A plain hash rather than a keyed or stretched one: the token has 256 bits of entropy, so
//! nobody can search for it from its hash, and whoever reads the table learns nothing usable.
//! A credential is created when the server first starts on an empty database and replaced by
//! `issuer admin reset-credential`; both print it once and keep only the hash.

use std::fmt;

use subtle::{Choice, ConstantTimeEq};

use crate::clients::{Throttle, ThrottlePolicy};
use crate::clock::UnixTime;
use crate::random::{RandomError, random_base64url};
use crate::store::{Store, StoreError};

/// Longest token accepted for checking: real tokens are 43 characters; anything much longer is
/// refused before hashing.
const MAX_TOKEN_LEN: usize = 128;

/// Why a credential could not be created or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminCredentialError {
    /// The OS RNG failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The database failed.
    #[error("admin credential storage failed")]
    Store(#[from] StoreError),
}

/// An admin bearer token. `Debug` is redacted so it cannot reach a log by accident.
pub struct AdminToken(String);

impl AdminToken {
    /// The token itself, for the one time it is shown.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// A credential just created: its public id and its token, which is not stored.
#[derive(Debug)]
pub struct IssuedCredential {
    /// The public identifier, named in audit records as `admin:<id>`.
    pub id: String,
    /// The bearer token, shown once.
    pub token: AdminToken,
}

impl IssuedCredential {
    fn generate() -> Result<Self, RandomError> {
        Ok(Self {
            // 72 bits: only needs to be unique among a handful of credentials, and short to read.
            id: random_base64url::<9>()?,
            token: AdminToken(random_base64url::<32>()?),
        })
    }
}

/// Creates the first credential if the database never had one; `None` when one exists (it
/// was shown when it was created and cannot be shown again).
pub async fn create_first(
    store: &Store,
    now: UnixTime,
) -> Result<Option<IssuedCredential>, AdminCredentialError> {
    let issued = IssuedCredential::generate()?;
    let stored = store
        .insert_first_admin_credential(&issued.id, &hash(issued.token.expose()), now)
        .await?;
    Ok(stored.then_some(issued))
}

/// Revokes every existing credential and creates a new one; returns it and how many were revoked.
pub async fn reset(
    store: &Store,
    now: UnixTime,
) -> Result<(IssuedCredential, u64), AdminCredentialError> {
    let issued = IssuedCredential::generate()?;
    let revoked = store
        .replace_admin_credentials(&issued.id, &hash(issued.token.expose()), now)
        .await?;
    Ok((issued, revoked))
}

/// The id of the active credential whose token `presented` is, or `None`.
///
/// Every active hash is compared in constant time, with no early exit, so the timing says
/// neither how much of a hash matched nor which credential did.
pub async fn verify(store: &Store, presented: &str) -> Result<Option<String>, StoreError> {
    if presented.is_empty() || presented.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    let presented = hash(presented);
    let mut found = None;
    for credential in store.active_admin_credentials().await? {
        let equal: Choice = presented[..].ct_eq(&credential.hash);
        if bool::from(equal) {
            found = Some(credential.id);
        }
    }
    Ok(found)
}

/// Whether the credential `id` is still active (not revoked by a reset). Admin UI sessions ask
/// this on every request, so a reset ends them at once, whichever process made it.
pub async fn is_active(store: &Store, id: &str) -> Result<bool, StoreError> {
    Ok(store
        .active_admin_credentials()
        .await?
        .iter()
        .any(|credential| credential.id == id))
}

/// The throttle of failed admin authentications, keyed by source address.
///
/// Tokens have 256 bits, so this is not what keeps them secret; it keeps a misconfigured
/// script or a scanner from flooding the audit trail: five free failures, then short delays,
/// and ten lock the address out for five minutes.
pub fn throttle() -> Throttle {
    Throttle::new(ThrottlePolicy {
        free_failures: 5,
        base_delay_ms: 100,
        max_delay_ms: 1_000,
        lockout_failures: 10,
        lockout_ms: 5 * 60 * 1000,
        ..ThrottlePolicy::default()
    })
}

fn hash(token: &str) -> [u8; 32] {
    hmac_sha256::Hash::hash(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_base64url_and_redacted() {
        let issued = IssuedCredential::generate().expect("rng");
        assert_eq!(issued.token.expose().len(), 43);
        assert_eq!(issued.id.len(), 12);
        assert!(!format!("{issued:?}").contains(issued.token.expose()));
    }

    #[test]
    fn hash_is_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            hash("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "the stored form must stay plain SHA-256"
        );
    }
}
