//! Token exchange (RFC 8693): an agent trades a token of another principal (the subject token)
//! for one with which it acts for that principal, and which says so.
//!
//! The minted token keeps the subject's `sub` and `sub_profile`; `client_id` is the agent; `act`
//! is `{"sub": <agent>, "sub_profile": "ai_agent", "act": <the subject token's act>}`, so a
//! chain is never cut; [`ANCESTORS_CLAIM`](verifier_core::ANCESTORS_CLAIM) is the subject's `jti`
//! followed by its own ancestors, so revoking any token of the lineage revokes the new one at
//! every gateway. No refresh token is ever issued.
//!
//! The checks run in this order, and the first that fails refuses the exchange; every refusal
//! is recorded (action `token.exchanged`, outcome `failure`, with the error class, the stable
//! code and the reason) and no token is minted:
//! 1. the client is an agent (`unauthorized_client`) and the request is well formed
//!    (`invalid_request`; `resource`: `invalid_target`);
//! 2. the subject token is a valid, unexpired token of ours, not revoked, nor any token it was
//!    exchanged from, nor its client, principal or any agent of its chain (`invalid_request`,
//!    as RFC 8693 §2.2.2 asks for an unacceptable subject token);
//! 3. its `may_act`, if any, names the agent; the agent is neither its subject nor already in
//!    its chain (a loop); the new chain is no deeper than the server's limit (`invalid_grant`);
//! 4. the audience is the agent's own (`invalid_target`);
//! 5. every granted scope is covered by one of the subject token's and one registered for the
//!    agent (`invalid_scope`; nothing is dropped silently);
//! 6. an `actor_token`, if given, is a valid token of the agent's own, itself undelegated
//!    (`invalid_request`).
//!
//! The token then expires at the earlier of the agent's lifetime and the subject token's `exp`.

use serde::Serialize;
use serde_json::{Value, json};
use verifier_core::limits::MAX_TOKEN_BYTES;

use super::revocations::{self, Revoked};
use super::{Action, Caller, Ctx, OpError};
use crate::access_token::{self, Exchanged, ValidToken};
use crate::audit::Outcome;
use crate::clients::{Client, ClientKind};
use crate::clock::UnixTime;
use crate::config::IssuerUrl;
use crate::ops::mint::Minter;
use crate::random::random_base64url;
use crate::scope::{Scope, ScopeError};

/// The `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The one token type accepted and issued (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The audit target of a refusal made before a subject token was accepted as ours.
const NO_SUBJECT: &str = "(subject_token not accepted)";

/// A token exchange request's own parameters (RFC 8693 §2.1), as the form gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeRequest {
    /// `subject_token`: the token of the principal the agent will act for.
    pub subject_token: Option<String>,
    /// `subject_token_type`: must be [`ACCESS_TOKEN_TYPE`].
    pub subject_token_type: Option<String>,
    /// `actor_token`: a token of the agent's own, if it presents one.
    pub actor_token: Option<String>,
    /// `actor_token_type`: [`ACCESS_TOKEN_TYPE`], exactly when `actor_token` is given.
    pub actor_token_type: Option<String>,
    /// `scope`: what to grant; all the subject token holds when absent.
    pub scope: Option<String>,
    /// `audience`: the agent's registered audience, its default.
    pub audience: Option<String>,
    /// `resource`: not supported (refused, never ignored).
    pub resource: Option<String>,
    /// `requested_token_type`: [`ACCESS_TOKEN_TYPE`] when given.
    pub requested_token_type: Option<String>,
}

/// The OAuth error a refusal is answered with (RFC 6749 §5.2, RFC 8693 §2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// `invalid_request`: the request, the subject token or the actor token is unacceptable.
    InvalidRequest,
    /// `invalid_grant`: the delegation itself is refused (may_act, loop, depth).
    InvalidGrant,
    /// `invalid_scope`.
    InvalidScope,
    /// `invalid_target`: the audience or resource.
    InvalidTarget,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
}

impl ErrorClass {
    /// The `error` code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnauthorizedClient => "unauthorized_client",
        }
    }
}

