//! Revocation: of one token (`POST /oauth/revoke` by the client holding it, or an operator
//! naming its `jti`), of every token of a client, and the feed that carries both to gateways.
//!
//! Revocation cascades without a list of descendants: a token minted by token exchange names
//! the tokens it descends from and every agent of its chain, so revoking any of them revokes
//! it, here ([`revoked`]) and at every gateway (which reads the same feed the same way).

use serde::Serialize;
use serde_json::json;

use super::named_client::{stored, target};
use super::{Action, Caller, Ctx, OpError};
use crate::access_token::{self, ValidToken};
use crate::clients::{Client, ClientId, MAX_TTL_SECS};
use crate::clock::UnixTime;
use crate::config::IssuerUrl;
use crate::keys::Jwks;
use crate::store::{CLIENT_RECHECK, RevokedClient, RevokedToken, Store, StoreError};

/// Longest `jti` accepted for revocation; the issuer's own are 22 characters.
const MAX_JTI_LEN: usize = 256;

/// Added to a client's token lifetime when a whole-client revocation may be forgotten: the
/// gateways' clock skew allowance.
const CLIENT_REVOCATION_SLACK_SECS: u64 = 60;

/// A client all of whose tokens issued before `revoked_before` are revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientRevoked {
    /// The client.
    pub client_id: String,
    /// Every token of the client issued before this time (`iat` < it) is revoked.
    pub revoked_before: UnixTime,
}

/// Revokes the token `jti`, which expires at `exp` (and names `client_id`, when known).
///
/// Revoking twice is no error (RFC 7009 §2.2). Expired revocations are purged on the way, so
/// the table stays as small as the live token set.
pub async fn revoke_token(
    ctx: Ctx<'_>,
    caller: &Caller,
    jti: &str,
    exp: UnixTime,
    client_id: Option<&str>,
) -> Result<(), OpError> {
    let result = async {
        if !valid_jti(jti) {
            return Err(OpError::Invalid(format!(
                "jti must be 1 to {MAX_JTI_LEN} printable ASCII characters"
            )));
        }
        // No token of ours lives longer than the longest TTL; a later `exp` is a mistake, and
        // would keep the entry in the feed for no token.
        let latest = ctx
            .now
            .saturating_add(MAX_TTL_SECS)
            .saturating_add(CLIENT_REVOCATION_SLACK_SECS);
        if exp > latest {
            return Err(OpError::Invalid(format!(
                "exp is more than {MAX_TTL_SECS} seconds away: no token lives that long"
            )));
        }
        let client_id = match client_id {
            Some(id) => ClientId::parse(id)
                .map_err(|err| OpError::Invalid(err.to_string()))?
                .as_str()
                .to_owned(),
            // The column is required; an empty id means "not given by the operator".
            None => String::new(),
        };
        ctx.store
            .revoke_token(jti, &client_id, exp, ctx.now)
            .await?;
        Ok(())
    }
    .await;
    let target = if valid_jti(jti) { jti } else { "(invalid jti)" };
    // The revocation stands even when its record fails; a client retrying finds nothing new to
    // revoke and writes the missing record.
    ctx.settle(
        caller,
        Action::TOKEN_REVOKED,
        target,
        json!({ "exp": exp }),
        result,
    )
    .await?;
    // Piggybacks on a client's revocations (rare) so the table stays as small as the live token
    // set; an operator's revocation is answered once it and its record stand.
    if matches!(caller, Caller::Client { .. }) {
        ctx.store.purge_expired_revocations(ctx.now).await?;
    }
    Ok(())
}

