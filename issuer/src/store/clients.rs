//! Rows of the `clients` table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, conflict_or, from_sql_int, optional_time, to_sql_int};
use crate::clock::UnixTime;

/// How long a client record read from the database may answer [`Store::recent_client`].
///
/// Clients change only through the admin API, whose changes go through this `Store` and take
/// effect here at once (the cached record is dropped). A change made by another process on the
/// same database (another replica on PostgreSQL) reaches this one at most this late: until
/// then a client it disabled, or whose secret it replaced, can still authenticate here with
/// the old secret. (A new secret works at once everywhere: a secret that does not match the
/// cached record is always checked against the database.)
pub const CLIENT_RECHECK: Duration = Duration::from_secs(1);

/// Most records kept; past this the cache starts again empty (ids are not attacker-chosen:
/// only records of existing clients are kept).
const CLIENT_CACHE_MAX: usize = 10_000;

/// Client records recently read, keyed by client id.
#[derive(Debug, Default)]
pub(super) struct ClientCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    records: HashMap<String, (Arc<ClientRecord>, Instant)>,
    /// Bumped by every change made through this store, so a read that raced a change is not
    /// kept (it may hold the row as it was before).
    generation: u64,
}

impl ClientCache {
    fn lock(&self) -> MutexGuard<'_, CacheInner> {
        // A map lookup or insert cannot leave it inconsistent; keep using it after a panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn forget(&self, client_id: &str) {
        let mut inner = self.lock();
        inner.generation = inner.generation.wrapping_add(1);
        inner.records.remove(client_id);
    }
}

/// A client as stored, secret hash included. Validation happens when it becomes a `Client`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The client identifier.
    pub client_id: String,
    /// `service` or `agent`.
    pub kind: String,
    /// `client_secret` or `private_key_jwt`.
    pub auth_method: String,
    /// HMAC-SHA256 of the client secret under the server key (`client_secret` clients).
    pub secret_hash: Option<Vec<u8>>,
    /// The client's public JWKS, JSON (`private_key_jwt` clients).
    pub jwks: Option<String>,
    /// Allowed scopes, space separated.
    pub scope: String,
    /// The `aud` of every token issued to this client.
    pub audience: String,
    /// Token lifetime in seconds.
    pub ttl_secs: u64,
    /// When the client was registered.
    pub created_at: UnixTime,
    /// When the client was disabled; a disabled client cannot authenticate.
    pub disabled_at: Option<UnixTime>,
}

/// A client as listed to operators: everything except the secret hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientSummary {
    /// The client identifier.
    pub client_id: String,
    /// `service` or `agent`.
    pub kind: String,
    /// Allowed scopes, space separated.
    pub scope: String,
    /// The `aud` of every token issued to this client.
    pub audience: String,
    /// Token lifetime in seconds.
    pub ttl: u64,
    /// `client_secret` or `private_key_jwt`.
    pub auth_method: String,
    /// When the client was registered, in Unix seconds.
    pub created_at: UnixTime,
    /// When the client was disabled, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<UnixTime>,
}

