//! Fixed-seed signing keys that sign exactly the bytes they are given.

use std::sync::OnceLock;

use rsa::RsaPrivateKey;
use serde_json::{Value, json};
use sha2::digest::const_oid::AssociatedOid;
use sha2::digest::{Digest, DynDigest};
use verifier_core::Algorithm;

use crate::encoding::b64;

/// The six RSA algorithms, all served by the one RSA test key.
pub const RSA_ALGORITHMS: [Algorithm; 6] = {
    use Algorithm::{Ps256, Ps384, Ps512, Rs256, Rs384, Rs512};
    [Rs256, Rs384, Rs512, Ps256, Ps384, Ps512]
};

enum Key {
    Es256(p256::ecdsa::SigningKey),
    Es384(p384::ecdsa::SigningKey),
    EdDsa(ed25519_compact::KeyPair),
    Rsa(&'static RsaPrivateKey),
    MlDsa44(Box<ml_dsa::SigningKey<ml_dsa::MlDsa44>>),
    MlDsa65(Box<ml_dsa::SigningKey<ml_dsa::MlDsa65>>),
}

/// A deterministic byte stream for the RSA key and PSS salts: tests need repeatable tokens, not
/// secret ones.
struct CountingRng(u64);

impl rsa::rand_core::RngCore for CountingRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for CountingRng {}

/// The 2048-bit RSA test key: generated once per process, as generation is slow in debug builds.
pub(crate) fn rsa_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::new(&mut CountingRng(2048), 2048).expect("RSA key"))
}

fn pkcs1v15<D: Digest + AssociatedOid>(key: &RsaPrivateKey, message: &[u8]) -> Vec<u8> {
    key.sign(rsa::Pkcs1v15Sign::new::<D>(), &D::digest(message))
        .expect("RSA signing")
}

fn pss<D: 'static + Digest + DynDigest + Send + Sync>(
    key: &RsaPrivateKey,
    message: &[u8],
) -> Vec<u8> {
    // Seeded by the message, so the same token is signed alike every time.
    let mut rng = CountingRng(u64::from(message.len() as u32));
    key.sign_with_rng(&mut rng, rsa::Pss::new::<D>(), &D::digest(message))
        .expect("RSA signing")
}

fn ml_dsa_sign<P: ml_dsa::MlDsaParams>(key: &ml_dsa::SigningKey<P>, message: &[u8]) -> Vec<u8> {
    key.expanded_key()
        .sign_deterministic(message, &[])
        .expect("ML-DSA signing")
        .encode()
        .to_vec()
}

fn ml_dsa_jwk<P: ml_dsa::MlDsaParams>(key: &ml_dsa::SigningKey<P>, alg: &str) -> Value {
    use ml_dsa::signature::Keypair as _;
    json!({"kty": "AKP", "alg": alg, "pub": b64(key.verifying_key().encode())})
}

/// A deterministic signing key with a `kid`.
pub struct Signer {
    /// The key id put in [`Signer::header`] and [`Signer::jwk`].
    pub kid: String,
    alg: Algorithm,
    key: Key,
}

impl Signer {
    fn new(kid: String, alg: Algorithm, key: Key) -> Signer {
        Signer { kid, alg, key }
    }

    /// A P-256 key whose scalar is 32 bytes of `n` (1..=0x7f keeps it below the group order).
    pub fn es256(n: u8) -> Signer {
        assert!((1..=0x7f).contains(&n));
        let key = p256::ecdsa::SigningKey::from_slice(&[n; 32]).expect("valid P-256 scalar");
        Signer::new(format!("es256-{n}"), Algorithm::Es256, Key::Es256(key))
    }

