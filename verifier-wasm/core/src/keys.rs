//! What the host holds for each provider: its keys and its revocation feed, as the decision
//! asks for them.

use crate::jwks::Jwks;
use crate::revocation::Revocations;

/// The state of a provider's keys, as the host knows it.
#[derive(Debug, Clone, Copy)]
pub enum KeyState<'a> {
    /// Keys are available.
    Ready(&'a Jwks),
    /// No keys yet, and a fetch is under way: the request may wait.
    Pending,
    /// No keys, and none are coming soon: refuse with 503.
    Unavailable,
}

/// The state of a provider's revocation feed, as the host knows it.
#[derive(Debug, Clone, Copy)]
pub enum FeedState<'a> {
    /// A feed is available.
    Ready(&'a Revocations),
    /// No feed yet, and a fetch is under way: the request may wait.
    Pending,
    /// No usable feed, and none is coming soon: refuse with 503.
    Unavailable,
}

/// Gives the decision access to each provider's current keys and revocation feed.
pub trait Keys {
    /// The key state of the named provider.
    fn state(&self, provider: &str) -> KeyState<'_>;

    /// The revocation feed of the named provider; asked only for providers configured with
    /// `revocations`. Hosts that fetch no feeds keep the default, and such providers fail closed.
    fn revocations(&self, provider: &str) -> FeedState<'_> {
        let _ = provider;
        FeedState::Unavailable
    }

    /// Whether a token naming a `kid` the provider's keys lack may wait for a refetch at `now`
    /// (Unix seconds). Hosts that cannot refetch say no, and such a token is refused at once.
    fn may_refetch(&self, provider: &str, now: u64) -> bool {
        let _ = (provider, now);
        false
    }
}
