//! `explain` and `decode`: the gateway's answer for one request, with the reasons a person needs.
//!
//! Nothing is decided here: `explain` runs the pipeline the Envoy filter runs, once, with an
//! observer that keeps what each stage found ([`Trace`]), and turns that into the walk a person
//! reads: which rule matched, and each stage the token went through, up to the one that refused
//! it (the error table names the stage of every error). The steps cannot tell a different story
//! from the verdict: they are the same run.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;
use serde_json::Value;

use crate::compact;
use crate::config::Config;
use crate::decision::{Awaiting, Decision, Request, bearer_token};
use crate::delegation::Delegation;
use crate::error::{Stage, VerifyError};
use crate::json;
use crate::keys::Keys;
use crate::limits::MAX_JSON_DEPTH;
use crate::pipeline::{self, Trace};
use crate::rules::{PathMatch, Requirement, Rule};

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
    /// On a token rule: `max_delegation_depth`, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delegation_depth: Option<usize>,
    /// On a token rule: `actors`, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actors: Option<Vec<String>>,
    /// On a token rule: `human_root`, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub human_root: Option<bool>,
}

/// Who acts for whom, as a delegated token's claims say (read from the decoded token: trusted
/// only as far as the steps say it verified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// The principal at the root (`sub`).
    pub principal: String,
    /// The principal's `sub_profile`, if given.
    pub principal_profile: Option<String>,
    /// Every actor, outermost (the one presenting the token) first.
    pub actors: Vec<ActorReport>,
    /// How many actors.
    pub depth: usize,
    /// The `jti`s of the tokens it was exchanged from, nearest first.
    pub ancestors: Vec<String>,
}

/// One actor of a [`ChainReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActorReport {
    /// Its `sub`.
    pub sub: String,
    /// Its `sub_profile`, if given.
    pub sub_profile: Option<String>,
}

impl ChainReport {
    /// The chain a decoded claim set names, if it names one and it can be read.
    fn from_claims(claims: &Value) -> Option<ChainReport> {
        let map = claims.as_object()?;
        let delegation = Delegation::from_claims(map).ok()??;
        let text = |name: &str| map.get(name).and_then(Value::as_str).map(str::to_string);
        Some(ChainReport {
            principal: text("sub").unwrap_or_default(),
            principal_profile: text("sub_profile"),
            depth: delegation.depth(),
            actors: delegation
                .actors
                .into_iter()
                .map(|a| ActorReport {
                    sub: a.sub,
                    sub_profile: a.profile,
                })
                .collect(),
            ancestors: delegation.ancestors,
        })
    }
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
            max_delegation_depth: None,
            actors: None,
            human_root: None,
        };
        match &rule.requirement {
            Requirement::Public { forward } => {
                report.public = Some(true);
                report.forward = Some(*forward);
            }
            Requirement::Token {
                provider,
                scopes,
                delegation,
            } => {
                report.provider = Some(provider.clone());
                report.scopes = Some(scopes.clone());
                report.max_delegation_depth = delegation.max_depth;
                report.actors = (!delegation.actors.is_empty()).then(|| delegation.actors.clone());
                report.human_root = delegation.human_root.then_some(true);
            }
        }
        report
    }
}

/// One stage on the way to the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Which stage.
    pub name: Stage,
    /// How it went.
    pub outcome: Outcome,
    /// What it found, for a person.
    pub detail: String,
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
    /// Who acts for whom, when the token is delegated (from the decoded token).
    pub delegation: Option<ChainReport>,
    /// The checks, in order.
    pub steps: Vec<Step>,
}

/// What one run of the pipeline reported: the rule, and each stage that passed with its detail.
#[derive(Default)]
struct Recorder {
    rule: Option<usize>,
    passed: BTreeMap<Stage, String>,
}

impl Trace for Recorder {
    fn rule(&mut self, index: usize) {
        self.rule = Some(index);
    }

