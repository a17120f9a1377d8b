//! Registered clients: registration, lookup and authentication.

pub mod assertion;
mod fields;
pub mod lockout;
mod secret;

pub use assertion::{
    AssertionError, AssertionPolicy, ClientKeys, VerifiedAssertion, peek_client_id,
    verify_assertion, verify_assertion_with_keys,
};
pub use fields::{
    Audience, ClientId, ClientKind, FieldError, MAX_AUDIENCE_LEN, MAX_CLIENT_ID_LEN, MAX_TTL_SECS,
    Ttl,
};
pub use lockout::{Throttle, ThrottlePolicy, Verdict};
pub use secret::{ClientSecret, SecretError, SecretHasher};

use crate::clock::UnixTime;
use crate::random::RandomError;
use crate::scope::{Scope, ScopeError};
use crate::store::{ClientRecord, Store, StoreError};

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A client with this id already exists; it was left untouched.
    #[error("client {0:?} already exists (refusing to overwrite it)")]
    AlreadyExists(String),
    /// A registration field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The scope is invalid.
    #[error("invalid scope: {0}")]
    Scope(#[from] ScopeError),
    /// A stored client no longer passes validation.
    #[error("stored client {0:?} is invalid")]
    Corrupt(String),
    /// The OS RNG failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A `private_key_jwt` client's JWKS is unusable.
    #[error("invalid client JWKS: {0}")]
    Jwks(assertion::AssertionError),
    /// The database failed.
    #[error("client storage failed")]
    Store(#[from] StoreError),
}

/// What an operator asks for when registering a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// The identifier.
    pub id: ClientId,
    /// A service or an agent.
    pub kind: ClientKind,
    /// The scopes its tokens may carry.
    pub scope: Scope,
    /// The `aud` of its tokens.
    pub audience: Audience,
    /// The lifetime of its tokens.
    pub ttl: Ttl,
}

/// A registered client, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The identifier (`sub` and `client_id` of its tokens).
    pub id: ClientId,
    /// A service or an agent.
    pub kind: ClientKind,
    /// The scopes its tokens may carry.
    pub scope: Scope,
    /// The `aud` of its tokens.
    pub audience: Audience,
    /// The lifetime of its tokens.
    pub ttl: Ttl,
    /// When it was registered.
    pub created_at: UnixTime,
}

impl TryFrom<ClientRecord> for Client {
    type Error = ClientError;

    fn try_from(record: ClientRecord) -> Result<Self, Self::Error> {
        let corrupt = || ClientError::Corrupt(record.client_id.clone());
        Ok(Self {
            id: ClientId::parse(&record.client_id).map_err(|_| corrupt())?,
            kind: ClientKind::parse(&record.kind).map_err(|_| corrupt())?,
            scope: Scope::parse(&record.scope).map_err(|_| corrupt())?,
            audience: Audience::parse(&record.audience).map_err(|_| corrupt())?,
            ttl: Ttl::try_from(record.ttl_secs).map_err(|_| corrupt())?,
            created_at: record.created_at,
        })
    }
}

/// Registers `new` and returns it with its secret, which is not stored and cannot be shown again.
pub async fn register(
    store: &Store,
    hasher: &SecretHasher,
    new: NewClient,
    now: UnixTime,
) -> Result<(Client, ClientSecret), ClientError> {
    let secret = ClientSecret::generate()?;
    let hash = hasher.hash(secret.expose()).to_vec();
    let client = insert(store, new, Credential::SecretHash(hash), now).await?;
    Ok((client, secret))
}

/// Registers a `private_key_jwt` client: it authenticates with assertions signed by the keys
/// of `jwks` (a public JWKS document, checked here) and has no secret at all.
pub async fn register_with_jwks(
    store: &Store,
    new: NewClient,
    jwks: &str,
    now: UnixTime,
) -> Result<Client, ClientError> {
    assertion::ClientKeys::parse(jwks).map_err(ClientError::Jwks)?;
    insert(store, new, Credential::Jwks(jwks.to_owned()), now).await
}

