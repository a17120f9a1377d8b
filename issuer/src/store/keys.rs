//! Rows of the `signing_keys` table.
//!
//! Listing queries never select `private_key`, so code that only publishes keys cannot leak it.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Store, StoreError, conflict_or, from_sql_int, to_sql_int};
use crate::clock::UnixTime;

/// A signing key about to be stored as the current key.
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// `current` or `retired`.
    pub status: String,
    /// The public JWK as published, JSON.
    pub public_jwk: String,
    /// When the key was generated.
    pub created_at: UnixTime,
    /// When the key stopped signing, if it has.
    pub retired_at: Option<UnixTime>,
}

const INSERT_CURRENT: &str = "INSERT INTO signing_keys \
     (kid, alg, status, private_key, sealed_by, public_jwk, created_at) \
     VALUES (?, ?, 'current', ?, ?, ?, ?)";

impl Store {
    /// Stores `key` as current unless a current key exists; returns whether it was stored.
    ///
    /// The partial unique index settles races between processes starting on an empty database.
    pub async fn insert_first_key(&self, key: &NewKeyRecord) -> Result<bool, StoreError> {
        let result = bind_new_key(sqlx::query(INSERT_CURRENT), key)?
            .execute(&self.pool)
            .await
            .map_err(conflict_or);
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Retires the current key (if any) and stores `key` as current, atomically.
    pub async fn rotate_key(&self, key: &NewKeyRecord, now: UnixTime) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Writing first takes SQLite's write lock at once, so concurrent rotations queue.
        sqlx::query(
            "UPDATE signing_keys SET status = 'retired', retired_at = ? WHERE status = 'current'",
        )
        .bind(to_sql_int(now, "retired_at")?)
        .execute(&mut *tx)
        .await?;
        bind_new_key(sqlx::query(INSERT_CURRENT), key)?
            .execute(&mut *tx)
            .await
            .map_err(conflict_or)?;
        tx.commit().await?;
        Ok(())
    }

    /// The key that signs new tokens, if one exists.
    pub async fn current_key(&self) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT kid, alg, private_key, sealed_by FROM signing_keys WHERE status = 'current'",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(KeyRecord {
                kid: row.try_get("kid")?,
                alg: row.try_get("alg")?,
                private_key: row.try_get("private_key")?,
                sealed_by: row.try_get("sealed_by")?,
            })
        })
        .transpose()
    }

    /// Every published key, the current one first, then newest to oldest.
    pub async fn published_keys(&self) -> Result<Vec<PublishedKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, alg, status, public_jwk, created_at, retired_at FROM signing_keys \
             ORDER BY status = 'current' DESC, created_at DESC, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(published_key).collect()
    }
}

fn bind_new_key<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    key: &'q NewKeyRecord,
) -> Result<sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>, StoreError> {
    Ok(query
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_key)
        .bind(&key.sealed_by)
        .bind(&key.public_jwk)
        .bind(to_sql_int(key.created_at, "created_at")?))
}

fn published_key(row: &SqliteRow) -> Result<PublishedKeyRecord, StoreError> {
    let retired_at: Option<i64> = row.try_get("retired_at")?;
    Ok(PublishedKeyRecord {
        kid: row.try_get("kid")?,
        alg: row.try_get("alg")?,
        status: row.try_get("status")?,
        public_jwk: row.try_get("public_jwk")?,
        created_at: from_sql_int(row.try_get("created_at")?, "created_at")?,
        retired_at: retired_at
            .map(|t| from_sql_int(t, "retired_at"))
            .transpose()?,
    })
}