/// Why a token exchange was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The client is a service: only agents act for others.
    #[error("only clients registered as agents may exchange tokens; this one is a service")]
    NotAnAgent,
    /// No `subject_token`.
    #[error("subject_token is missing")]
    SubjectTokenMissing,
    /// `subject_token_type` is missing or not an access token.
    #[error("subject_token_type must be {ACCESS_TOKEN_TYPE}")]
    SubjectTokenType,
    /// `actor_token_type` without `actor_token`, or the reverse, or not an access token.
    #[error("actor_token_type must be {ACCESS_TOKEN_TYPE}, given with actor_token and only then")]
    ActorTokenType,
    /// `requested_token_type` is not an access token.
    #[error("requested_token_type must be {ACCESS_TOKEN_TYPE}")]
    RequestedTokenType,
    /// `resource` was given.
    #[error("resource is not supported; name the audience instead")]
    ResourceUnsupported,
    /// The subject token is not a valid, unexpired access token of this issuer.
    #[error("the subject token is not a valid, unexpired access token of this issuer")]
    SubjectInvalid,
    /// The subject token itself is revoked.
    #[error("the subject token is revoked")]
    SubjectRevoked,
    /// Every token of the subject token's client is revoked.
    #[error("the subject token's client {0} is revoked")]
    SubjectClientRevoked(String),
    /// A token the subject token was exchanged from is revoked.
    #[error("token {0}, which the subject token was exchanged from, is revoked")]
    AncestorRevoked(String),
    /// The principal or an agent of the subject token's chain is revoked as a client.
    #[error("{0}, the principal or an agent of the subject token's chain, is revoked")]
    ChainClientRevoked(String),
    /// The subject token's `may_act` names someone else.
    #[error("the subject token's may_act does not name this agent")]
    MayActMismatch,
    /// The agent is the subject token's principal or already acts in its chain.
    #[error("{0} is the subject token's principal or already acts in its chain (a loop)")]
    Loop(String),
    /// The new chain would be longer than `--max-delegation-depth`.
    #[error("the chain would be {depth} agents deep; at most {max} are allowed")]
    TooDeep {
        /// The new chain's depth.
        depth: usize,
        /// The server's limit.
        max: usize,
    },
    /// The requested audience is not the agent's registered one.
    #[error("the requested audience is not this agent's registered audience")]
    AudienceNotAllowed,
    /// The requested scope is malformed.
    #[error("scope is malformed: {0}")]
    ScopeInvalid(ScopeError),
    /// A requested scope-token is not covered by the subject token's scopes.
    #[error("scope {0} is not covered by the subject token's scopes")]
    ScopeExceedsSubject(String),
    /// A requested scope-token is not covered by the agent's registered scopes.
    #[error("scope {0} is not covered by the agent's registered scopes")]
    ScopeExceedsAgent(String),
    /// The actor token is not a valid, undelegated token of the agent's own.
    #[error("the actor token is not a valid, undelegated token of this agent's own")]
    ActorTokenInvalid,
    /// The token would be larger than gateways accept.
    #[error("the exchanged token would exceed {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
}

