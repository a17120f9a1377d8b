//! What one worker VM knows: the configuration, each provider's keys, and the requests waiting for them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use verifier_core::{Config, JwksRefresh, KeySource, KeyState, Keys, TokenCache};

/// A request paused until its provider's keys arrive.
#[derive(Debug, Clone)]
pub(crate) struct Waiting {
    /// The HTTP context to resume.
    pub(crate) context_id: u32,
    /// The provider whose keys it needs.
    pub(crate) provider: String,
    /// When to give up and answer 503, in milliseconds since the epoch.
    pub(crate) deadline_ms: u64,
}

/// State shared by the root context and the HTTP contexts of one VM (single-threaded).
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The loaded configuration; `None` until `on_configure` succeeds.
    pub(crate) config: Option<Rc<Config>>,
    /// Fetch schedule and keys of each remote provider.
    pub(crate) remotes: BTreeMap<String, JwksRefresh>,
    /// Outstanding JWKS calls: token id → provider.
    pub(crate) calls: BTreeMap<u32, String>,
    /// Requests waiting for keys.
    pub(crate) waiting: Vec<Waiting>,
    /// Tokens this worker has verified (its own RefCell: requests update it while reading the rest).
    pub(crate) cache: RefCell<TokenCache>,
}

impl State {
    /// Installs a new configuration and resets the fetch schedule.
    pub(crate) fn configure(&mut self, config: Config) {
        self.remotes = config
            .remote_providers()
            .map(|(name, remote)| {
                let refresh = JwksRefresh::new(remote.refresh_seconds)
                    .with_refetch_cooldown(remote.refetch_cooldown_seconds);
                (name.to_owned(), refresh)
            })
            .collect();
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
            .and_then(|p| match &p.keys {
                KeySource::Local(jwks) => Some(jwks),
                KeySource::Remote(_) => None,
            });
        match (local, self.remotes.get(provider)) {
            (Some(jwks), _) => KeyState::Ready(jwks),
            (None, Some(refresh)) => refresh.state(),
            (None, None) => KeyState::Unavailable,
        }
    }

    fn may_refetch(&self, provider: &str, now: u64) -> bool {
        self.remotes
            .get(provider)
            .is_some_and(|r| r.may_refetch(now.saturating_mul(1000)))
    }
}
