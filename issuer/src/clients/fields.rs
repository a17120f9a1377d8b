//! The validated fields of a client registration: identifier, kind, audience and token lifetime.

use std::fmt;

/// Longest accepted client identifier.
pub const MAX_CLIENT_ID_LEN: usize = 128;

/// Longest accepted audience.
pub const MAX_AUDIENCE_LEN: usize = 256;

/// Longest accepted token lifetime: one day, the verifier's default maximum token lifetime.
pub const MAX_TTL_SECS: u64 = 86_400;

/// Why a registration field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The client id is empty, too long or uses a character outside `[A-Za-z0-9._:-]`.
    #[error("client_id must be 1 to 128 characters from A-Z a-z 0-9 . _ : -")]
    ClientId,
    /// The client id is made only of dots: `.` and `..` cannot be named in a URL path (they
    /// are resolved away), so such a client could never be managed through the admin API.
    #[error(
        "client_id cannot be made only of dots ('.', '..'): it could not be named in a URL; use at least one other character"
    )]
    ClientIdDots,
    /// The audience is empty, too long or not printable ASCII without spaces.
    #[error("audience must be 1 to 256 printable ASCII characters without spaces")]
    Audience,
    /// The lifetime is outside 1..=86400 seconds.
    #[error("ttl must be between 1 and 86400 seconds")]
    Ttl,
    /// The kind is neither `service` nor `agent`.
    #[error("kind must be service or agent")]
    Kind,
}

/// What a client is: a service, whose tokens name itself, or an agent, which may also act for
/// another principal through token exchange (RFC 8693).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Client credentials for itself only.
    #[default]
    Service,
    /// Client credentials for itself, and token exchange for others.
    Agent,
}

impl ClientKind {
    /// Reads the stored and command-line name.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        match text {
            "service" => Ok(Self::Service),
            "agent" => Ok(Self::Agent),
            _ => Err(FieldError::Kind),
        }
    }

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Agent => "agent",
        }
    }

    /// The `sub_profile` of a token naming such a client (draft-mcguinness-oauth-actor-profile).
    pub fn profile(self) -> &'static str {
        match self {
            Self::Service => verifier_core::PROFILE_SERVICE,
            Self::Agent => verifier_core::PROFILE_AI_AGENT,
        }
    }
}

/// A client identifier: the token's `sub` and `client_id`, e.g. `svc.warehouse`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// Validates `text` as a client identifier: 1 to 128 characters from `[A-Za-z0-9._:-]`,
    /// not only dots (a path segment `.` or `..` is resolved away by every URL parser, so the
    /// admin API's `/admin/clients/{id}/...` could never reach such a client).
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let valid_char =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
        if text.is_empty() || text.len() > MAX_CLIENT_ID_LEN || !text.bytes().all(valid_char) {
            return Err(FieldError::ClientId);
        }
        if text.bytes().all(|b| b == b'.') {
            return Err(FieldError::ClientIdDots);
        }
        Ok(Self(text.to_owned()))
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `aud` a client's tokens carry: the resource servers they are meant for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(String);

impl Audience {
    /// Validates `text` as an audience.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let visible = |b: u8| (0x21..=0x7E).contains(&b);
        if text.is_empty() || text.len() > MAX_AUDIENCE_LEN || !text.bytes().all(visible) {
            return Err(FieldError::Audience);
        }
        Ok(Self(text.to_owned()))
    }

    /// The audience as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a client's tokens live, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl(u64);

impl Ttl {
    /// The lifetime in seconds.
    pub fn secs(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for Ttl {
    type Error = FieldError;

    fn try_from(secs: u64) -> Result<Self, Self::Error> {
        if (1..=MAX_TTL_SECS).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(FieldError::Ttl)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_charset_and_length() {
        assert!(ClientId::parse("svc.warehouse").is_ok());
        assert!(ClientId::parse("a:b-c_d.E9").is_ok());
        assert!(ClientId::parse(&"x".repeat(128)).is_ok());
        assert_eq!(ClientId::parse(&"x".repeat(129)), Err(FieldError::ClientId));
        assert_eq!(ClientId::parse(""), Err(FieldError::ClientId));
        assert_eq!(ClientId::parse("svc warehouse"), Err(FieldError::ClientId));
        assert_eq!(ClientId::parse("svc/warehouse"), Err(FieldError::ClientId));
    }

    #[test]
    fn client_id_is_not_only_dots() {
        for dots in [".", "..", "...", &".".repeat(128)] {
            assert_eq!(
                ClientId::parse(dots),
                Err(FieldError::ClientIdDots),
                "{dots}"
            );
        }
        assert_eq!(
            ClientId::parse(&".".repeat(129)),
            Err(FieldError::ClientId),
            "too long first"
        );
        for fine in [".a", "a.", "..a", "a..", "._", ":.", "-..-"] {
            assert!(ClientId::parse(fine).is_ok(), "{fine}");
        }
        assert!(
            FieldError::ClientIdDots
                .to_string()
                .contains("only of dots"),
            "{}",
            FieldError::ClientIdDots
        );
    }

    #[test]
    fn ttl_bounds() {
        assert_eq!(Ttl::try_from(0), Err(FieldError::Ttl));
        assert_eq!(Ttl::try_from(1).map(Ttl::secs), Ok(1));
        assert_eq!(Ttl::try_from(86_400).map(Ttl::secs), Ok(86_400));
        assert_eq!(Ttl::try_from(86_401), Err(FieldError::Ttl));
    }

    #[test]
    fn kinds_round_trip_and_name_their_profile() {
        for kind in [ClientKind::Service, ClientKind::Agent] {
            assert_eq!(ClientKind::parse(kind.as_str()), Ok(kind));
        }
        assert_eq!(ClientKind::parse("Agent"), Err(FieldError::Kind));
        assert_eq!(ClientKind::default(), ClientKind::Service);
        assert_eq!(ClientKind::Agent.profile(), "ai_agent");
        assert_eq!(ClientKind::Service.profile(), "service");
    }

    #[test]
    fn audience_is_visible_ascii() {
        assert!(Audience::parse("quantjourney").is_ok());
        assert!(Audience::parse("https://api.example.com").is_ok());
        assert_eq!(Audience::parse(""), Err(FieldError::Audience));
        assert_eq!(Audience::parse("a b"), Err(FieldError::Audience));
    }
}