    fn pass(&mut self, stage: Stage, detail: impl FnOnce() -> String) {
        self.passed.insert(stage, detail());
    }
}

/// Explains what the gateway configured by `config` decides for `request` at `now` (Unix seconds),
/// with keys and revocation feeds from `keys`.
pub fn explain(config: &Config, keys: &impl Keys, request: &Request<'_>, now: u64) -> Explanation {
    let mut recorder = Recorder::default();
    let decision = pipeline::run(config, keys, None, request, now, &mut recorder);
    let token = request.authorization.and_then(bearer_token);
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
        delegation: None,
        steps: Vec::new(),
    };
    explanation.delegation = explanation
        .token
        .as_ref()
        .and_then(|t| ChainReport::from_claims(&t.claims));
    let mut failure = None;
    let mut waiting_at = None;
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
            failure = Some(&denial.error);
        }
        Decision::Wait { awaiting, .. } => {
            explanation.decision = Verdict::Wait;
            waiting_at = Some(match awaiting {
                Awaiting::Keys => Stage::Keys,
                Awaiting::Revocations => Stage::Revocation,
            });
        }
    }
    let rule = recorder
        .rule
        .and_then(|index| config.rules.get(index).map(|rule| (index, rule)));
    explanation.rule = rule.map(|(index, rule)| RuleReport::new(index, rule));
    let provider = match rule.map(|(_, rule)| &rule.requirement) {
        Some(Requirement::Token { provider, .. }) => Some(provider),
        _ => None,
    };
    explanation.provider = provider.cloned();
    let steps = Steps {
        passed: &mut recorder.passed,
        failure,
        waiting_at,
    };
    explanation.steps = steps.list(config, provider.map(String::as_str));
    explanation
}

/// The steps of one explanation, from what the run reported and how it ended.
struct Steps<'a> {
    passed: &'a mut BTreeMap<Stage, String>,
    /// Why the gateway denies, if it does; the error table says at which stage.
    failure: Option<&'a VerifyError>,
    /// The stage the gateway would hold the request at.
    waiting_at: Option<Stage>,
}

impl Steps<'_> {
    /// One step per stage the rule involves: only the rule stage for no rule or a public one,
    /// up to the token stage when there is no token, every stage otherwise.
    fn list(mut self, config: &Config, provider: Option<&str>) -> Vec<Step> {
        let Some(name) = provider else {
            return alloc::vec![self.step(Stage::Rule)];
        };
        let Some(provider) = config.providers.get(name) else {
            return alloc::vec![self.step(Stage::Rule)];
        };
        let last = match self.failure.map(VerifyError::stage) {
            Some(Stage::Token) => Stage::Token,
            _ => Stage::Scopes,
        };
        Stage::ALL
            .into_iter()
            .filter(|stage| *stage <= last)
            .map(|stage| match stage {
                Stage::Revocation if provider.revocations.is_none() => Step {
                    name: stage,
                    outcome: Outcome::Skip,
                    detail: format!("provider '{name}' has no revocation feed configured"),
                },

                _ => self.step(stage),
            })
            .collect()
    }

    /// `stage` as passed (before the failing stage), failed (at it) or skipped (after it, or
    /// from where the gateway would wait). A failed step's detail is the error's message.
    fn step(&mut self, stage: Stage) -> Step {
        let (outcome, detail) = match self.failure.map(|error| (error.stage(), error)) {
            Some((at, error)) if at == stage => (Outcome::Fail, error.to_string()),
            Some((at, _)) if at < stage => (Outcome::Skip, "not reached".to_string()),
            _ if self.waiting_at.is_some_and(|at| at <= stage) => (
                Outcome::Skip,
                "the gateway holds the request until the provider's keys or revocation feed arrive"
                    .to_string(),
            ),
            _ => (
                Outcome::Pass,
                self.passed.remove(&stage).unwrap_or_default(),
            ),
        };
        Step {
            name: stage,
            outcome,
            detail,
        }
    }
}
