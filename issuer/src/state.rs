//! What every request handler shares: storage, keys, the secret hasher, the clock, the issuer URL.

use std::sync::Arc;

use crate::clients::{SecretError, SecretHasher};
use crate::clock::Clock;
use crate::config::IssuerUrl;
use crate::keys::{self, KeyError, KeySealer, Keyring, PlaintextSealer, SigningAlg};
use crate::store::Store;

/// Why the server could not get ready to serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// No signing key could be loaded or created.
    #[error("cannot prepare the signing key")]
    Key(#[from] KeyError),
    /// The client secret hashing key could not be loaded or created.
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Shared state of both routers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The current signing key, cached.
    pub keyring: Arc<Keyring>,
    /// Hashes and checks client secrets.
    pub hasher: Arc<SecretHasher>,
    /// The only source of `now`.
    pub clock: Arc<dyn Clock>,
    /// The `iss` of every token and the base of every endpoint URL.
    pub issuer: Arc<IssuerUrl>,
}

impl AppState {
    /// Ensures a current key of `alg` and the secret hashing key exist, then builds the state.
    pub async fn bootstrap(
        store: Store,
        alg: SigningAlg,
        clock: Arc<dyn Clock>,
        issuer: IssuerUrl,
    ) -> Result<Self, BootstrapError> {
        let sealer: Arc<dyn KeySealer> = Arc::new(PlaintextSealer);
        keys::ensure_current(&store, sealer.as_ref(), alg, clock.now()).await?;
        let hasher = SecretHasher::load(&store).await?;
        Ok(Self {
            store,
            keyring: Arc::new(Keyring::new(sealer)),
            hasher: Arc::new(hasher),
            clock,
            issuer: Arc::new(issuer),
        })
    }
}
