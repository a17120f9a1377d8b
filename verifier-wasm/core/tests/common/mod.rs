//! Shared test helpers.
//!
//! - Deterministic signers ([`Signer`]) that sign ARBITRARY header and payload text, so hostile
//!   tokens (duplicate members, odd encodings, forbidden headers) can be crafted with a valid
//!   signature and the verifier's refusal is shown to come from the check under test, not from
//!   a broken signature.
//! - JWKS and provider builders (providers are obtained through [`Config::parse`], which also
//!   exercises configuration parsing).
//! - Tamperers in the spirit of rustls' `transfer_altered`: take a good token, change one thing.
//! - A fixed clock ([`NOW`]); assertions are on `error.code()`, never on message text.
#![allow(dead_code)]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use verifier_core::{Config, Jwks, KeySource, KeyState, Keys, Provider, Verified, VerifyError};

/// The verifier's clock in every test, Unix seconds (2023-11-14).
pub const NOW: u64 = 1_700_000_000;
/// The issuer every test provider trusts.
pub const ISSUER: &str = "https://issuer.test";
/// The audience every test provider accepts.
pub const AUDIENCE: &str = "svc.api";
/// The name of the provider built by [`provider_with`] and [`config_with`].
pub const PROVIDER: &str = "test";

// ---------------------------------------------------------------------------------------------
// base64url

/// Canonical base64url (no padding), as JOSE requires.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes canonical base64url; panics on bad test input.
pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .expect("test input is canonical base64url")
}

/// A segment re-encoded with `=` padding (panics if the segment needs none: pick another input).
pub fn padded(segment: &str) -> String {
    let pad = (4 - segment.len() % 4) % 4;
    assert!(
        pad > 0,
        "segment {segment:?} needs no padding; choose an input whose length is not a multiple of 3"
    );
    format!("{segment}{}", "=".repeat(pad))
}

/// The same segment with a non-zero bit in the unused low bits of its last character, which
/// decodes to the same bytes under a lenient decoder (panics if the segment has no spare bits).
pub fn with_stray_bits(segment: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let spare_mask = match segment.len() % 4 {
        2 => 0b1111,
        3 => 0b11,
        _ => panic!("segment {segment:?} has no spare bits; choose another input length"),
    };
    let last = *segment.as_bytes().last().unwrap();
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(value & spare_mask, 0, "canonical input has zero spare bits");
    let altered = ALPHABET[value | 1] as char;
    format!("{}{altered}", &segment[..segment.len() - 1])
}

// ---------------------------------------------------------------------------------------------
// Signers

enum Key {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_compact::KeyPair),
    Rs256(&'static rsa::RsaPrivateKey),
    Es384(p384::ecdsa::SigningKey),
    /// The RSA test key for RS384, RS512, PS256, PS384 or PS512.
    Rsa(&'static rsa::RsaPrivateKey, verifier_core::Algorithm),
    MlDsa44(Box<ml_dsa::SigningKey<ml_dsa::MlDsa44>>),
    MlDsa65(Box<ml_dsa::SigningKey<ml_dsa::MlDsa65>>),
}

/// A deterministic byte stream for the PSS salt and RSA blinding (tests need repeatable
/// tokens, not secret ones).
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

/// A deterministic signing key with a `kid`.
pub struct Signer {
    /// The key id put in [`Signer::header`] and [`Signer::jwk`].
    pub kid: String,
    key: Key,
}

/// The RSA test key pair: generated once per test binary (slow in debug builds), shared as
/// jwt-simple's key (to mint tokens the way the issuer does) and as an `rsa` key (to sign
/// arbitrary bytes).
fn rsa_pair() -> &'static (jwt_simple::prelude::RS256KeyPair, rsa::RsaPrivateKey) {
    static PAIR: OnceLock<(jwt_simple::prelude::RS256KeyPair, rsa::RsaPrivateKey)> =
        OnceLock::new();
    PAIR.get_or_init(|| {
        use rsa::pkcs8::DecodePrivateKey as _;
        let pair = jwt_simple::prelude::RS256KeyPair::generate(2048).expect("RSA key generation");
        let der = pair.to_der().expect("RSA key export");
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&der).expect("RSA key import");
        (pair, key)
    })
}

