//! The key lifecycle: creating the first keys, rotating (planned, scheduled or emergency),
//! purging retired keys, and listing keys.

use serde::Serialize;

use super::{Jwk, KeyError, KeySealer, KeySettings, PrivateKey, SigningAlg};
use crate::clock::UnixTime;
use crate::store::{NewKeyRecord, Promotion, PublishedKeyRecord, Store};

/// Where a key is in its life: `next` → `current` → `retired` → deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Published so gateways have it, not signing yet.
    Next,
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
    /// `next`, `current` or `retired`.
    pub status: KeyStatus,
    /// When it was generated and published, in Unix seconds.
    pub created_at: UnixTime,
    /// When it began signing, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<UnixTime>,
    /// When it stopped signing, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<UnixTime>,
    /// When a retired key leaves the JWKS, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_until: Option<UnixTime>,
    /// Next key: when the scheduler will make it current, in Unix seconds (see [`with_schedule`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activates_at: Option<UnixTime>,
    /// Current key: when the scheduler will retire it, in Unix seconds (see [`with_schedule`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retires_at: Option<UnixTime>,
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
}

/// Allowance added to how long a retired key stays published: the gateways' clock skew plus
/// the time a replica may keep signing with a key it cached just before another rotated it.
pub const RETIRED_KEY_SLACK_SECS: u64 = 90;

/// When keys rotate and how long ahead a key is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// A current key signs for this long, then the scheduler rotates it.
    pub period_secs: u64,
    /// How long a next key must have been published before it may sign: the JWKS
    /// `Cache-Control: max-age`, so every gateway has refreshed and holds it.
    pub publication_lead_secs: u64,
}

impl RotationPolicy {
    /// Default rotation period: 7 days.
    pub const DEFAULT_PERIOD_SECS: u64 = 7 * 24 * 3600;
    /// Default JWKS max-age and publication lead: 5 minutes.
    pub const DEFAULT_LEAD_SECS: u64 = 300;

    /// A policy, refused when a next key could not be published a full lead before its turn.
    pub fn new(period_secs: u64, publication_lead_secs: u64) -> Result<Self, KeyError> {
        if period_secs < publication_lead_secs.max(1) {
            return Err(KeyError::Policy(
                "the key rotation period must be at least the JWKS max-age",
            ));
        }
        Ok(Self {
            period_secs,
            publication_lead_secs,
        })
    }
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            period_secs: Self::DEFAULT_PERIOD_SECS,
            publication_lead_secs: Self::DEFAULT_LEAD_SECS,
        }
    }
}

/// How a rotation was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// The next key takes over, if it has been published for the full lead (scheduled or
    /// `keys rotate`); otherwise [`KeyError::NextNotReady`].
    Planned,
    /// A fresh key signs at once (the current key is compromised); gateways learn it through
    /// their unknown-`kid` refetch rather than ahead of time.
    Emergency,
}

/// Makes sure a current key of `alg` and a next key exist, generating them on first start.
///
/// If the current key uses another algorithm, the operator changed `--signing-alg`: rotate to
/// the requested algorithm at once rather than keep signing with one the gateway may not accept.
pub async fn ensure_ready(
    store: &Store,
    settings: &KeySettings,
    now: UnixTime,
) -> Result<String, KeyError> {
    let (sealer, alg) = (settings.sealer.as_ref(), settings.alg);
    let current = ensure_current(store, settings, now).await?;
    let keys = published(store).await?;
    match keys.iter().find(|key| key.info.status == KeyStatus::Next) {
        Some(next) if next.alg == alg => {}
        Some(next) => {
            let record = new_key(sealer, alg, now).await?;
            if store.replace_next_key(&next.info.kid, &record).await? {
                tracing::info!(kid = %record.kid, alg = %alg, "replaced the next key for the configured algorithm");
            }
        }
        None => {
            let record = new_key(sealer, alg, now).await?;
            if store.insert_next_key(&record).await? {
                tracing::info!(kid = %record.kid, alg = %alg, "published the next signing key");
            }
        }
    }
    Ok(current)
}

async fn ensure_current(
    store: &Store,
    settings: &KeySettings,
    now: UnixTime,
) -> Result<String, KeyError> {
    let (sealer, alg) = (settings.sealer.as_ref(), settings.alg);
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
        let policy = &settings.rotation;
        return rotate(store, sealer, alg, policy, now, Urgency::Emergency).await;
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

/// Rotates: the current key retires and the next one (or, in an emergency, a fresh one) signs;
/// a fresh next key of `alg` is published. Returns the kid that now signs.
pub async fn rotate(
    store: &Store,
    sealer: &dyn KeySealer,
    alg: SigningAlg,
    policy: &RotationPolicy,
    now: UnixTime,
    urgency: Urgency,
) -> Result<String, KeyError> {
    let keys = published(store).await?;
    let current = keys
        .iter()
        .find(|key| key.info.status == KeyStatus::Current)
        .ok_or(KeyError::NoCurrentKey)?;
    let next = keys.iter().find(|key| key.info.status == KeyStatus::Next);
    let next_kid = match (urgency, next) {
        (Urgency::Emergency, _) => None,
        (Urgency::Planned, None) => return Err(KeyError::NextNotReady { ready_at: None }),
        (Urgency::Planned, Some(next)) => {
            let ready_at = next
                .info
                .created_at
                .saturating_add(policy.publication_lead_secs);
            if ready_at > now {
                return Err(KeyError::NextNotReady {
                    ready_at: Some(ready_at),
                });
            }
            Some(next.info.kid.as_str())
        }
    };
    let record = new_key(sealer, alg, now).await?;
    // Every token the retiring key signed expires within the longest client TTL.
    let publish_until = now
        .saturating_add(store.max_client_ttl().await?)
        .saturating_add(RETIRED_KEY_SLACK_SECS);
    let promotion = Promotion {
        current_kid: &current.info.kid,
        next_kid,
        new_key: &record,
        now,
        publish_until,
    };
    if !store.promote_keys(&promotion).await? {
        return Err(KeyError::Concurrent);
    }
    let signing = next_kid.unwrap_or(&record.kid).to_owned();
    tracing::info!(
        retired = %current.info.kid,
        current = %signing,
        published = %record.kid,
        emergency = urgency == Urgency::Emergency,
        "rotated the signing key"
    );
    Ok(signing)
}

/// What one pass of the key scheduler did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// The kid that began signing, if a rotation was due and happened here.
    pub rotated_to: Option<String>,
    /// Retired keys removed because every token they signed has expired.
    pub purged: Vec<String>,
}