impl ExchangeError {
    /// The stable machine code, e.g. `delegation_loop`. Never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnAgent => "not_an_agent",
            Self::SubjectTokenMissing => "subject_token_missing",
            Self::SubjectTokenType => "subject_token_type_unsupported",
            Self::ActorTokenType => "actor_token_type_invalid",
            Self::RequestedTokenType => "requested_token_type_unsupported",
            Self::ResourceUnsupported => "resource_unsupported",
            Self::SubjectInvalid => "subject_token_invalid",
            Self::SubjectRevoked => "subject_token_revoked",
            Self::SubjectClientRevoked(_) => "subject_client_revoked",
            Self::AncestorRevoked(_) => "ancestor_revoked",
            Self::ChainClientRevoked(_) => "chain_client_revoked",
            Self::MayActMismatch => "may_act_mismatch",
            Self::Loop(_) => "delegation_loop",
            Self::TooDeep { .. } => "delegation_too_deep",
            Self::AudienceNotAllowed => "audience_not_allowed",
            Self::ScopeInvalid(_) => "scope_invalid",
            Self::ScopeExceedsSubject(_) => "scope_exceeds_subject",
            Self::ScopeExceedsAgent(_) => "scope_exceeds_agent",
            Self::ActorTokenInvalid => "actor_token_invalid",
            Self::TooLarge => "token_too_large",
        }
    }

    /// The OAuth error it is answered with.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::NotAnAgent => ErrorClass::UnauthorizedClient,
            Self::SubjectTokenMissing
            | Self::SubjectTokenType
            | Self::ActorTokenType
            | Self::RequestedTokenType
            | Self::SubjectInvalid
            | Self::SubjectRevoked
            | Self::SubjectClientRevoked(_)
            | Self::AncestorRevoked(_)
            | Self::ChainClientRevoked(_)
            | Self::ActorTokenInvalid => ErrorClass::InvalidRequest,
            Self::MayActMismatch | Self::Loop(_) | Self::TooDeep { .. } | Self::TooLarge => {
                ErrorClass::InvalidGrant
            }
            Self::ResourceUnsupported | Self::AudienceNotAllowed => ErrorClass::InvalidTarget,
            Self::ScopeInvalid(_) | Self::ScopeExceedsSubject(_) | Self::ScopeExceedsAgent(_) => {
                ErrorClass::InvalidScope
            }
        }
    }

    /// The `error_description`: fixed text, never an echo of the request. Every refusal of the
    /// subject token reads alike; the audit record says which it was.
    pub fn description(&self) -> &'static str {
        match self {
            Self::NotAnAgent => "only clients registered as agents may use token exchange",
            Self::SubjectTokenMissing => "subject_token is missing",
            Self::SubjectTokenType => {
                "subject_token_type must be urn:ietf:params:oauth:token-type:access_token"
            }
            Self::ActorTokenType => {
                "actor_token_type must be urn:ietf:params:oauth:token-type:access_token, with actor_token only"
            }
            Self::RequestedTokenType => "only access tokens are issued",
            Self::ResourceUnsupported => "resource is not supported; use audience",
            Self::SubjectInvalid
            | Self::SubjectRevoked
            | Self::SubjectClientRevoked(_)
            | Self::AncestorRevoked(_)
            | Self::ChainClientRevoked(_) => "subject_token is invalid",
            Self::MayActMismatch => "the subject token may not be exchanged by this client",
            Self::Loop(_) => {
                "this client is the subject token's principal or already acts in its chain"
            }
            Self::TooDeep { .. } => "the delegation chain would be too deep",
            Self::AudienceNotAllowed => "audience is not allowed for this client",
            Self::ScopeInvalid(_) => "scope is malformed",
            Self::ScopeExceedsSubject(_) => "requested scope exceeds the subject token's",
            Self::ScopeExceedsAgent(_) => "requested scope is not allowed for this client",
            Self::ActorTokenInvalid => "actor_token is invalid",
            Self::TooLarge => "the exchanged token would be too large",
        }
    }
}

/// The RFC 8693 §2.2.1 answer: never a refresh token.
#[derive(Debug, Serialize)]
pub struct ExchangeResponse {
    access_token: String,
    issued_token_type: &'static str,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
}

/// A token just exchanged and recorded.
#[derive(Debug)]
pub struct ExchangedToken {
    /// The answer to hand out.
    pub response: ExchangeResponse,
    /// Its `jti`.
    pub jti: String,
}

/// Exchanges `request.subject_token` for a token with which `agent`, authenticated from
/// `source`, acts for the subject token's principal, in chains of at most `max_depth` agents.
/// Refusals are recorded and come back as [`OpError::Exchange`].
pub async fn exchange(
    ctx: Ctx<'_>,
    minter: Minter<'_>,
    agent: &Client,
    source: String,
    request: &ExchangeRequest,
    max_depth: usize,
) -> Result<ExchangedToken, OpError> {
    let caller = Caller::Client {
        id: agent.id.as_str().to_owned(),
        source,
    };
    let subject = match read_subject(ctx, minter, agent, request).await {
        Ok(subject) => subject,
        Err(err) => return Err(refuse(ctx, &caller, None, err).await),
    };
    let grant = match decide(ctx, minter, agent, request, &subject, max_depth).await {
        Ok(grant) => grant,
        Err(err) => return Err(refuse(ctx, &caller, Some(&subject), err).await),
    };
    match mint(ctx, minter, &caller, agent, &subject, &grant).await {
        Err(err @ OpError::Exchange(_)) => Err(refuse(ctx, &caller, Some(&subject), err).await),
        minted => minted,
    }
}

