//! Rows of the `signing_keys` table.
//!
//! Listing queries never select `private_key`, so code that only publishes keys cannot leak it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, conflict_or, from_sql_int, optional_time, to_sql_int};
use crate::clock::UnixTime;

/// A signing key about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKeyRecord {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// JWS algorithm name (`ES256`, `EdDSA`, `RS256`).
    pub alg: String,
    /// Private key bytes as produced by the sealer.
    pub private_key: Vec<u8>,
    /// Which sealer produced `private_key`.
    pub sealed_by: String,
    /// The public JWK as published, JSON.
    pub public_jwk: String,
    /// When the key was generated.
    pub created_at: UnixTime,
}

/// The current signing key, private part included (still sealed).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRecord {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// JWS algorithm name.
    pub alg: String,
    /// Private key bytes as produced by the sealer.
    pub private_key: Vec<u8>,
    /// Which sealer produced `private_key`.
    pub sealed_by: String,
}

/// A key as published and listed: public material and lifecycle only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKeyRecord {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// JWS algorithm name.
    pub alg: String,
    /// `next`, `current` or `retired`.
    pub status: String,
    /// The public JWK as published, JSON.
    pub public_jwk: String,
    /// When the key was generated (and published).
    pub created_at: UnixTime,
    /// When the key began signing, if it has.
    pub activated_at: Option<UnixTime>,
    /// When the key stopped signing, if it has.
    pub retired_at: Option<UnixTime>,
    /// When a retired key leaves the JWKS.
    pub publish_until: Option<UnixTime>,
}

/// Inserts a key with `status` $7; a `current` key is active from its creation.
const INSERT_KEY: &str = "INSERT INTO signing_keys \
     (kid, alg, status, private_key, sealed_by, public_jwk, created_at, activated_at) \
     VALUES ($1, $2, $7, $3, $4, $5, $6, CASE WHEN $7 = 'current' THEN $6 END)";

/// Serialises key changes across processes and replicas (see the `locks` table).
const LOCK_KEYS: &str = "UPDATE locks SET taken = taken + 1 WHERE name = 'keys'";

/// What a promotion expects to find, so two replicas cannot both rotate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion<'a> {
    /// The key that is current now and will be retired.
    pub current_kid: &'a str,
    /// The key that is next now and will sign; `None` makes `new_key` current at once
    /// (an emergency rotation: the new key was never pre-published).
    pub next_kid: Option<&'a str>,
    /// The new key: stored as `next` after a normal promotion, `current` after an emergency one.
    pub new_key: &'a NewKeyRecord,
    /// The moment of the change.
    pub now: UnixTime,
    /// Until when the retired key stays published.
    pub publish_until: UnixTime,
}

impl Store {
    /// Stores `key` as current unless a current key exists; returns whether it was stored.
    ///
    /// The partial unique index settles races between processes starting on an empty database.
    pub async fn insert_first_key(&self, key: &NewKeyRecord) -> Result<bool, StoreError> {
        self.insert_key_if_absent(key, "current").await
    }

    /// Stores `key` as the next key unless there is one; returns whether it was stored.
    pub async fn insert_next_key(&self, key: &NewKeyRecord) -> Result<bool, StoreError> {
        self.insert_key_if_absent(key, "next").await
    }

