//! OAuth scopes (RFC 6749 §3.3): validation and narrowing.

use std::fmt;

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
    /// No request means everything allowed. A request may only narrow: one token outside the
    /// allowed set refuses the whole request rather than silently dropping it, so a client
    /// never receives a token it would misread as carrying a permission it lacks.
    pub fn narrow(&self, requested: Option<&str>) -> Result<Self, ScopeError> {
        let Some(requested) = requested else {
            return Ok(self.clone());
        };
        let requested = Self::parse(requested)?;
        if !requested.tokens().all(|token| self.contains(token)) {
            return Err(ScopeError::NotAllowed);
        }
        Ok(Self(
            self.0
                .iter()
                .filter(|token| requested.contains(token))
                .cloned()
                .collect(),
        ))
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
}