/// Step 1 and the start of step 2: an agent, a well-formed request, and a subject token of ours.
async fn read_subject(
    ctx: Ctx<'_>,
    Minter { keyring, issuer }: Minter<'_>,
    agent: &Client,
    request: &ExchangeRequest,
) -> Result<ValidToken, OpError> {
    if agent.kind != ClientKind::Agent {
        return Err(ExchangeError::NotAnAgent.into());
    }
    let token = request
        .subject_token
        .as_deref()
        .filter(|token| !token.is_empty())
        .ok_or(ExchangeError::SubjectTokenMissing)?;
    if request.subject_token_type.as_deref() != Some(ACCESS_TOKEN_TYPE) {
        return Err(ExchangeError::SubjectTokenType.into());
    }
    let actor_type_fits = match (&request.actor_token, request.actor_token_type.as_deref()) {
        (None, None) => true,
        (Some(_), Some(kind)) => kind == ACCESS_TOKEN_TYPE,
        _ => false,
    };
    if !actor_type_fits {
        return Err(ExchangeError::ActorTokenType.into());
    }
    if request
        .requested_token_type
        .as_deref()
        .is_some_and(|kind| kind != ACCESS_TOKEN_TYPE)
    {
        return Err(ExchangeError::RequestedTokenType.into());
    }
    if request.resource.is_some() {
        return Err(ExchangeError::ResourceUnsupported.into());
    }
    let keys = keyring.verifying_keys(ctx.store).await?;
    let subject = access_token::validate_with(token, &keys, issuer, ctx.now)
        .ok_or(ExchangeError::SubjectInvalid)?;
    Ok(subject)
}

/// The rest of step 2: the subject token, a token of ours, is still in force.
async fn check_revocation(ctx: Ctx<'_>, subject: &ValidToken) -> Result<(), OpError> {
    let refused = match revocations::revoked(ctx.store, subject).await? {
        None => return Ok(()),
        Some(Revoked::Token) => ExchangeError::SubjectRevoked,
        Some(Revoked::Ancestor(jti)) => ExchangeError::AncestorRevoked(jti),
        Some(Revoked::Client(id)) if id == subject.client_id => {
            ExchangeError::SubjectClientRevoked(id)
        }
        Some(Revoked::Client(id)) => ExchangeError::ChainClientRevoked(id),
    };
    Err(refused.into())
}

/// What the checks granted.
#[derive(Debug)]
struct Grant {
    sub_profile: String,
    aud: String,
    scope: Scope,
    exp: UnixTime,
}

