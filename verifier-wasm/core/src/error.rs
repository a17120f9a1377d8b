//! Request-time errors: why a token or request was refused, with a stable machine code.
//!
//! Codes are a public contract (logs, metrics, the JS package and the admin UI key on them) and are
//! never renamed. Messages are for people; they never contain the token, and any value taken from
//! the token is truncated and stripped of anything but printable ASCII.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why a request was refused. Each variant has a stable [`code`](VerifyError::code).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The request carries no bearer token.
    #[error("the request carries no bearer token")]
    TokenMissing,
    /// The `Authorization` header cannot be read at all (RFC 6750 §3.1 `invalid_request`).
    #[error("the Authorization header is malformed: {reason}")]
    AuthorizationMalformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token is larger than the limit.
    #[error("the token is {len} bytes; at most {max} are accepted")]
    TokenTooLarge {
        /// Size of the token, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },
    /// The token is not a well-formed compact JWS, or its header or claims are not valid JSON.
    #[error("the token is malformed: {reason}")]
    TokenMalformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token's `alg` is not one the provider allows (`none` never is).
    #[error("algorithm {} is not allowed for this provider", Shown(.alg))]
    AlgNotAllowed {
        /// The token's `alg`.
        alg: String,
    },
    /// The token's `typ` is not the one the provider requires.
    #[error("token type {} is not accepted; expected {}", Shown(.found.as_deref().unwrap_or("(none)")), Shown(.expected))]
    TypInvalid {
        /// The token's `typ`, if any.
        found: Option<String>,
        /// The type the provider requires.
        expected: String,
    },
    /// The header carries a member that is never trusted (`jwk`, `jku`, `x5u`, `x5c`, `b64`, nested `cty`).
    #[error("header member {member} is not accepted")]
    HeaderForbidden {
        /// The member's name.
        member: &'static str,
    },
    /// The header marks an extension critical (`crit`) that this verifier does not implement.
    #[error("critical header extension is not supported")]
    CritUnsupported,
    /// No key in the provider's key set matches the token's `kid` and algorithm.
    #[error("no key matches kid {} for {alg}", Shown(.kid.as_deref().unwrap_or("(none)")))]
    KidUnknown {
        /// The token's `kid`, if any.
        kid: Option<String>,
        /// The token's (allowed) algorithm.
        alg: &'static str,
    },
    /// The signature does not verify under the selected key.
    #[error("the signature is invalid")]
    SignatureInvalid,
    /// `exp` has passed, even allowing for clock skew.
    #[error("the token expired at {exp} (now {now}, skew {skew}s)")]
    TokenExpired {
        /// The token's `exp`.
        exp: f64,
        /// The verifier's time.
        now: u64,
        /// The allowed skew, in seconds.
        skew: u64,
    },
    /// `nbf` is still in the future, even allowing for clock skew.
    #[error("the token is not valid before {nbf} (now {now}, skew {skew}s)")]
    TokenNotYetValid {
        /// The token's `nbf`.
        nbf: f64,
        /// The verifier's time.
        now: u64,
        /// The allowed skew, in seconds.
        skew: u64,
    },
    /// `iat` is in the future, even allowing for clock skew.
    #[error("the token was issued in the future at {iat} (now {now}, skew {skew}s)")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: f64,
        /// The verifier's time.
        now: u64,
        /// The allowed skew, in seconds.
        skew: u64,
    },
    /// The token lives longer than the provider's maximum lifetime.
    #[error("the token lives {lifetime}s; at most {max}s is accepted")]
    LifetimeTooLong {
        /// `exp` − `iat` (or − now when `iat` is absent), in seconds.
        lifetime: f64,
        /// The limit, in seconds.
        max: u64,
    },
    /// `iss` is not the provider's issuer.
    #[error("issuer {} is not trusted by this provider", Shown(.iss))]
    IssuerMismatch {
        /// The token's `iss`.
        iss: String,
    },
    /// `aud` names none of the provider's audiences.
    #[error("the token is not meant for this audience")]
    AudienceMismatch,
    /// A claim the profile requires is absent.
    #[error("required claim {claim} is missing")]
    ClaimMissing {
        /// The claim's name.
        claim: &'static str,
    },
    /// A claim has the wrong type or an unusable value.
    #[error("claim {claim} is invalid: {reason}")]
    ClaimInvalid {
        /// The claim's name.
        claim: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token is valid but lacks a scope the route requires.
    #[error("the token lacks required scope {}", Shown(&.missing.join(" ")))]
    InsufficientScope {
        /// The required scopes the token does not hold.
        missing: Vec<String>,
    },
    /// No rule matches the request: deny by default.
    #[error("no rule allows {} {}", Shown(.method), Shown(.path))]
    NoMatchingRule {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
    /// The provider's keys could not be obtained.
    #[error("the keys of provider {} are not available", Shown(.provider))]
    JwksUnavailable {
        /// The provider's name.
        provider: String,
    },
    /// The token verified, but the provider's revocation feed lists it.
    #[error("the token has been revoked: {reason}")]
    TokenRevoked {
        /// Which entry of the feed revokes it.
        reason: &'static str,
    },
    /// The token carries `act`, and its provider accepts no delegated tokens.
    #[error("the token is delegated (it carries act), and this provider accepts no delegation")]
    DelegationNotAllowed,
    /// The delegation chain is longer than the provider or the rule accepts.
    #[error("the delegation chain has {depth} actor(s); at most {max} are accepted here")]
    DelegationTooDeep {
        /// Actors in the chain.
        depth: usize,
        /// The longest chain accepted.
        max: usize,
    },
    /// An actor appears twice in the chain, or acts for itself.
    #[error("actor {} appears twice in the delegation chain, or acts for itself", Shown(.actor))]
    DelegationLoop {
        /// The repeated actor.
        actor: String,
    },
    /// The current actor matches none of the rule's `actors`.
    #[error("actor {} may not call this route", Shown(.actor))]
    ActorNotAllowed {
        /// The current actor.
        actor: String,
    },
    /// The rule requires a person at the root of the chain.
    #[error("this route requires a person at the root of the chain; the principal is {}", Shown(.profile))]
    HumanRootRequired {
        /// The principal's `sub_profile`, or `(none)`.
        profile: String,
    },
    /// The provider's revocation feed could not be obtained, or is older than its stale limit:
    /// whether the token was revoked cannot be told, so it does not pass.
    #[error("the revocation list of provider {} is not available", Shown(.provider))]
    RevocationsUnavailable {
        /// The provider's name.
        provider: String,
    },
}

/// The stages of the decision, in the order the gateway runs them: every error is raised by
/// one, and `explain` reports one step per stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Which rule applies to the method and path.
    Rule,
    /// Whether a bearer token is there.
    Token,
    /// Structure, header members, algorithm and `typ`.
    Header,
    /// Whether the provider has keys, and one for the token's `kid`.
    Keys,
    /// The signature.
    Signature,
    /// `iss`, `aud`, the dates and the required claims.
    Claims,
    /// The provider's revocation feed.
    Revocation,
    /// The delegation chain: allowed at all, no loop, depth, actors, principal.
    Delegation,
    /// The rule's required scopes.
    Scopes,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 9] = [
        Stage::Rule,
        Stage::Token,
        Stage::Header,
        Stage::Keys,
        Stage::Signature,
        Stage::Claims,
        Stage::Revocation,
        Stage::Delegation,
        Stage::Scopes,
    ];
}

