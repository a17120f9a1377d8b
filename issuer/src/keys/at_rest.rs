//! Private keys at rest: choosing the sealer from the master key, and re-sealing rows written
//! by another sealer (the `plaintext` rows of installations older than AES-GCM sealing).

use std::path::PathBuf;
use std::sync::Arc;

use super::KeyError;
use super::master_key::{MasterKey, MasterKeyOrigin, MasterKeySource};
use super::sealer::{AesGcmSealer, KeySealer, needs_reseal, open_stored};
use crate::store::Store;

/// Where the development master key lives for a database URL: next to a SQLite file (so each
/// development database keeps its own), else `data/master.key` under the working directory.
pub fn dev_key_path(database_url: &str) -> PathBuf {
    let sqlite_file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|file| !file.is_empty() && *file != ":memory:");
    match sqlite_file.map(PathBuf::from) {
        Some(file) => file.with_file_name("master.key"),
        None => PathBuf::from("data/master.key"),
    }
}

/// The setting holding a fingerprint of the master key the database's keys are sealed with.
const MASTER_KEY_CHECK: &str = "master_key_check";

/// Loads the master key, checks it is the one this database's keys are sealed with (the first
/// process to start records it), re-seals legacy rows, and returns the AES-256-GCM sealer.
///
/// A process started with another master key (a CLI run without `ISSUER_MASTER_KEY`, say)
/// stops here with [`KeyError::WrongMasterKey`] instead of sealing keys nobody else can open.
pub async fn open_sealer(
    store: &Store,
    source: MasterKeySource,
) -> Result<Arc<dyn KeySealer>, KeyError> {
    let (key, origin) = MasterKey::load(source)?;
    warn_if_development(&origin);
    let fingerprint = fingerprint(&key);
    let recorded = store
        .setting_or_insert(MASTER_KEY_CHECK, &fingerprint)
        .await?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &recorded[..],
        &fingerprint[..],
    )) {
        return Err(KeyError::WrongMasterKey);
    }
    let sealer: Arc<dyn KeySealer> = Arc::new(AesGcmSealer::new(&key));
    reseal_all(store, sealer.as_ref()).await?;
    Ok(sealer)
}

/// Identifies a master key without revealing it: HMAC-SHA256 under the key of a fixed label.
fn fingerprint(key: &MasterKey) -> [u8; 32] {
    hmac_sha256::HMAC::mac(b"issuer master key check v1", key.as_bytes())
}

fn warn_if_development(origin: &MasterKeyOrigin) {
    match origin {
        MasterKeyOrigin::DevFile { path, created } => tracing::warn!(
            path = %path.display(),
            created,
            "USING A DEVELOPMENT MASTER KEY: private signing keys are encrypted under a key stored \
             in a local file next to the data. Set ISSUER_MASTER_KEY or ISSUER_MASTER_KEY_FILE in \
             production (every replica needs the same key)."
        ),
        MasterKeyOrigin::Env => tracing::info!("master key from ISSUER_MASTER_KEY"),
        MasterKeyOrigin::File(path) => {
            tracing::info!(path = %path.display(), "master key from file")
        }
    }
}

/// Re-seals every stored private key not sealed by `sealer` (legacy `plaintext` rows); returns
/// how many. Run at start-up, so afterwards only rows of the configured sealer are trusted.
pub async fn reseal_all(store: &Store, sealer: &dyn KeySealer) -> Result<usize, KeyError> {
    let mut resealed = 0;
    for record in store.sealed_keys().await? {
        if !needs_reseal(sealer, &record.sealed_by) {
            continue;
        }
        let private = open_stored(
            sealer,
            true,
            &record.sealed_by,
            &record.kid,
            &record.private_key,
        )?;
        let sealed = sealer.seal(&record.kid, &private)?;
        if store
            .reseal_key(&record.kid, &record.sealed_by, &sealed, sealer.name())
            .await?
        {
            tracing::info!(kid = %record.kid, from = %record.sealed_by, to = sealer.name(), "re-sealed a private key");
            resealed += 1;
        }
    }
    Ok(resealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_key_sits_next_to_a_sqlite_database() {
        assert_eq!(
            dev_key_path("sqlite://data/issuer.db"),
            PathBuf::from("data/master.key")
        );
        assert_eq!(
            dev_key_path("sqlite:///tmp/x/issuer.db?mode=rwc"),
            PathBuf::from("/tmp/x/master.key")
        );
        assert_eq!(
            dev_key_path("postgres://db/issuer"),
            PathBuf::from("data/master.key")
        );
    }
}