/// The rest of step 2, then steps 3 to 6: whether this agent may act for the subject token's
/// principal, and with what. A refusal from here on is recorded against the subject token.
async fn decide(
    ctx: Ctx<'_>,
    minter: Minter<'_>,
    agent: &Client,
    request: &ExchangeRequest,
    subject: &ValidToken,
    max_depth: usize,
) -> Result<Grant, OpError> {
    check_revocation(ctx, subject).await?;
    let issuer = minter.issuer;
    let me = agent.id.as_str();
    if let Some(may_act) = &subject.may_act {
        if !names(may_act, me, issuer) {
            return Err(ExchangeError::MayActMismatch.into());
        }
    }
    let delegation = subject.delegation.as_ref();
    let in_chain = delegation.is_some_and(|d| d.actors.iter().any(|a| a.sub == me));
    if subject.sub == me || in_chain {
        return Err(ExchangeError::Loop(me.to_owned()).into());
    }
    // A subject chain that loops already (which we never mint) is refused all the same.
    if let Some(again) = delegation.and_then(|d| d.repeated(&subject.sub)) {
        return Err(ExchangeError::Loop(again.to_owned()).into());
    }
    let depth = delegation.map_or(0, |d| d.depth()) + 1;
    if depth > max_depth {
        return Err(ExchangeError::TooDeep {
            depth,
            max: max_depth,
        }
        .into());
    }
    let aud = agent.audience.as_str();
    if request
        .audience
        .as_deref()
        .is_some_and(|asked| asked != aud)
    {
        return Err(ExchangeError::AudienceNotAllowed.into());
    }
    // Our own token's scope always parses; one that does not is no token of ours.
    let held = Scope::parse(&subject.scope).map_err(|_| ExchangeError::SubjectInvalid)?;
    let scope = match request.scope.as_deref() {
        Some(asked) => Scope::parse(asked).map_err(ExchangeError::ScopeInvalid)?,
        None => held.clone(),
    };
    if let Some(token) = scope.first_not_covered_by(&held) {
        return Err(ExchangeError::ScopeExceedsSubject(token.to_owned()).into());
    }
    if let Some(token) = scope.first_not_covered_by(&agent.scope) {
        return Err(ExchangeError::ScopeExceedsAgent(token.to_owned()).into());
    }
    if let Some(actor) = &request.actor_token {
        check_actor_token(ctx, minter, me, actor).await?;
    }
    let sub_profile = match &subject.sub_profile {
        Some(profile) => profile.clone(),
        // Minted before tokens said what their subject is: the registration does.
        None => match ctx.store.client(&subject.sub).await? {
            Some(record) => ClientKind::parse(&record.kind)
                .unwrap_or_default()
                .profile()
                .to_owned(),
            None => ClientKind::Service.profile().to_owned(),
        },
    };
    Ok(Grant {
        sub_profile,
        aud: aud.to_owned(),
        scope,
        exp: ctx.now.saturating_add(agent.ttl.secs()).min(subject.exp),
    })
}

/// Whether a `may_act` claim (RFC 8693 §4.4) names `agent` of this issuer: an object whose
/// `sub` is the agent and whose `iss`, if any, is ours. Anything else names nobody.
fn names(may_act: &Value, agent: &str, issuer: &IssuerUrl) -> bool {
    let sub = may_act.get("sub").and_then(Value::as_str);
    let iss_ours = may_act
        .get("iss")
        .is_none_or(|iss| iss.as_str() == Some(issuer.as_str()));
    sub == Some(agent) && iss_ours
}

/// An actor token proves the agent is itself: one of its own tokens, not delegated, in force.
async fn check_actor_token(
    ctx: Ctx<'_>,
    Minter { keyring, issuer }: Minter<'_>,
    agent: &str,
    token: &str,
) -> Result<(), OpError> {
    let keys = keyring.verifying_keys(ctx.store).await?;
    let valid = access_token::validate_with(token, &keys, issuer, ctx.now)
        .filter(|t| t.client_id == agent && t.sub == agent && t.act.is_none())
        .ok_or(ExchangeError::ActorTokenInvalid)?;
    if revocations::revoked(ctx.store, &valid).await?.is_some() {
        return Err(ExchangeError::ActorTokenInvalid.into());
    }
    Ok(())
}

