//! The active signer: the current key, unsealed once and cached until it changes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jwt_simple::prelude::{HeaderOptions, JWTClaims, Serialize};

use super::{KeyError, KeySealer, PrivateKey, SealError, SigningAlg};
use crate::store::{KeyRecord, Store};

/// RFC 9068 §2.1: access tokens are typed `at+jwt` so they cannot pass for other JWTs.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

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

/// How long this process keeps signing with the key it last read as current before it reads
/// the database again. A rotation made elsewhere (the CLI, another replica, the scheduler of
/// another replica) reaches this process at most this late; the retired key stays published
/// for far longer (`RETIRED_KEY_SLACK_SECS`), so the few tokens it signs meanwhile verify.
pub(crate) const CURRENT_KEY_RECHECK: Duration = Duration::from_secs(1);

/// Hands out the current signing key, following rotations made by any process.
#[derive(Debug)]
pub struct Keyring {
    sealer: Arc<dyn KeySealer>,
    recheck: Duration,
    cached: Mutex<Option<Checked>>,
}

/// The key last read as current, and when that was read.
#[derive(Debug)]
struct Checked {
    key: Arc<SigningKey>,
    at: Instant,
}

impl Keyring {
    /// A keyring that unseals keys with `sealer`.
    pub fn new(sealer: Arc<dyn KeySealer>) -> Self {
        // PROTOTYPE: env override for measurement only.
        let ms = std::env::var("ISSUER_KEY_RECHECK_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(CURRENT_KEY_RECHECK.as_millis() as u64);
        Self {
            sealer,
            recheck: Duration::from_millis(ms),
            cached: Mutex::new(None),
        }
    }

    /// The sealer private keys are stored with.
    pub fn sealer(&self) -> &dyn KeySealer {
        self.sealer.as_ref()
    }

    /// The current signing key.
    pub async fn signer(&self, store: &Store) -> Result<Arc<SigningKey>, KeyError> {
        if let Some(cached) = self.cache().as_ref() {
            if cached.at.elapsed() < self.recheck {
                return Ok(Arc::clone(&cached.key));
            }
        }
        let at = Instant::now();
        let record = store.current_key().await?.ok_or(KeyError::NoCurrentKey)?;
        let mut cache = self.cache();
        if let Some(cached) = cache.as_mut().filter(|c| c.key.kid == record.kid) {
            cached.at = cached.at.max(at);
            return Ok(Arc::clone(&cached.key));
        }
        drop(cache);
        let key = Arc::new(SigningKey::from_record(&record, self.sealer.as_ref())?);
        *self.cache() = Some(Checked {
            key: Arc::clone(&key),
            at,
        });
        Ok(key)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Option<Checked>> {
        // The cache holds no invariant a panicking writer could break; keep using it.
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
