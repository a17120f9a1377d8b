//! Minting an access token: the one place a token is made, whoever asks for it (a client with
//! the client credentials grant, or an operator through `POST /admin/clients/{id}/token`).

use serde::Serialize;
use serde_json::json;

use super::named_client::{stored, target};
use super::{Action, Caller, Ctx, OpError};
use crate::access_token;
use crate::audit::Outcome;
use crate::clients::Client;
use crate::config::IssuerUrl;
use crate::keys::Keyring;
use crate::random::random_base64url;

/// What a token is signed with and says who issued it: the current key and our `iss`.
#[derive(Debug, Clone, Copy)]
pub struct Minter<'a> {
    /// Hands out the current signing key.
    pub keyring: &'a Keyring,
    /// The `iss` of every token.
    pub issuer: &'a IssuerUrl,
}

/// The RFC 6749 §5.1 answer carrying a new token.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
}

/// A token just minted and recorded.
#[derive(Debug)]
pub struct Minted {
    /// The answer to hand out.
    pub response: TokenResponse,
    /// Its `jti`.
    pub jti: String,
}

/// Mints `client` an access token as the client credentials grant does: the client's scope
/// narrowed by `requested`, its audience and lifetime, signed by the current key, and recorded
/// before it is handed out.
pub async fn mint(
    ctx: Ctx<'_>,
    minter: Minter<'_>,
    caller: &Caller,
    client: &Client,
    requested: Option<&str>,
) -> Result<Minted, OpError> {
    let scope = client.scope.narrow(requested)?;
    let signer = minter.keyring.signer(ctx.store).await?;
    // 128 bits: unguessable and collision-free for the life of the revocation table.
    let jti = random_base64url::<16>()?;
    let claims = access_token::claims(minter.issuer, client, &scope, jti.clone(), ctx.now);
    let exp = claims.expires_at.map(|at| at.as_secs());
    let access_token = signer.sign_access_token(claims)?;
    let mut detail = json!({
        "scope": scope.to_string(),
        "aud": client.audience.as_str(),
        "exp": exp,
        "kid": signer.kid(),
    });
    let target = match caller {
        Caller::Client { .. } => jti.clone(),
        // An admin action like the others (actor the credential, target the client), with
        // the jti in the detail: never the token itself.
        _ => {
            detail["jti"] = jti.clone().into();
            client.id.as_str().to_owned()
        }
    };
    // No token leaves without its record committed: if the trail cannot be written the
    // signed token is dropped and the caller gets 503 (and retries), never an unaudited token.
    let recorded = ctx
        .record(
            caller,
            Action::TOKEN_ISSUED,
            &target,
            Outcome::Success,
            detail,
        )
        .await;
    if let Err(err) = recorded {
        tracing::error!(client_id = %client.id, %jti, error = %err, code = err.code(), "token not issued: cannot audit it");
        return Err(err.into());
    }
    tracing::info!(client_id = %client.id, kid = %signer.kid(), %jti, scope = %scope, "issued access token");
    Ok(Minted {
        response: TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.ttl.secs(),
            scope: scope.to_string(),
        },
        jti,
    })
}

/// Mints a token for the client `id` on an operator's say-so, without its secret, exactly as
/// [`mint`] would for the client itself: for trying a gateway route, or the admin UI explaining
/// a decision. A refusal (unknown or disabled client, a scope it does not have) is recorded
/// too; the client comes back with the token.
pub async fn mint_for(
    ctx: Ctx<'_>,
    minter: Minter<'_>,
    caller: &Caller,
    id: &str,
    requested: Option<&str>,
) -> Result<(Client, Minted), OpError> {
    let result = async {
        let (_, record) = stored(ctx.store, id).await?;
        if record.disabled_at.is_some() {
            return Err(OpError::Disabled);
        }
        let client = Client::try_from(record)?;
        let minted = mint(ctx, minter, caller, &client, requested).await?;
        Ok((client, minted))
    }
    .await;
    match result {
        // `mint` recorded the token; nothing more can be recorded when the trail itself failed.
        Ok(_) | Err(OpError::Audit(_)) => result,
        Err(_) => {
            let detail = json!({ "scope": requested });
            ctx.settle(caller, Action::TOKEN_ISSUED, &target(id), detail, result)
                .await
        }
    }
}