impl Store {
    /// Inserts a new client; [`StoreError::Conflict`] if the id is taken (never overwrites).
    pub async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO clients \
             (client_id, auth_method, secret_hash, jwks, scope, audience, ttl_secs, created_at, kind) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&client.client_id)
        .bind(&client.auth_method)
        .bind(&client.secret_hash)
        .bind(&client.jwks)
        .bind(&client.scope)
        .bind(&client.audience)
        .bind(to_sql_int(client.ttl_secs, "ttl_secs")?)
        .bind(to_sql_int(client.created_at, "created_at")?)
        .bind(&client.kind)
        .execute(&self.pool)
        .await
        .map_err(conflict_or)?;
        Ok(())
    }

    /// The record of `client_id` as read from the database less than [`CLIENT_RECHECK`] ago,
    /// if there is one; [`Store::client`] reads (and keeps) it afresh.
    pub fn recent_client(&self, client_id: &str) -> Option<Arc<ClientRecord>> {
        let inner = self.clients.lock();
        let (record, read_at) = inner.records.get(client_id)?;
        (read_at.elapsed() < CLIENT_RECHECK).then(|| Arc::clone(record))
    }

    /// Looks a client up by id.
    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let (generation, read_at) = (self.clients.lock().generation, Instant::now());
        let record = self.client_uncached(client_id).await?;
        let mut inner = self.clients.lock();
        if inner.generation == generation {
            match &record {
                Some(record) => {
                    if inner.records.len() >= CLIENT_CACHE_MAX {
                        inner.records.clear();
                    }
                    inner.records.insert(
                        record.client_id.clone(),
                        (Arc::new(record.clone()), read_at),
                    );
                }
                None => {
                    inner.records.remove(client_id);
                }
            }
        }
        Ok(record)
    }

    async fn client_uncached(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT client_id, kind, auth_method, secret_hash, jwks, scope, audience, ttl_secs, \
             created_at, disabled_at FROM clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| client_record(&row)).transpose()
    }

    /// Marks a client disabled (it can no longer authenticate); returns whether it exists.
    /// Disabling twice keeps the first time.
    pub async fn disable_client(&self, client_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE clients SET disabled_at = COALESCE(disabled_at, $1) WHERE client_id = $2",
        )
        .bind(to_sql_int(now, "disabled_at")?);
        self.update_client(client_id, update).await
    }

    /// Replaces the secret hash of a `client_secret` client; returns whether one was changed.
    pub async fn set_client_secret(
        &self,
        client_id: &str,
        secret_hash: &[u8],
    ) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE clients SET secret_hash = $1 \
             WHERE client_id = $2 AND auth_method = 'client_secret'",
        )
        .bind(secret_hash);
        self.update_client(client_id, update).await
    }

    /// Runs `update`, whose last placeholder is the client id, on `client_id`, and forgets the
    /// record kept of it (even when the update failed: it may have happened); returns whether
    /// a row changed.
    async fn update_client<'q>(
        &self,
        client_id: &'q str,
        update: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<bool, StoreError> {
        let result = update.bind(client_id).execute(&self.pool).await;
        self.clients.forget(client_id);
        Ok(result?.rows_affected() == 1)
    }

    /// Records a `private_key_jwt` assertion's `jti` until it expires; `false` if it was
    /// already used (a replay).
    pub async fn use_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO used_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(to_sql_int(expires_at, "expires_at")?)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Forgets used assertions that have expired (they would be refused anyway); returns how many.
    pub async fn purge_used_assertions(&self, now: UnixTime) -> Result<u64, StoreError> {
        self.purge("DELETE FROM used_assertions WHERE expires_at <= $1", now)
            .await
    }

    /// The longest token lifetime of any client, disabled ones included (0 with no clients).
    pub async fn max_client_ttl(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(ttl_secs), 0) AS ttl FROM clients")
            .fetch_one(&self.pool)
            .await?;
        from_sql_int(row.try_get("ttl")?, "ttl_secs")
    }

    /// Lists every client, without secret hashes, ordered by id.
    pub async fn client_summaries(&self) -> Result<Vec<ClientSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id, kind, auth_method, scope, audience, ttl_secs, created_at, \
             disabled_at FROM clients ORDER BY client_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClientSummary {
                    client_id: row.try_get("client_id")?,
                    kind: row.try_get("kind")?,
                    scope: row.try_get("scope")?,
                    audience: row.try_get("audience")?,
                    ttl: from_sql_int(row.try_get("ttl_secs")?, "ttl_secs")?,
                    auth_method: row.try_get("auth_method")?,
                    created_at: from_sql_int(row.try_get("created_at")?, "created_at")?,
                    disabled_at: optional_time(row, "disabled_at")?,
                })
            })
            .collect()
    }
}

fn client_record(row: &AnyRow) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        client_id: row.try_get("client_id")?,
        kind: row.try_get("kind")?,
        auth_method: row.try_get("auth_method")?,
        secret_hash: row.try_get("secret_hash")?,
        jwks: row.try_get("jwks")?,
        scope: row.try_get("scope")?,
        audience: row.try_get("audience")?,
        ttl_secs: from_sql_int(row.try_get("ttl_secs")?, "ttl_secs")?,
        created_at: from_sql_int(row.try_get("created_at")?, "created_at")?,
        disabled_at: optional_time(row, "disabled_at")?,
    })
}