    async fn insert_key_if_absent(
        &self,
        key: &NewKeyRecord,
        status: &'static str,
    ) -> Result<bool, StoreError> {
        let result = bind_new_key(sqlx::query(INSERT_KEY), key, status)?
            .execute(&self.pool)
            .await
            .map_err(conflict_or);
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Retires the current key and makes the next one current (or, for an emergency, the new
    /// key), atomically and only if the keys are still those `promotion` names; returns
    /// whether it happened (`false`: another process rotated first, nothing was changed).
    pub async fn promote_keys(&self, promotion: &Promotion<'_>) -> Result<bool, StoreError> {
        let now = to_sql_int(promotion.now, "retired_at")?;
        let mut tx = self.pool.begin().await?;
        // Writing first takes SQLite's write lock or PostgreSQL's row lock before anything
        // is read, so concurrent rotations queue instead of interleaving.
        sqlx::query(LOCK_KEYS).execute(&mut *tx).await?;
        let retired = sqlx::query(
            "UPDATE signing_keys SET status = 'retired', retired_at = $1, publish_until = $2 \
             WHERE kid = $3 AND status = 'current'",
        )
        .bind(now)
        .bind(to_sql_int(promotion.publish_until, "publish_until")?)
        .bind(promotion.current_kid)
        .execute(&mut *tx)
        .await?;
        if retired.rows_affected() != 1 {
            return Ok(false);
        }
        let new_status = match promotion.next_kid {
            Some(next_kid) => {
                let promoted = sqlx::query(
                    "UPDATE signing_keys SET status = 'current', activated_at = $1 \
                     WHERE kid = $2 AND status = 'next'",
                )
                .bind(now)
                .bind(next_kid)
                .execute(&mut *tx)
                .await?;
                if promoted.rows_affected() != 1 {
                    return Ok(false);
                }
                "next"
            }
            None => "current",
        };
        let inserted = bind_new_key(sqlx::query(INSERT_KEY), promotion.new_key, new_status)?
            .execute(&mut *tx)
            .await
            .map_err(conflict_or);
        match inserted {
            Ok(_) => {}
            // Emergency rotation while a next key exists is fine; a second next key is not.
            Err(StoreError::Conflict) => return Ok(false),
            Err(err) => return Err(err),
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces the next key (e.g. after `--signing-alg` changed); returns whether it did.
    pub async fn replace_next_key(
        &self,
        old_kid: &str,
        key: &NewKeyRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_KEYS).execute(&mut *tx).await?;
        let deleted = sqlx::query("DELETE FROM signing_keys WHERE kid = $1 AND status = 'next'")
            .bind(old_kid)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            return Ok(false);
        }
        bind_new_key(sqlx::query(INSERT_KEY), key, "next")?
            .execute(&mut *tx)
            .await
            .map_err(conflict_or)?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes retired keys whose tokens have all expired; returns their kids.
    pub async fn purge_retired_keys(&self, now: UnixTime) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "DELETE FROM signing_keys WHERE status = 'retired' AND publish_until <= $1 \
             RETURNING kid",
        )
        .bind(to_sql_int(now, "publish_until")?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("kid")?)).collect()
    }

    /// The key that signs new tokens, if one exists.
    pub async fn current_key(&self) -> Result<Option<KeyRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kid, alg, private_key, sealed_by FROM signing_keys WHERE status = 'current'",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every key with a private part, for re-sealing under a new sealer.
    pub async fn sealed_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        Ok(
            sqlx::query_as("SELECT kid, alg, private_key, sealed_by FROM signing_keys")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Replaces a key's sealed private part (same key, new sealer); returns whether it did.
    pub async fn reseal_key(
        &self,
        kid: &str,
        old_sealed_by: &str,
        private_key: &[u8],
        sealed_by: &str,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE signing_keys SET private_key = $1, sealed_by = $2 \
             WHERE kid = $3 AND sealed_by = $4",
        )
        .bind(private_key)
        .bind(sealed_by)
        .bind(kid)
        .bind(old_sealed_by)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Every key in the database (retired ones until they are purged), current first, then
    /// next, then retired newest to oldest.
    pub async fn published_keys(&self) -> Result<Vec<PublishedKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, alg, status, public_jwk, created_at, activated_at, retired_at, \
             publish_until FROM signing_keys \
             ORDER BY CASE status WHEN 'current' THEN 0 WHEN 'next' THEN 1 ELSE 2 END, \
             created_at DESC, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(published_key).collect()
    }
}

fn bind_new_key<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    key: &'q NewKeyRecord,
    status: &'static str,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>, StoreError> {
    Ok(query
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_key)
        .bind(&key.sealed_by)
        .bind(&key.public_jwk)
        .bind(to_sql_int(key.created_at, "created_at")?)
        .bind(status))
}

fn published_key(row: &AnyRow) -> Result<PublishedKeyRecord, StoreError> {
    Ok(PublishedKeyRecord {
        kid: row.try_get("kid")?,
        alg: row.try_get("alg")?,
        status: row.try_get("status")?,
        public_jwk: row.try_get("public_jwk")?,
        created_at: from_sql_int(row.try_get("created_at")?, "created_at")?,
        activated_at: optional_time(row, "activated_at")?,
        retired_at: optional_time(row, "retired_at")?,
        publish_until: optional_time(row, "publish_until")?,
    })
}
