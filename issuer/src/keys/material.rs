//! Key pairs for each algorithm, and their byte and JWK encodings. (Tokens are checked by
//! `verifier_core`, as the gateways check them: see `access_token::validate`.)

use std::fmt;

use jwt_simple::prelude::*;

use super::{Jwk, KeyError, RSA_MODULUS_BITS, SigningAlg};

/// A private signing key of one of the supported algorithms.
pub enum PrivateKey {
    /// P-256 key pair.
    Es256(ES256KeyPair),
    /// Ed25519 key pair.
    EdDsa(Ed25519KeyPair),
    /// 2048-bit RSA key pair (boxed: it is several times larger than the others).
    Rs256(Box<RS256KeyPair>),
}

impl PrivateKey {
    /// Generates a new key from the OS RNG; RSA takes a while, so call it off the async runtime.
    pub fn generate(alg: SigningAlg) -> Result<Self, KeyError> {
        Ok(match alg {
            SigningAlg::Es256 => Self::Es256(ES256KeyPair::generate()),
            SigningAlg::EdDsa => Self::EdDsa(Ed25519KeyPair::generate()),
            SigningAlg::Rs256 => Self::Rs256(Box::new(
                RS256KeyPair::generate(RSA_MODULUS_BITS).map_err(KeyError::crypto)?,
            )),
        })
    }

    /// Decodes the bytes produced by [`PrivateKey::to_bytes`].
    pub fn from_bytes(alg: SigningAlg, bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(match alg {
            SigningAlg::Es256 => {
                Self::Es256(ES256KeyPair::from_bytes(bytes).map_err(KeyError::crypto)?)
            }
            SigningAlg::EdDsa => {
                Self::EdDsa(Ed25519KeyPair::from_bytes(bytes).map_err(KeyError::crypto)?)
            }
            SigningAlg::Rs256 => Self::Rs256(Box::new(
                RS256KeyPair::from_der(bytes).map_err(KeyError::crypto)?,
            )),
        })
    }

    /// The private key as bytes: the P-256 scalar, the Ed25519 seed and public key, or RSA DER.
    pub fn to_bytes(&self) -> Result<Vec<u8>, KeyError> {
        Ok(match self {
            Self::Es256(key) => key.to_bytes(),
            Self::EdDsa(key) => key.to_bytes(),
            Self::Rs256(key) => key.to_der().map_err(KeyError::crypto)?,
        })
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> SigningAlg {
        match self {
            Self::Es256(_) => SigningAlg::Es256,
            Self::EdDsa(_) => SigningAlg::EdDsa,
            Self::Rs256(_) => SigningAlg::Rs256,
        }
    }

    /// The public JWK, with `kid` set to its RFC 7638 thumbprint.
    pub fn public_jwk(&self) -> Result<Jwk, KeyError> {
        let exported = match self {
            Self::Es256(key) => key.public_key().to_jwk(),
            Self::EdDsa(key) => key.public_key().to_jwk(),
            Self::Rs256(key) => key.public_key().to_jwk(),
        };
        let mut jwk: Jwk =
            serde_json::from_str(&exported).map_err(|err| KeyError::Crypto(err.into()))?;
        // Set explicitly rather than trusting the export's optional members.
        jwk.alg = self.alg().as_str().to_owned();
        jwk.key_use = "sig".to_owned();
        let members = jwk.thumbprint_members().ok_or(KeyError::Corrupt {
            kid: String::new(),
            reason: "exported public key lacks its key members",
        })?;
        jwk.kid = members.thumbprint();
        Ok(jwk)
    }

    /// The same key, putting `kid` in the header of everything it signs.
    pub(crate) fn with_key_id(self, kid: &str) -> Self {
        match self {
            Self::Es256(key) => Self::Es256(key.with_key_id(kid)),
            Self::EdDsa(key) => Self::EdDsa(key.with_key_id(kid)),
            Self::Rs256(key) => Self::Rs256(Box::new(key.with_key_id(kid))),
        }
    }

    /// Signs `claims` with the given header options.
    pub(crate) fn sign<C: Serialize>(
        &self,
        claims: JWTClaims<C>,
        header: &HeaderOptions,
    ) -> Result<String, KeyError> {
        match self {
            Self::Es256(key) => key.sign_with_options(claims, header),
            Self::EdDsa(key) => key.sign_with_options(claims, header),
            Self::Rs256(key) => key.sign_with_options(claims, header),
        }
        .map_err(KeyError::crypto)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, <redacted>)", self.alg())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our kid (verifier-core's RFC 7638 code) must agree with jwt-simple's own thumbprint.
    #[test]
    fn kid_matches_jwt_simple_thumbprint() -> Result<(), KeyError> {
        for alg in [SigningAlg::Es256, SigningAlg::EdDsa] {
            let key = PrivateKey::generate(alg)?;
            let theirs = match &key {
                PrivateKey::Es256(k) => k.public_key().jwk_thumbprint(),
                PrivateKey::EdDsa(k) => k.public_key().jwk_thumbprint(),
                PrivateKey::Rs256(k) => k.public_key().jwk_thumbprint(),
            };
            assert_eq!(key.public_jwk()?.kid, theirs, "{alg}");
        }
        Ok(())
    }

    #[test]
    fn bytes_round_trip() -> Result<(), KeyError> {
        for alg in [SigningAlg::Es256, SigningAlg::EdDsa] {
            let key = PrivateKey::generate(alg)?;
            let again = PrivateKey::from_bytes(alg, &key.to_bytes()?)?;
            assert_eq!(again.public_jwk()?, key.public_jwk()?);
        }
        Ok(())
    }
}