/// jwt-simple's view of the RSA test key (same key as [`Signer::rs256`]).
pub fn rs256_jwt_simple_pair() -> &'static jwt_simple::prelude::RS256KeyPair {
    &rsa_pair().0
}

impl Signer {
    /// A P-256 key whose scalar is 32 bytes of `n` (1..=0x7f keeps it below the group order).
    pub fn es256(n: u8) -> Signer {
        assert!((1..=0x7f).contains(&n));
        let key = p256::ecdsa::SigningKey::from_slice(&[n; 32]).expect("valid P-256 scalar");
        Signer {
            kid: format!("es256-{n}"),
            key: Key::Es256(key),
        }
    }

    /// An Ed25519 key from the seed 32 bytes of `n`.
    pub fn eddsa(n: u8) -> Signer {
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([n; 32]));
        Signer {
            kid: format!("eddsa-{n}"),
            key: Key::EdDsa(pair),
        }
    }

    /// The 2048-bit RSA test key.
    pub fn rs256() -> Signer {
        Signer {
            kid: "rs256-1".into(),
            key: Key::Rs256(&rsa_pair().1),
        }
    }

    /// A P-384 key whose scalar is 48 bytes of `n` (1..=0x7f keeps it below the group order).
    pub fn es384(n: u8) -> Signer {
        assert!((1..=0x7f).contains(&n));
        let key = p384::ecdsa::SigningKey::from_slice(&[n; 48]).expect("valid P-384 scalar");
        Signer {
            kid: format!("es384-{n}"),
            key: Key::Es384(key),
        }
    }

    /// The 2048-bit RSA test key (the one [`Signer::rs256`] uses) for another RSA algorithm:
    /// RS256, RS384, RS512, PS256, PS384 or PS512; the `kid` is the lower-case name plus `-1`.
    pub fn rsa(alg: verifier_core::Algorithm) -> Signer {
        use verifier_core::Algorithm::*;
        assert!(
            matches!(alg, Rs256 | Rs384 | Rs512 | Ps256 | Ps384 | Ps512),
            "{alg} is not an RSA algorithm"
        );
        if alg == Rs256 {
            return Signer::rs256();
        }
        Signer {
            kid: format!("{}-1", alg.name().to_lowercase()),
            key: Key::Rsa(&rsa_pair().1, alg),
        }
    }

    /// An ML-DSA-44 key from the seed 32 bytes of `n`.
    pub fn mldsa44(n: u8) -> Signer {
        let key = ml_dsa::SigningKey::<ml_dsa::MlDsa44>::from_seed(&[n; 32].into());
        Signer {
            kid: format!("ml-dsa-44-{n}"),
            key: Key::MlDsa44(Box::new(key)),
        }
    }

    /// An ML-DSA-65 key from the seed 32 bytes of `n`.
    pub fn mldsa65(n: u8) -> Signer {
        let key = ml_dsa::SigningKey::<ml_dsa::MlDsa65>::from_seed(&[n; 32].into());
        Signer {
            kid: format!("ml-dsa-65-{n}"),
            key: Key::MlDsa65(Box::new(key)),
        }
    }

    /// The same key under another `kid`.
    pub fn with_kid(mut self, kid: &str) -> Signer {
        self.kid = kid.into();
        self
    }

    /// The JWA name of the key's algorithm.
    pub fn alg(&self) -> &'static str {
        match self.key {
            Key::Es256(_) => "ES256",
            Key::EdDsa(_) => "EdDSA",
            Key::Rs256(_) => "RS256",
            Key::Es384(_) => "ES384",
            Key::Rsa(_, alg) => alg.name(),
            Key::MlDsa44(_) => "ML-DSA-44",
            Key::MlDsa65(_) => "ML-DSA-65",
        }
    }

    /// Signs `message` exactly as JWS does: ES256 as the fixed 64-byte `r || s`, EdDSA as the
    /// 64-byte Ed25519 signature, RS256 as RSASSA-PKCS1-v1_5 with SHA-256. Likewise ES384
    /// (96-byte `r || s`), RS384/RS512, PS256/384/512 (MGF1 with the same hash, salt as long as
    /// the hash, from a deterministic generator) and ML-DSA (deterministic, empty context).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.key {
            Key::Es256(key) => {
                use p256::ecdsa::signature::Signer as _;
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Key::EdDsa(pair) => pair.sk.sign(message, None).as_ref().to_vec(),
            Key::Rs256(key) => {
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(message);
                key.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
                    .expect("RSA signing")
            }
            Key::Es384(key) => {
                use p384::ecdsa::signature::Signer as _;
                let signature: p384::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Key::Rsa(key, alg) => {
                use sha2::Digest as _;
                use verifier_core::Algorithm::*;
                let mut rng = CountingRng(u64::from(message.len() as u32));
                let signed = match alg {
                    Rs384 => key.sign(
                        rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                        &sha2::Sha384::digest(message),
                    ),
                    Rs512 => key.sign(
                        rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                        &sha2::Sha512::digest(message),
                    ),
                    Ps256 => key.sign_with_rng(
                        &mut rng,
                        rsa::Pss::new::<sha2::Sha256>(),
                        &sha2::Sha256::digest(message),
                    ),
                    Ps384 => key.sign_with_rng(
                        &mut rng,
                        rsa::Pss::new::<sha2::Sha384>(),
                        &sha2::Sha384::digest(message),
                    ),
                    Ps512 => key.sign_with_rng(
                        &mut rng,
                        rsa::Pss::new::<sha2::Sha512>(),
                        &sha2::Sha512::digest(message),
                    ),
                    other => panic!("{other} is not signed by Key::Rsa"),
                };
                signed.expect("RSA signing")
            }
            Key::MlDsa44(key) => key
                .expanded_key()
                .sign_deterministic(message, &[])
                .expect("ML-DSA-44 signing")
                .encode()
                .to_vec(),
            Key::MlDsa65(key) => key
                .expanded_key()
                .sign_deterministic(message, &[])
                .expect("ML-DSA-65 signing")
                .encode()
                .to_vec(),
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
            Key::EdDsa(pair) => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.pk.as_ref())}),
            Key::Rs256(key) => {
                use rsa::traits::PublicKeyParts as _;
                json!({"kty": "RSA", "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be())})
            }
            Key::Es384(_) => {
                let point = self.sec1_uncompressed_p384();
                json!({"kty": "EC", "crv": "P-384", "x": b64(&point[1..49]), "y": b64(&point[49..97])})
            }
            Key::Rsa(key, _) => {
                use rsa::traits::PublicKeyParts as _;
                json!({"kty": "RSA", "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be())})
            }
            Key::MlDsa44(key) => {
                use ml_dsa::signature::Keypair as _;
                json!({"kty": "AKP", "alg": "ML-DSA-44", "pub": b64(key.verifying_key().encode())})
            }
            Key::MlDsa65(key) => {
                use ml_dsa::signature::Keypair as _;
                json!({"kty": "AKP", "alg": "ML-DSA-65", "pub": b64(key.verifying_key().encode())})
            }
        }
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

    /// A token with the issuer's header and these claims.
    pub fn token(&self, claims: &Value) -> String {
        self.token_with(&self.header(), claims)
    }

    /// A token with this header and these claims (any JSON values, hostile ones included).
    pub fn token_with(&self, header: &Value, claims: &Value) -> String {
        self.sign_text(&header.to_string(), &claims.to_string())
    }

    /// A token over arbitrary header and payload TEXT (need not be valid JSON).
    pub fn sign_text(&self, header: &str, payload: &str) -> String {
        self.sign_segments(&b64(header), &b64(payload))
    }

    /// A token over arbitrary, already encoded segments (need not be canonical base64url): the
    /// signature covers exactly `header '.' payload` as written.
    pub fn sign_segments(&self, header: &str, payload: &str) -> String {
        let input = format!("{header}.{payload}");
        let signature = self.sign(input.as_bytes());
        format!("{input}.{}", b64(signature))
    }
}

// ---------------------------------------------------------------------------------------------
// Claims

/// A complete RFC 9068 claim set, valid at [`NOW`], with scope `instruments:read`.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "svc.warehouse",
        "aud": AUDIENCE,
        "client_id": "warehouse",
        "iat": NOW - 10,
        "exp": NOW + 290,
        "jti": "4f1c2a0e-jti",
        "scope": "instruments:read",
    })
}

