//! The issuer: OAuth 2 client credentials (RFC 6749 §4.4) minting RFC 9068 JWT access tokens,
//! token exchange (RFC 8693) through which agents act for other principals, with JWKS
//! (RFC 7517), metadata (RFC 8414), revocation (RFC 7009) and introspection (RFC 7662).
//!
//! It refuses to be more than that: no authorization code or refresh tokens, no public
//! clients, no `none` algorithm, no HMAC-signed tokens, no secrets kept in recoverable form.
//! It is not a runtime dependency of the requests it authorizes: gateways verify its tokens
//! locally against the published JWKS.
//!
//! Layout, from the edges down:
//! - the edges: [`cli`], [`server`] (with the key scheduler), [`http`] (the public port) and
//!   [`admin`] (the admin port: API, UI sign-in, the admin credential and sessions). They
//!   parse input, call an operation and map its error;
//! - [`ops`]: the operations (mint a token, exchange one, register or disable a client, rotate
//!   keys, revoke), each writing its audit record;
//! - the logic: [`clients`], [`keys`], [`scope`], [`access_token`], which take `now` as an
//!   argument (only [`clock`] reads the time), and [`audit`], which writes the trail;
//! - [`store`], the only module that talks to the database, and below it [`trail`], what an
//!   audit record is and how the chain is hashed.
//!
//! [`AppState`], what every request handler shares, is defined here at the root: it holds the
//! admin port's sessions and both ports' handlers take it, so it sits above every module.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod access_token;
pub mod admin;
pub mod audit;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod ops;
pub mod random;
pub mod scope;
pub mod server;
pub mod store;
pub mod trail;
pub mod ui;

use std::sync::Arc;

pub use admin::router as admin_router;
pub use config::{IssuerUrl, ServeConfig};
pub use http::public_router;
pub use store::Store;

use admin::session::Sessions;
use audit::Audit;
use clients::{SecretError, SecretHasher, Throttle, ThrottlePolicy};
use clock::Clock;
use keys::{KeyError, KeySettings, Keyring};
use metrics::Metrics;
use ops::Ctx;
use ops::mint::Minter;
use ui::UiResources;

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

/// What every request handler shares: storage, keys, the secret hasher, the clock, the issuer
/// URL, and on the admin port the UI's sessions and files. Cheap to clone.
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
    /// The longest delegation chain token exchange may mint (`--max-delegation-depth`).
    pub max_delegation_depth: usize,
}

impl AppState {
    /// Ensures current and next keys and the secret hashing key exist, then builds the state.
    pub async fn bootstrap(
        store: Store,
        keys: KeySettings,
        clock: Arc<dyn Clock>,
        issuer: IssuerUrl,
    ) -> Result<Self, BootstrapError> {
        keys::ensure_ready(&store, &keys, clock.now()).await?;
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
            admin_throttle: Arc::new(admin::credential::throttle()),
            throttle: Arc::new(Throttle::with_policies(
                ThrottlePolicy::default(),
                ThrottlePolicy::for_addresses(),
            )),
            sessions: Arc::default(),
            ui: Arc::default(),
            max_delegation_depth: verifier_core::defaults::DEFAULT_MAX_DELEGATION_DEPTH,
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

    /// What tokens are minted with.
    pub fn minter(&self) -> Minter<'_> {
        Minter {
            keyring: &self.keyring,
            issuer: &self.issuer,
        }
    }

    /// The same state, minting delegation chains of at most `depth` agents.
    #[must_use]
    pub fn with_max_delegation_depth(mut self, depth: usize) -> Self {
        self.max_delegation_depth = depth;
        self
    }

    /// The same state, serving `ui` on the admin port (what `issuer serve` read at start-up).
    #[must_use]
    pub fn with_ui(mut self, ui: UiResources) -> Self {
        self.ui = Arc::new(ui);
        self
    }
}
