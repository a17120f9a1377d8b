//! Rows of the `admin_credentials` table: hashes of admin API bearer tokens, never the tokens.

use sqlx::Row;

use super::{Store, StoreError, to_sql_int};
use crate::clock::UnixTime;

/// Creates the lock row on first use: the shipped migrations only seed `audit` and `keys`.
const ADD_LOCK_ADMIN: &str =
    "INSERT INTO locks (name) VALUES ('admin') ON CONFLICT (name) DO NOTHING";

/// Serialises credential changes across processes and replicas (see the `locks` table), so two
/// replicas starting together on an empty database create one credential, not two.
const LOCK_ADMIN: &str = "UPDATE locks SET taken = taken + 1 WHERE name = 'admin'";

/// An admin credential that has not been revoked: its id and the SHA-256 of its token.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActiveAdminCredential {
    /// The credential's public identifier (named in audit records as `admin:<id>`).
    pub id: String,
    /// SHA-256 of the bearer token.
    pub hash: Vec<u8>,
}

impl Store {
    /// Stores a credential only if none was ever created (revoked ones count); returns whether
    /// it was stored. This is the "first start" test, atomic across replicas.
    pub async fn insert_first_admin_credential(
        &self,
        id: &str,
        hash: &[u8],
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self.admin_credentials_locked().await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM admin_credentials")
            .fetch_one(&mut *tx)
            .await?;
        let existing: i64 = row.try_get("n")?;
        if existing > 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_credential(&mut tx, id, hash, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes every active credential and stores a new one, atomically; returns how many were
    /// revoked.
    pub async fn replace_admin_credentials(
        &self,
        id: &str,
        hash: &[u8],
        now: UnixTime,
    ) -> Result<u64, StoreError> {
        let mut tx = self.admin_credentials_locked().await?;
        let revoked =
            sqlx::query("UPDATE admin_credentials SET revoked_at = $1 WHERE revoked_at IS NULL")
                .bind(to_sql_int(now, "revoked_at")?)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        insert_credential(&mut tx, id, hash, now).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Every credential that has not been revoked (normally one).
    pub async fn active_admin_credentials(&self) -> Result<Vec<ActiveAdminCredential>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, hash FROM admin_credentials WHERE revoked_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// A transaction holding the credentials' lock. Writing first takes SQLite's write lock or
    /// PostgreSQL's row lock before anything is read, so a concurrent writer waits and then
    /// sees what this one did.
    async fn admin_credentials_locked(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        sqlx::query(ADD_LOCK_ADMIN).execute(&self.pool).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_ADMIN).execute(&mut *tx).await?;
        Ok(tx)
    }
}

async fn insert_credential(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    hash: &[u8],
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO admin_credentials (id, hash, created_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(hash)
        .bind(to_sql_int(now, "created_at")?)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