/// Signs the new token and records it; no token leaves without its record committed.
async fn mint(
    ctx: Ctx<'_>,
    minter: Minter<'_>,
    caller: &Caller,
    agent: &Client,
    subject: &ValidToken,
    grant: &Grant,
) -> Result<ExchangedToken, OpError> {
    let signer = minter.keyring.signer(ctx.store).await?;
    // 128 bits, as every jti of ours.
    let jti = random_base64url::<16>()?;
    let ancestors: Vec<String> = subject.lineage().into_iter().map(str::to_owned).collect();
    let token = Exchanged {
        sub: &subject.sub,
        sub_profile: &grant.sub_profile,
        agent: agent.id.as_str(),
        previous_act: subject.act.as_ref(),
        ancestors,
        aud: &grant.aud,
        scope: &grant.scope,
        iat: ctx.now,
        exp: grant.exp,
    };
    let claims = access_token::exchanged_claims(minter.issuer, &token, jti.clone());
    let access_token = signer.sign_access_token(claims)?;
    if access_token.len() > MAX_TOKEN_BYTES {
        return Err(ExchangeError::TooLarge.into());
    }
    let mut actors = vec![agent.id.as_str()];
    if let Some(delegation) = &subject.delegation {
        actors.extend(delegation.actors.iter().map(|a| a.sub.as_str()));
    }
    let detail = json!({
        "jti": jti,
        "sub": subject.sub,
        "sub_profile": grant.sub_profile,
        "client_id": agent.id.as_str(),
        "actors": actors,
        "parent": subject.jti,
        "parent_exp": subject.exp,
        "ancestors": token.ancestors,
        "scope": recorded_scope(&grant.scope.to_string()),
        "aud": grant.aud,
        "iat": ctx.now,
        "exp": grant.exp,
        "kid": signer.kid(),
    });
    let recorded = ctx
        .record(
            caller,
            Action::TOKEN_EXCHANGED,
            &jti,
            Outcome::Success,
            detail,
        )
        .await;
    if let Err(err) = recorded {
        tracing::error!(client_id = %agent.id, %jti, error = %err, code = err.code(), "token not exchanged: cannot audit it");
        return Err(err.into());
    }
    tracing::info!(client_id = %agent.id, sub = %subject.sub, parent = %subject.jti, %jti, depth = actors.len(), scope = %grant.scope, "exchanged access token");
    Ok(ExchangedToken {
        response: ExchangeResponse {
            access_token,
            issued_token_type: ACCESS_TOKEN_TYPE,
            token_type: "Bearer",
            expires_in: grant.exp.saturating_sub(ctx.now),
            scope: grant.scope.to_string(),
        },
        jti,
    })
}

/// Records a refusal and hands its error back. Anything but a refusal (the database failing) is
/// handed back unrecorded: nothing was decided.
async fn refuse(
    ctx: Ctx<'_>,
    caller: &Caller,
    subject: Option<&ValidToken>,
    err: OpError,
) -> OpError {
    let OpError::Exchange(refusal) = &err else {
        return err;
    };
    let mut detail = json!({
        "error": refusal.class().as_str(),
        "code": refusal.code(),
        "reason": refusal.to_string(),
    });
    if let Some(subject) = subject {
        detail["sub"] = subject.sub.clone().into();
        detail["subject_client_id"] = subject.client_id.clone().into();
    }
    let target = subject.map_or(NO_SUBJECT, |s| s.jti.as_str());
    tracing::info!(client = %caller.actor(), code = refusal.code(), reason = %refusal, "token exchange refused");
    let recorded = ctx
        .record(
            caller,
            Action::TOKEN_EXCHANGED,
            target,
            Outcome::Failure,
            detail,
        )
        .await;
    // A refusal changes nothing, so failing to record it does not change the answer.
    if let Err(audit) = recorded {
        tracing::error!(client = %caller.actor(), code = refusal.code(), error = %audit, "cannot audit a refused token exchange");
    }
    err
}

/// Longest scope text an exchange record keeps. A record's detail holds at most 4 KiB and is
/// replaced whole beyond that, so a huge (glob-covered) scope must not push the chain, which the
/// audit trail and the admin UI's delegation tree are read from, out of the record.
const MAX_RECORDED_SCOPE_BYTES: usize = 1024;

/// `scope` as the exchange record keeps it: whole, or cut at a scope-token boundary and marked.
fn recorded_scope(scope: &str) -> String {
    match scope.get(..MAX_RECORDED_SCOPE_BYTES) {
        Some(head) if scope.len() > MAX_RECORDED_SCOPE_BYTES => {
            let cut = head.rfind(' ').unwrap_or(0);
            format!(
                "{} … ({} bytes in all)",
                head.get(..cut).unwrap_or_default(),
                scope.len()
            )
        }
        _ => scope.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_scope_is_cut_in_the_record_at_a_token_boundary() {
        assert_eq!(recorded_scope("a b:c"), "a b:c");
        let huge = (0..400)
            .map(|i| format!("repo:{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let kept = recorded_scope(&huge);
        assert!(kept.len() < MAX_RECORDED_SCOPE_BYTES + 40, "{}", kept.len());
        assert!(
            kept.ends_with(&format!(" … ({} bytes in all)", huge.len())),
            "{kept}"
        );
        let head = kept.split(" … ").next().unwrap_or_default();
        assert!(huge.starts_with(head) && huge[head.len()..].starts_with(' '));
    }
}
