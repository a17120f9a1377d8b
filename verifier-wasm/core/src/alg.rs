//! Signature algorithms (RFC 7518 §3, RFC 8037 §3.1) and their verification.
//!
//! The algorithm a token is checked with is always one the provider allows and the key admits;
//! the token's `alg` only selects among those. There is no `none` and no HMAC: a gateway that
//! holds only public keys cannot be tricked into using one as a shared secret.

use core::fmt;

use p256::ecdsa::signature::Verifier as _;
use sha2::Digest as _;

/// A JWS signature algorithm this verifier implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256, signature `r || s` (RFC 7518 §3.4).
    Es256,
    /// Ed25519 (RFC 8037 §3.1).
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
}

impl Algorithm {
    /// Every algorithm, in the order they are documented.
    pub const ALL: [Algorithm; 3] = [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256];

    /// The JWA name, e.g. `ES256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
        }
    }

    /// Looks up a JWA name; names are case-sensitive (RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Public key material, already checked for strength and validity when it was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// A P-256 point.
    P256(p256::ecdsa::VerifyingKey),
    /// An Ed25519 public key.
    Ed25519(ed25519_compact::PublicKey),
    /// An RSA public key of at least [`MIN_RSA_BITS`](crate::limits::MIN_RSA_BITS).
    Rsa(rsa::RsaPublicKey),
}

impl PublicKey {
    /// Whether this key can verify `alg`.
    pub fn admits(&self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (PublicKey::P256(_), Algorithm::Es256)
                | (PublicKey::Ed25519(_), Algorithm::EdDsa)
                | (PublicKey::Rsa(_), Algorithm::Rs256)
        )
    }

    /// Verifies `signature` over `message` with `alg`. False for any mismatch or malformed input.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match (self, alg) {
            (PublicKey::P256(key), Algorithm::Es256) => {
                // JWS ECDSA signatures are the fixed-size `r || s` (RFC 7518 §3.4), never DER;
                // from_slice also refuses r or s of zero (the "psychic signature" attack).
                p256::ecdsa::Signature::from_slice(signature)
                    .is_ok_and(|sig| key.verify(message, &sig).is_ok())
            }
            (PublicKey::Ed25519(key), Algorithm::EdDsa) => {
                ed25519_compact::Signature::from_slice(signature)
                    .is_ok_and(|sig| key.verify(message, &sig).is_ok())
            }
            (PublicKey::Rsa(key), Algorithm::Rs256) => {
                // The scheme checks that the signature is exactly the modulus length.
                let digest = sha2::Sha256::digest(message);
                key.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}
