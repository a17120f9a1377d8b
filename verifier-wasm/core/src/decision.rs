//! What the gateway does with one request: allow (with identity headers), deny (with the
//! response to send), or wait for keys (or for a revocation feed). How it is decided is the
//! pipeline's (`pipeline.rs`).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};

use crate::error::{Stage, Untrusted, VerifyError};
use crate::identity::Identity;
use alloc::sync::Arc;

/// The parts of a request the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// The (normalised) path, possibly with a query string.
    pub path: &'a str,
    /// The `Authorization` header, if there is exactly one.
    pub authorization: Option<&'a str>,
}

/// What the host must do with the request.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Decision {
    /// Let it through. Identity headers the caller sent are removed in every case.
    Allow {
        /// The verified identity to forward upstream; `None` on a public route.
        identity: Option<Arc<Identity>>,
        /// Whether to remove the `Authorization` header before forwarding.
        strip_authorization: bool,
    },
    /// Answer it locally; it never reaches the upstream.
    Deny(Denial),
    /// Hold it until the provider's (first, or fresh) keys or its first revocation feed arrive,
    /// bounded by the configuration's `jwks_wait_ms`; the host makes sure a fetch is under way.
    Wait {
        /// The provider whose keys or feed are awaited.
        provider: String,
        /// Which of the two.
        awaiting: Awaiting,
    },
}

/// What a held request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    /// The provider's first keys, or fresh ones for an unknown `kid`.
    Keys,
    /// The provider's first revocation feed (the token itself has verified).
    Revocations,
}

impl Awaiting {
    /// The refusal when the wait runs out: 503, naming what could not be had.
    pub fn unavailable(self, provider: &str) -> VerifyError {
        let provider = provider.to_owned();
        match self {
            Awaiting::Keys => VerifyError::JwksUnavailable { provider },
            Awaiting::Revocations => VerifyError::RevocationsUnavailable { provider },
        }
    }
}

/// A refusal, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    /// Why.
    pub error: VerifyError,
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` value (RFC 6750 §3), for 400, 401 and `insufficient_scope` 403.
    pub www_authenticate: Option<String>,
    /// The JSON body: `{"error", "code", "message"}`.
    pub body: String,
    /// Who the token claimed to be, for the denial's log line.
    pub facts: TokenFacts,
}

/// What a refused token said about itself, for logs: never the token, and every value shown as
/// untrusted text (printable ASCII, at most 64 characters), since it may come from an attacker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFacts {
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The `iss` claim; only from a token whose signature verified.
    pub iss: Option<String>,
    /// The `sub` claim; only from a token whose signature verified.
    pub sub: Option<String>,
}

impl TokenFacts {
    pub(crate) fn new(kid: Option<&str>, iss: Option<&str>, sub: Option<&str>) -> TokenFacts {
        TokenFacts {
            kid: kid.map(|v| Untrusted(v).to_string()),
            iss: iss.map(|v| Untrusted(v).to_string()),
            sub: sub.map(|v| Untrusted(v).to_string()),
        }
    }
}

impl Denial {
    /// Builds the response for `error` in `realm`.
    pub fn new(error: VerifyError, realm: &str) -> Denial {
        let status = error.http_status();
        let message = error.to_string();
        let www_authenticate = match (status, error.bearer_error()) {
            (401, None) => Some(format!("Bearer realm=\"{realm}\"")),
            (400 | 401 | 403, Some(code)) => {
                let mut challenge = format!(
                    "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{}\"",
                    quoted(&message)
                );
                if let VerifyError::InsufficientScope { missing } = &error {
                    challenge.push_str(&format!(", scope=\"{}\"", quoted(&missing.join(" "))));
                }
                Some(challenge)
            }
            // A valid token that this route's delegation rules refuse: RFC 6750 has no error
            // code for it (`insufficient_scope` would send the client after more scope), so the
            // challenge names the realm and says why.
            (403, None) if error.stage() == Stage::Delegation => Some(format!(
                "Bearer realm=\"{realm}\", error_description=\"{}\"",
                quoted(&message)
            )),
            _ => None,
        };
        let kind = error.bearer_error().unwrap_or(match status {
            401 => "unauthorized",
            503 => "temporarily_unavailable",
            _ => "access_denied",
        });
        let body = serde_json::json!({"error": kind, "code": error.code(), "message": message})
            .to_string();
        Denial {
            error,
            status,
            www_authenticate,
            body,
            facts: TokenFacts::default(),
        }
    }

    pub(crate) fn with_facts(mut self, facts: TokenFacts) -> Denial {
        self.facts = facts;
        self
    }
}

/// Makes text safe inside an RFC 7230 quoted-string: printable ASCII, no quote or backslash.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The bearer token in an `Authorization` value (RFC 6750 §2.1), if it uses the Bearer scheme.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    (!token.is_empty()).then_some(token)
}
