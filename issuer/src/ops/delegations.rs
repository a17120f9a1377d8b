//! The live delegations: every token minted by token exchange that is still in force, read
//! back from the trail's `token.exchanged` records (which carry everything a token says about
//! its chain) and checked against the revocations as gateways check them. What the admin UI
//! draws its delegation tree from (`GET /admin/delegations`).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::clients::MAX_TTL_SECS;
use crate::clock::UnixTime;
use crate::store::{Store, StoreError};

/// Most tokens listed; past this the answer says it is cut (`truncated`), newest kept.
pub const MAX_LIVE: u32 = 10_000;

/// One exchanged token, as its exchange record describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveToken {
    /// Its `jti`.
    pub jti: String,
    /// The `jti` of the token it was exchanged from.
    pub parent: String,
    /// That token's `exp` (what revoking it needs, when it is a root no record lists).
    pub parent_exp: UnixTime,
    /// The principal.
    pub sub: String,
    /// What the principal is.
    pub sub_profile: String,
    /// The agent holding it.
    pub client_id: String,
    /// Every agent of its chain, outermost (the holder) first.
    pub actors: Vec<String>,
    /// The tokens it descends from, nearest (the parent) first.
    pub ancestors: Vec<String>,
    /// Its scopes, space separated.
    pub scope: String,
    /// Its audience.
    pub aud: String,
    /// When it was issued.
    pub iat: UnixTime,
    /// When it expires.
    pub exp: UnixTime,
}

/// The live delegations at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delegations {
    /// The time they were read at.
    pub now: UnixTime,
    /// Oldest first, so a parent comes before its children.
    pub tokens: Vec<LiveToken>,
    /// More than [`MAX_LIVE`] exchange records were in the window: the oldest were left out.
    pub truncated: bool,
}

/// Every exchanged token that has not expired at `now` and is not revoked, directly, through a
/// token it descends from, or through its principal or an agent of its chain.
pub async fn live(store: &Store, now: UnixTime) -> Result<Delegations, StoreError> {
    // No token lives longer than a client may have it: older records are all expired.
    let since_ms = now.saturating_sub(MAX_TTL_SECS).saturating_mul(1000);
    let mut records = store
        .exchanges_since(i64::try_from(since_ms).unwrap_or(i64::MAX), MAX_LIVE + 1)
        .await?;
    let truncated = records.len() > MAX_LIVE as usize;
    records.truncate(MAX_LIVE as usize);
    let (revoked_tokens, revoked_clients) = store.revocations(now).await?;
    let tokens: HashSet<String> = revoked_tokens.into_iter().map(|t| t.jti).collect();
    let clients: HashMap<String, UnixTime> = revoked_clients
        .into_iter()
        .map(|c| (c.client_id, c.revoked_before))
        .collect();
    let revoked = |token: &LiveToken| {
        let lineage = std::iter::once(&token.jti).chain(&token.ancestors);
        let named = [&token.client_id, &token.sub]
            .into_iter()
            .chain(&token.actors);
        lineage.into_iter().any(|jti| tokens.contains(jti))
            || named.into_iter().any(|client| {
                clients
                    .get(client)
                    .is_some_and(|before| token.iat < *before)
            })
    };
    let live: Vec<LiveToken> = records
        .iter()
        .rev()
        // A record too large to keep its detail (a huge scope) cannot be shown; nothing else
        // fails to read.
        .filter_map(|record| serde_json::from_str::<LiveToken>(&record.detail).ok())
        .filter(|token| token.exp > now && !revoked(token))
        .collect();
    Ok(Delegations {
        now,
        tokens: live,
        truncated,
    })
}