/// How a new client will prove who it is.
enum Credential {
    /// `client_secret`: the keyed hash of its secret.
    SecretHash(Vec<u8>),
    /// `private_key_jwt`: its public JWKS document.
    Jwks(String),
}

/// Stores `new` with `credential`; an existing id is [`ClientError::AlreadyExists`].
async fn insert(
    store: &Store,
    new: NewClient,
    credential: Credential,
    now: UnixTime,
) -> Result<Client, ClientError> {
    let (auth_method, secret_hash, jwks) = match credential {
        Credential::SecretHash(hash) => ("client_secret", Some(hash), None),
        Credential::Jwks(jwks) => ("private_key_jwt", None, Some(jwks)),
    };
    let record = ClientRecord {
        client_id: new.id.as_str().to_owned(),
        kind: new.kind.as_str().to_owned(),
        auth_method: auth_method.to_owned(),
        secret_hash,
        jwks,
        scope: new.scope.to_string(),
        audience: new.audience.as_str().to_owned(),
        ttl_secs: new.ttl.secs(),
        created_at: now,
        disabled_at: None,
    };
    store
        .insert_client(&record)
        .await
        .map_err(|err| match err {
            StoreError::Conflict => ClientError::AlreadyExists(record.client_id.clone()),
            other => ClientError::Store(other),
        })?;
    Ok(Client {
        id: new.id,
        kind: new.kind,
        scope: new.scope,
        audience: new.audience,
        ttl: new.ttl,
        created_at: now,
    })
}

/// Authenticates a `private_key_jwt` client assertion (RFC 7523 §2.2): the client, or the
/// stable code of why not (for the audit trail; the caller answers `invalid_client` either way).
///
/// The `jti` is recorded until the assertion could no longer be accepted, so each assertion
/// authenticates once.
pub async fn authenticate_assertion(
    store: &Store,
    assertion: &str,
    client_id_hint: Option<&str>,
    issuer: &str,
    now: UnixTime,
) -> Result<Result<Client, &'static str>, ClientError> {
    let client_id = match assertion::peek_client_id(assertion) {
        Ok(id) => id,
        Err(err) => return Ok(Err(err.code())),
    };
    let Some(record) = store.client(client_id.as_str()).await? else {
        return Ok(Err("unknown_client"));
    };
    if record.disabled_at.is_some() {
        return Ok(Err("client_disabled"));
    }
    let Some(jwks) = record.jwks.as_deref() else {
        return Ok(Err("not_a_private_key_jwt_client"));
    };
    let policy = assertion::AssertionPolicy::default();
    let verified =
        match assertion::verify_assertion(assertion, client_id_hint, jwks, issuer, now, &policy) {
            Ok(verified) => verified,
            Err(err) => return Ok(Err(err.code())),
        };
    if !store
        .use_assertion(
            verified.client_id.as_str(),
            &verified.jti,
            verified.remember_until,
        )
        .await?
    {
        return Ok(Err("assertion_replayed"));
    }
    Ok(Ok(Client::try_from(record)?))
}

