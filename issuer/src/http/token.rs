//! `POST /oauth/token`: the client credentials grant (RFC 6749 §4.4) minting RFC 9068 tokens.
//!
//! [`issue`] is the one place a token is minted; the admin API's
//! `POST /admin/clients/{id}/token` calls it too, so both give the same token.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{Authenticated, OAuthError, Peer, PostCredentials};
use crate::access_token;
use crate::audit::{AuditError, AuditEvent, Outcome};
use crate::clients::Client;
use crate::random::random_base64url;
use crate::scope::ScopeError;
use crate::state::AppState;

/// The only grant this issuer supports.
const CLIENT_CREDENTIALS: &str = "client_credentials";

/// The audit action of a token an operator had issued to a client (a client's own request is
/// `token.issued`).
pub(super) const ADMIN_ISSUED: &str = "admin.client.token_issued";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/oauth/token", post(token))
}

#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

impl PostCredentials for TokenForm {
    fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref()
    }

    fn client_assertion_type(&self) -> Option<&str> {
        self.client_assertion_type.as_deref()
    }

    fn client_assertion(&self) -> Option<&str> {
        self.client_assertion.as_deref()
    }
}

/// RFC 6749 §5.1 successful response.
#[derive(Debug, Serialize)]
pub(super) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
}

async fn token(
    State(state): State<AppState>,
    peer: Peer,
    Authenticated { client, form }: Authenticated<TokenForm>,
) -> axum::response::Result<Json<TokenResponse>> {
    // `ErrorResponse` carries both OAuth errors and the 503 of an unwritable audit trail.
    match form.grant_type.as_deref() {
        Some(CLIENT_CREDENTIALS) => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType.into()),
        None => return Err(OAuthError::InvalidRequest("missing grant_type").into()),
    }
    let requester = Requester::Client {
        source: peer.label(),
    };
    let issued = issue(&state, &client, form.scope.as_deref(), requester)
        .await
        .map_err(|err| match err {
            IssueError::Scope(err) => axum::response::ErrorResponse::from(scope_error(err)),
            IssueError::Internal(err) => err.into(),
            IssueError::Audit(err) => err.into(),
        })?;
    Ok(Json(issued.response))
}

/// The token endpoint's `invalid_scope` for a scope the client may not have.
fn scope_error(err: ScopeError) -> OAuthError {
    match err {
        ScopeError::Empty => OAuthError::InvalidScope("scope is empty"),
        ScopeError::InvalidCharacter => OAuthError::InvalidScope("scope is malformed"),
        _ => OAuthError::InvalidScope("requested scope is not allowed for this client"),
    }
}

/// Who asked for a token, which decides whose name its audit record carries.
#[derive(Debug, Clone)]
pub(super) enum Requester {
    /// The client itself, authenticated at the token endpoint, from `source`.
    Client {
        /// The peer address.
        source: String,
    },
    /// An operator through the admin API (`POST /admin/clients/{id}/token`).
    Admin {
        /// `admin:<credential id>`.
        actor: String,
        /// The peer address.
        source: String,
    },
}

/// A token just issued and audited.
#[derive(Debug)]
pub(super) struct Issued {
    /// The RFC 6749 §5.1 response carrying it.
    pub(super) response: TokenResponse,
    /// Its `jti`.
    pub(super) jti: String,
}

/// Why no token was issued.
#[derive(Debug)]
pub(super) enum IssueError {
    /// The requested scope is malformed or wider than the client's.
    Scope(ScopeError),
    /// Signing failed (no key, the RNG): a 500 whose cause is logged.
    Internal(OAuthError),
    /// The token was signed but its audit record could not be written, so it was dropped.
    Audit(AuditError),
}

/// Issues `client` an access token, as the client credentials grant does: the client's scope
/// narrowed by `requested`, its audience and lifetime, signed by the current key, and audited
/// before it is handed out. The one place tokens are minted, whoever asks.
pub(super) async fn issue(
    state: &AppState,
    client: &Client,
    requested: Option<&str>,
    requester: Requester,
) -> Result<Issued, IssueError> {
    let scope = client.scope.narrow(requested).map_err(IssueError::Scope)?;
    let now = state.clock.now();
    let signer = state
        .keyring
        .signer(&state.store)
        .await
        .map_err(|err| IssueError::Internal(err.into()))?;
    // 128 bits: unguessable and collision-free for the life of the revocation table.
    let jti = random_base64url::<16>().map_err(|err| IssueError::Internal(err.into()))?;
    let claims = access_token::claims(&state.issuer, client, &scope, jti.clone(), now);
    let exp = claims.expires_at.map(|at| at.as_secs());
    let access_token = signer
        .sign_access_token(claims)
        .map_err(|err| IssueError::Internal(err.into()))?;
    // No token leaves without its record committed: if the trail cannot be written the
    // signed token is dropped and the caller gets 503 (and retries), never an unaudited token.
    let mut detail = serde_json::json!({
        "scope": scope.to_string(),
        "aud": client.audience.as_str(),
        "exp": exp,
        "kid": signer.kid(),
    });
    let event = match requester {
        Requester::Client { source } => AuditEvent {
            actor: client.id.as_str().to_owned(),
            action: "token.issued",
            target: jti.clone(),
            source,
            outcome: Outcome::Success,
            detail,
        },
        // An admin action like the others (actor the credential, target the client), with
        // the jti in the detail: never the token itself.
        Requester::Admin { actor, source } => {
            if let serde_json::Value::Object(fields) = &mut detail {
                fields.insert("jti".to_owned(), jti.clone().into());
            }
            AuditEvent {
                actor,
                action: ADMIN_ISSUED,
                target: client.id.as_str().to_owned(),
                source,
                outcome: Outcome::Success,
                detail,
            }
        }
    };
    if let Err(err) = state.audit.record(event).await {
        tracing::error!(client_id = %client.id, %jti, error = %err, code = err.code(), "token not issued: cannot audit it");
        return Err(IssueError::Audit(err));
    }
    tracing::info!(client_id = %client.id, kid = %signer.kid(), %jti, scope = %scope, "issued access token");
    Ok(Issued {
        response: TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.ttl.secs(),
            scope: scope.to_string(),
        },
        jti,
    })
}
