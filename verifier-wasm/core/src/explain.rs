//! `explain` and `decode`: the gateway's answer for one request, with the reasons a person needs.
//!
//! The verdict is never recomputed here: it is [`decide`]'s, the function the Envoy filter calls.
//! What this module adds is the walk that a person reads: which rule matched, and each check the
//! token went through, up to the one that refused it. The checks re-run the same parsing and
//! verification functions `decide` uses, so the steps cannot tell a different story from the
//! verdict (the crate's tests assert they agree on every shared vector).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;
use serde_json::Value;

use crate::compact;
use crate::config::Config;
use crate::decision::{Awaiting, Decision, Request, decide};
use crate::error::{Untrusted, VerifyError};
use crate::json;
use crate::keys::{FeedState, KeyState, Keys};
use crate::limits::MAX_JSON_DEPTH;
use crate::policy::Provider;
use crate::revocation::TokenRef;
use crate::rules::{PathMatch, Requirement, Rule};
use crate::verify::{Unverified, Verified};

/// A token's parts, decoded and shown as they are: nothing in them is trusted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    /// The protected header.
    pub header: Value,
    /// The claim set.
    pub claims: Value,
    /// The signature's length in bytes.
    pub signature_bytes: usize,
}

/// Splits and decodes `token` without checking anything a key would: for display only.
///
/// The size limit, canonical base64url and strict JSON (no duplicate members, bounded depth)
/// still apply, so what is shown is what the verifier would read.
pub fn decode(token: &str) -> Result<Decoded, VerifyError> {
    let parts = compact::split(token)?;
    let parse = |bytes: &[u8], what: &'static str| {
        json::parse_object(bytes, MAX_JSON_DEPTH)
            .map(Value::Object)
            .map_err(|_| VerifyError::TokenMalformed { reason: what })
    };
    Ok(Decoded {
        header: parse(&parts.header, "the header is not a JSON object")?,
        claims: parse(&parts.payload, "the claims are not a JSON object")?,
        signature_bytes: parts.signature.len(),
    })
}

/// The gateway's verdict, as `explain` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The request goes upstream.
    Allow,
    /// The gateway answers it with an error.
    Deny,
    /// The gateway would hold it for keys or a revocation feed it does not have yet.
    Wait,
}

/// An error as the filter reports it: the stable code and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// The stable machine code, e.g. `token_expired`.
    pub code: &'static str,
    /// The message the gateway sends in its body.
    pub message: String,
}

impl From<&VerifyError> for ErrorReport {
    fn from(error: &VerifyError) -> ErrorReport {
        ErrorReport {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

/// The rule that decided, as written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    /// Its position in `rules`, from 0.
    pub index: usize,
    /// Its `match` member.
    #[serde(rename = "match")]
    pub matcher: MatchReport,
    /// Set on a public rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// On a public rule: whether the caller's `Authorization` header goes upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<bool>,
    /// On a token rule: the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// On a token rule: the scopes required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// A rule's `match` member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchReport {
    /// A prefix condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// An exact-path condition (`path` in the configuration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Accepted methods; empty means any.
    pub methods: Vec<String>,
}

impl RuleReport {
    fn new(index: usize, rule: &Rule) -> RuleReport {
        let (prefix, path) = match &rule.matcher.path {
            PathMatch::Prefix(p) => (Some(p.clone()), None),
            PathMatch::Exact(e) => (None, Some(e.clone())),
        };
        let mut report = RuleReport {
            index,
            matcher: MatchReport {
                prefix,
                path,
                methods: rule.matcher.methods.clone(),
            },
            public: None,
            forward: None,
            provider: None,
            scopes: None,
        };
        match &rule.requirement {
            Requirement::Public { forward } => {
                report.public = Some(true);
                report.forward = Some(*forward);
            }
            Requirement::Token { provider, scopes } => {
                report.provider = Some(provider.clone());
                report.scopes = Some(scopes.clone());
            }
        }
        report
    }
}

/// One check on the way to the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Which check.
    pub name: Stage,
    /// How it went.
    pub outcome: Outcome,
    /// What it found, for a person.
    pub detail: String,
}

/// The checks, in the order the gateway makes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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
    /// The rule's required scopes.
    Scopes,
}

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It refused the request.
    Fail,
    /// It was not reached, or does not apply.
    Skip,
}