/// [`claims`] with some members replaced (a `null` in `changes` REMOVES the member).
pub fn claims_with(changes: Value) -> Value {
    let mut c = claims();
    merge(&mut c, changes);
    c
}

/// Shallow merge: members of `changes` replace those of `target`; `null` removes.
pub fn merge(target: &mut Value, changes: Value) {
    let target = target.as_object_mut().expect("object");
    for (name, value) in changes.as_object().expect("object").clone() {
        if value.is_null() {
            target.remove(&name);
        } else {
            target.insert(name, value);
        }
    }
}

/// JSON nested `depth` levels deep: `depth` arrays around a 0 (`depth == 0` is just `0`).
pub fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(0), |inner, _| json!([inner]))
}

/// The issuer's custom claims, as jwt-simple serializes them beside the registered ones.
#[derive(serde::Serialize)]
pub struct JwtSimpleAccessClaims {
    /// `client_id`.
    pub client_id: String,
    /// `scope`.
    pub scope: String,
}

/// The claims of [`claims`] as a jwt-simple claim set (issued at [`NOW`], 300 s, `nbf` = `iat`).
pub fn jwt_simple_claims() -> jwt_simple::prelude::JWTClaims<JwtSimpleAccessClaims> {
    use jwt_simple::prelude::*;
    let custom = JwtSimpleAccessClaims {
        client_id: "warehouse".into(),
        scope: "instruments:read".into(),
    };
    let mut c = Claims::with_custom_claims(custom, Duration::from_secs(300))
        .with_issuer(ISSUER)
        .with_subject("svc.warehouse")
        .with_audience(AUDIENCE)
        .with_jwt_id("3c0d4a57-jti");
    // jwt-simple stamps the wall clock; pin it to the test clock.
    c.issued_at = Some(Duration::from_secs(NOW));
    c.invalid_before = Some(Duration::from_secs(NOW));
    c.expires_at = Some(Duration::from_secs(NOW + 300));
    c
}

