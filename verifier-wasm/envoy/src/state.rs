//! What one worker VM knows: the configuration, each provider's keys and revocation feed, and the
//! requests waiting for them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use verifier_core::{Awaiting, Config, FeedState, KeyState, Keys, TokenCache};
use verifier_core::{Jwks, ProviderDocument, Revocations};

use crate::host;
use crate::metrics::Metrics;
use crate::shared::Endpoint;

/// A request paused until its provider's keys or revocation feed arrive.
#[derive(Debug, Clone)]
pub(crate) struct Waiting {
    /// The HTTP context to resume.
    pub(crate) context_id: u32,
    /// The provider whose keys or feed it needs.
    pub(crate) provider: String,
    /// Which of the two it waited for last (what the 503 names if the wait runs out).
    pub(crate) awaiting: Awaiting,
    /// When to give up and answer 503, in milliseconds since the epoch.
    pub(crate) deadline_ms: u64,
}

/// A provider's remote document of one kind (keys, revocation feed) as this VM sees it.
#[derive(Debug)]
pub(crate) struct Kept<T> {
    /// Where the document lives in shared data.
    pub(crate) endpoint: Endpoint,
    /// The shared schedule as last read, and this VM's parsed document.
    pub(crate) view: ProviderDocument<T>,
}

/// Every provider's remote documents, one map per kind (see `document.rs`).
#[derive(Debug, Default)]
pub(crate) struct Documents {
    /// Each remote provider's keys.
    pub(crate) jwks: BTreeMap<String, Kept<Jwks>>,
    /// Each revocation feed, by provider.
    pub(crate) revocations: BTreeMap<String, Kept<Revocations>>,
}

/// What an outstanding HTTP call fetches, and for which provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    /// The kind of document (its name in metrics: `jwks`, `revocations`).
    pub(crate) kind: &'static str,
    /// The provider's name.
    pub(crate) provider: String,
}

/// State shared by the root context and the HTTP contexts of one VM (single-threaded).
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The loaded configuration; `None` until `on_configure` succeeds.
    pub(crate) config: Option<Rc<Config>>,
    /// This VM's name in leases: random, so no two VMs of one Envoy share it.
    pub(crate) vm_id: u64,
    /// Each provider's keys and revocation feed.
    pub(crate) documents: Documents,
    /// Outstanding JWKS and feed calls, by token id.
    pub(crate) calls: BTreeMap<u32, Call>,
    /// Requests waiting for keys or a feed.
    pub(crate) waiting: Vec<Waiting>,
    /// Tokens this worker has verified (its own RefCell: requests update it while reading the rest).
    pub(crate) cache: RefCell<TokenCache>,
    /// Counters not yet reported to Envoy.
    pub(crate) metrics: RefCell<Metrics>,
}

impl State {
    /// Installs a new configuration and its providers' (not yet synced) documents.
    pub(crate) fn configure(&mut self, config: Config, vm_id: u64, documents: Documents) {
        self.vm_id = vm_id;
        self.documents = documents;
        self.cache = RefCell::new(TokenCache::new(config.token_cache));
        self.config = Some(Rc::new(config));
    }
}

impl Keys for State {
    fn state(&self, provider: &str) -> KeyState<'_> {
        let local = self
            .config
            .as_ref()
            .and_then(|c| c.providers.get(provider))
            .and_then(|p| p.local_jwks());
        match (local, self.documents.jwks.get(provider)) {
            (Some(jwks), _) => KeyState::Ready(jwks),
            (None, Some(keys)) => keys.view.state(),
            (None, None) => KeyState::Unavailable,
        }
    }

    fn revocations(&self, provider: &str) -> FeedState<'_> {
        self.documents
            .revocations
            .get(provider)
            .map_or(FeedState::Unavailable, |f| f.view.state())
    }

    fn may_refetch(&self, provider: &str, _now: u64) -> bool {
        // Milliseconds from the host, not `now`: whole seconds would put a fetch forced a few
        // ms ago "in the future", and the tokens right behind the first one would be refused.
        let now_ms = host::now_ms();
        self.documents.jwks.get(provider).is_some_and(|k| {
            // Read fresh: another VM may have forced or finished a fetch since our last tick.
            k.view.may_refetch(&k.endpoint.schedule(), now_ms)
        })
    }
}
