//! Rows of the `revoked_tokens` table.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, from_sql_int, to_sql_int};
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
             VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
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
        self.purge("DELETE FROM revoked_tokens WHERE expires_at <= $1", now)
            .await
    }

    /// Whether `jti` has been revoked.
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// One of `jtis` that has been revoked, if any: a token and the tokens it was exchanged
    /// from, checked in one query.
    pub async fn first_revoked_token(&self, jtis: &[&str]) -> Result<Option<String>, StoreError> {
        if jtis.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT jti FROM revoked_tokens WHERE jti IN ({}) LIMIT 1",
            placeholders(1, jtis.len())
        );
        let mut query = sqlx::query(&sql);
        for jti in jtis {
            query = query.bind(*jti);
        }
        let row = query.fetch_optional(&self.pool).await?;
        row.map(|row| row.try_get("jti").map_err(StoreError::from))
            .transpose()
    }
}

/// `$first, $first+1, ...`: `count` numbered placeholders for an `IN` list.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A revoked token as published in the revocation feed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RevokedToken {
    /// The token's `jti`.
    pub jti: String,
    /// The token's `exp`: the entry leaves the feed then.
    pub exp: UnixTime,
}

/// A client whose tokens issued before `revoked_before` are all revoked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RevokedClient {
    /// The client.
    pub client_id: String,
    /// Tokens with `iat` strictly before this are revoked.
    pub revoked_before: UnixTime,
    /// When every such token has expired and the entry can go.
    #[serde(skip)]
    pub expires_at: UnixTime,
}

impl Store {
    /// Revokes every token of `client_id` issued before `revoked_before` (a later revocation
    /// of the same client moves the time forward, never back).
    pub async fn revoke_client(
        &self,
        client_id: &str,
        revoked_before: UnixTime,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revoked_clients (client_id, revoked_before, expires_at) \
             VALUES ($1, $2, $3) ON CONFLICT (client_id) DO UPDATE SET \
             revoked_before = CASE WHEN excluded.revoked_before > revoked_clients.revoked_before \
               THEN excluded.revoked_before ELSE revoked_clients.revoked_before END, \
             expires_at = CASE WHEN excluded.expires_at > revoked_clients.expires_at \
               THEN excluded.expires_at ELSE revoked_clients.expires_at END",
        )
        .bind(client_id)
        .bind(to_sql_int(revoked_before, "revoked_before")?)
        .bind(to_sql_int(expires_at, "expires_at")?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every revocation still in force at `now`: tokens by `jti` (oldest first) and clients.
    pub async fn revocations(
        &self,
        now: UnixTime,
    ) -> Result<(Vec<RevokedToken>, Vec<RevokedClient>), StoreError> {
        let now = to_sql_int(now, "expires_at")?;
        let in_force = |select| sqlx::query(select).bind(now).fetch_all(&self.pool);
        let tokens = in_force(
            "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1 \
             ORDER BY revoked_at, jti",
        )
        .await?;
        let clients = in_force(
            "SELECT client_id, revoked_before, expires_at FROM revoked_clients \
             WHERE expires_at > $1 ORDER BY client_id",
        )
        .await?;
        Ok((
            tokens.iter().map(revoked_token).collect::<Result<_, _>>()?,
            clients
                .iter()
                .map(revoked_client)
                .collect::<Result<_, _>>()?,
        ))
    }

    /// Forgets client revocations whose tokens have all expired; returns how many.
    pub async fn purge_expired_client_revocations(&self, now: UnixTime) -> Result<u64, StoreError> {
        self.purge("DELETE FROM revoked_clients WHERE expires_at <= $1", now)
            .await
    }

    /// One of `client_ids` whose tokens issued at `iat` are revoked as a whole, if any: the
    /// principal and every agent of a delegation chain, checked in one query.
    pub async fn first_revoked_client(
        &self,
        client_ids: &[&str],
        iat: UnixTime,
    ) -> Result<Option<String>, StoreError> {
        if client_ids.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT client_id FROM revoked_clients WHERE revoked_before > $1 \
             AND client_id IN ({}) LIMIT 1",
            placeholders(2, client_ids.len())
        );
        let mut query = sqlx::query(&sql).bind(to_sql_int(iat, "iat")?);
        for id in client_ids {
            query = query.bind(*id);
        }
        let row = query.fetch_optional(&self.pool).await?;
        row.map(|row| row.try_get("client_id").map_err(StoreError::from))
            .transpose()
    }

    /// Whether `client_id`'s tokens issued at `iat` are revoked as a whole.
    pub async fn is_client_revoked(
        &self,
        client_id: &str,
        iat: UnixTime,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM revoked_clients WHERE client_id = $1 AND revoked_before > $2",
        )
        .bind(client_id)
        .bind(to_sql_int(iat, "iat")?)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}

fn revoked_token(row: &AnyRow) -> Result<RevokedToken, StoreError> {
    Ok(RevokedToken {
        jti: row.try_get("jti")?,
        exp: from_sql_int(row.try_get("expires_at")?, "expires_at")?,
    })
}

fn revoked_client(row: &AnyRow) -> Result<RevokedClient, StoreError> {
    Ok(RevokedClient {
        client_id: row.try_get("client_id")?,
        revoked_before: from_sql_int(row.try_get("revoked_before")?, "revoked_before")?,
        expires_at: from_sql_int(row.try_get("expires_at")?, "expires_at")?,
    })
}
