//! Creating the first key, rotating, and listing keys.

use serde::Serialize;

use super::{Jwk, KeyError, KeySealer, PrivateKey, SigningAlg};
use crate::clock::UnixTime;
use crate::store::{NewKeyRecord, PublishedKeyRecord, Store};

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Signs new tokens.
    Current,
    /// Signs nothing; still published so tokens it signed keep verifying.
    Retired,
}

/// A key as shown to operators (`keys list`, `/admin/keys`): never private material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// JWS algorithm.
    pub alg: String,
    /// `current` or `retired`.
    pub status: KeyStatus,
    /// When it was generated, in Unix seconds.
    pub created_at: UnixTime,
    /// When it stopped signing, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<UnixTime>,
}

/// A published key with the algorithm from our records and its public JWK.
#[derive(Debug, Clone)]
pub struct PublishedKey {
    /// Lifecycle facts.
    pub info: KeyInfo,
    /// The algorithm this key is pinned to.
    pub alg: SigningAlg,
    /// The JWK as published.
    pub jwk: Jwk,
    /// The JWK as stored, JSON.
    pub jwk_json: String,
}

/// Makes sure a key of `alg` is current, generating one on first start.
///
/// If the current key uses another algorithm, the operator changed `--signing-alg`: rotate to
/// the requested algorithm rather than keep signing with one the gateway may not accept.
pub async fn ensure_current(
    store: &Store,
    sealer: &dyn KeySealer,
    alg: SigningAlg,
    now: UnixTime,
) -> Result<String, KeyError> {
    if let Some(current) = store.current_key().await? {
        if current.alg == alg.as_str() {
            return Ok(current.kid);
        }
        tracing::warn!(
            kid = %current.kid,
            current_alg = %current.alg,
            configured_alg = %alg,
            "current signing key uses another algorithm; rotating"
        );
        return rotate(store, sealer, alg, now).await;
    }
    let record = new_key(sealer, alg, now).await?;
    if store.insert_first_key(&record).await? {
        tracing::info!(kid = %record.kid, alg = %alg, "generated the first signing key");
        return Ok(record.kid);
    }
    // Another process created the first key at the same moment; use theirs.
    store
        .current_key()
        .await?
        .map(|current| current.kid)
        .ok_or(KeyError::NoCurrentKey)
}

/// Generates a key of `alg`, makes it current and retires the previous one; returns its kid.
pub async fn rotate(
    store: &Store,
    sealer: &dyn KeySealer,
    alg: SigningAlg,
    now: UnixTime,
) -> Result<String, KeyError> {
    let record = new_key(sealer, alg, now).await?;
    store.rotate_key(&record, now).await?;
    tracing::info!(kid = %record.kid, alg = %alg, "rotated the signing key");
    Ok(record.kid)
}

/// Every key, current first, for operators.
pub async fn list(store: &Store) -> Result<Vec<KeyInfo>, KeyError> {
    Ok(published(store)
        .await?
        .into_iter()
        .map(|key| key.info)
        .collect())
}

/// Every published key, current first, parsed and checked.
pub async fn published(store: &Store) -> Result<Vec<PublishedKey>, KeyError> {
    store
        .published_keys()
        .await?
        .into_iter()
        .map(published_key)
        .collect()
}

fn published_key(record: PublishedKeyRecord) -> Result<PublishedKey, KeyError> {
    let corrupt = |reason| KeyError::Corrupt {
        kid: record.kid.clone(),
        reason,
    };
    let alg = record.alg.parse::<SigningAlg>()?;
    let status = match record.status.as_str() {
        "current" => KeyStatus::Current,
        "retired" => KeyStatus::Retired,
        _ => return Err(corrupt("unknown status")),
    };
    let jwk: Jwk =
        serde_json::from_str(&record.public_jwk).map_err(|_| corrupt("public JWK is not JSON"))?;
    if jwk.kid != record.kid || jwk.alg != record.alg {
        return Err(corrupt("public JWK does not match its row"));
    }
    Ok(PublishedKey {
        info: KeyInfo {
            kid: record.kid,
            alg: record.alg,
            status,
            created_at: record.created_at,
            retired_at: record.retired_at,
        },
        alg,
        jwk,
        jwk_json: record.public_jwk,
    })
}

async fn new_key(
    sealer: &dyn KeySealer,
    alg: SigningAlg,
    now: UnixTime,
) -> Result<NewKeyRecord, KeyError> {
    // RSA generation takes long enough to stall a runtime worker.
    let key = tokio::task::spawn_blocking(move || PrivateKey::generate(alg)).await??;
    let jwk = key.public_jwk()?;
    let public_jwk = serde_json::to_string(&jwk).map_err(|err| KeyError::Crypto(err.into()))?;
    let private_key = sealer.seal(&jwk.kid, &key.to_bytes()?)?;
    Ok(NewKeyRecord {
        kid: jwk.kid,
        alg: alg.as_str().to_owned(),
        private_key,
        sealed_by: sealer.name().to_owned(),
        public_jwk,
        created_at: now,
    })
}
