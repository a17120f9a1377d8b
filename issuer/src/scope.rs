//! OAuth scopes (RFC 6749 §3.3): validation and narrowing.
//!
//! A scope-token ending in `:*` covers every longer one with its prefix (`repo:*` covers
//! `repo:read` and `repo:read:x`); [`verifier_core::scope::covers`] is that rule, shared with
//! the gateways, and the only one used here.

use std::fmt;

use verifier_core::scope::covered_by;

/// Why a scope string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// The string holds no scope-token at all.
    #[error("scope must name at least one scope-token")]
    Empty,
    /// A scope-token has a character outside RFC 6749 §3.3's `NQCHAR` set.
    #[error("scope-tokens may only use printable ASCII other than space, '\"' and '\\'")]
    InvalidCharacter,
    /// A requested scope-token is not among the client's allowed scopes.
    #[error("requested scope exceeds the scopes allowed for this client")]
    NotAllowed,
}

/// A non-empty list of distinct scope-tokens, in first-seen order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Parses a space-separated list; repeated spaces and repeated tokens are tolerated.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut tokens: Vec<String> = Vec::new();
        for token in text.split(' ').filter(|token| !token.is_empty()) {
            if !token.bytes().all(is_nqchar) {
                return Err(ScopeError::InvalidCharacter);
            }
            if !tokens.iter().any(|known| known == token) {
                tokens.push(token.to_owned());
            }
        }
        if tokens.is_empty() {
            return Err(ScopeError::Empty);
        }
        Ok(Self(tokens))
    }

    /// The scope to grant when a client with these allowed scopes asks for `requested`.
    ///
    /// No request means everything allowed. A request may only narrow: one token that no
    /// allowed token covers refuses the whole request rather than silently dropping it, so a
    /// client never receives a token it would misread as carrying a permission it lacks.
    ///
    /// The granted tokens come in the order of the allowed tokens that cover them (each under
    /// the first that does, in the order requested), so an exact request keeps the
    /// registration's order.
    pub fn narrow(&self, requested: Option<&str>) -> Result<Self, ScopeError> {
        let Some(requested) = requested else {
            return Ok(self.clone());
        };
        let requested = Self::parse(requested)?;
        if requested.first_not_covered_by(self).is_some() {
            return Err(ScopeError::NotAllowed);
        }
        let first_cover = |wanted: &str| {
            self.0
                .iter()
                .position(|held| verifier_core::scope::covers(held, wanted))
        };
        let mut granted: Vec<(usize, usize, &String)> = requested
            .0
            .iter()
            .enumerate()
            .filter_map(|(at, wanted)| Some((first_cover(wanted)?, at, wanted)))
            .collect();
        granted.sort_unstable();
        Ok(Self(
            granted.into_iter().map(|(_, _, t)| t.clone()).collect(),
        ))
    }

    /// The first of these scope-tokens that no token of `held` covers, if any.
    pub fn first_not_covered_by(&self, held: &Scope) -> Option<&str> {
        self.tokens()
            .find(|wanted| !covered_by(held.tokens(), wanted))
    }

    /// Whether `token` is one of the scope-tokens.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|known| known == token)
    }

    /// The scope-tokens in order.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// RFC 6749 Appendix A: `NQCHAR = %x21 / %x23-5B / %x5D-7E`.
fn is_nqchar(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_deduplicates_and_keeps_order() {
        let scope = Scope::parse("b  a b").map(|s| s.to_string());
        assert_eq!(scope, Ok("b a".to_owned()));
    }

    #[test]
    fn parse_refuses_empty_and_bad_characters() {
        assert_eq!(Scope::parse("  "), Err(ScopeError::Empty));
        assert_eq!(Scope::parse("a\"b"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::parse("a\\b"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::parse("a\tb"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::parse("caf\u{e9}"), Err(ScopeError::InvalidCharacter));
    }

    #[test]
    fn narrow_subsets_and_refuses_supersets() {
        let allowed = Scope::parse("read write admin").expect("valid scope");
        assert_eq!(allowed.narrow(None), Ok(allowed.clone()));
        let narrowed = allowed.narrow(Some("admin read")).map(|s| s.to_string());
        assert_eq!(narrowed, Ok("read admin".to_owned()));
        assert_eq!(
            allowed.narrow(Some("read delete")),
            Err(ScopeError::NotAllowed)
        );
        assert_eq!(allowed.narrow(Some("")), Err(ScopeError::Empty));
    }

    #[test]
    fn narrow_honours_globs_and_nothing_else() {
        let allowed = Scope::parse("read repo:* docs:read:*").expect("valid scope");
        let narrowed = |requested: &str| allowed.narrow(Some(requested)).map(|s| s.to_string());
        assert_eq!(narrowed("repo:read"), Ok("repo:read".to_owned()));
        assert_eq!(
            narrowed("docs:read:x:y repo:write read repo:read:*"),
            Ok("read repo:write repo:read:* docs:read:x:y".to_owned()),
            "in the order of the allowed token covering each"
        );
        assert_eq!(narrowed("repo:*"), Ok("repo:*".to_owned()));
        for wider in ["repo", "docs:write", "docs:read", "*", "re*"] {
            assert_eq!(
                allowed.narrow(Some(wider)),
                Err(ScopeError::NotAllowed),
                "{wider}"
            );
        }
        // A `*` that is not a trailing `:*` is an ordinary character.
        let literal = Scope::parse("a*").expect("valid scope");
        assert_eq!(literal.narrow(Some("ab")), Err(ScopeError::NotAllowed));
        assert_eq!(literal.narrow(Some("a*")), Ok(literal.clone()));
    }

    #[test]
    fn first_not_covered_by() {
        let held = Scope::parse("repo:read:* docs").expect("valid scope");
        let wanted = Scope::parse("repo:read:x docs repo:write").expect("valid scope");
        assert_eq!(wanted.first_not_covered_by(&held), Some("repo:write"));
        let fine = Scope::parse("repo:read:x:* docs").expect("valid scope");
        assert_eq!(fine.first_not_covered_by(&held), None);
    }
}
