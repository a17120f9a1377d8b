//! The JOSE protected header (RFC 7515 §4): which algorithm, which key, what kind of token.

use alloc::string::{String, ToString};
use serde_json::Value;

use crate::alg::Algorithm;
use crate::error::VerifyError;
use crate::json;
use crate::limits::MAX_JSON_DEPTH;
use crate::policy::Provider;

/// Header members that would let the token choose its own key or change how it is read.
/// RFC 8725 §3.10: never fetch or trust keys named by the token itself.
const FORBIDDEN: [&str; 5] = ["jwk", "jku", "x5u", "x5c", "b64"];

/// A parsed protected header. Nothing in it is trusted until the signature verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The `alg` member as written.
    pub alg: String,
    /// The `typ` member, if any.
    pub typ: Option<String>,
    /// The `kid` member, if any.
    pub kid: Option<String>,
    /// The full header, for display by `decode` and `explain`.
    pub raw: Value,
}

impl Header {
    /// Parses the decoded header bytes, refusing members that are never accepted.
    pub fn parse(bytes: &[u8]) -> Result<Header, VerifyError> {
        let members = json::parse_object(bytes, MAX_JSON_DEPTH)
            .map_err(|e| VerifyError::TokenMalformed { reason: e.reason() })?;
        if let Some(member) = FORBIDDEN.into_iter().find(|m| members.contains_key(*m)) {
            return Err(VerifyError::HeaderForbidden { member });
        }
        // We implement no extension, so any `crit` names one we do not understand (§4.1.11).
        if members.contains_key("crit") {
            return Err(VerifyError::CritUnsupported);
        }
        let text = |name: &'static str| match members.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.to_string())),
            Some(_) => Err(VerifyError::TokenMalformed {
                reason: "a header member is not a string",
            }),
        };
        // A nested JWT (RFC 7519 §5.2) would have us verify one token and act on another.
        // `cty` compares like `typ`: `JWT` and `application/jwt` are the same marker (§4.1.10).
        if text("cty")?.is_some_and(|cty| media_type_eq(&cty, "jwt")) {
            return Err(VerifyError::HeaderForbidden { member: "cty" });
        }
        let alg = text("alg")?.ok_or(VerifyError::TokenMalformed {
            reason: "the header has no alg",
        })?;
        Ok(Header {
            alg,
            typ: text("typ")?,
            kid: text("kid")?,
            raw: Value::Object(members),
        })
    }

    /// The algorithm to verify with: the token's `alg`, only if the provider allows it.
    pub fn algorithm(&self, provider: &Provider) -> Result<Algorithm, VerifyError> {
        Algorithm::from_name(&self.alg)
            .filter(|alg| provider.algorithms.contains(alg))
            .ok_or_else(|| VerifyError::AlgNotAllowed {
                alg: self.alg.clone(),
            })
    }

    /// Checks `typ` against the provider's required type, if it has one.
    pub fn check_typ(&self, provider: &Provider) -> Result<(), VerifyError> {
        let Some(expected) = &provider.typ else {
            return Ok(());
        };
        match &self.typ {
            Some(found) if media_type_eq(found, expected) => Ok(()),
            found => Err(VerifyError::TypInvalid {
                found: found.clone(),
                expected: expected.clone(),
            }),
        }
    }
}

/// RFC 7515 §4.1.9: media types compare case-insensitively and `application/` may be omitted.
fn media_type_eq(a: &str, b: &str) -> bool {
    fn short(t: &str) -> &str {
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &t[12..],
            _ => t,
        }
    }
    short(a).eq_ignore_ascii_case(short(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Header, VerifyError> {
        Header::parse(json.as_bytes())
    }

    #[test]
    fn reads_alg_typ_kid() {
        let h = parse(r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#).unwrap();
        assert_eq!(
            (h.alg.as_str(), h.typ.as_deref(), h.kid.as_deref()),
            ("ES256", Some("at+jwt"), Some("k1"))
        );
    }

    #[test]
    fn refuses_embedded_keys_crit_b64_and_nesting() {
        for (json, code) in [
            (r#"{"alg":"ES256","jwk":{"kty":"EC"}}"#, "header_forbidden"),
            (
                r#"{"alg":"ES256","jku":"https://evil/jwks"}"#,
                "header_forbidden",
            ),
            (
                r#"{"alg":"ES256","x5u":"https://evil/cert"}"#,
                "header_forbidden",
            ),
            (r#"{"alg":"ES256","x5c":["MII"]}"#, "header_forbidden"),
            (
                r#"{"alg":"ES256","b64":false,"crit":["b64"]}"#,
                "header_forbidden",
            ),
            (r#"{"alg":"ES256","crit":["exp"]}"#, "crit_unsupported"),
            (r#"{"alg":"ES256","cty":"jwt"}"#, "header_forbidden"),
            (r#"{"alg":"ES256","alg":"none"}"#, "token_malformed"),
            (r#"{"typ":"at+jwt"}"#, "token_malformed"),
            (r#"{"alg":256}"#, "token_malformed"),
            (r#"["ES256"]"#, "token_malformed"),
        ] {
            assert_eq!(parse(json).unwrap_err().code(), code, "{json}");
        }
        assert!(parse(r#"{"alg":"ES256","cty":"application/json"}"#).is_ok());
    }

    #[test]
    fn typ_compares_as_rfc9068_says() {
        assert!(media_type_eq("at+jwt", "at+jwt"));
        assert!(media_type_eq("AT+JWT", "at+jwt"));
        assert!(media_type_eq("application/at+jwt", "at+jwt"));
        assert!(media_type_eq("Application/AT+jwt", "at+jwt"));
        assert!(!media_type_eq("JWT", "at+jwt"));
        assert!(!media_type_eq("application/", "at+jwt"));
    }
}