/// What the gateway decides for a request, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Allow, deny or wait.
    pub decision: Verdict,
    /// The HTTP status the caller gets: 200 when allowed (the upstream's, really); none while waiting.
    pub status: Option<u16>,
    /// Why it was denied.
    pub error: Option<ErrorReport>,
    /// The `WWW-Authenticate` challenge of a denial.
    pub www_authenticate: Option<String>,
    /// The rule that applied.
    pub rule: Option<RuleReport>,
    /// The provider the rule names.
    pub provider: Option<String>,
    /// The identity headers sent upstream when allowed with a token.
    pub upstream_headers: Option<BTreeMap<String, String>>,
    /// Whether the caller's `Authorization` header goes upstream (when allowed).
    pub authorization_forwarded: Option<bool>,
    /// The token's parts as decoded, untrusted; absent when there is no decodable token.
    pub token: Option<Decoded>,
    /// The checks, in order.
    pub steps: Vec<Step>,
}

/// Explains what the gateway configured by `config` decides for `request` at `now` (Unix seconds),
/// with keys and revocation feeds from `keys`.
pub fn explain(config: &Config, keys: &impl Keys, request: &Request<'_>, now: u64) -> Explanation {
    let decision = decide(config, keys, request, now);
    let token = request
        .authorization
        .and_then(crate::decision::bearer_token);
    let mut explanation = Explanation {
        decision: Verdict::Allow,
        status: None,
        error: None,
        www_authenticate: None,
        rule: None,
        provider: None,
        upstream_headers: None,
        authorization_forwarded: None,
        token: token.and_then(|t| decode(t).ok()),
        steps: Vec::new(),
    };
    match &decision {
        Decision::Allow {
            identity,
            strip_authorization,
        } => {
            explanation.status = Some(200);
            explanation.authorization_forwarded = Some(!strip_authorization);
            explanation.upstream_headers = identity.as_ref().map(|identity| {
                identity
                    .headers()
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), value.to_string()))
                    .collect()
            });
        }
        Decision::Deny(denial) => {
            explanation.decision = Verdict::Deny;
            explanation.status = Some(denial.status);
            explanation.error = Some(ErrorReport::from(&denial.error));
            explanation.www_authenticate = denial.www_authenticate.clone();
        }
        Decision::Wait { .. } => explanation.decision = Verdict::Wait,
    }
    let walk = Walk {
        config,
        keys,
        request,
        token,
        now,
        failure: match &decision {
            Decision::Deny(denial) => Some(&denial.error),
            _ => None,
        },
        waiting_at: match &decision {
            Decision::Wait {
                awaiting: Awaiting::Keys,
                ..
            } => Some(Stage::Keys),
            Decision::Wait {
                awaiting: Awaiting::Revocations,
                ..
            } => Some(Stage::Revocation),
            _ => None,
        },
    };
    walk.run(&mut explanation);
    explanation
}

/// The check that raises each error.
fn stage(error: &VerifyError) -> Stage {
    match error {
        VerifyError::NoMatchingRule { .. } => Stage::Rule,
        VerifyError::TokenMissing | VerifyError::AuthorizationMalformed { .. } => Stage::Token,
        VerifyError::TokenTooLarge { .. }
        | VerifyError::TokenMalformed { .. }
        | VerifyError::AlgNotAllowed { .. }
        | VerifyError::TypInvalid { .. }
        | VerifyError::HeaderForbidden { .. }
        | VerifyError::CritUnsupported => Stage::Header,
        VerifyError::JwksUnavailable { .. } | VerifyError::KidUnknown { .. } => Stage::Keys,
        VerifyError::SignatureInvalid => Stage::Signature,
        VerifyError::TokenRevoked { .. } | VerifyError::RevocationsUnavailable { .. } => {
            Stage::Revocation
        }
        VerifyError::InsufficientScope { .. } => Stage::Scopes,
        // The date and claim checks, and any variant added later: claims are the last token check.
        _ => Stage::Claims,
    }
}

/// The inputs of one explanation, walked check by check.
struct Walk<'a, K> {
    config: &'a Config,
    keys: &'a K,
    request: &'a Request<'a>,
    token: Option<&'a str>,
    now: u64,
    /// Why the gateway denies, if it does; [`stage`] says at which check.
    failure: Option<&'a VerifyError>,
    /// The check the gateway would hold the request at.
    waiting_at: Option<Stage>,
}

