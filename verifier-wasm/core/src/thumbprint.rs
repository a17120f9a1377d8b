//! RFC 7638 JWK thumbprints: the `kid` the issuer assigns and the gateway matches on.

use alloc::string::String;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The members of a public JWK that RFC 7638 §3.2 hashes, as base64url strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicJwk {
    /// `kty: "EC"` (RFC 7518 §6.2).
    Ec {
        /// Curve name, e.g. `P-256`.
        crv: String,
        /// X coordinate, base64url.
        x: String,
        /// Y coordinate, base64url.
        y: String,
    },
    /// `kty: "OKP"` (RFC 8037 §2).
    Okp {
        /// Curve name, e.g. `Ed25519`.
        crv: String,
        /// Public key, base64url.
        x: String,
    },
    /// `kty: "AKP"` (draft-ietf-cose-dilithium): ML-DSA keys.
    Akp {
        /// The algorithm, e.g. `ML-DSA-44`; part of the key's identity.
        alg: String,
        /// Public key, base64url.
        public: String,
    },
    /// `kty: "RSA"` (RFC 7518 §6.3).
    Rsa {
        /// Modulus, base64url, no leading zero octets.
        n: String,
        /// Public exponent, base64url.
        e: String,
    },
}

impl PublicJwk {
    /// The RFC 7638 SHA-256 thumbprint, base64url without padding.
    pub fn thumbprint(&self) -> String {
        // RFC 7638 §3.3: required members only, lexicographic order, no whitespace.
        // serde_json escapes the values, so the canonical form holds for any input.
        let canonical = match self {
            PublicJwk::Ec { crv, x, y } => {
                serde_json::json!({"crv": crv, "kty": "EC", "x": x, "y": y})
            }
            PublicJwk::Okp { crv, x } => serde_json::json!({"crv": crv, "kty": "OKP", "x": x}),
            PublicJwk::Akp { alg, public } => {
                serde_json::json!({"alg": alg, "kty": "AKP", "pub": public})
            }
            PublicJwk::Rsa { n, e } => serde_json::json!({"e": e, "kty": "RSA", "n": n}),
        };
        // serde_json's map is a BTreeMap (no `preserve_order`), so keys come out sorted.
        let text = serde_json::to_string(&canonical).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_section_3_1_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = PublicJwk::Rsa {
            n: n.into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
