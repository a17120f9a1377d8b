//! Delegation (RFC 8693 §4.1): a token that an agent obtained by token exchange names, in its
//! `act` claim, who acts for the principal in `sub`, outermost (current) actor first; and, in
//! [`ANCESTORS_CLAIM`], the `jti` of every token it was exchanged from, so that a gateway refuses
//! it offline once any of them is revoked.
//!
//! What a provider and a rule accept ([`DelegationPolicy`], [`DelegationRule`]) and the check
//! the gateway runs ([`admit`]) live here too: the issuer refuses the same chains at issuance,
//! the gateway again at every request, since a gateway's limits may be tighter than the issuer's.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use crate::error::VerifyError;
use crate::glob;
use crate::limits::MAX_JSON_DEPTH;

/// The claim that lists the `jti`s of the tokens a delegated token was exchanged from, nearest
/// first (the subject token's, then the one it was exchanged from, and so on).
pub const ANCESTORS_CLAIM: &str = "ancestor_jtis";

/// `sub_profile` of a person (draft-mcguinness-oauth-actor-profile).
pub const PROFILE_USER: &str = "user";

/// `sub_profile` of an agent.
pub const PROFILE_AI_AGENT: &str = "ai_agent";

/// `sub_profile` of a service.
pub const PROFILE_SERVICE: &str = "service";

/// One actor of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Its `sub`: the agent's client id.
    pub sub: String,
    /// Its `sub_profile`, if the token says.
    pub profile: Option<String>,
}

/// Who acts for the token's principal, and the tokens it descends from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// Every actor, outermost (the one presenting the token) first; never empty.
    pub actors: Vec<Actor>,
    /// The `jti`s of the tokens it was exchanged from, nearest first (empty if the issuer does
    /// not say).
    pub ancestors: Vec<String>,
    /// Every actor, outermost first, comma separated: `x-auth-actor-chain`.
    pub chain: String,
}

impl Delegation {
    /// Reads `act` and [`ANCESTORS_CLAIM`] from a claim set; `None` for a token without `act`.
    ///
    /// The chain is walked in a loop, never by recursion, and no deeper than the JSON parser
    /// allows a document to nest: a hostile token cannot make it cost more than that.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Option<Delegation>, VerifyError> {
        let Some(mut node) = claims.get("act") else {
            if claims.contains_key(ANCESTORS_CLAIM) {
                return Err(invalid(ANCESTORS_CLAIM, "present without act"));
            }
            return Ok(None);
        };
        let mut actors = Vec::new();
        loop {
            if actors.len() >= MAX_JSON_DEPTH {
                return Err(invalid("act", "nested too deeply"));
            }
            let Value::Object(actor) = node else {
                return Err(invalid("act", "not an object"));
            };
            let sub = match actor.get("sub") {
                Some(Value::String(sub)) if valid_name(sub) => sub.clone(),
                Some(Value::String(_)) => {
                    return Err(invalid(
                        "act",
                        "an actor's sub is empty, or holds a comma or anything but printable ASCII",
                    ));
                }
                _ => return Err(invalid("act", "an actor has no string sub")),
            };
            let profile = match actor.get("sub_profile") {
                None => None,
                Some(Value::String(p)) if valid_name(p) => Some(p.clone()),
                Some(_) => {
                    return Err(invalid(
                        "act",
                        "an actor's sub_profile is not a plain string",
                    ));
                }
            };
            actors.push(Actor { sub, profile });
            match actor.get("act") {
                Some(next) => node = next,
                None => break,
            }
        }
        let ancestors = match claims.get(ANCESTORS_CLAIM) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|jti| match jti {
                    Value::String(jti) if !jti.is_empty() && !jti.chars().any(char::is_control) => {
                        Ok(jti.clone())
                    }
                    _ => Err(invalid(
                        ANCESTORS_CLAIM,
                        "not an array of non-empty strings",
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(invalid(
                    ANCESTORS_CLAIM,
                    "not an array of non-empty strings",
                ));
            }
        };
        // RFC 8693 lets the client and the actor differ; ours never do, and a gateway that
        // forwards both must not tell the upstream two stories about who is calling.
        if let Some(Value::String(client_id)) = claims.get("client_id") {
            if actors.first().is_some_and(|a| a.sub != *client_id) {
                return Err(invalid(
                    "act",
                    "the current actor is not the token's client_id",
                ));
            }
        }
        let names: Vec<&str> = actors.iter().map(|a| a.sub.as_str()).collect();
        let chain = names.join(",");
        Ok(Some(Delegation {
            actors,
            ancestors,
            chain,
        }))
    }

