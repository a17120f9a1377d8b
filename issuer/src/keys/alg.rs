//! The JWS algorithms the issuer signs with.

use std::fmt;
use std::str::FromStr;

/// RSA modulus size for RS256 keys: the minimum the verifier accepts (RFC 7518 §3.3).
pub const RSA_MODULUS_BITS: usize = 2048;

/// A JWS signing algorithm (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// ECDSA with P-256 and SHA-256; the default: small keys, small signatures, fast.
    Es256,
    /// Ed25519.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit modulus, for verifiers that know only RSA.
    Rs256,
}

impl SigningAlg {
    /// Every algorithm the issuer signs with.
    pub const ALL: [Self; 3] = [Self::Es256, Self::EdDsa, Self::Rs256];

    /// The same algorithm, as the verifier names it.
    pub fn algorithm(self) -> verifier_core::Algorithm {
        match self {
            Self::Es256 => verifier_core::Algorithm::Es256,
            Self::EdDsa => verifier_core::Algorithm::EdDsa,
            Self::Rs256 => verifier_core::Algorithm::Rs256,
        }
    }

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
        }
    }
}

impl serde::Serialize for SigningAlg {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An algorithm name the issuer does not sign with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signing algorithm {0:?} (expected ES256, EdDSA or RS256)")]
pub struct UnknownAlg(String);

impl FromStr for SigningAlg {
    type Err = UnknownAlg;

    /// Case-insensitive, so `es256` in an environment variable is not a startup failure.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Self::Es256, Self::EdDsa, Self::Rs256]
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownAlg(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for alg in [SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Rs256] {
            assert_eq!(alg.as_str().parse(), Ok(alg));
            assert_eq!(alg.as_str().to_lowercase().parse(), Ok(alg));
        }
        assert!("HS256".parse::<SigningAlg>().is_err());
        assert!("none".parse::<SigningAlg>().is_err());
    }
}
