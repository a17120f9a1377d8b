//! Client authentication for the token, revocation and introspection endpoints:
//! `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1), exactly one per request.

use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

use super::{OAuthError, OAuthForm};
use crate::clients::{self, Client, ClientId};
use crate::state::AppState;

/// Form fields a client may authenticate with (`client_secret_post`).
pub trait PostCredentials {
    /// The `client_id` parameter.
    fn client_id(&self) -> Option<&str>;
    /// The `client_secret` parameter.
    fn client_secret(&self) -> Option<&str>;
}

/// Extracts the form `T` of a request whose client has authenticated.
#[derive(Debug)]
pub struct Authenticated<T> {
    /// The authenticated client.
    pub client: Client,
    /// The rest of the request.
    pub form: T,
}

struct Credentials {
    id: String,
    secret: String,
}

impl<T> FromRequest<AppState> for Authenticated<T>
where
    T: DeserializeOwned + PostCredentials + Send,
{
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let basic = basic_credentials(req.headers())?;
        let OAuthForm(form) = OAuthForm::<T>::from_request(req, state).await?;
        let credentials = choose(basic, form.client_id(), form.client_secret())?;
        let client = clients::authenticate(
            &state.store,
            &state.hasher,
            &credentials.id,
            &credentials.secret,
        )
        .await?;
        match client {
            Some(client) => Ok(Self { client, form }),
            None => {
                // Only a well-formed id is logged: the raw value is attacker-controlled.
                let client_id = ClientId::parse(&credentials.id).ok();
                tracing::info!(client_id = ?client_id.as_ref().map(ClientId::as_str), "client authentication failed");
                Err(OAuthError::InvalidClient)
            }
        }
    }
}

/// Picks the one authentication method the request used.
fn choose(
    basic: Option<Credentials>,
    post_id: Option<&str>,
    post_secret: Option<&str>,
) -> Result<Credentials, OAuthError> {
    match (basic, post_id, post_secret) {
        // RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request".
        (Some(_), _, Some(_)) => Err(OAuthError::InvalidRequest(
            "use one client authentication method, not both",
        )),
        // A `client_id` parameter alongside Basic is allowed (RFC 6749 §3.2.1) if it agrees.
        (Some(basic), Some(id), None) if id != basic.id => Err(OAuthError::InvalidRequest(
            "client_id does not match the Authorization header",
        )),
        (Some(basic), _, None) => Ok(basic),
        (None, Some(id), Some(secret)) => Ok(Credentials {
            id: id.to_owned(),
            secret: secret.to_owned(),
        }),
        (None, None, Some(_)) => Err(OAuthError::InvalidRequest(
            "client_secret given without client_id",
        )),
        // No secret at all: public clients are not supported.
        (None, _, None) => Err(OAuthError::InvalidClient),
    }
}

/// Credentials from `Authorization: Basic`, if the header is present.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<Credentials>, OAuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::InvalidRequest("repeated Authorization header"));
    }
    let value = value.to_str().map_err(|_| OAuthError::InvalidClient)?;
    let (scheme, encoded) = value.split_once(' ').ok_or(OAuthError::InvalidClient)?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Err(OAuthError::InvalidClient);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| OAuthError::InvalidClient)?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::InvalidClient)?;
    let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
    Ok(Some(Credentials {
        id: form_urldecode(id)?,
        secret: form_urldecode(secret)?,
    }))
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before they go into Basic, so a `:`
/// in either survives the split above.
fn form_urldecode(text: &str) -> Result<String, OAuthError> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| OAuthError::InvalidClient)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn basic(header: &str) -> Result<Option<(String, String)>, &'static str> {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(header).map_err(|_| "bad header")?;
        headers.insert(AUTHORIZATION, value);
        basic_credentials(&headers)
            .map(|c| c.map(|c| (c.id, c.secret)))
            .map_err(|e| e.code())
    }

    #[test]
    fn basic_is_form_urldecoded() {
        let header = format!("Basic {}", STANDARD.encode("svc%3Aa:s%2Bc+r"));
        assert_eq!(
            basic(&header),
            Ok(Some(("svc:a".to_owned(), "s+c r".to_owned())))
        );
        let lower = format!("basic {}", STANDARD.encode("a:b"));
        assert_eq!(basic(&lower), Ok(Some(("a".to_owned(), "b".to_owned()))));
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        assert_eq!(basic("Basic !!!"), Err("invalid_client"));
        assert_eq!(
            basic(&format!("Basic {}", STANDARD.encode("nocolon"))),
            Err("invalid_client")
        );
        assert_eq!(basic("Bearer abc"), Err("invalid_client"));
    }

    #[test]
    fn exactly_one_method() {
        let creds = || {
            Some(Credentials {
                id: "a".into(),
                secret: "b".into(),
            })
        };
        let code = |r: Result<Credentials, OAuthError>| r.map(|c| c.id).map_err(|e| e.code());
        assert_eq!(
            code(choose(creds(), None, Some("b"))),
            Err("invalid_request")
        );
        assert_eq!(
            code(choose(creds(), Some("x"), None)),
            Err("invalid_request")
        );
        assert_eq!(code(choose(creds(), Some("a"), None)), Ok("a".to_owned()));
        assert_eq!(code(choose(None, Some("a"), Some("b"))), Ok("a".to_owned()));
        assert_eq!(code(choose(None, None, Some("b"))), Err("invalid_request"));
        assert_eq!(code(choose(None, Some("a"), None)), Err("invalid_client"));
        assert_eq!(code(choose(None, None, None)), Err("invalid_client"));
    }
}
