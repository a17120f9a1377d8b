//! JSON Web Key Sets (RFC 7517): loading public keys and choosing the one a token names.
//!
//! Loading is where keys are judged: a key too weak, malformed or meant for something else is
//! skipped (and reported), so one odd key never takes the whole set down; a set that publishes
//! private key material is refused outright, because whoever published it is not to be trusted.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};

use crate::alg::{Algorithm, MlDsaKey, PublicKey};
use crate::compact;
use crate::json;
use crate::limits::{MAX_JSON_DEPTH, MAX_JWKS_BYTES, MAX_JWKS_KEYS, MAX_RSA_BITS, MIN_RSA_BITS};

/// Members that only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2, §6.4; `priv` of AKP keys).
const PRIVATE_MEMBERS: [&str; 9] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"];

/// A usable public key from a JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// The key's `kid`, if it has one.
    pub kid: Option<String>,
    /// The algorithm the key is restricted to (`alg` member), if any.
    pub alg: Option<Algorithm>,
    /// The key material.
    pub key: PublicKey,
}

impl Jwk {
    /// Whether this key may verify a token signed with `alg`: the key type fits, and the key's
    /// own `alg`, when present, is that algorithm (RFC 7517 §4.4).
    pub fn admits(&self, alg: Algorithm) -> bool {
        self.alg.is_none_or(|own| own == alg) && self.key.admits(alg)
    }
}

/// A key that was read but is not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The key's `kid`, if it had one.
    pub kid: Option<String>,
    /// Why it is not used.
    pub reason: &'static str,
}

/// A parsed key set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    /// The keys that can be used.
    pub keys: Vec<Jwk>,
    /// The keys that were skipped, for logs and `explain`.
    pub skipped: Vec<Skipped>,
}

/// Why a JWKS document was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The document is larger than the limit.
    #[error("the JWKS is {len} bytes; at most {max} are accepted")]
    TooLarge {
        /// Size of the document, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },
    /// The document is not a JSON object with a `keys` array.
    #[error("the JWKS is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key carries private or symmetric key material.
    #[error("the JWKS publishes private key material (member {member}); refusing the whole set")]
    PrivateKey {
        /// The offending member.
        member: &'static str,
    },
    /// No key in the set can be used.
    #[error("the JWKS has no usable key ({skipped} skipped)")]
    NoUsableKey {
        /// How many keys were skipped.
        skipped: usize,
    },
}

impl JwksError {
    /// The stable machine code, e.g. `jwks_malformed`.
    pub fn code(&self) -> &'static str {
        match self {
            JwksError::TooLarge { .. } => "jwks_too_large",
            JwksError::Malformed { .. } => "jwks_malformed",
            JwksError::PrivateKey { .. } => "jwks_private_key",
            JwksError::NoUsableKey { .. } => "jwks_no_usable_key",
        }
    }
}

impl Jwks {
    /// Parses a JWKS document. Fails only when the document as a whole cannot be trusted or
    /// yields no usable key; individual unusable keys are listed in [`Jwks::skipped`].
    pub fn parse(document: &[u8]) -> Result<Jwks, JwksError> {
        if document.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge {
                len: document.len(),
                max: MAX_JWKS_BYTES,
            });
        }
        let root = json::parse_object(document, MAX_JSON_DEPTH)
            .map_err(|e| JwksError::Malformed { reason: e.reason() })?;
        Jwks::from_object(&root)
    }

    /// Builds a key set from an already parsed JSON object.
    pub fn from_value(value: &Value) -> Result<Jwks, JwksError> {
        match value {
            Value::Object(root) => Jwks::from_object(root),
            _ => Err(JwksError::Malformed {
                reason: "not a JSON object",
            }),
        }
    }

    fn from_object(root: &Map<String, Value>) -> Result<Jwks, JwksError> {
        let Some(Value::Array(entries)) = root.get("keys") else {
            return Err(JwksError::Malformed {
                reason: "no \"keys\" array",
            });
        };
        if entries.len() > MAX_JWKS_KEYS {
            return Err(JwksError::Malformed {
                reason: "too many keys",
            });
        }
        let mut set = Jwks::default();
        for entry in entries {
            let Value::Object(members) = entry else {
                return Err(JwksError::Malformed {
                    reason: "a key is not a JSON object",
                });
            };
            if let Some(member) = PRIVATE_MEMBERS
                .into_iter()
                .find(|m| members.contains_key(*m))
            {
                return Err(JwksError::PrivateKey { member });
            }
            let kid = members
                .get("kid")
                .and_then(Value::as_str)
                .map(ToString::to_string);
            match parse_key(members) {
                Ok(key) => set.keys.push(Jwk { kid, ..key }),
                Err(reason) => set.skipped.push(Skipped { kid, reason }),
            }
        }
        if set.keys.is_empty() {
            return Err(JwksError::NoUsableKey {
                skipped: set.skipped.len(),
            });
        }
        Ok(set)
    }

    /// The keys that may verify a token with this `kid` (when given) and algorithm.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a Jwk> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.admits(alg) && (kid.is_none() || k.kid.as_deref() == kid))
    }
}

