//! The active signer: the current key, unsealed once and cached until it changes.

use std::sync::{Arc, Mutex, PoisonError};

use jwt_simple::prelude::{HeaderOptions, JWTClaims, Serialize};

use super::{Jwks, KeyError, KeySealer, PrivateKey, SealError, SigningAlg};
use crate::store::{KeyRecord, Store};

/// RFC 9068 §2.1: access tokens are typed `at+jwt` so they cannot pass for other JWTs; the
/// type the verifier requires by default.
pub const ACCESS_TOKEN_TYP: &str = verifier_core::defaults::DEFAULT_TYP;

/// The current private key with its `kid`.
#[derive(Debug)]
pub struct SigningKey {
    kid: String,
    key: PrivateKey,
}

impl SigningKey {
    /// Unseals and decodes a stored key.
    pub fn from_record(record: &KeyRecord, sealer: &dyn KeySealer) -> Result<Self, KeyError> {
        if record.sealed_by != sealer.name() {
            return Err(SealError::WrongSealer {
                expected: sealer.name(),
                found: record.sealed_by.clone(),
            }
            .into());
        }
        let alg = record.alg.parse::<SigningAlg>()?;
        let bytes = sealer.open(&record.kid, &record.private_key)?;
        let key = PrivateKey::from_bytes(alg, &bytes)?;
        if key.public_jwk()?.kid != record.kid {
            return Err(KeyError::Corrupt {
                kid: record.kid.clone(),
                reason: "private key does not match its kid",
            });
        }
        Ok(Self {
            kid: record.kid.clone(),
            key: key.with_key_id(&record.kid),
        })
    }

    /// The key's id, as put in token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm it signs with.
    pub fn alg(&self) -> SigningAlg {
        self.key.alg()
    }

    /// Signs `claims` as an access token: header `{alg, typ: "at+jwt", kid}`.
    pub fn sign_access_token<C: Serialize>(
        &self,
        claims: JWTClaims<C>,
    ) -> Result<String, KeyError> {
        let header = HeaderOptions {
            signature_type: Some(ACCESS_TOKEN_TYP.to_owned()),
            ..HeaderOptions::default()
        };
        self.key.sign(claims, &header)
    }
}

/// Hands out the current signing key, following rotations made by any process, and our
/// published keys as the verifier reads them.
#[derive(Debug)]
pub struct Keyring {
    sealer: Arc<dyn KeySealer>,
    cached: Mutex<Option<Arc<SigningKey>>>,
    /// The JWKS last published and its keys as parsed for verification: while it stays the
    /// same, a key checked again keeps what it built (a P-256 key its comb table, on its
    /// second use), instead of taking the slower first-use path on every token presented back.
    verifying: Mutex<Option<(Jwks, Arc<verifier_core::Jwks>)>>,
}

impl Keyring {
    /// A keyring that unseals keys with `sealer`.
    pub fn new(sealer: Arc<dyn KeySealer>) -> Self {
        Self {
            sealer,
            cached: Mutex::new(None),
            verifying: Mutex::new(None),
        }
    }

    /// The sealer private keys are stored with.
    pub fn sealer(&self) -> &dyn KeySealer {
        self.sealer.as_ref()
    }

    /// The current signing key.
    ///
    /// The database says which key is current (a `keys rotate` from the CLI takes effect on
    /// the next request, on every replica); the unsealed key is reused while that stays true.
    pub async fn signer(&self, store: &Store) -> Result<Arc<SigningKey>, KeyError> {
        let record = store.current_key().await?.ok_or(KeyError::NoCurrentKey)?;
        if let Some(cached) = self.cache().as_ref().filter(|key| key.kid == record.kid) {
            return Ok(Arc::clone(cached));
        }
        let key = Arc::new(SigningKey::from_record(&record, self.sealer.as_ref())?);
        *self.cache() = Some(Arc::clone(&key));
        Ok(key)
    }

    /// Every published key as a gateway reads our JWKS, reparsed only when it changed.
    pub async fn verifying_keys(
        &self,
        store: &Store,
    ) -> Result<Arc<verifier_core::Jwks>, KeyError> {
        let jwks = Jwks::load(store).await?;
        let mut kept = self
            .verifying
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, keys)) = kept.as_ref().filter(|(published, _)| *published == jwks) {
            return Ok(Arc::clone(keys));
        }
        let unusable = || KeyError::Corrupt {
            kid: String::new(),
            reason: "the published JWKS does not parse as a verifier reads it",
        };
        let document = serde_json::to_vec(&jwks).map_err(|_| unusable())?;
        let keys = Arc::new(verifier_core::Jwks::parse(&document).map_err(|_| unusable())?);
        *kept = Some((jwks, Arc::clone(&keys)));
        Ok(keys)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Option<Arc<SigningKey>>> {
        // The cache holds no invariant a panicking writer could break; keep using it.
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