/// Revokes `token`, presented by `client` from `source`, if it is ours, still valid and was
/// issued to that client (RFC 7009 §2.1).
///
/// A token that is invalid, expired or unknown is no error: there is nothing left to revoke.
/// A client asking to revoke another client's token is refused and, unlike its other refusals,
/// recorded: it holds a token that is not its own.
pub async fn revoke_presented(
    ctx: Ctx<'_>,
    issuer: &IssuerUrl,
    client: &Client,
    source: String,
    token: &str,
) -> Result<(), OpError> {
    let keys = Jwks::load(ctx.store).await?;
    let Some(valid) = access_token::validate(token, &keys, issuer, ctx.now) else {
        return Ok(());
    };
    let caller = Caller::Client {
        id: client.id.as_str().to_owned(),
        source,
    };
    if valid.client_id != client.id.as_str() {
        let refused = OpError::NotYours;
        let detail = caller.refusal(json!({}), &refused);
        let recorded = ctx
            .record(
                &caller,
                Action::TOKEN_REVOKED,
                &valid.jti,
                crate::audit::Outcome::Failure,
                detail,
            )
            .await;
        // A refusal changes nothing, so failing to record it does not change the answer.
        if let Err(err) = recorded {
            tracing::error!(client_id = %client.id, error = %err, code = err.code(), "cannot audit a refused revocation");
        }
        return Err(refused);
    }
    revoke_token(ctx, &caller, &valid.jti, valid.exp, Some(&valid.client_id)).await?;
    tracing::info!(client_id = %client.id, jti = %valid.jti, "revoked access token");
    Ok(())
}

/// Revokes every token the client `id` holds: all issued up to and including this second.
pub async fn revoke_client(
    ctx: Ctx<'_>,
    caller: &Caller,
    id: &str,
) -> Result<ClientRevoked, OpError> {
    let result = revoke_whole_client(ctx, id).await;
    let detail = match &result {
        Ok(done) => json!({ "revoked_before": done.revoked_before }),
        Err(_) => json!({}),
    };
    ctx.settle(caller, Action::CLIENT_REVOKED, &target(id), detail, result)
        .await
}

/// Revokes every token of the client `id` (and so, at gateways and here, every token in whose
/// delegation chain it acts), without a record of its own: the caller's operation records it.
pub(super) async fn revoke_whole_client(ctx: Ctx<'_>, id: &str) -> Result<ClientRevoked, OpError> {
    let (id, record) = stored(ctx.store, id).await?;
    // `iat` has whole seconds: a token issued earlier in this very second must be caught too;
    // and another replica may accept the client's cached record for up to `CLIENT_RECHECK`
    // after a disable, so tokens it issues meanwhile are covered as well.
    let revoked_before = ctx
        .now
        .saturating_add(1)
        .saturating_add(CLIENT_RECHECK.as_secs());
    // Every token it covers has expired by then (plus the gateways' skew), so the entry can go.
    let expires_at = revoked_before
        .saturating_add(record.ttl_secs)
        .saturating_add(CLIENT_REVOCATION_SLACK_SECS);
    ctx.store
        .revoke_client(id.as_str(), revoked_before, expires_at)
        .await?;
    Ok(ClientRevoked {
        client_id: id.as_str().to_owned(),
        revoked_before,
    })
}

/// Why one of our tokens is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// Its own `jti` is.
    Token,
    /// A token it was exchanged from is (that token's `jti`).
    Ancestor(String),
    /// Every token of this client issued before the token was, is: its own client, or for a
    /// delegated token its principal or an agent of its chain.
    Client(String),
}

/// Whether `token` is revoked, directly, through a token it was exchanged from, or through a
/// client it names; and why. Two queries, whatever the length of its chain.
pub async fn revoked(store: &Store, token: &ValidToken) -> Result<Option<Revoked>, StoreError> {
    if let Some(jti) = store.first_revoked_token(&token.lineage()).await? {
        return Ok(Some(if jti == token.jti {
            Revoked::Token
        } else {
            Revoked::Ancestor(jti)
        }));
    }
    let client = store
        .first_revoked_client(&token.revocable_by(), token.iat)
        .await?;
    Ok(client.map(Revoked::Client))
}

fn valid_jti(jti: &str) -> bool {
    !jti.is_empty() && jti.len() <= MAX_JTI_LEN && jti.bytes().all(|b| (0x21..=0x7E).contains(&b))
}

/// The revocation feed (`GET /oauth/revocations`, consumed by the filter's `revocations`
/// provider member, and mirrored on the admin port).
#[derive(Debug, Serialize)]
pub struct Feed {
    iss: String,
    generated_at: UnixTime,
    tokens: Vec<RevokedToken>,
    clients: Vec<RevokedClient>,
}

/// Every revocation in force at `now`.
pub async fn feed(store: &Store, issuer: &IssuerUrl, now: UnixTime) -> Result<Feed, StoreError> {
    let (tokens, clients) = store.revocations(now).await?;
    Ok(Feed {
        iss: issuer.as_str().to_owned(),
        generated_at: now,
        tokens,
        clients,
    })
}
