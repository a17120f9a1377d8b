//! Signature algorithms (RFC 7518 §3, RFC 8037 §3.1, draft-ietf-cose-dilithium) and their
//! verification.
//!
//! The algorithm a token is checked with is always one the provider allows and the key admits;
//! the token's `alg` only selects among those. There is no `none` and no HMAC: a gateway that
//! holds only public keys cannot be tricked into using one as a shared secret.

use alloc::boxed::Box;
use core::fmt;

use ecdsa_core::signature::Verifier as _;
use ml_dsa::{MlDsa44, MlDsa65, MlDsaParams};
use rsa::traits::SignatureScheme as _;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

// p256 and p384 re-export the same `ecdsa` crate; one name for its `Verifier` trait.
use p256::ecdsa as ecdsa_core;

/// A JWS signature algorithm this verifier implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256, signature `r || s` (RFC 7518 §3.4).
    Es256,
    /// ECDSA with P-384 and SHA-384, signature `r || s` (RFC 7518 §3.4).
    Es384,
    /// Ed25519 (RFC 8037 §3.1).
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (RFC 7518 §3.3).
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (RFC 7518 §3.3).
    Rs512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, 32-byte salt (RFC 7518 §3.5).
    Ps256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, 48-byte salt (RFC 7518 §3.5).
    Ps384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, 64-byte salt (RFC 7518 §3.5).
    Ps512,
    /// ML-DSA-44 (FIPS 204), empty context (draft-ietf-cose-dilithium).
    MlDsa44,
    /// ML-DSA-65 (FIPS 204), empty context (draft-ietf-cose-dilithium).
    MlDsa65,
}

impl Algorithm {
    /// Every algorithm, in the order they are documented.
    pub const ALL: [Algorithm; 11] = [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::MlDsa44,
        Algorithm::MlDsa65,
    ];

    /// The JWA name, e.g. `ES256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::MlDsa44 => "ML-DSA-44",
            Algorithm::MlDsa65 => "ML-DSA-65",
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

/// An ML-DSA public key. Boxed: the expanded key is kilobytes, the other variants are small.
#[derive(Debug, Clone, PartialEq)]
pub struct MlDsaKey<P: MlDsaParams>(Box<ml_dsa::VerifyingKey<P>>);

// Equality is field-by-field equality of the decoded key, which is an equivalence relation.
impl<P: MlDsaParams> Eq for MlDsaKey<P> {}

impl<P: MlDsaParams> MlDsaKey<P> {
    /// Decodes a FIPS 204 encoded public key; None unless it has exactly the encoded size.
    pub fn from_bytes(bytes: &[u8]) -> Option<MlDsaKey<P>> {
        let encoded = ml_dsa::EncodedVerifyingKey::<P>::try_from(bytes).ok()?;
        Some(MlDsaKey(Box::new(ml_dsa::VerifyingKey::decode(&encoded))))
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        ml_dsa::Signature::<P>::try_from(signature)
            .is_ok_and(|sig| self.0.verify_with_context(message, &[], &sig))
    }
}

/// Public key material, already checked for strength and validity when it was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// A P-256 point, with its verification table.
    P256(crate::es256::P256Key),
    /// A P-384 point.
    P384(p384::ecdsa::VerifyingKey),
    /// An Ed25519 public key (not of small order).
    Ed25519(ed25519_dalek::VerifyingKey),
    /// An RSA public key of at least [`MIN_RSA_BITS`](crate::limits::MIN_RSA_BITS).
    Rsa(rsa::RsaPublicKey),
    /// An ML-DSA-44 public key.
    MlDsa44(MlDsaKey<MlDsa44>),
    /// An ML-DSA-65 public key.
    MlDsa65(MlDsaKey<MlDsa65>),
}

impl PublicKey {
    /// Whether this key can verify `alg`.
    pub fn admits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (PublicKey::P256(_), Es256)
                | (PublicKey::P384(_), Es384)
                | (PublicKey::Ed25519(_), EdDsa)
                | (
                    PublicKey::Rsa(_),
                    Rs256 | Rs384 | Rs512 | Ps256 | Ps384 | Ps512
                )
                | (PublicKey::MlDsa44(_), MlDsa44)
                | (PublicKey::MlDsa65(_), MlDsa65)
        )
    }

    /// Verifies `signature` over `message` with `alg`. False for any mismatch or malformed input.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match (self, alg) {
            // JWS ECDSA signatures are the fixed-size `r || s` (RFC 7518 §3.4), never DER;
            // from_slice also refuses r or s of zero (the "psychic signature" attack).
            (PublicKey::P256(key), Algorithm::Es256) => key.verify(message, signature),
            (PublicKey::P384(key), Algorithm::Es384) => {
                p384::ecdsa::Signature::from_slice(signature)
                    .is_ok_and(|sig| key.verify(message, &sig).is_ok())
            }
            // Strict: also refuses small-order R and non-canonical encodings (RFC 8032 §5.1.7).
            (PublicKey::Ed25519(key), Algorithm::EdDsa) => {
                ed25519_dalek::Signature::from_slice(signature)
                    .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok())
            }
            (PublicKey::Rsa(key), alg) => verify_rsa(key, alg, message, signature),
            (PublicKey::MlDsa44(key), Algorithm::MlDsa44) => key.verify(message, signature),
            (PublicKey::MlDsa65(key), Algorithm::MlDsa65) => key.verify(message, signature),
            _ => false,
        }
    }
}

/// Both RSA schemes check that the signature is exactly the modulus length; PSS also checks
/// that the salt is the digest length, as RFC 7518 §3.5 requires.
fn verify_rsa(key: &rsa::RsaPublicKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    use rsa::{Pkcs1v15Sign, Pss};
    let result = match alg {
        Algorithm::Rs256 => {
            Pkcs1v15Sign::new::<Sha256>().verify(key, &Sha256::digest(message), signature)
        }
        Algorithm::Rs384 => {
            Pkcs1v15Sign::new::<Sha384>().verify(key, &Sha384::digest(message), signature)
        }
        Algorithm::Rs512 => {
            Pkcs1v15Sign::new::<Sha512>().verify(key, &Sha512::digest(message), signature)
        }
        Algorithm::Ps256 => Pss::new::<Sha256>().verify(key, &Sha256::digest(message), signature),
        Algorithm::Ps384 => Pss::new::<Sha384>().verify(key, &Sha384::digest(message), signature),
        Algorithm::Ps512 => Pss::new::<Sha512>().verify(key, &Sha512::digest(message), signature),
        _ => return false,
    };
    result.is_ok()
}
