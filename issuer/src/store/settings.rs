//! Named server-side values that must survive restarts.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Returns the setting `name`, first storing `candidate` if the setting does not exist yet.
    ///
    /// Insert-then-read keeps two processes that start together on the same value.
    pub async fn setting_or_insert(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("value")?)
    }
}
