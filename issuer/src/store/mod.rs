//! Persistence behind one [`Store`] type, on SQLite or PostgreSQL.
//!
//! Both backends go through sqlx's `Any` driver with the same SQL: queries use `$1`-style
//! placeholders (which SQLite accepts too) and are built at run time (never the compile-time
//! checked macros, so building needs no database). The few statements that differ between the
//! two dialects branch on [`Backend`] here, in this module, which is the only one that talks
//! to the database.

mod admin_credentials;
mod audit;
mod clients;
mod keys;
mod revocations;
mod settings;

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor};

use crate::clock::UnixTime;

pub use admin_credentials::ActiveAdminCredential;
pub use audit::{AuditFilter, AuditOrder};
pub use clients::{CLIENT_RECHECK, ClientRecord, ClientSummary};
pub use keys::{KeyRecord, NewKeyRecord, Promotion, PublishedKeyRecord};
pub use revocations::{RevokedClient, RevokedToken};

/// Migrations for the SQLite backend, embedded at build time.
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Migrations for the PostgreSQL backend, embedded at build time.
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a request waits for a pooled connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Set on every SQLite connection; `busy_timeout` is how long (ms) it waits on a lock held by
/// another connection or process (the CLI, say).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file: the zero-set-up default, one process at a time writing.
    Sqlite,
    /// A PostgreSQL server: the production backend, shared by several replicas.
    Postgres,
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names a backend this build does not support (only its scheme is kept:
    /// the rest of a URL may hold a password).
    #[error("unsupported database URL scheme {0:?}: use sqlite: or postgres:")]
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
    pool: AnyPool,
    backend: Backend,
    /// Client records recently read (see [`Store::recent_client`]); shared by clones.
    clients: std::sync::Arc<clients::ClientCache>,
}

impl Store {
    /// Opens the database named by `url` (`sqlite:` files and their directory are created if
    /// missing) and applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(install_default_drivers);
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        let (backend, url) = match scheme {
            "sqlite" => (Backend::Sqlite, sqlite_url(url)?),
            "postgres" | "postgresql" => (Backend::Postgres, url.to_owned()),
            _ => return Err(StoreError::UnsupportedBackend(scheme.to_owned())),
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time anyway; readers share the WAL.
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(ACQUIRE_TIMEOUT);
        let options = match backend {
            Backend::Sqlite => options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets the CLI write (client create, keys rotate) while the server
                    // reads; FULL makes every acknowledged commit survive a power cut.
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(&url).await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&pool).await?,
        }
        Ok(Self {
            pool,
            backend,
            clients: std::sync::Arc::default(),
        })
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
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

/// Makes sure the file and its directory get created, which the `Any` driver does not ask for.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?;
    create_parent_dir(options.get_filename())?;
    if url.contains("mode=") {
        return Ok(url.to_owned());
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}mode=rwc"))
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

impl Store {
    /// Runs `DELETE ... WHERE <expiry> <= $1` at `now`; returns how many rows went.
    async fn purge(&self, delete: &'static str, now: UnixTime) -> Result<u64, StoreError> {
        let result = sqlx::query(delete)
            .bind(to_sql_int(now, "expires_at")?)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

/// Database integers are signed; Unix times and TTLs this program writes always fit.
fn to_sql_int(value: u64, column: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange(column))
}

/// A negative time or TTL can only come from a hand-edited database; refuse it.
fn from_sql_int(value: i64, column: &'static str) -> Result<UnixTime, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::OutOfRange(column))
}

/// An optional time column.
fn optional_time(
    row: &sqlx::any::AnyRow,
    column: &'static str,
) -> Result<Option<UnixTime>, StoreError> {
    use sqlx::Row;
    let value: Option<i64> = row.try_get(column)?;
    value.map(|v| from_sql_int(v, column)).transpose()
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
        let err = Store::open("mysql://user:hunter2@db/issuer").await.err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("\"mysql\""), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
