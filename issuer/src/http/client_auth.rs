//! Client authentication for the token, revocation and introspection endpoints:
//! `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1) and `private_key_jwt`
//! (RFC 7523 §2.2), exactly one per request.
//!
//! Failed attempts are throttled per client id and per source address (progressive delay,
//! then a temporary lockout), audited, and always answered alike, so a response never tells
//! whether a client id exists.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{OAuthError, OAuthForm, Peer};
use crate::AppState;
use crate::audit::{AuditEvent, Outcome};
use crate::clients::assertion::CLIENT_ASSERTION_TYPE;
use crate::clients::{self, Client, ClientId, Verdict};

/// The form parameters a client may authenticate with, read beside every endpoint's own.
#[derive(Debug, Default, Deserialize)]
struct PostCredentials {
    /// `client_id`.
    client_id: Option<String>,
    /// `client_secret` (`client_secret_post`).
    client_secret: Option<String>,
    /// `client_assertion_type` (`private_key_jwt`).
    client_assertion_type: Option<String>,
    /// `client_assertion` (`private_key_jwt`).
    client_assertion: Option<String>,
}

/// An endpoint's form `T` with the client's credentials beside it. A repeated parameter is
/// refused in either part.
#[derive(Debug, Deserialize)]
struct WithCredentials<T> {
    #[serde(flatten)]
    form: T,
    #[serde(flatten)]
    credentials: PostCredentials,
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

/// How the request says it authenticates.
enum Presented {
    Secret(Credentials),
    Assertion {
        assertion: String,
        client_id: Option<String>,
    },
}

impl Presented {
    /// The client id the request claims, for throttling and the audit trail (unverified).
    fn claimed_id(&self) -> String {
        match self {
            Self::Secret(credentials) => credentials.id.clone(),
            Self::Assertion { assertion, .. } => clients::assertion::peek_client_id(assertion)
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
        }
    }

    fn method(&self) -> &'static str {
        match self {
            Self::Secret(_) => "client_secret",
            Self::Assertion { .. } => "private_key_jwt",
        }
    }
}

impl<T> FromRequest<AppState> for Authenticated<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = Peer(
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        );
        let basic = basic_credentials(req.headers())?;
        let OAuthForm(WithCredentials { form, credentials }) =
            OAuthForm::<WithCredentials<T>>::from_request(req, state).await?;
        let presented = choose(basic, &credentials)?;
        let claimed = presented.claimed_id();
        // Without a socket (tests driving the router) every request shares one address.
        let ip = peer.0.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let now = state.clock.now();
        let now_ms = now.saturating_mul(1000);
        match state.throttle.check(&claimed, ip, now_ms) {
            Verdict::Allow => {}
            // Slept whatever the outcome, so the delay itself says nothing about the secret.
            Verdict::Delay(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Verdict::Locked { retry_after_secs } => {
                audit_failure(state, &claimed, &peer, presented.method(), "locked_out").await?;
                return Err(OAuthError::TooManyAttempts { retry_after_secs });
            }
        }
        let method = presented.method();
        let outcome = match presented {
            Presented::Secret(credentials) => clients::authenticate(
                &state.store,
                &state.hasher,
                &credentials.id,
                &credentials.secret,
            )
            .await?
            .ok_or("invalid_credentials"),
            Presented::Assertion {
                assertion,
                client_id,
            } => {
                clients::authenticate_assertion(
                    &state.store,
                    &assertion,
                    client_id.as_deref(),
                    state.issuer.as_str(),
                    now,
                )
                .await?
            }
        };
        match outcome {
            Ok(client) => {
                state.throttle.record_success(client.id.as_str(), now_ms);
                Ok(Self { client, form })
            }
            Err(reason) => {
                state.throttle.record_failure(&claimed, ip, now_ms);
                audit_failure(state, &claimed, &peer, method, reason).await?;
                Err(OAuthError::InvalidClient)
            }
        }
    }
}

/// Records a failed authentication. Only a well-formed claimed id is kept: the raw value is
/// attacker-controlled.
async fn audit_failure(
    state: &AppState,
    claimed: &str,
    peer: &Peer,
    method: &'static str,
    reason: &'static str,
) -> Result<(), OAuthError> {
    let client_id = ClientId::parse(claimed).ok();
    let actor = client_id
        .as_ref()
        .map_or("unknown", ClientId::as_str)
        .to_owned();
    tracing::info!(client_id = %actor, source = %peer.label(), method, reason, "client authentication failed");
    state
        .audit
        .record(AuditEvent {
            actor: actor.clone(),
            action: "client.auth_failed",
            target: actor,
            source: peer.label(),
            outcome: Outcome::Failure,
            detail: serde_json::json!({"method": method, "reason": reason}),
        })
        .await?;
    Ok(())
}

