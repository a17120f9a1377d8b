//! RFC 9068 access tokens: the claims the issuer mints, and the checks introspection and
//! revocation apply to a token presented back to it.

use jwt_simple::prelude::{
    Audiences, Deserialize, Duration, JWTClaims, Serialize, Token, UnixTimeStamp,
    VerificationOptions,
};

use crate::clients::Client;
use crate::clock::UnixTime;
use crate::config::IssuerUrl;
use crate::keys::{ACCESS_TOKEN_TYP, PublishedKey, VerifyingKey};
use crate::scope::Scope;

/// Largest token accepted back for introspection or revocation, as in the verifier (8 KiB).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The claims RFC 9068 §2.2 adds to the registered ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space separated.
    pub scope: String,
}

/// The claim set of a new token for `client` with `scope`, issued at `now`.
///
/// Exactly `iss`, `sub`, `aud`, `client_id`, `iat`, `exp`, `jti` and `scope`: no `nbf`,
/// since RFC 9068 does not ask for it and `iat` already says when the token starts.
pub fn claims(
    issuer: &IssuerUrl,
    client: &Client,
    scope: &Scope,
    jti: String,
    now: UnixTime,
) -> JWTClaims<AccessTokenClaims> {
    JWTClaims {
        issued_at: Some(UnixTimeStamp::from_secs(now)),
        expires_at: Some(UnixTimeStamp::from_secs(
            now.saturating_add(client.ttl.secs()),
        )),
        invalid_before: None,
        issuer: Some(issuer.as_str().to_owned()),
        subject: Some(client.id.as_str().to_owned()),
        audiences: Some(Audiences::AsString(client.audience.as_str().to_owned())),
        jwt_id: Some(jti),
        nonce: None,
        custom: AccessTokenClaims {
            client_id: client.id.as_str().to_owned(),
            scope: scope.to_string(),
        },
    }
}

/// A token that is genuinely ours and unexpired (revocation is checked separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidToken {
    /// `iss`.
    pub iss: String,
    /// `sub`.
    pub sub: String,
    /// `aud`.
    pub aud: String,
    /// `client_id`.
    pub client_id: String,
    /// `scope`.
    pub scope: String,
    /// `exp`.
    pub exp: UnixTime,
    /// `iat`.
    pub iat: UnixTime,
    /// `jti`.
    pub jti: String,
}

/// Checks `token` against our published keys at `now`; `None` for anything not valid.
///
/// The key is chosen by `kid` and used only with the algorithm our records give it. Beyond
/// the signature: `typ` must be `at+jwt`, `iss` ours, `iat` not in the future, `now < exp`,
/// and every claim we mint present.
pub fn validate(
    token: &str,
    keys: &[PublishedKey],
    issuer: &IssuerUrl,
    now: UnixTime,
) -> Option<ValidToken> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let metadata = Token::decode_metadata(token).ok()?;
    let kid = metadata.key_id()?;
    let key = keys.iter().find(|key| key.info.kid == kid)?;
    let verifier = VerifyingKey::from_jwk(key.alg, &key.jwk_json).ok()?;
    let options = VerificationOptions {
        required_signature_type: Some(ACCESS_TOKEN_TYP.to_owned()),
        required_key_id: Some(kid.to_owned()),
        allowed_issuers: Some([issuer.as_str().to_owned()].into_iter().collect()),
        time_tolerance: Some(Duration::from_secs(0)),
        artificial_time: Some(UnixTimeStamp::from_secs(now)),
        max_token_length: Some(MAX_TOKEN_LEN),
        ..VerificationOptions::default()
    };
    let claims = verifier.verify::<AccessTokenClaims>(token, options).ok()?;
    let exp = claims.expires_at?.as_secs();
    // RFC 7519 §4.1.4: invalid "on or after" exp; jwt-simple still accepts at exp itself.
    if now >= exp {
        return None;
    }
    let aud = match claims.audiences? {
        Audiences::AsString(aud) => aud,
        Audiences::AsSet(_) => return None,
    };
    Some(ValidToken {
        iss: claims.issuer?,
        sub: claims.subject?,
        aud,
        client_id: claims.custom.client_id,
        scope: claims.custom.scope,
        exp,
        iat: claims.issued_at?.as_secs(),
        jti: claims.jwt_id?,
    })
}