/// The client whose id and secret these are, or `None` — the same `None` whether the id is
/// unknown or the secret wrong, so callers cannot reveal which.
pub async fn authenticate(
    store: &Store,
    hasher: &SecretHasher,
    client_id: &str,
    secret: &str,
) -> Result<Option<Client>, ClientError> {
    let id = ClientId::parse(client_id).ok();
    // A record read a moment ago (`CLIENT_RECHECK`) answers the right secret without the
    // database; anything else, a wrong secret included, is looked up afresh. The hash is
    // computed whether or not there is such a record, so the work done before the lookup
    // does not tell a known id from an unknown one either.
    let recent = id.as_ref().and_then(|id| store.recent_client(id.as_str()));
    let recent_hash = recent
        .as_ref()
        .and_then(|r| r.secret_hash.as_deref())
        .unwrap_or(&[]);
    if hasher.verify(secret, recent_hash) {
        if let Some(record) = recent.filter(|r| r.disabled_at.is_none()) {
            return Ok(Some(Client::try_from(ClientRecord::clone(&record))?));
        }
    }
    let record = match id {
        Some(id) => store.client(id.as_str()).await?,
        None => None,
    };
    // Hash even for unknown ids so both failures cost the same work.
    let stored: &[u8] = record
        .as_ref()
        .and_then(|r| r.secret_hash.as_deref())
        .unwrap_or(&[]);
    let matches = hasher.verify(secret, stored);
    match record {
        Some(record) if matches && record.disabled_at.is_none() => {
            Ok(Some(Client::try_from(record)?))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CLIENT_RECHECK;

    async fn client_and_two_stores() -> (tempfile::TempDir, Store, Store, SecretHasher, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("issuer.db").display());
        let here = Store::open(&url).await.expect("open");
        // Another process on the same database (a replica, on PostgreSQL).
        let elsewhere = Store::open(&url).await.expect("open again");
        let hasher = SecretHasher::load(&here).await.expect("hasher");
        let new = NewClient {
            id: ClientId::parse("svc.cached").expect("id"),
            kind: ClientKind::Service,
            scope: Scope::parse("read").expect("scope"),
            audience: Audience::parse("quantjourney").expect("audience"),
            ttl: Ttl::try_from(300).expect("ttl"),
        };
        let (_, secret) = register(&here, &hasher, new, 1).await.expect("register");
        (dir, here, elsewhere, hasher, secret.expose().to_owned())
    }

    async fn accepts(store: &Store, hasher: &SecretHasher, secret: &str) -> bool {
        authenticate(store, hasher, "svc.cached", secret)
            .await
            .expect("authenticate")
            .is_some()
    }

    #[tokio::test]
    async fn changes_made_here_take_effect_at_once() {
        let (_dir, here, _, hasher, secret) = client_and_two_stores().await;
        assert!(accepts(&here, &hasher, &secret).await, "read and kept");
        let replaced = ClientSecret::generate().expect("secret");
        let hash = hasher.hash(replaced.expose());
        assert!(
            here.set_client_secret("svc.cached", &hash)
                .await
                .expect("set")
        );
        assert!(
            !accepts(&here, &hasher, &secret).await,
            "the old secret stops at once"
        );
        assert!(accepts(&here, &hasher, replaced.expose()).await);
        assert!(here.disable_client("svc.cached", 2).await.expect("disable"));
        assert!(
            !accepts(&here, &hasher, replaced.expose()).await,
            "disabled at once"
        );
    }

    #[tokio::test]
    async fn changes_made_elsewhere_take_effect_within_the_recheck_interval() {
        let (_dir, here, elsewhere, hasher, secret) = client_and_two_stores().await;
        assert!(accepts(&here, &hasher, &secret).await, "read and kept");
        let replaced = ClientSecret::generate().expect("secret");
        let hash = hasher.hash(replaced.expose());
        assert!(
            elsewhere
                .set_client_secret("svc.cached", &hash)
                .await
                .expect("set")
        );
        // A secret that does not match the kept record is checked against the database.
        assert!(
            accepts(&here, &hasher, replaced.expose()).await,
            "the new one at once"
        );
        assert!(!accepts(&here, &hasher, "wrong").await);
        let (_dir, here, elsewhere, hasher, secret) = client_and_two_stores().await;
        assert!(accepts(&here, &hasher, &secret).await, "read and kept");
        assert!(
            elsewhere
                .disable_client("svc.cached", 2)
                .await
                .expect("disable")
        );
        tokio::time::sleep(CLIENT_RECHECK + std::time::Duration::from_millis(50)).await;
        assert!(
            !accepts(&here, &hasher, &secret).await,
            "disabled within the bound"
        );
    }
}