/// Picks the one authentication method the request used.
fn choose(basic: Option<Credentials>, form: &PostCredentials) -> Result<Presented, OAuthError> {
    let post_id = form.client_id.as_deref();
    let post_secret = form.client_secret.as_deref();
    let assertion_type = form.client_assertion_type.as_deref();
    match (assertion_type, form.client_assertion.as_deref()) {
        (None, None) => {}
        (Some(CLIENT_ASSERTION_TYPE), Some(assertion)) => {
            // RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request".
            if basic.is_some() || post_secret.is_some() {
                return Err(OAuthError::InvalidRequest(
                    "use one client authentication method, not several",
                ));
            }
            return Ok(Presented::Assertion {
                assertion: assertion.to_owned(),
                client_id: post_id.map(str::to_owned),
            });
        }
        (Some(CLIENT_ASSERTION_TYPE), None) => {
            return Err(OAuthError::InvalidRequest("client_assertion is missing"));
        }
        (Some(_), _) => {
            return Err(OAuthError::InvalidRequest(
                "unsupported client_assertion_type",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "client_assertion_type is missing",
            ));
        }
    }
    match (basic, post_id, post_secret) {
        (Some(_), _, Some(_)) => Err(OAuthError::InvalidRequest(
            "use one client authentication method, not both",
        )),
        // A `client_id` parameter alongside Basic is allowed (RFC 6749 §3.2.1) if it agrees.
        (Some(basic), Some(id), None) if id != basic.id => Err(OAuthError::InvalidRequest(
            "client_id does not match the Authorization header",
        )),
        (Some(basic), _, None) => Ok(Presented::Secret(basic)),
        (None, Some(id), Some(secret)) => Ok(Presented::Secret(Credentials {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })),
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

    #[tokio::test]
    async fn credentials_are_read_beside_the_form_and_never_repeated() {
        #[derive(Debug, Deserialize)]
        struct Grant {
            grant_type: Option<String>,
        }
        let read = |body: &'static str| async move {
            let request = Request::post("/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .expect("request");
            OAuthForm::<WithCredentials<Grant>>::from_request(request, &())
                .await
                .map(|OAuthForm(read)| read)
                .map_err(|err| err.code())
        };
        let read_both = read("grant_type=g&client_id=a&client_secret=s")
            .await
            .expect("read");
        assert_eq!(read_both.form.grant_type.as_deref(), Some("g"));
        assert_eq!(read_both.credentials.client_id.as_deref(), Some("a"));
        assert_eq!(read_both.credentials.client_secret.as_deref(), Some("s"));
        for repeated in [
            "grant_type=g&grant_type=g",
            "client_id=a&client_id=a&client_secret=s",
            "client_secret=s&client_secret=t",
        ] {
            assert_eq!(
                read(repeated).await.err(),
                Some("invalid_request"),
                "{repeated}"
            );
        }
    }

    #[test]
    fn exactly_one_method() {
        let creds = || {
            Some(Credentials {
                id: "a".into(),
                secret: "b".into(),
            })
        };
        let code = |r: Result<Presented, OAuthError>| match r {
            Ok(Presented::Secret(c)) => Ok(c.id),
            Ok(Presented::Assertion { .. }) => Ok("assertion".to_owned()),
            Err(e) => Err(e.code()),
        };
        let form = |id: Option<&str>, secret: Option<&str>| PostCredentials {
            client_id: id.map(str::to_owned),
            client_secret: secret.map(str::to_owned),
            ..PostCredentials::default()
        };
        assert_eq!(
            code(choose(creds(), &form(None, Some("b")))),
            Err("invalid_request")
        );
        assert_eq!(
            code(choose(creds(), &form(Some("x"), None))),
            Err("invalid_request")
        );
        assert_eq!(
            code(choose(creds(), &form(Some("a"), None))),
            Ok("a".to_owned())
        );
        assert_eq!(
            code(choose(None, &form(Some("a"), Some("b")))),
            Ok("a".to_owned())
        );
        assert_eq!(
            code(choose(None, &form(None, Some("b")))),
            Err("invalid_request")
        );
        assert_eq!(
            code(choose(None, &form(Some("a"), None))),
            Err("invalid_client")
        );
        assert_eq!(code(choose(None, &form(None, None))), Err("invalid_client"));

        let assertion = |assertion_type: Option<&str>, assertion: Option<&str>| PostCredentials {
            client_assertion_type: assertion_type.map(str::to_owned),
            client_assertion: assertion.map(str::to_owned),
            ..PostCredentials::default()
        };
        let jwt_bearer = Some(CLIENT_ASSERTION_TYPE);
        assert_eq!(
            code(choose(None, &assertion(jwt_bearer, Some("x.y.z")))),
            Ok("assertion".to_owned())
        );
        assert_eq!(
            code(choose(creds(), &assertion(jwt_bearer, Some("x.y.z")))),
            Err("invalid_request")
        );
        assert_eq!(
            code(choose(None, &assertion(jwt_bearer, None))),
            Err("invalid_request")
        );
        assert_eq!(
            code(choose(None, &assertion(None, Some("x.y.z")))),
            Err("invalid_request")
        );
        assert_eq!(
            code(choose(None, &assertion(Some("saml"), Some("x")))),
            Err("invalid_request")
        );
    }
}
