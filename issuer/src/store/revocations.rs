//! Rows of the `revoked_tokens` table.

use super::{Store, StoreError, to_sql_int};
use crate::clock::UnixTime;

impl Store {
    /// Records `jti` as revoked; revoking twice is not an error (RFC 7009 §2.2).
    pub async fn revoke_token(
        &self,
        jti: &str,
        client_id: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(client_id)
        .bind(to_sql_int(expires_at, "expires_at")?)
        .bind(to_sql_int(now, "revoked_at")?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets revocations of tokens that have expired anyway; returns how many.
    pub async fn purge_expired_revocations(&self, now: UnixTime) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= ?")
            .bind(to_sql_int(now, "expires_at")?)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// Whether `jti` has been revoked.
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM revoked_tokens WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}