/// One pass of the scheduler run by every replica: rotates when the current key has signed
/// for a full period and the next key is ready, and deletes retired keys nobody needs.
///
/// Safe to run on any number of replicas at once: the promotion is conditional, so only one
/// wins and the others see [`KeyError::Concurrent`], reported here as "nothing to do".
pub async fn maintain(
    store: &Store,
    sealer: &dyn KeySealer,
    alg: SigningAlg,
    policy: &RotationPolicy,
    now: UnixTime,
) -> Result<Maintenance, KeyError> {
    let mut done = Maintenance {
        purged: store.purge_retired_keys(now).await?,
        ..Maintenance::default()
    };
    let keys = published(store).await?;
    let due = keys
        .iter()
        .find(|key| key.info.status == KeyStatus::Current)
        .and_then(|key| key.info.activated_at)
        .is_some_and(|since| since.saturating_add(policy.period_secs) <= now);
    if due {
        match rotate(store, sealer, alg, policy, now, Urgency::Planned).await {
            Ok(kid) => done.rotated_to = Some(kid),
            Err(KeyError::Concurrent | KeyError::NextNotReady { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(done)
}

/// Every key, current first, for operators.
pub async fn list(store: &Store) -> Result<Vec<KeyInfo>, KeyError> {
    Ok(published(store)
        .await?
        .into_iter()
        .map(|key| key.info)
        .collect())
}

/// [`list`] with the planned rotation filled in: the moment [`maintain`] will promote the next key,
/// which is when the current one has signed for a full period, or later if the next key has not
/// been published for the full lead by then (a manual or emergency rotation comes sooner).
pub fn with_schedule(mut keys: Vec<KeyInfo>, policy: &RotationPolicy) -> Vec<KeyInfo> {
    let due = keys
        .iter()
        .find(|key| key.status == KeyStatus::Current)
        .and_then(|key| key.activated_at)
        .map(|since| since.saturating_add(policy.period_secs));
    let ready = keys
        .iter()
        .find(|key| key.status == KeyStatus::Next)
        .map(|key| key.created_at.saturating_add(policy.publication_lead_secs));
    // Without a next key a planned rotation cannot happen (`ensure_ready` makes one at start-up).
    let (Some(due), Some(ready)) = (due, ready) else {
        return keys;
    };
    let at = due.max(ready);
    for key in &mut keys {
        match key.status {
            KeyStatus::Current => key.retires_at = Some(at),
            KeyStatus::Next => key.activates_at = Some(at),
            KeyStatus::Retired => {}
        }
    }
    keys
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
        "next" => KeyStatus::Next,
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
            activated_at: record.activated_at,
            retired_at: record.retired_at,
            publish_until: record.publish_until,
            activates_at: None,
            retires_at: None,
        },
        alg,
        jwk,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(status: KeyStatus, created_at: UnixTime, activated_at: Option<UnixTime>) -> KeyInfo {
        KeyInfo {
            kid: format!("{status:?}"),
            alg: "ES256".into(),
            status,
            created_at,
            activated_at,
            retired_at: None,
            publish_until: None,
            activates_at: None,
            retires_at: None,
        }
    }

    #[test]
    fn schedule_is_a_full_period_after_activation_unless_the_next_key_is_younger() {
        let policy = RotationPolicy::new(1000, 300).unwrap();
        let keys = vec![
            key(KeyStatus::Current, 10, Some(100)),
            key(KeyStatus::Next, 100, None),
            key(KeyStatus::Retired, 0, Some(10)),
        ];
        let planned = with_schedule(keys.clone(), &policy);
        assert_eq!(planned[0].retires_at, Some(1100));
        assert_eq!(planned[1].activates_at, Some(1100));
        assert_eq!(
            (planned[2].activates_at, planned[2].retires_at),
            (None, None)
        );

        // A next key created (by an emergency rotation) just before the period ends waits its lead.
        let mut late = keys.clone();
        late[1].created_at = 1050;
        let planned = with_schedule(late, &policy);
        assert_eq!(planned[0].retires_at, Some(1350));
        assert_eq!(planned[1].activates_at, Some(1350));

        // No next key: no planned rotation to show.
        let planned = with_schedule(vec![keys[0].clone()], &policy);
        assert_eq!(planned[0].retires_at, None);
    }
}