/// Reads one key; the error is the reason it is skipped.
fn parse_key(m: &Map<String, Value>) -> Result<Jwk, &'static str> {
    let text = |name: &str| match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err("a member is not a string"),
    };
    if text("kid").is_err() {
        return Err("kid is not a string");
    }
    if let Some(usage) = text("use")? {
        if usage != "sig" {
            return Err("use is not \"sig\"");
        }
    }
    if let Some(ops) = m.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|o| o == "verify"));
        if !verifies {
            return Err("key_ops does not include \"verify\"");
        }
    }
    let alg = match text("alg")? {
        None => None,
        Some(name) => Some(Algorithm::from_name(name).ok_or("alg is not supported")?),
    };
    let bytes = |name: &str| -> Result<Vec<u8>, &'static str> {
        let value = text(name)?.ok_or("a required key member is missing")?;
        compact::decode(value).map_err(|_| "a key member is not canonical base64url")
    };
    let key = match (text("kty")?, text("crv")?) {
        // from_sec1_bytes refuses points off the curve and the identity (invalid-curve attacks).
        (Some("EC"), Some("P-256")) => {
            let point = sec1_point(
                &bytes("x")?,
                &bytes("y")?,
                32,
                "P-256 coordinates must be 32 bytes",
            )?;
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|_| "the point is not on P-256")?;
            PublicKey::P256(crate::es256::P256Key::new(key))
        }
        (Some("EC"), Some("P-384")) => {
            let point = sec1_point(
                &bytes("x")?,
                &bytes("y")?,
                48,
                "P-384 coordinates must be 48 bytes",
            )?;
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|_| "the point is not on P-384")?;
            PublicKey::P384(key)
        }
        (Some("OKP"), Some("Ed25519")) => {
            let x: [u8; 32] = bytes("x")?
                .try_into()
                .map_err(|_| "an Ed25519 key must be 32 bytes")?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map_err(|_| "the Ed25519 key is not a curve point")?;
            // A small-order key verifies signatures anyone can forge for some messages.
            if key.is_weak() {
                return Err("the Ed25519 key is of small order");
            }
            PublicKey::Ed25519(key)
        }
        (Some("RSA"), _) => PublicKey::Rsa(rsa_key(&bytes("n")?, &bytes("e")?)?),
        // AKP keys name their algorithm; the key encoding is only meaningful with it.
        (Some("AKP"), _) => match alg {
            Some(Algorithm::MlDsa44) => PublicKey::MlDsa44(
                MlDsaKey::from_bytes(&bytes("pub")?)
                    .ok_or("an ML-DSA-44 key must be 1312 bytes")?,
            ),
            Some(Algorithm::MlDsa65) => PublicKey::MlDsa65(
                MlDsaKey::from_bytes(&bytes("pub")?)
                    .ok_or("an ML-DSA-65 key must be 1952 bytes")?,
            ),
            _ => return Err("an AKP key needs alg ML-DSA-44 or ML-DSA-65"),
        },
        (Some("EC" | "OKP"), _) => return Err("curve is not supported"),
        (Some(_), _) => return Err("kty is not supported"),
        (None, _) => return Err("kty is missing"),
    };
    match alg {
        Some(alg) if !key.admits(alg) => Err("alg does not fit the key type"),
        _ => Ok(Jwk {
            kid: None,
            alg,
            key,
        }),
    }
}

/// The uncompressed SEC 1 encoding `04 || x || y` of coordinates `size` bytes long each;
/// `wrong_size` is the reason otherwise.
fn sec1_point(
    x: &[u8],
    y: &[u8],
    size: usize,
    wrong_size: &'static str,
) -> Result<Vec<u8>, &'static str> {
    if x.len() != size || y.len() != size {
        return Err(wrong_size);
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(point)
}

fn rsa_key(n: &[u8], e: &[u8]) -> Result<rsa::RsaPublicKey, &'static str> {
    // An even modulus or exponent cannot belong to a real key pair.
    if n.last().is_none_or(|b| b & 1 == 0) || e.last().is_none_or(|b| b & 1 == 0) {
        return Err("RSA key is invalid");
    }
    let n = rsa::BigUint::from_bytes_be(n);
    if n.bits() < MIN_RSA_BITS {
        return Err("RSA key is shorter than 2048 bits");
    }
    // Also refuses exponents below 3 or above 2^33.
    rsa::RsaPublicKey::new_with_max_size(n, rsa::BigUint::from_bytes_be(e), MAX_RSA_BITS)
        .map_err(|_| "RSA key is invalid (modulus too large or bad exponent)")
}