impl<K: Keys> Walk<'_, K> {
    fn run(&self, out: &mut Explanation) {
        let index = self
            .config
            .rules
            .iter()
            .position(|r| r.matcher.matches(self.request.method, self.request.path));
        let Some((index, rule)) = index.and_then(|i| self.config.rules.get(i).map(|r| (i, r)))
        else {
            self.push(out, Stage::Rule, String::new());
            return;
        };
        out.rule = Some(RuleReport::new(index, rule));
        let (provider_name, scopes) = match &rule.requirement {
            Requirement::Public { forward } => {
                let detail = format!(
                    "rule #{index} is public: no token is checked, and the Authorization header is {}",
                    if *forward { "forwarded" } else { "removed" }
                );
                self.push(out, Stage::Rule, detail);
                return;
            }
            Requirement::Token { provider, scopes } => (provider, scopes),
        };
        out.provider = Some(provider_name.clone());
        self.push(
            out,
            Stage::Rule,
            format!("rule #{index} requires a token from provider '{provider_name}'"),
        );
        let Some(provider) = self.config.providers.get(provider_name) else {
            return;
        };
        self.push(out, Stage::Token, "a bearer token is present".to_string());
        let Some(token) = self.token else { return };
        let unverified = Unverified::parse(token, provider).ok();
        let header_detail = unverified.as_ref().map_or_else(String::new, |u| {
            format!(
                "alg {}, typ {}, kid {}",
                u.alg.name(),
                shown(u.header.typ.as_deref()),
                shown(u.header.kid.as_deref())
            )
        });
        self.push(out, Stage::Header, header_detail);
        let jwks = match self.keys.state(provider_name) {
            KeyState::Ready(jwks) => Some(jwks),
            _ => None,
        };
        let keys_detail = match (jwks, &unverified) {
            (Some(jwks), Some(u)) => {
                let count = jwks.candidates(u.header.kid.as_deref(), u.alg).count();
                format!(
                    "{} key(s) for {} with kid {} among {} published",
                    count,
                    u.alg.name(),
                    shown(u.header.kid.as_deref()),
                    jwks.keys.len()
                )
            }
            _ => String::new(),
        };
        self.push(out, Stage::Keys, keys_detail);
        let verified = match (jwks, unverified) {
            (Some(jwks), Some(u)) => u.verify(provider, jwks, self.now).ok(),
            _ => None,
        };
        self.push(
            out,
            Stage::Signature,
            verified.as_ref().map_or_else(String::new, |v| {
                format!(
                    "verified with {} key {}",
                    v.alg.name(),
                    shown(v.kid.as_deref())
                )
            }),
        );
        self.push(
            out,
            Stage::Claims,
            verified
                .as_ref()
                .map_or_else(String::new, |v| self.claims_detail(provider, v)),
        );
        if provider.revocations.is_none() {
            out.steps.push(Step {
                name: Stage::Revocation,
                outcome: Outcome::Skip,
                detail: format!("provider '{provider_name}' has no revocation feed configured"),
            });
        } else {
            let detail = match (self.keys.revocations(provider_name), &verified) {
                (FeedState::Ready(feed), Some(v)) => {
                    let listed = feed.check(&TokenRef::from_claims(&v.claims)).is_some();
                    if listed {
                        String::new()
                    } else {
                        "neither the token's jti nor its client is on the revocation list"
                            .to_string()
                    }
                }
                _ => String::new(),
            };
            self.push(out, Stage::Revocation, detail);
        }
        let held: Vec<&str> = verified
            .as_ref()
            .map(|v| v.claims.scopes().collect())
            .unwrap_or_default();
        let scopes_detail = if scopes.is_empty() {
            "the rule requires no scope".to_string()
        } else {
            format!(
                "requires {}; the token holds {}",
                scopes.join(" "),
                if held.is_empty() {
                    "none".to_string()
                } else {
                    held.join(" ")
                }
            )
        };
        self.push(out, Stage::Scopes, scopes_detail);
    }

    /// Records `name` as passed (before the failing check), failed (at it) or skipped (after it,
    /// or from where the gateway would wait). A failed step's detail is the error's message.
    fn push(&self, out: &mut Explanation, name: Stage, pass_detail: String) {
        let (outcome, detail) = match self.failure.map(|error| (stage(error), error)) {
            Some((at, error)) if at == name => (Outcome::Fail, error.to_string()),
            Some((at, _)) if at < name => (Outcome::Skip, "not reached".to_string()),
            _ if self.waiting_at.is_some_and(|at| at <= name) => (
                Outcome::Skip,
                "the gateway holds the request until the provider's keys or revocation feed arrive"
                    .to_string(),
            ),
            _ => (Outcome::Pass, pass_detail),
        };
        out.steps.push(Step {
            name,
            outcome,
            detail,
        });
    }

    fn claims_detail(&self, provider: &Provider, verified: &Verified) -> String {
        let claims = &verified.claims;
        let expires = claims.exp - self.now as f64;
        let when = if expires >= 0.0 {
            format!("expires in {}s", expires as i64)
        } else {
            format!(
                "expired {}s ago, within the {}s clock skew",
                (-expires) as i64,
                provider.clock_skew_seconds
            )
        };
        format!(
            "issuer {} trusted, audience accepted, {when}",
            shown(claims.iss.as_deref())
        )
    }
}

/// An untrusted optional value for a detail line.
fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_string(), |v| format!("'{}'", Untrusted(v)))
}