/// jwt-simple header options for `typ: "at+jwt"`.
pub fn jwt_simple_at_jwt() -> jwt_simple::prelude::HeaderOptions {
    jwt_simple::prelude::HeaderOptions {
        signature_type: Some("at+jwt".into()),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// JWKS and providers

/// A JWKS document with these keys.
pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// The provider object of the test configuration: issuer [`ISSUER`], audience [`AUDIENCE`],
/// all three algorithms, and `keys` as `local_jwks` (a JSON string, as `inline_string`).
pub fn provider_json(keys: &[Value]) -> Value {
    json!({
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "algorithms": ["ES256", "EdDSA", "RS256"],
        "local_jwks": jwks(keys),
    })
}

/// A configuration with one provider named [`PROVIDER`] and one catch-all rule requiring it.
pub fn config_json(provider: Value) -> Value {
    json!({
        "providers": { PROVIDER: provider },
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": PROVIDER}}],
    })
}

/// Parses a configuration, panicking with the error's path and message.
pub fn parse_config(config: &Value) -> Config {
    Config::parse(config.to_string().as_bytes()).unwrap_or_else(|e| panic!("config refused: {e}"))
}

/// The provider of [`provider_json`]`(keys)` with `overrides` applied (here `null` is kept as a
/// value, e.g. `{"typ": null}`; to drop a member, edit [`provider_json`]'s output).
pub fn provider_with(keys: &[Value], overrides: Value) -> Provider {
    let mut p = provider_json(keys);
    for (name, value) in overrides.as_object().expect("object").clone() {
        p[name] = value;
    }
    provider_from(p)
}

/// The provider of [`provider_json`]`(keys)`.
pub fn provider(keys: &[Value]) -> Provider {
    provider_with(keys, json!({}))
}

/// The provider parsed from this provider object, through [`Config::parse`].
pub fn provider_from(provider: Value) -> Provider {
    let config = parse_config(&config_json(provider));
    config.providers[PROVIDER].clone()
}

/// The provider's `local_jwks`.
pub fn local_jwks(provider: &Provider) -> &Jwks {
    match &provider.keys {
        KeySource::Local(jwks) => jwks,
        KeySource::Remote(_) => panic!("provider has remote keys"),
    }
}

/// Verifies `token` for `provider` against its local keys at [`NOW`].
pub fn check(token: &str, provider: &Provider) -> Result<Verified, VerifyError> {
    check_at(token, provider, NOW)
}

/// Verifies `token` for `provider` against its local keys at `now`.
pub fn check_at(token: &str, provider: &Provider, now: u64) -> Result<Verified, VerifyError> {
    verifier_core::verify(token, provider, local_jwks(provider), now)
}

/// `"valid"` or the error's stable code.
pub fn outcome(result: &Result<Verified, VerifyError>) -> &'static str {
    match result {
        Ok(_) => "valid",
        Err(e) => e.code(),
    }
}

/// The outcome of verifying `token` for `provider` at [`NOW`].
pub fn code(token: &str, provider: &Provider) -> &'static str {
    outcome(&check(token, provider))
}