/// One row of the error table: everything a host needs to answer with an error.
struct Row {
    code: &'static str,
    status: u16,
    /// RFC 6750 §3.1 `error`; `None` when the request had no token, or the failure is the
    /// gateway's (no rule, keys or feed unavailable), not the token's.
    bearer: Option<&'static str>,
    stage: Stage,
}

const fn row(code: &'static str, status: u16, bearer: Option<&'static str>, stage: Stage) -> Row {
    Row {
        code,
        status,
        bearer,
        stage,
    }
}

const INVALID_TOKEN: Option<&str> = Some("invalid_token");

impl VerifyError {
    /// The error table: one row per variant, and no fallback arm, so a new variant does not
    /// compile until it has its code, status, bearer error and stage.
    fn row(&self) -> Row {
        use Stage::*;
        match self {
            Self::TokenMissing => row("token_missing", 401, None, Token),
            Self::AuthorizationMalformed { .. } => row(
                "authorization_malformed",
                400,
                Some("invalid_request"),
                Token,
            ),
            Self::TokenTooLarge { .. } => row("token_too_large", 401, INVALID_TOKEN, Header),
            Self::TokenMalformed { .. } => row("token_malformed", 401, INVALID_TOKEN, Header),
            Self::AlgNotAllowed { .. } => row("alg_not_allowed", 401, INVALID_TOKEN, Header),
            Self::TypInvalid { .. } => row("typ_invalid", 401, INVALID_TOKEN, Header),
            Self::HeaderForbidden { .. } => row("header_forbidden", 401, INVALID_TOKEN, Header),
            Self::CritUnsupported => row("crit_unsupported", 401, INVALID_TOKEN, Header),
            Self::KidUnknown { .. } => row("kid_unknown", 401, INVALID_TOKEN, Keys),
            Self::SignatureInvalid => row("signature_invalid", 401, INVALID_TOKEN, Signature),
            Self::TokenExpired { .. } => row("token_expired", 401, INVALID_TOKEN, Claims),
            Self::TokenNotYetValid { .. } => row("token_not_yet_valid", 401, INVALID_TOKEN, Claims),
            Self::IssuedInFuture { .. } => row("iat_in_future", 401, INVALID_TOKEN, Claims),
            Self::LifetimeTooLong { .. } => row("lifetime_too_long", 401, INVALID_TOKEN, Claims),
            Self::IssuerMismatch { .. } => row("issuer_mismatch", 401, INVALID_TOKEN, Claims),
            Self::AudienceMismatch => row("audience_mismatch", 401, INVALID_TOKEN, Claims),
            Self::ClaimMissing { .. } => row("claim_missing", 401, INVALID_TOKEN, Claims),
            Self::ClaimInvalid { .. } => row("claim_invalid", 401, INVALID_TOKEN, Claims),
            Self::InsufficientScope { .. } => row(
                "insufficient_scope",
                403,
                Some("insufficient_scope"),
                Scopes,
            ),
            Self::NoMatchingRule { .. } => row("no_matching_rule", 403, None, Rule),
            Self::JwksUnavailable { .. } => row("jwks_unavailable", 503, None, Keys),
            Self::TokenRevoked { .. } => row("token_revoked", 401, INVALID_TOKEN, Revocation),
            Self::DelegationNotAllowed => row("delegation_not_allowed", 403, None, Delegation),
            Self::DelegationTooDeep { .. } => row("delegation_too_deep", 403, None, Delegation),
            Self::DelegationLoop { .. } => row("delegation_loop", 401, INVALID_TOKEN, Delegation),
            Self::ActorNotAllowed { .. } => row("actor_not_allowed", 403, None, Delegation),
            Self::HumanRootRequired { .. } => row("human_root_required", 403, None, Delegation),
            Self::RevocationsUnavailable { .. } => {
                row("revocations_unavailable", 503, None, Revocation)
            }
        }
    }

