//! What every request handler shares: storage, keys, the secret hasher, the clock, the issuer URL,
//! and on the admin port the UI's sessions and files.

use std::sync::Arc;

use crate::admin_credential;
use crate::admin_session::Sessions;
use crate::audit::Audit;
use crate::clients::{SecretError, SecretHasher, Throttle, ThrottlePolicy};
use crate::clock::Clock;
use crate::config::IssuerUrl;
pub use crate::keys::KeySettings;
use crate::keys::{self, KeyError, Keyring};
use crate::metrics::Metrics;
use crate::ops::Ctx;
use crate::store::Store;
use crate::ui::UiResources;

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
    /// How keys are generated and rotated.
    pub keys: KeySettings,
    /// The append-only audit trail.
    pub audit: Audit,
    /// Counters exposed at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Failed admin authentications, by source address.
    pub admin_throttle: Arc<Throttle>,
    /// Failed client authentications, by client id and by source address.
    pub throttle: Arc<Throttle>,
    /// Signed-in admin UI browsers (this process only).
    pub sessions: Arc<Sessions>,
    /// The verifier package and gateway configuration the admin UI serves; empty unless
    /// [`AppState::with_ui`] set them.
    pub ui: Arc<UiResources>,
}

impl AppState {
    /// Ensures current and next keys and the secret hashing key exist, then builds the state.
    pub async fn bootstrap(
        store: Store,
        keys: KeySettings,
        clock: Arc<dyn Clock>,
        issuer: IssuerUrl,
    ) -> Result<Self, BootstrapError> {
        keys::ensure_ready(
            &store,
            keys.sealer.as_ref(),
            keys.alg,
            &keys.rotation,
            clock.now(),
        )
        .await?;
        let hasher = SecretHasher::load(&store).await?;
        let audit = Audit::new(store.clone(), Arc::clone(&clock));
        Ok(Self {
            store,
            keyring: Arc::new(Keyring::new(Arc::clone(&keys.sealer))),
            hasher: Arc::new(hasher),
            clock,
            issuer: Arc::new(issuer),
            keys,
            audit,
            metrics: Arc::new(Metrics::default()),
            admin_throttle: Arc::new(admin_credential::throttle()),
            throttle: Arc::new(Throttle::with_policies(
                ThrottlePolicy::default(),
                ThrottlePolicy::for_addresses(),
            )),
            sessions: Arc::default(),
            ui: Arc::default(),
        })
    }

    /// What an operation started now works on.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            store: &self.store,
            audit: &self.audit,
            now: self.clock.now(),
        }
    }

    /// The same state, serving `ui` on the admin port (what `issuer serve` read at start-up).
    #[must_use]
    pub fn with_ui(mut self, ui: UiResources) -> Self {
        self.ui = Arc::new(ui);
        self
    }
}
