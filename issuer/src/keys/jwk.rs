//! Public keys as published in the JWKS (RFC 7517).

use serde::{Deserialize, Serialize};
use verifier_core::PublicJwk;

use super::{KeyError, published};
use crate::store::Store;

/// A published public key: key material plus `alg`, `use: "sig"` and a thumbprint `kid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`, `OKP` or `RSA`.
    pub kty: String,
    /// Curve, for `EC` and `OKP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// X coordinate (`EC`) or public key (`OKP`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Y coordinate (`EC`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Modulus (`RSA`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// Public exponent (`RSA`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// The one algorithm this key may be used with.
    #[serde(default)]
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use", default)]
    pub key_use: String,
    /// RFC 7638 thumbprint of the key.
    #[serde(default)]
    pub kid: String,
}

impl Jwk {
    /// The members RFC 7638 hashes, if the key type and its members are complete.
    pub fn thumbprint_members(&self) -> Option<PublicJwk> {
        match self.kty.as_str() {
            "EC" => Some(PublicJwk::Ec {
                crv: self.crv.clone()?,
                x: self.x.clone()?,
                y: self.y.clone()?,
            }),
            "OKP" => Some(PublicJwk::Okp {
                crv: self.crv.clone()?,
                x: self.x.clone()?,
            }),
            "RSA" => Some(PublicJwk::Rsa {
                n: self.n.clone()?,
                e: self.e.clone()?,
            }),
            _ => None,
        }
    }
}

/// A JWK Set document (RFC 7517 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The published keys, current first.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The JWK Set of every published key, current first.
    pub async fn load(store: &Store) -> Result<Self, KeyError> {
        Ok(Self {
            keys: published(store)
                .await?
                .into_iter()
                .map(|key| key.jwk)
                .collect(),
        })
    }
}