    /// An Ed25519 key from the seed 32 bytes of `n`.
    pub fn eddsa(n: u8) -> Signer {
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([n; 32]));
        Signer::new(format!("eddsa-{n}"), Algorithm::EdDsa, Key::EdDsa(pair))
    }

    /// The 2048-bit RSA test key for RS256.
    pub fn rs256() -> Signer {
        Signer::rsa(Algorithm::Rs256)
    }

    /// A P-384 key whose scalar is 48 bytes of `n` (1..=0x7f keeps it below the group order).
    pub fn es384(n: u8) -> Signer {
        assert!((1..=0x7f).contains(&n));
        let key = p384::ecdsa::SigningKey::from_slice(&[n; 48]).expect("valid P-384 scalar");
        Signer::new(format!("es384-{n}"), Algorithm::Es384, Key::Es384(key))
    }

    /// The 2048-bit RSA test key for one of [`RSA_ALGORITHMS`]; the `kid` is the lower-case
    /// name plus `-1`.
    pub fn rsa(alg: Algorithm) -> Signer {
        assert!(
            RSA_ALGORITHMS.contains(&alg),
            "{alg} is not an RSA algorithm"
        );
        let kid = format!("{}-1", alg.name().to_lowercase());
        Signer::new(kid, alg, Key::Rsa(rsa_key()))
    }

    /// An ML-DSA-44 key from the seed 32 bytes of `n`.
    pub fn mldsa44(n: u8) -> Signer {
        let key = ml_dsa::SigningKey::<ml_dsa::MlDsa44>::from_seed(&[n; 32].into());
        let key = Key::MlDsa44(Box::new(key));
        Signer::new(format!("ml-dsa-44-{n}"), Algorithm::MlDsa44, key)
    }

    /// An ML-DSA-65 key from the seed 32 bytes of `n`.
    pub fn mldsa65(n: u8) -> Signer {
        let key = ml_dsa::SigningKey::<ml_dsa::MlDsa65>::from_seed(&[n; 32].into());
        let key = Key::MlDsa65(Box::new(key));
        Signer::new(format!("ml-dsa-65-{n}"), Algorithm::MlDsa65, key)
    }

    /// The same key under another `kid`.
    pub fn with_kid(mut self, kid: &str) -> Signer {
        self.kid = kid.into();
        self
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The JWA name of the key's algorithm.
    pub fn alg(&self) -> &'static str {
        self.alg.name()
    }

    /// Signs `message` exactly as JWS does: ECDSA as the fixed-size `r || s`, EdDSA as the
    /// 64-byte Ed25519 signature, RS* as RSASSA-PKCS1-v1_5, PS* as PSS (MGF1 with the same
    /// hash, salt as long as the hash, from a deterministic generator), ML-DSA deterministic
    /// with an empty context.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.key {
            Key::Es256(key) => {
                use p256::ecdsa::signature::Signer as _;
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Key::Es384(key) => {
                use p384::ecdsa::signature::Signer as _;
                let signature: p384::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Key::EdDsa(pair) => pair.sk.sign(message, None).as_ref().to_vec(),
            Key::Rsa(key) => match self.alg {
                Algorithm::Rs256 => pkcs1v15::<sha2::Sha256>(key, message),
                Algorithm::Rs384 => pkcs1v15::<sha2::Sha384>(key, message),
                Algorithm::Rs512 => pkcs1v15::<sha2::Sha512>(key, message),
                Algorithm::Ps256 => pss::<sha2::Sha256>(key, message),
                Algorithm::Ps384 => pss::<sha2::Sha384>(key, message),
                Algorithm::Ps512 => pss::<sha2::Sha512>(key, message),
                other => unreachable!("{other} on the RSA key"),
            },
            Key::MlDsa44(key) => ml_dsa_sign(key, message),
            Key::MlDsa65(key) => ml_dsa_sign(key, message),
        }
    }

    /// The uncompressed SEC1 point of an ES256 key (`04 || x || y`).
    pub fn sec1_uncompressed(&self) -> Vec<u8> {
        match &self.key {
            Key::Es256(key) => key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            _ => panic!("not an ES256 key"),
        }
    }

    /// The uncompressed SEC1 point of an ES384 key (`04 || x || y`).
    pub fn sec1_uncompressed_p384(&self) -> Vec<u8> {
        match &self.key {
            Key::Es384(key) => key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            _ => panic!("not an ES384 key"),
        }
    }

    /// The public key's members only (`kty`, `crv`, `x`, `y` / `n`, `e`; for ML-DSA `kty`,
    /// `pub` and `alg`, which an AKP key cannot do without).
    pub fn bare_jwk(&self) -> Value {
        match &self.key {
            Key::Es256(_) => {
                let point = self.sec1_uncompressed();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Key::Es384(_) => {
                let point = self.sec1_uncompressed_p384();
                json!({"kty": "EC", "crv": "P-384", "x": b64(&point[1..49]), "y": b64(&point[49..97])})
            }
            Key::EdDsa(pair) => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.pk.as_ref())}),
            Key::Rsa(key) => {
                use rsa::traits::PublicKeyParts as _;
                json!({"kty": "RSA", "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be())})
            }
            Key::MlDsa44(key) => ml_dsa_jwk(key, self.alg()),
            Key::MlDsa65(key) => ml_dsa_jwk(key, self.alg()),
        }
    }

    /// [`Signer::bare_jwk`] under this `kid`: a key every algorithm of its type may use.
    pub fn bare_jwk_with_kid(&self, kid: &str) -> Value {
        let mut jwk = self.bare_jwk();
        jwk["kid"] = json!(kid);
        jwk
    }

    /// The public JWK as the issuer publishes it: with `kid`, `alg` and `use: "sig"`.
    pub fn jwk(&self) -> Value {
        let mut jwk = self.bare_jwk();
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg());
        jwk["use"] = json!("sig");
        jwk
    }

    /// The issuer's header: `{"alg", "typ": "at+jwt", "kid"}`.
    pub fn header(&self) -> Value {
        json!({"alg": self.alg(), "typ": "at+jwt", "kid": self.kid})
    }

    /// [`Signer::header`] with `changes` merged in (a `null` REMOVES the member).
    pub fn header_with(&self, changes: Value) -> Value {
        let mut header = self.header();
        crate::merge(&mut header, changes);
        header
    }

    /// A token with the issuer's header and these claims.
    pub fn token(&self, claims: &Value) -> String {
        self.token_with(&self.header(), claims)
    }

    /// A token with this header and these claims (any JSON values, hostile ones included).
    pub fn token_with(&self, header: &Value, claims: &Value) -> String {
        self.sign_text(header.to_string(), claims.to_string())
    }

    /// A token of the issuer's header and [`claims`](crate::claims) with claim `name` written
    /// as the raw JSON text `raw`, verbatim.
    pub fn token_with_raw_claim(&self, name: &str, raw: &str) -> String {
        self.sign_text(
            self.header().to_string(),
            crate::claims_text_with(name, raw),
        )
    }

    /// A token over arbitrary header and payload bytes (need not be JSON, nor even UTF-8).
    pub fn sign_text(&self, header: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> String {
        self.sign_segments(&b64(header), &b64(payload))
    }

    /// A token over arbitrary, already encoded segments (need not be canonical base64url): the
    /// signature covers exactly `header '.' payload` as written.
    pub fn sign_segments(&self, header: &str, payload: &str) -> String {
        let input = format!("{header}.{payload}");
        let signature = self.sign(input.as_bytes());
        format!("{input}.{}", b64(signature))
    }

    /// `token` signed afresh over everything before its last `.`, kept as written; `None`
    /// without a `.`.
    pub fn resign(&self, token: &str) -> Option<String> {
        let (input, _) = token.rsplit_once('.')?;
        Some(format!("{input}.{}", b64(self.sign(input.as_bytes()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{claims, code, every_algorithm, provider_with};

    fn every_signer() -> Vec<Signer> {
        let mut signers = vec![
            Signer::es256(1),
            Signer::es384(1),
            Signer::eddsa(1),
            Signer::mldsa44(1),
            Signer::mldsa65(1),
        ];
        signers.extend(RSA_ALGORITHMS.map(Signer::rsa));
        signers
    }

    #[test]
    fn every_signer_makes_tokens_the_verifier_accepts() {
        let signers = every_signer();
        let keys: Vec<Value> = signers.iter().map(Signer::jwk).collect();
        let p = provider_with(&keys, every_algorithm());
        for signer in &signers {
            assert_eq!(
                code(&signer.token(&claims()), &p),
                "valid",
                "{}",
                signer.alg()
            );
            assert_eq!(signer.algorithm().name(), signer.alg());
        }
    }

    #[test]
    fn signers_are_deterministic() {
        for (a, b) in every_signer().iter().zip(every_signer()) {
            assert_eq!(a.token(&claims()), b.token(&claims()), "{}", a.alg());
            assert_eq!(a.jwk(), b.jwk());
        }
    }

    #[test]
    fn resigning_keeps_the_signing_input_as_written() {
        let signer = Signer::es256(1);
        let token = signer.token(&claims());
        assert_eq!(signer.resign(&token).as_deref(), Some(token.as_str()));
        assert_eq!(signer.resign("no dot"), None);
        let odd = signer.resign("a.b.c.d").unwrap();
        assert!(odd.starts_with("a.b.c."));
    }
}