/// The outcome at `now`.
pub fn code_at(token: &str, provider: &Provider, now: u64) -> &'static str {
    outcome(&check_at(token, provider, now))
}

/// The `Jwks::parse` outcome for a document: `"ok"` or the error's code.
pub fn jwks_code(document: &str) -> &'static str {
    match Jwks::parse(document.as_bytes()) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

// ---------------------------------------------------------------------------------------------
// Tamperers: take a token, change one thing, keep the rest (including the old signature).

/// The three segments of a compact token.
pub fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    parts.try_into().expect("three segments")
}

/// The token with one bit of signature byte `index` flipped.
pub fn flip_signature_byte(token: &str, index: usize) -> String {
    let [h, p, s] = segments(token);
    let mut signature = unb64(s);
    signature[index] ^= 0x01;
    format!("{h}.{p}.{}", b64(signature))
}

/// The token with its signature replaced by these bytes.
pub fn with_signature(token: &str, signature: &[u8]) -> String {
    let [h, p, _] = segments(token);
    format!("{h}.{p}.{}", b64(signature))
}

/// The token with its header changed by `f`; the old signature is kept.
pub fn alter_header(token: &str, f: impl FnOnce(&mut Value)) -> String {
    let [h, p, s] = segments(token);
    let mut header: Value = serde_json::from_slice(&unb64(h)).unwrap();
    f(&mut header);
    format!("{}.{p}.{s}", b64(header.to_string()))
}

/// The token with its claims changed by `f`; the old signature is kept.
pub fn alter_payload(token: &str, f: impl FnOnce(&mut Value)) -> String {
    let [h, p, s] = segments(token);
    let mut claims: Value = serde_json::from_slice(&unb64(p)).unwrap();
    f(&mut claims);
    format!("{h}.{}.{s}", b64(claims.to_string()))
}

/// The token with segment `index` (0, 1 or 2) replaced by `f(segment)`; nothing is re-signed.
pub fn alter_segment(token: &str, index: usize, f: impl FnOnce(&str) -> String) -> String {
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[index] = f(&parts[index]);
    parts.join(".")
}

// ---------------------------------------------------------------------------------------------
// Key state for `decide`

/// A [`Keys`] for tests: every provider in the configuration is `Ready` with its local keys,
/// except those listed as pending or unavailable.
pub struct TestKeys<'c> {
    /// The configuration whose local keys are served.
    pub config: &'c Config,
    /// Providers whose keys are still being fetched.
    pub pending: Vec<&'static str>,
    /// Providers whose keys cannot be had.
    pub unavailable: Vec<&'static str>,
}

impl<'c> TestKeys<'c> {
    /// Every provider ready.
    pub fn ready(config: &'c Config) -> TestKeys<'c> {
        TestKeys {
            config,
            pending: vec![],
            unavailable: vec![],
        }
    }
}

impl Keys for TestKeys<'_> {
    fn state(&self, provider: &str) -> KeyState<'_> {
        if self.pending.contains(&provider) {
            return KeyState::Pending;
        }
        if self.unavailable.contains(&provider) {
            return KeyState::Unavailable;
        }
        match self.config.providers.get(provider).map(|p| &p.keys) {
            Some(KeySource::Local(jwks)) => KeyState::Ready(jwks),
            // A remote provider nobody fetched for, or a name the configuration lacks.
            _ => KeyState::Unavailable,
        }
    }
}