    /// How many actors stand between the principal and the caller (1: an agent acting directly
    /// for the principal).
    pub fn depth(&self) -> usize {
        self.actors.len()
    }

    /// The actor presenting the token.
    pub fn current(&self) -> &str {
        self.actors.first().map_or("", |a| a.sub.as_str())
    }

    /// An actor named twice, or named as the principal `subject`: a loop.
    pub fn repeated<'a>(&'a self, subject: &str) -> Option<&'a str> {
        self.actors.iter().enumerate().find_map(|(i, a)| {
            let again = a.sub == subject || self.actors[..i].iter().any(|b| b.sub == a.sub);
            again.then_some(a.sub.as_str())
        })
    }

    /// Bytes held, for the token cache's bound.
    pub fn size(&self) -> usize {
        let actors: usize = self
            .actors
            .iter()
            .map(|a| 48 + a.sub.len() + a.profile.as_ref().map_or(0, String::len))
            .sum();
        actors + self.chain.len() + self.ancestors.iter().map(|j| 24 + j.len()).sum::<usize>()
    }
}

/// Names that become header values and are compared byte for byte (loops, `actors` globs):
/// printable ASCII without spaces, so no invisible or look-alike character can make one actor
/// two, and no comma, which separates the actors of `x-auth-actor-chain`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

fn invalid(claim: &'static str, reason: &'static str) -> VerifyError {
    VerifyError::ClaimInvalid { claim, reason }
}

/// A provider's acceptance of delegated tokens (`providers.<name>.delegation`). Without it, a
/// token carrying `act` is refused: a gateway must not mistake an agent for its principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelegationPolicy {
    /// The longest chain accepted (`max_depth`).
    pub max_depth: usize,
}

/// What a rule adds to its provider's delegation policy (`requires.max_delegation_depth`,
/// `requires.actors`, `requires.human_root`). The default adds nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DelegationRule {
    /// A shorter longest chain than the provider's, if set (0 refuses every delegated token).
    pub max_depth: Option<usize>,
    /// Globs the current actor of a delegated token must match one of; empty accepts any.
    pub actors: Vec<String>,
    /// The principal must be a person (`sub_profile` `user`).
    pub human_root: bool,
}

impl DelegationRule {
    /// Whether the rule adds anything to its provider's policy.
    pub fn is_empty(&self) -> bool {
        *self == DelegationRule::default()
    }
}

/// The gateway's delegation check: the token of principal `subject` (whose `sub_profile` is
/// `profile`) with `delegation`, under its provider's `policy` and the rule's `rule`. On
/// success, says what it found, for `explain`.
pub fn admit(
    subject: &str,
    profile: Option<&str>,
    delegation: Option<&Delegation>,
    policy: Option<&DelegationPolicy>,
    rule: &DelegationRule,
) -> Result<Admitted, VerifyError> {
    if rule.human_root && profile != Some(PROFILE_USER) {
        return Err(VerifyError::HumanRootRequired {
            profile: profile.unwrap_or("(none)").to_owned(),
        });
    }
    let Some(delegation) = delegation else {
        // An agent calling with its own token acts for itself: a rule naming its actors holds
        // it to them too, or any other agent could walk past the rule without a chain.
        if profile == Some(PROFILE_AI_AGENT) && !actor_allowed(rule, subject) {
            return Err(VerifyError::ActorNotAllowed {
                actor: subject.to_owned(),
            });
        }
        return Ok(Admitted::Direct);
    };
    let Some(policy) = policy else {
        return Err(VerifyError::DelegationNotAllowed);
    };
    if let Some(actor) = delegation.repeated(subject) {
        return Err(VerifyError::DelegationLoop {
            actor: actor.to_owned(),
        });
    }
    let max = rule
        .max_depth
        .map_or(policy.max_depth, |m| m.min(policy.max_depth));
    if delegation.depth() > max {
        return Err(VerifyError::DelegationTooDeep {
            depth: delegation.depth(),
            max,
        });
    }
    let current = delegation.current();
    if !actor_allowed(rule, current) {
        return Err(VerifyError::ActorNotAllowed {
            actor: current.to_owned(),
        });
    }
    Ok(Admitted::Delegated {
        depth: delegation.depth(),
        max,
    })
}

/// Whether `actor` matches one of the rule's `actors` globs (or the rule names none).
fn actor_allowed(rule: &DelegationRule, actor: &str) -> bool {
    rule.actors.is_empty() || rule.actors.iter().any(|g| glob::matches(g, actor))
}

/// What [`admit`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// The principal calls itself: no chain.
    Direct,
    /// A chain of `depth` actors, within `max`.
    Delegated {
        /// Its depth.
        depth: usize,
        /// The longest the provider and rule accept.
        max: usize,
    },
}
