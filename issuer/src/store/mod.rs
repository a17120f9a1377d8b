//! Persistence behind one [`Store`] type.
//!
//! SQLite is the only backend today. Queries are built at run time (`sqlx::query`, never the
//! compile-time checked macros) so that building needs no database, and every query lives in
//! this module, so PostgreSQL can arrive as a second backend behind the same methods.

mod clients;
mod keys;
mod revocations;
mod settings;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::clock::UnixTime;

pub use clients::{ClientRecord, ClientSummary};
pub use keys::{KeyRecord, NewKeyRecord, PublishedKeyRecord};

/// Migrations for the SQLite backend, embedded at build time.
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a request waits for a pooled connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long SQLite waits on a lock held by another connection or process (the CLI, say).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names a backend this build does not support (only its scheme is kept:
    /// the rest of a URL may hold a password).
    #[error("unsupported database URL scheme {0:?}: only sqlite: URLs are supported for now")]
    UnsupportedBackend(String),
    /// The directory that should hold the database file could not be created.
    #[error("cannot create database directory {path}")]
    CreateDir {
        /// The directory.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The insert would have replaced an existing row.
    #[error("a row with this key already exists")]
    Conflict,
    /// A stored value is outside the range this program can represent.
    #[error("stored value out of range in column {0}")]
    OutOfRange(&'static str),
    /// The database reported an error.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// The issuer's database: a connection pool plus every query the issuer runs.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if missing, along with its directory) the database and applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if !url.starts_with("sqlite:") {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            return Err(StoreError::UnsupportedBackend(scheme.to_owned()));
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // WAL lets the CLI write (client create, keys rotate) while the server reads.
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        create_parent_dir(options.get_filename())?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every pooled connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn create_parent_dir(file: &Path) -> Result<(), StoreError> {
    let Some(dir) = file.parent() else {
        return Ok(());
    };
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.display().to_string(),
        source,
    })
}

/// SQLite integers are signed; Unix times and TTLs this program writes always fit.
fn to_sql_int(value: u64, column: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange(column))
}

/// A negative time or TTL can only come from a hand-edited database; refuse it.
fn from_sql_int(value: i64, column: &'static str) -> Result<UnixTime, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::OutOfRange(column))
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
fn conflict_or(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Database(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn other_backends_are_refused_without_echoing_credentials() {
        let err = Store::open("postgres://user:hunter2@db/issuer").await.err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("\"postgres\""), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
