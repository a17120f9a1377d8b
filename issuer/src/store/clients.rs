//! Rows of the `clients` table.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Store, StoreError, conflict_or, from_sql_int, to_sql_int};
use crate::clock::UnixTime;

/// A client as stored, secret hash included. Validation happens when it becomes a `Client`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The client identifier.
    pub client_id: String,
    /// HMAC-SHA256 of the client secret under the server key.
    pub secret_hash: Vec<u8>,
    /// Allowed scopes, space separated.
    pub scope: String,
    /// The `aud` of every token issued to this client.
    pub audience: String,
    /// Token lifetime in seconds.
    pub ttl_secs: u64,
    /// When the client was registered.
    pub created_at: UnixTime,
}

/// A client as listed to operators: everything except the secret hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientSummary {
    /// The client identifier.
    pub client_id: String,
    /// Allowed scopes, space separated.
    pub scope: String,
    /// The `aud` of every token issued to this client.
    pub audience: String,
    /// Token lifetime in seconds.
    pub ttl: u64,
    /// When the client was registered, in Unix seconds.
    pub created_at: UnixTime,
}

impl Store {
    /// Inserts a new client; [`StoreError::Conflict`] if the id is taken (never overwrites).
    pub async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO clients (client_id, secret_hash, scope, audience, ttl_secs, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&client.client_id)
        .bind(&client.secret_hash)
        .bind(&client.scope)
        .bind(&client.audience)
        .bind(to_sql_int(client.ttl_secs, "ttl_secs")?)
        .bind(to_sql_int(client.created_at, "created_at")?)
        .execute(&self.pool)
        .await
        .map_err(conflict_or)?;
        Ok(())
    }

    /// Looks a client up by id.
    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT client_id, secret_hash, scope, audience, ttl_secs, created_at \
             FROM clients WHERE client_id = ?",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| client_record(&row)).transpose()
    }

    /// Lists every client, without secret hashes, ordered by id.
    pub async fn client_summaries(&self) -> Result<Vec<ClientSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id, scope, audience, ttl_secs, created_at FROM clients ORDER BY client_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClientSummary {
                    client_id: row.try_get("client_id")?,
                    scope: row.try_get("scope")?,
                    audience: row.try_get("audience")?,
                    ttl: from_sql_int(row.try_get("ttl_secs")?, "ttl_secs")?,
                    created_at: from_sql_int(row.try_get("created_at")?, "created_at")?,
                })
            })
            .collect()
    }
}

fn client_record(row: &SqliteRow) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        client_id: row.try_get("client_id")?,
        secret_hash: row.try_get("secret_hash")?,
        scope: row.try_get("scope")?,
        audience: row.try_get("audience")?,
        ttl_secs: from_sql_int(row.try_get("ttl_secs")?, "ttl_secs")?,
        created_at: from_sql_int(row.try_get("created_at")?, "created_at")?,
    })
}
