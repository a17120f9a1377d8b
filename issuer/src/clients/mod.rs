//! Registered clients: registration, lookup and authentication.

mod fields;
mod secret;

pub use fields::{
    Audience, ClientId, FieldError, MAX_AUDIENCE_LEN, MAX_CLIENT_ID_LEN, MAX_TTL_SECS, Ttl,
};
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
    /// The database failed.
    #[error("client storage failed")]
    Store(#[from] StoreError),
}

/// What an operator asks for when registering a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// The identifier.
    pub id: ClientId,
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
    let record = ClientRecord {
        client_id: new.id.as_str().to_owned(),
        secret_hash: hasher.hash(secret.expose()).to_vec(),
        scope: new.scope.to_string(),
        audience: new.audience.as_str().to_owned(),
        ttl_secs: new.ttl.secs(),
        created_at: now,
    };
    store
        .insert_client(&record)
        .await
        .map_err(|err| match err {
            StoreError::Conflict => ClientError::AlreadyExists(record.client_id.clone()),
            other => ClientError::Store(other),
        })?;
    let client = Client {
        id: new.id,
        scope: new.scope,
        audience: new.audience,
        ttl: new.ttl,
        created_at: now,
    };
    Ok((client, secret))
}

/// The client whose id and secret these are, or `None` — the same `None` whether the id is
/// unknown or the secret wrong, so callers cannot reveal which.
pub async fn authenticate(
    store: &Store,
    hasher: &SecretHasher,
    client_id: &str,
    secret: &str,
) -> Result<Option<Client>, ClientError> {
    let record = match ClientId::parse(client_id) {
        Ok(id) => store.client(id.as_str()).await?,
        Err(_) => None,
    };
    // Hash even for unknown ids so both failures cost the same work.
    let stored: &[u8] = record.as_ref().map_or(&[], |r| r.secret_hash.as_slice());
    let matches = hasher.verify(secret, stored);
    match record {
        Some(record) if matches => Ok(Some(Client::try_from(record)?)),
        _ => Ok(None),
    }
}
