//! Route rules: which requirement applies to a request. The first matching rule decides.

use alloc::string::String;
use alloc::vec::Vec;

use crate::delegation::DelegationRule;

/// One rule: a request matcher and what a matching request must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Which requests the rule applies to.
    pub matcher: Matcher,
    /// What those requests must present.
    pub requirement: Requirement,
}

/// Matches requests by path and, optionally, method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The path condition.
    pub path: PathMatch,
    /// Accepted methods, upper case; empty means any.
    pub methods: Vec<String>,
}

/// A path condition, compared against the path without its query string (case-sensitive, as
/// Envoy's route matching). Envoy normalises the path first (`normalize_path`, `merge_slashes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// The path starts with this string.
    Prefix(String),
    /// The path is exactly this string.
    Exact(String),
}

/// What a matching request must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Nothing: the request passes unchecked (`"public": true`).
    Public {
        /// Whether the caller's `Authorization` header, which nobody verified, goes upstream
        /// (`"forward": true` on the rule); by default it is removed.
        forward: bool,
    },
    /// A valid token from `provider` holding every scope in `scopes`.
    Token {
        /// The provider's name.
        provider: String,
        /// Scopes the token must all hold (a held `:*` glob covers those it extends).
        scopes: Vec<String>,
        /// What a delegated token must meet beyond the provider's policy.
        delegation: DelegationRule,
    },
}

impl Matcher {
    /// Whether the request matches.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let path = path_only(path);
        let path_ok = match &self.path {
            PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
            PathMatch::Exact(exact) => path == exact,
        };
        path_ok && (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
    }
}

/// The first rule that matches the request, and its position in `rules`, if any.
pub fn first_match<'r>(rules: &'r [Rule], method: &str, path: &str) -> Option<(usize, &'r Rule)> {
    rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.matcher.matches(method, path))
}

/// The path without query string or fragment.
fn path_only(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn rule(path: PathMatch, methods: &[&str], requirement: Requirement) -> Rule {
        Rule {
            matcher: Matcher {
                path,
                methods: methods.iter().map(|m| m.to_string()).collect(),
            },
            requirement,
        }
    }

    fn token(scopes: &[&str]) -> Requirement {
        Requirement::Token {
            provider: "local".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            delegation: DelegationRule::default(),
        }
    }

    #[test]
    fn first_match_wins() {
        let rules = vec![
            rule(
                PathMatch::Prefix("/api/v1/entities/register-bulk".into()),
                &["POST"],
                token(&["instruments:write"]),
            ),
            rule(
                PathMatch::Exact("/health".into()),
                &[],
                Requirement::Public { forward: false },
            ),
            rule(PathMatch::Prefix("/".into()), &[], token(&[])),
        ];
        let pick = |m, p| first_match(&rules, m, p).map(|(_, r)| r.requirement.clone());
        assert_eq!(
            pick("POST", "/api/v1/entities/register-bulk"),
            Some(token(&["instruments:write"]))
        );
        assert_eq!(
            pick("POST", "/api/v1/entities/register-bulk?dry=1"),
            Some(token(&["instruments:write"]))
        );
        // Method does not match: falls through to the catch-all.
        assert_eq!(
            pick("GET", "/api/v1/entities/register-bulk"),
            Some(token(&[]))
        );
        assert_eq!(
            pick("GET", "/health"),
            Some(Requirement::Public { forward: false })
        );
        assert_eq!(pick("GET", "/health/deep"), Some(token(&[])));
        assert_eq!(
            pick("GET", "/health?x"),
            Some(Requirement::Public { forward: false })
        );
    }

    #[test]
    fn no_match_is_none() {
        let rules = vec![rule(PathMatch::Prefix("/api".into()), &["GET"], token(&[]))];
        assert!(first_match(&rules, "GET", "/other").is_none());
        assert!(first_match(&rules, "POST", "/api").is_none());
        // Case-sensitive, like Envoy's route matching.
        assert!(first_match(&rules, "GET", "/API").is_none());
        assert!(first_match(&rules, "get", "/api").is_none());
    }
}