    /// The stable machine code, e.g. `token_expired`. Never renamed.
    pub fn code(&self) -> &'static str {
        self.row().code
    }

    /// The HTTP status a gateway answers with.
    pub fn http_status(&self) -> u16 {
        self.row().status
    }

    /// The RFC 6750 §3.1 `error` value, or `None` when the request had no token (§3.1: then
    /// the challenge carries no error code).
    pub fn bearer_error(&self) -> Option<&'static str> {
        self.row().bearer
    }

    /// The stage of the decision that raises it.
    pub fn stage(&self) -> Stage {
        self.row().stage
    }
}

/// Shows a value that came from an untrusted token, in single quotes (see [`Untrusted`]).
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", Untrusted(self.0))
    }
}

/// A value that came from an untrusted token: printable ASCII only, at most 64 characters.
pub(crate) struct Untrusted<'a>(pub(crate) &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 64;
        for (i, c) in self.0.chars().enumerate() {
            if i == MAX {
                f.write_str("...")?;
                break;
            }
            // Quotes and backslashes would break the RFC 6750 quoted-string this text lands in.
            let c = if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '?'
            };
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn untrusted_values_are_sanitised_and_truncated() {
        let e = VerifyError::IssuerMismatch {
            iss: "evil\"\r\nx-injected: 1".into(),
        };
        let text = e.to_string();
        assert!(
            !text.contains('"') && !text.contains('\r') && !text.contains('\n'),
            "{text}"
        );
        let e = VerifyError::IssuerMismatch {
            iss: "a".repeat(1000),
        };
        assert!(e.to_string().len() < 120);
    }

    #[test]
    fn statuses_follow_rfc6750() {
        assert_eq!(VerifyError::TokenMissing.http_status(), 401);
        assert_eq!(VerifyError::TokenMissing.bearer_error(), None);
        assert_eq!(
            VerifyError::SignatureInvalid.bearer_error(),
            Some("invalid_token")
        );
        let scope = VerifyError::InsufficientScope {
            missing: alloc::vec!["a".into()],
        };
        assert_eq!(
            (scope.http_status(), scope.bearer_error()),
            (403, Some("insufficient_scope"))
        );
        let revoked = VerifyError::TokenRevoked { reason: "listed" };
        assert_eq!(
            (
                revoked.http_status(),
                revoked.bearer_error(),
                revoked.code()
            ),
            (401, Some("invalid_token"), "token_revoked")
        );
        let feedless = VerifyError::RevocationsUnavailable {
            provider: "p".into(),
        };
        assert_eq!(
            (feedless.http_status(), feedless.bearer_error()),
            (503, None)
        );
    }
}
