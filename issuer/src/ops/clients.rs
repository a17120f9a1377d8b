//! Client operations: registration (`issuer client create`, `POST /admin/clients`), disabling
//! a client and replacing its secret.
//!
//! Disabling an agent also revokes every token it holds and every token in whose delegation
//! chain it appears (a whole-client revocation, as `revoke_client` makes, which gateways check
//! against every actor of a chain): an agent that may no longer act must not go on acting
//! through tokens already exchanged. A disabled service keeps its tokens until they expire, as
//! before agents existed (the admin UI says so); revoke them explicitly if need be.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::named_client::{stored, target};
use super::revocations::revoke_whole_client;
use super::{Action, Caller, Ctx, OpError};
use crate::clients::{
    self, Audience, Client, ClientId, ClientKind, ClientSecret, NewClient, SecretHasher, Ttl,
};
use crate::scope::Scope;

/// Audience of clients registered without one.
pub const DEFAULT_AUDIENCE: &str = "quantjourney";

/// Token lifetime of clients registered without one, in seconds.
pub const DEFAULT_TTL_SECS: u64 = 300;

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A secret generated here, shown once.
    #[default]
    ClientSecret,
    /// A JWT assertion signed with one of the client's registered keys (RFC 7523).
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecret => "client_secret",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// A registration as asked for. Its fields are checked by [`register`], so a malformed one is
/// refused, and recorded, like any other refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The identifier.
    pub client_id: String,
    /// A service or an agent.
    pub kind: ClientKind,
    /// The scopes its tokens may carry, space separated.
    pub scope: String,
    /// The `aud` of its tokens; [`DEFAULT_AUDIENCE`] when `None`.
    pub audience: Option<String>,
    /// The lifetime of its tokens in seconds; [`DEFAULT_TTL_SECS`] when `None`.
    pub ttl: Option<u64>,
    /// How it will authenticate.
    pub auth_method: AuthMethod,
    /// The public JWKS document of a `private_key_jwt` client.
    pub jwks: Option<String>,
}

/// A client just registered, with its secret: the only time the secret exists outside a hash.
#[derive(Debug)]
pub struct Registered {
    /// The client as stored.
    pub client: Client,
    /// How it authenticates.
    pub auth_method: AuthMethod,
    /// Its secret (`client_secret` clients only).
    pub secret: Option<ClientSecret>,
}

fn invalid(err: impl std::fmt::Display) -> OpError {
    OpError::Invalid(err.to_string())
}

/// Registers a client: with a secret, generated here and returned once, or with the public
/// keys it signs `private_key_jwt` assertions with. An existing id is refused, never replaced.
pub async fn register(
    ctx: Ctx<'_>,
    hasher: &SecretHasher,
    caller: &Caller,
    request: Registration,
) -> Result<Registered, OpError> {
    let target = target(&request.client_id);
    let detail = json!({
        "kind": request.kind.as_str(),
        "auth_method": request.auth_method.as_str(),
        "scope": request.scope,
        "audience": request.audience,
        "ttl": request.ttl,
    });
    let result = register_checked(ctx, hasher, request).await;
    ctx.settle(caller, Action::CLIENT_CREATED, &target, detail, result)
        .await
}

async fn register_checked(
    ctx: Ctx<'_>,
    hasher: &SecretHasher,
    request: Registration,
) -> Result<Registered, OpError> {
    let new = NewClient {
        id: ClientId::parse(&request.client_id).map_err(invalid)?,
        kind: request.kind,
        scope: Scope::parse(&request.scope)
            .map_err(|err| invalid(format!("invalid scope: {err}")))?,
        audience: Audience::parse(request.audience.as_deref().unwrap_or(DEFAULT_AUDIENCE))
            .map_err(invalid)?,
        ttl: Ttl::try_from(request.ttl.unwrap_or(DEFAULT_TTL_SECS)).map_err(invalid)?,
    };
    let (client, secret) = match (request.auth_method, request.jwks) {
        (AuthMethod::ClientSecret, None) => {
            let (client, secret) = clients::register(ctx.store, hasher, new, ctx.now).await?;
            (client, Some(secret))
        }
        (AuthMethod::ClientSecret, Some(_)) => {
            return Err(invalid(
                "jwks is only for private_key_jwt clients; set auth_method",
            ));
        }
        (AuthMethod::PrivateKeyJwt, None) => {
            return Err(invalid("a private_key_jwt client needs jwks"));
        }
        // `register_with_jwks` checks the keys with the parser authentication will use: it
        // refuses private members, weak or unusable keys, and RSA keys without a pinned
        // algorithm.
        (AuthMethod::PrivateKeyJwt, Some(jwks)) => (
            clients::register_with_jwks(ctx.store, new, &jwks, ctx.now).await?,
            None,
        ),
    };
    Ok(Registered {
        client,
        auth_method: request.auth_method,
        secret,
    })
}

/// Disables the client `id`: it can no longer authenticate. An agent's tokens, and every token
/// in whose chain it acts, are revoked too; the record says until when (`revoked_before`).
pub async fn disable(ctx: Ctx<'_>, caller: &Caller, id: &str) -> Result<ClientId, OpError> {
    let result = async {
        let (id, record) = stored(ctx.store, id).await?;
        if !ctx.store.disable_client(id.as_str(), ctx.now).await? {
            return Err(OpError::NotFound);
        }
        let revoked = match ClientKind::parse(&record.kind) {
            Ok(ClientKind::Agent) => Some(revoke_whole_client(ctx, id.as_str()).await?),
            _ => None,
        };
        Ok((id, revoked))
    }
    .await;
    let detail = match &result {
        Ok((_, Some(revoked))) => json!({ "revoked_before": revoked.revoked_before }),
        _ => json!({}),
    };
    let (id, _) = ctx
        .settle(caller, Action::CLIENT_DISABLED, &target(id), detail, result)
        .await?;
    Ok(id)
}

/// Gives the client `id` a new secret, returned once; the old one stops working.
pub async fn rotate_secret(
    ctx: Ctx<'_>,
    hasher: &SecretHasher,
    caller: &Caller,
    id: &str,
) -> Result<(ClientId, ClientSecret), OpError> {
    let result = async {
        let (id, record) = stored(ctx.store, id).await?;
        if record.auth_method != AuthMethod::ClientSecret.as_str() {
            return Err(OpError::WrongAuthMethod);
        }
        let secret = ClientSecret::generate()?;
        let hash = hasher.hash(secret.expose());
        if !ctx.store.set_client_secret(id.as_str(), &hash).await? {
            return Err(OpError::NotFound);
        }
        Ok((id, secret))
    }
    .await;
    ctx.settle(
        caller,
        Action::SECRET_ROTATED,
        &target(id),
        json!({}),
        result,
    )
    .await
}
