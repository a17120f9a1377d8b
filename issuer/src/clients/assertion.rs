//! `private_key_jwt` client authentication: JWT client assertions (RFC 7523 §2.2 and §3, as
//! updated by draft-ietf-oauth-rfc7523bis; OpenID Connect Core §9).
//!
//! The client signs a short-lived JWT with a private key whose public half it registered (a
//! JWKS), and sends it as `client_assertion` with `client_assertion_type` =
//! [`CLIENT_ASSERTION_TYPE`]. Signature, algorithm and time checks are the verifier core's
//! (the same code the gateway runs); this module adds the client-authentication profile:
//!
//! - **Algorithms** are pinned by the client's keys, never by the token: each key is used only
//!   with the `alg` it names. A key without `alg` gets the one algorithm its type allows
//!   (P-256 → ES256, P-384 → ES384, Ed25519 → EdDSA); an RSA key without `alg` is not used,
//!   since RS256 and PS256 would both fit. `none` and HMAC do not exist in the verifier, and a
//!   JWKS holding a symmetric or private key is refused whole.
//! - **`iss` = `sub` = the client id** (RFC 7523 §3 items 1 and 2, OIDC Core §9), and equal to
//!   the `client_id` form parameter when one is sent (RFC 7521 §4.2).
//! - **`aud` is the issuer identifier as its sole value.** draft-ietf-oauth-rfc7523bis-11 §4
//!   (replacing RFC 7523 §3 item 3 for client authentication): "the aud (audience) claim value
//!   MUST use the issuer identifier \[RFC8414\] of the authorization server as its sole value
//!   [...] The authorization server MUST reject any JWT that does not contain its issuer
//!   identifier as its sole audience value", compared by simple string comparison. Since -03
//!   the draft no longer restricts the claim's JSON type ("Allow it to be an array with a
//!   single member"; earlier drafts required a string). So `"aud": "<issuer>"` and
//!   `"aud": ["<issuer>"]` pass; any other value fails, including arrays that hold the issuer
//!   among others and the token endpoint URL, which the draft forbids as an audience. (Source:
//!   the draft's text and history in github.com/oauth-wg/draft-ietf-oauth-rfc7523bis.)
//! - **`exp` is required** and at most [`AssertionPolicy::max_lifetime_secs`] after `iat` (or
//!   after now, without `iat`); `nbf` and `iat` are honoured; all with the clock skew.
//! - **`jti` is required** (OIDC Core §9), 1 to [`MAX_JTI_LEN`] bytes, no control characters.
//!   Replay is the caller's job: store the jti until [`VerifiedAssertion::remember_until`].
//! - **`typ`**: absent, `JWT` or `client-authentication+jwt` (the draft's explicit type, which
//!   it asks servers not to require yet). Any other explicit type is another kind of JWT and
//!   is refused: above all `at+jwt`, so an access token can never pass as an assertion.
//!
//! Every failure has a stable [`code`](AssertionError::code); the caller answers all of them
//! with `invalid_client` (RFC 6749 §5.2) and keeps the code for its logs.

use serde_json::Value;
use verifier_core::defaults::DEFAULT_CLOCK_SKEW_SECONDS;
use verifier_core::{
    Algorithm, Claims, Jwks, JwksError, Provider, PublicKey, Skipped, Unverified, VerifyError,
    compact,
};

use super::ClientId;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The explicit `typ` of a client assertion (draft-ietf-oauth-rfc7523bis §4).
pub const CLIENT_ASSERTION_TYP: &str = "client-authentication+jwt";

/// Longest accepted `jti`, in bytes: enough for any UUID or random token, and a bounded
/// database column for the replay store.
pub const MAX_JTI_LEN: usize = 256;

/// Default longest assertion lifetime, in seconds: assertions are made per request.
pub const DEFAULT_MAX_ASSERTION_LIFETIME_SECS: u64 = 300;

/// Bounds on client assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertionPolicy {
    /// Longest accepted lifetime (`exp` − `iat`, or `exp` − now without `iat`), in seconds. It
    /// also bounds how long the caller must remember each `jti`.
    pub max_lifetime_secs: u64,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub clock_skew_secs: u64,
}

impl Default for AssertionPolicy {
    fn default() -> Self {
        Self {
            max_lifetime_secs: DEFAULT_MAX_ASSERTION_LIFETIME_SECS,
            clock_skew_secs: DEFAULT_CLOCK_SKEW_SECONDS,
        }
    }
}

/// A client assertion that passed every check except replay, which needs the database.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAssertion {
    /// The authenticated client.
    pub client_id: ClientId,
    /// The assertion's `jti`: refuse the assertion if this client already used it.
    pub jti: String,
    /// The assertion's `exp`, rounded up to whole seconds.
    pub exp: u64,
    /// Until when (Unix seconds) the `jti` must be remembered: `exp` plus the clock skew, the
    /// last moment the same assertion could still be accepted.
    pub remember_until: u64,
    /// The algorithm it was signed with.
    pub alg: Algorithm,
    /// The `kid` of the client key that verified it, if the key has one.
    pub kid: Option<String>,
}

/// Why a client assertion was refused. The caller answers every one with `invalid_client`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// A check of the verifier core failed: size, structure, header, algorithm, key,
    /// signature, time, `iss` or `aud`. The code is the verifier's (`signature_invalid`, ...).
    #[error(transparent)]
    Token(#[from] VerifyError),
    /// The client's registered JWKS cannot be used.
    #[error("the client's registered keys are unusable: {0}")]
    Jwks(#[from] JwksError),
    /// A claim the profile requires is absent.
    #[error("required claim {claim} is missing")]
    ClaimMissing {
        /// The claim's name.
        claim: &'static str,
    },
    /// `iss` is not a well-formed client id.
    #[error("the assertion's issuer is not a valid client id")]
    ClientIdInvalid,
    /// `iss` and `sub` differ; for client authentication both are the client id.
    #[error("the assertion's iss and sub differ; both must be the client id")]
    SubjectMismatch,
    /// The `client_id` form parameter names another client than the assertion.
    #[error("the client_id parameter does not match the assertion's issuer")]
    ClientIdMismatch,
    /// `typ` marks another kind of JWT (an access token, say).
    #[error("a JWT typed {typ:?} is not a client assertion")]
    TypInvalid {
        /// The token's `typ`, cut to 64 characters.
        typ: String,
    },
    /// `aud` holds something besides the issuer identifier.
    #[error("the assertion's audience must be this issuer's identifier alone")]
    AudienceNotSole,
    /// `jti` is empty, too long or has control characters.
    #[error("the assertion's jti is invalid: {reason}")]
    JtiInvalid {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl AssertionError {
    /// The stable machine code, e.g. `audience_not_sole`. Never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Token(err) => err.code(),
            Self::Jwks(err) => err.code(),
            Self::ClaimMissing { .. } => "claim_missing",
            Self::ClientIdInvalid => "client_id_invalid",
            Self::SubjectMismatch => "subject_mismatch",
            Self::ClientIdMismatch => "client_id_mismatch",
            Self::TypInvalid { .. } => "typ_invalid",
            Self::AudienceNotSole => "audience_not_sole",
            Self::JtiInvalid { .. } => "jti_invalid",
        }
    }
}

/// A client's registered public keys, parsed and with every key pinned to one algorithm.
///
/// Parse once per client and keep it while the registration is unchanged: parsing checks every
/// key, and a P-256 key builds its verification table on first use.
#[derive(Debug, Clone)]
pub struct ClientKeys {
    jwks: Jwks,
    /// The algorithms the keys are pinned to, sorted and without repeats.
    algorithms: Vec<Algorithm>,
}

impl ClientKeys {
    /// Parses and pins a JWKS document (as registered for the client).
    pub fn parse(document: &str) -> Result<Self, AssertionError> {
        let mut jwks = Jwks::parse(document.as_bytes())?;
        let mut pinned = Vec::with_capacity(jwks.keys.len());
        for mut key in std::mem::take(&mut jwks.keys) {
            match key.alg.or_else(|| implied_alg(&key.key)) {
                Some(alg) => {
                    key.alg = Some(alg);
                    pinned.push(key);
                }
                None => jwks.skipped.push(Skipped {
                    kid: key.kid,
                    reason: "an RSA key must name its algorithm (alg), e.g. RS256 or PS256",
                }),
            }
        }
        jwks.keys = pinned;
        let mut algorithms: Vec<Algorithm> = jwks.keys.iter().filter_map(|k| k.alg).collect();
        algorithms.sort_unstable();
        algorithms.dedup();
        if algorithms.is_empty() {
            return Err(JwksError::NoUsableKey {
                skipped: jwks.skipped.len(),
            }
            .into());
        }
        Ok(Self { jwks, algorithms })
    }

    /// The algorithms the client may sign assertions with.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }
}

/// The only algorithm a key type admits, when there is only one.
fn implied_alg(key: &PublicKey) -> Option<Algorithm> {
    match key {
        PublicKey::P256(_) => Some(Algorithm::Es256),
        PublicKey::P384(_) => Some(Algorithm::Es384),
        PublicKey::Ed25519(_) => Some(Algorithm::EdDsa),
        // RSA admits six algorithms; ML-DSA keys always carry their alg (the verifier insists).
        _ => None,
    }
}

/// Reads the client id from an assertion WITHOUT verifying it, to find whose keys to verify
/// it with. Refuses early what can never verify: `iss` and `sub` missing or different, or not
/// a well-formed client id. Nothing it returns is trusted until [`verify_assertion`] passes.
pub fn peek_client_id(assertion: &str) -> Result<ClientId, AssertionError> {
    let parts = compact::split(assertion)?;
    let claims = Claims::parse(&parts.payload)?;
    let iss = claims
        .iss
        .ok_or(AssertionError::ClaimMissing { claim: "iss" })?;
    let sub = claims
        .sub
        .ok_or(AssertionError::ClaimMissing { claim: "sub" })?;
    if iss != sub {
        return Err(AssertionError::SubjectMismatch);
    }
    ClientId::parse(&iss).map_err(|_| AssertionError::ClientIdInvalid)
}

/// Verifies a client assertion against the client's registered JWKS document.
///
/// `client_id_hint` is the `client_id` form parameter, if sent; `issuer` is this server's
/// issuer identifier (RFC 8414), the only accepted audience; `now` is Unix seconds. Parses the
/// JWKS on every call: prefer [`verify_assertion_with_keys`] with cached [`ClientKeys`].
pub fn verify_assertion(
    assertion: &str,
    client_id_hint: Option<&str>,
    client_jwks: &str,
    issuer: &str,
    now: u64,
    policy: &AssertionPolicy,
) -> Result<VerifiedAssertion, AssertionError> {
    // Cheap refusals first, so a malformed assertion costs no key parsing.
    let client_id = peek_client_id(assertion)?;
    let keys = ClientKeys::parse(client_jwks)?;
    verify_peeked(
        assertion,
        client_id,
        client_id_hint,
        &keys,
        issuer,
        now,
        policy,
    )
}

/// [`verify_assertion`] with the client's keys already parsed.
pub fn verify_assertion_with_keys(
    assertion: &str,
    client_id_hint: Option<&str>,
    keys: &ClientKeys,
    issuer: &str,
    now: u64,
    policy: &AssertionPolicy,
) -> Result<VerifiedAssertion, AssertionError> {
    let client_id = peek_client_id(assertion)?;
    verify_peeked(
        assertion,
        client_id,
        client_id_hint,
        keys,
        issuer,
        now,
        policy,
    )
}

/// The checks after [`peek_client_id`] read `client_id` from the assertion.
fn verify_peeked(
    assertion: &str,
    client_id: ClientId,
    client_id_hint: Option<&str>,
    keys: &ClientKeys,
    issuer: &str,
    now: u64,
    policy: &AssertionPolicy,
) -> Result<VerifiedAssertion, AssertionError> {
    if client_id_hint.is_some_and(|hint| hint != client_id.as_str()) {
        return Err(AssertionError::ClientIdMismatch);
    }
    // `typ` is checked here instead: the verifier knows only "this typ" or "any typ".
    let provider = Provider::builder(client_id.as_str())
        .name("client")
        .audiences([issuer])
        .algorithms(&keys.algorithms)
        .typ(None)
        .clock_skew_seconds(policy.clock_skew_secs)
        .max_lifetime_seconds(policy.max_lifetime_secs)
        .build();

    let unverified = Unverified::parse(assertion, &provider)?;
    check_typ(unverified.header.typ.as_deref())?;
    let verified = unverified.verify(&provider, &keys.jwks, now)?;
    let claims = &verified.claims;

    // The verifier checked iss (= provider.issuer) and that aud names the issuer; the profile
    // also needs sub = iss, and the issuer as the ONLY audience.
    if claims.sub.as_deref() != Some(client_id.as_str()) {
        return Err(AssertionError::SubjectMismatch);
    }
    let sole_audience = match claims.raw.get("aud") {
        Some(Value::String(aud)) => aud == issuer,
        Some(Value::Array(auds)) => {
            matches!(auds.as_slice(), [Value::String(aud)] if aud == issuer)
        }
        _ => false,
    };
    if !sole_audience {
        return Err(AssertionError::AudienceNotSole);
    }
    let jti = claims
        .jti
        .clone()
        .ok_or(AssertionError::ClaimMissing { claim: "jti" })?;
    check_jti(&jti)?;
    let lifetime = claims.lifetime();
    Ok(VerifiedAssertion {
        client_id,
        jti,
        // `exp` is finite and non-negative (checked at parse); `as` saturates huge values.
        exp: lifetime.exp.ceil() as u64,
        remember_until: lifetime.dead_at(policy.clock_skew_secs),
        alg: verified.alg,
        kid: verified.kid,
    })
}

/// Accepts no `typ`, the generic `JWT`, or the explicit client assertion type.
fn check_typ(typ: Option<&str>) -> Result<(), AssertionError> {
    match typ {
        None => Ok(()),
        Some(typ) if media_type_eq(typ, "jwt") || media_type_eq(typ, CLIENT_ASSERTION_TYP) => {
            Ok(())
        }
        Some(typ) => Err(AssertionError::TypInvalid {
            typ: typ.chars().take(64).collect(),
        }),
    }
}

/// RFC 7515 §4.1.9: media types compare case-insensitively and `application/` may be omitted.
fn media_type_eq(found: &str, expected: &str) -> bool {
    let short = |t: &str| -> String {
        let lower = t.to_ascii_lowercase();
        match lower.strip_prefix("application/") {
            Some(rest) => rest.to_owned(),
            None => lower,
        }
    };
    short(found) == short(expected)
}

fn check_jti(jti: &str) -> Result<(), AssertionError> {
    let reason = if jti.is_empty() {
        "empty"
    } else if jti.len() > MAX_JTI_LEN {
        "longer than 256 bytes"
    } else if jti.chars().any(char::is_control) {
        "contains control characters"
    } else {
        return Ok(());
    };
    Err(AssertionError::JtiInvalid { reason })
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jwt_simple::prelude::{
        Audiences, Duration, ECDSAP256KeyPairLike as _, ES256KeyPair, Ed25519KeyPair,
        EdDSAKeyPairLike as _, HS256Key, HeaderOptions, JWTClaims, MACLike as _, PS256KeyPair,
        RS256KeyPair, RSAKeyPairLike as _,
    };
    use serde_json::{Map, json};

    use super::*;

    const NOW: u64 = 1_700_000_000;
    const ISSUER: &str = "https://issuer.example";
    const CLIENT: &str = "svc.warehouse";

    type Custom = Map<String, Value>;

    /// The claims of a good assertion; tests change one thing.
    fn claims() -> JWTClaims<Custom> {
        JWTClaims {
            issued_at: Some(Duration::from_secs(NOW)),
            expires_at: Some(Duration::from_secs(NOW + 120)),
            invalid_before: None,
            issuer: Some(CLIENT.into()),
            subject: Some(CLIENT.into()),
            audiences: Some(Audiences::AsString(ISSUER.into())),
            jwt_id: Some("0f6c4b5e-assertion-1".into()),
            nonce: None,
            custom: Custom::new(),
        }
    }

    fn typed(typ: &str) -> HeaderOptions {
        HeaderOptions {
            signature_type: Some(typ.into()),
            ..HeaderOptions::default()
        }
    }

    /// A JWKS of one exported public JWK with `kid` and (optionally) `alg` set.
    fn jwks_of(exported: &str, kid: &str, alg: Option<&str>) -> String {
        let mut jwk: Map<String, Value> =
            serde_json::from_str(exported).expect("jwt-simple exports JSON");
        jwk.remove("alg");
        jwk.insert("kid".into(), kid.into());
        if let Some(alg) = alg {
            jwk.insert("alg".into(), alg.into());
        }
        json!({"keys": [jwk]}).to_string()
    }

    struct Es256Client {
        key: ES256KeyPair,
        jwks: String,
    }

    fn es256() -> Es256Client {
        let key = ES256KeyPair::generate().with_key_id("k1");
        let jwks = jwks_of(&key.public_key().to_jwk(), "k1", Some("ES256"));
        Es256Client { key, jwks }
    }

    impl Es256Client {
        fn sign(&self, claims: JWTClaims<Custom>) -> String {
            self.key.sign(claims).expect("signing works")
        }

        fn sign_typed(&self, claims: JWTClaims<Custom>, typ: &str) -> String {
            self.key
                .sign_with_options(claims, &typed(typ))
                .expect("signing works")
        }

        fn verify(&self, assertion: &str) -> Result<VerifiedAssertion, AssertionError> {
            verify_assertion(
                assertion,
                Some(CLIENT),
                &self.jwks,
                ISSUER,
                NOW,
                &AssertionPolicy::default(),
            )
        }

        fn code(&self, assertion: &str) -> &'static str {
            match self.verify(assertion) {
                Ok(ok) => panic!("expected a refusal, got {ok:?}"),
                Err(err) => err.code(),
            }
        }
    }

    /// An RSA key, generated once per test run (slow in debug builds).
    fn rsa_der() -> &'static [u8] {
        static DER: OnceLock<Vec<u8>> = OnceLock::new();
        DER.get_or_init(|| {
            RS256KeyPair::generate(2048)
                .and_then(|key| key.to_der())
                .expect("RSA key generation")
        })
    }

    fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_good_es256_assertion_passes() -> Result<(), AssertionError> {
        let client = es256();
        let verified = client.verify(&client.sign(claims()))?;
        assert_eq!(verified.client_id.as_str(), CLIENT);
        assert_eq!(verified.jti, "0f6c4b5e-assertion-1");
        assert_eq!(verified.exp, NOW + 120);
        assert_eq!(verified.remember_until, NOW + 120 + 60);
        assert_eq!(verified.alg, Algorithm::Es256);
        assert_eq!(verified.kid.as_deref(), Some("k1"));
        // Without the client_id parameter, and typed as the draft recommends.
        let typed = client.sign_typed(claims(), "client-authentication+jwt");
        let keys = ClientKeys::parse(&client.jwks)?;
        let policy = AssertionPolicy::default();
        verify_assertion_with_keys(&typed, None, &keys, ISSUER, NOW, &policy)?;
        let typed = client.sign_typed(claims(), "application/Client-Authentication+JWT");
        verify_assertion_with_keys(&typed, None, &keys, ISSUER, NOW, &policy)?;
        Ok(())
    }

    #[test]
    fn eddsa_and_ps256_keys_work_with_the_alg_they_name() -> Result<(), AssertionError> {
        let ed = Ed25519KeyPair::generate().with_key_id("ed");
        // No alg on the key: Ed25519 admits only EdDSA.
        let jwks = jwks_of(&ed.public_key().to_jwk(), "ed", None);
        let keys = ClientKeys::parse(&jwks)?;
        assert_eq!(keys.algorithms(), [Algorithm::EdDsa]);
        let assertion = ed.sign(claims()).expect("signing works");
        let policy = AssertionPolicy::default();
        let verified = verify_assertion_with_keys(&assertion, None, &keys, ISSUER, NOW, &policy)?;
        assert_eq!(verified.alg, Algorithm::EdDsa);

        let ps = PS256KeyPair::from_der(rsa_der())
            .expect("RSA key import")
            .with_key_id("rsa");
        let rs = RS256KeyPair::from_der(rsa_der())
            .expect("RSA key import")
            .with_key_id("rsa");
        let exported = ps.public_key().to_jwk();
        let keys = ClientKeys::parse(&jwks_of(&exported, "rsa", Some("PS256")))?;
        assert_eq!(keys.algorithms(), [Algorithm::Ps256]);
        let assertion = ps.sign(claims()).expect("signing works");
        verify_assertion_with_keys(&assertion, None, &keys, ISSUER, NOW, &policy)?;
        // The same RSA key signing RS256: refused, the key is pinned to PS256.
        let assertion = rs.sign(claims()).expect("signing works");
        let err =
            verify_assertion_with_keys(&assertion, None, &keys, ISSUER, NOW, &policy).unwrap_err();
        assert_eq!(err.code(), "alg_not_allowed");
        // An RSA key that names no alg is not used at all.
        let err = ClientKeys::parse(&jwks_of(&exported, "rsa", None)).unwrap_err();
        assert_eq!(err.code(), "jwks_no_usable_key");
        Ok(())
    }

    #[test]
    fn audience_must_be_the_issuer_alone() {
        let client = es256();
        let with_aud = |aud: Audiences| JWTClaims {
            audiences: Some(aud),
            ..claims()
        };
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        // A one-member array is the issuer as sole value (rfc7523bis since -03).
        let single = client.sign(with_aud(Audiences::AsSet(set(&[ISSUER]))));
        assert!(
            client.verify(&single).is_ok(),
            "{:?}",
            client.verify(&single)
        );
        for (aud, code) in [
            (
                Audiences::AsString("https://other.example".into()),
                "audience_mismatch",
            ),
            (
                Audiences::AsString(format!("{ISSUER}/oauth/token")),
                "audience_mismatch",
            ),
            (
                Audiences::AsString(format!("{ISSUER}/")),
                "audience_mismatch",
            ),
            (
                Audiences::AsSet(set(&[ISSUER, "https://other.example"])),
                "audience_not_sole",
            ),
            (
                Audiences::AsSet(set(&[ISSUER, &format!("{ISSUER}/oauth/token")])),
                "audience_not_sole",
            ),
            (Audiences::AsSet(set(&[])), "audience_mismatch"),
        ] {
            let assertion = client.sign(with_aud(aud.clone()));
            assert_eq!(client.code(&assertion), code, "{aud:?}");
        }
        let no_aud = client.sign(JWTClaims {
            audiences: None,
            ..claims()
        });
        assert_eq!(client.code(&no_aud), "audience_mismatch");
    }

    #[test]
    fn iss_sub_and_client_id_must_agree() {
        let client = es256();
        let other_sub = client.sign(JWTClaims {
            subject: Some("svc.other".into()),
            ..claims()
        });
        assert_eq!(client.code(&other_sub), "subject_mismatch");
        let no_sub = client.sign(JWTClaims {
            subject: None,
            ..claims()
        });
        assert_eq!(client.code(&no_sub), "claim_missing");
        let no_iss = client.sign(JWTClaims {
            issuer: None,
            ..claims()
        });
        assert_eq!(client.code(&no_iss), "claim_missing");
        let bad_id = client.sign(JWTClaims {
            issuer: Some("svc warehouse".into()),
            subject: Some("svc warehouse".into()),
            ..claims()
        });
        assert_eq!(client.code(&bad_id), "client_id_invalid");
        let good = client.sign(claims());
        let err = verify_assertion(
            &good,
            Some("svc.other"),
            &client.jwks,
            ISSUER,
            NOW,
            &AssertionPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "client_id_mismatch");
    }

    #[test]
    fn exp_is_required_and_bounded() {
        let client = es256();
        let at = |iat: Option<u64>, exp: Option<u64>| {
            client.sign(JWTClaims {
                issued_at: iat.map(Duration::from_secs),
                expires_at: exp.map(Duration::from_secs),
                ..claims()
            })
        };
        assert_eq!(client.code(&at(Some(NOW), None)), "claim_missing");
        // Expired beyond the 60 s skew; within the skew it still passes.
        assert_eq!(
            client.code(&at(Some(NOW - 400), Some(NOW - 61))),
            "token_expired"
        );
        assert!(client.verify(&at(Some(NOW - 200), Some(NOW - 59))).is_ok());
        // Too long-lived: with iat, and without iat (measured from now).
        assert_eq!(
            client.code(&at(Some(NOW), Some(NOW + 301))),
            "lifetime_too_long"
        );
        assert_eq!(client.code(&at(None, Some(NOW + 301))), "lifetime_too_long");
        assert!(client.verify(&at(None, Some(NOW + 300))).is_ok());
        assert_eq!(
            client.code(&at(Some(NOW), Some(NOW + 86_400))),
            "lifetime_too_long"
        );
        // Issued in the future beyond the skew.
        assert_eq!(
            client.code(&at(Some(NOW + 120), Some(NOW + 180))),
            "iat_in_future"
        );
        // nbf is honoured with the skew.
        let not_yet = client.sign(JWTClaims {
            invalid_before: Some(Duration::from_secs(NOW + 61)),
            ..claims()
        });
        assert_eq!(client.code(&not_yet), "token_not_yet_valid");
        let nearly = client.sign(JWTClaims {
            invalid_before: Some(Duration::from_secs(NOW + 59)),
            ..claims()
        });
        assert!(client.verify(&nearly).is_ok());
    }

    #[test]
    fn a_stricter_policy_is_applied() {
        let client = es256();
        let assertion = client.sign(claims());
        let strict = AssertionPolicy {
            max_lifetime_secs: 60,
            clock_skew_secs: 0,
        };
        let err =
            verify_assertion(&assertion, None, &client.jwks, ISSUER, NOW, &strict).unwrap_err();
        assert_eq!(err.code(), "lifetime_too_long");
    }

    #[test]
    fn jti_is_required_and_bounded() {
        let client = es256();
        let with_jti = |jti: Option<String>| {
            client.sign(JWTClaims {
                jwt_id: jti,
                ..claims()
            })
        };
        assert_eq!(client.code(&with_jti(None)), "claim_missing");
        assert_eq!(client.code(&with_jti(Some(String::new()))), "jti_invalid");
        assert_eq!(client.code(&with_jti(Some("x".repeat(257)))), "jti_invalid");
        assert_eq!(client.code(&with_jti(Some("a\nb".into()))), "jti_invalid");
        assert!(client.verify(&with_jti(Some("x".repeat(256)))).is_ok());
    }

    #[test]
    fn a_key_the_client_did_not_register_is_refused() {
        let client = es256();
        let stranger = ES256KeyPair::generate().with_key_id("k1");
        let forged = stranger.sign(claims()).expect("signing works");
        assert_eq!(client.code(&forged), "signature_invalid");
        let unknown_kid = ES256KeyPair::generate().with_key_id("k2");
        let forged = unknown_kid.sign(claims()).expect("signing works");
        assert_eq!(client.code(&forged), "kid_unknown");
    }

    #[test]
    fn alg_none_and_hmac_are_refused() {
        let client = es256();
        let payload = serde_json::to_vec(&claims()).expect("claims serialize");
        for alg in ["none", "None", "NONE"] {
            let header = json!({"alg": alg, "typ": "JWT", "kid": "k1"}).to_string();
            let unsecured = format!("{}.{}.", b64(header), b64(&payload));
            assert_eq!(client.code(&unsecured), "alg_not_allowed", "{alg}");
        }
        // HS256 keyed with the client's public key (the classic algorithm confusion), once
        // with the JWK text and once with the JWKS document as the secret.
        let public_jwk = client.key.public_key().to_jwk();
        for secret in [public_jwk.as_bytes(), client.jwks.as_bytes()] {
            let forged = HS256Key::from_bytes(secret)
                .with_key_id("k1")
                .authenticate(claims())
                .expect("signing works");
            assert_eq!(client.code(&forged), "alg_not_allowed");
        }
        // A JWKS offering a symmetric key is refused whole.
        let hmac_jwks = json!({"keys": [{"kty": "oct", "k": b64(b"secret"), "alg": "HS256"}]});
        let err = ClientKeys::parse(&hmac_jwks.to_string()).unwrap_err();
        assert_eq!(err.code(), "jwks_private_key");
    }

    #[test]
    fn typed_jwts_of_other_kinds_are_refused() {
        let client = es256();
        for typ in [
            "at+jwt",
            "application/at+jwt",
            "AT+JWT",
            "dpop+jwt",
            "secevent+jwt",
        ] {
            let assertion = client.sign_typed(claims(), typ);
            assert_eq!(client.code(&assertion), "typ_invalid", "{typ}");
        }
        for typ in ["JWT", "jwt", "application/jwt", "client-authentication+jwt"] {
            let assertion = client.sign_typed(claims(), typ);
            assert!(client.verify(&assertion).is_ok(), "{typ}");
        }
    }

    #[test]
    fn oversize_and_malformed_assertions_are_refused_before_any_key_work() {
        let client = es256();
        let mut big = claims();
        big.custom.insert("pad".into(), "x".repeat(9_000).into());
        let assertion = client.sign(big);
        assert_eq!(client.code(&assertion), "token_too_large");
        assert_eq!(
            peek_client_id(&assertion).map_err(|e| e.code()),
            Err("token_too_large")
        );
        for garbage in ["", "a.b", "a.b.c.d", "!!!.???.***"] {
            assert_eq!(client.code(garbage), "token_malformed", "{garbage:?}");
        }
        // Refused even with a JWKS that could never parse: the token is looked at first.
        let err = verify_assertion(
            "a.b",
            None,
            "not json",
            ISSUER,
            NOW,
            &AssertionPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "token_malformed");
    }

    #[test]
    fn peek_reads_the_client_id_without_verifying() -> Result<(), AssertionError> {
        let stranger = ES256KeyPair::generate();
        let unverified = stranger.sign(claims()).expect("signing works");
        assert_eq!(peek_client_id(&unverified)?.as_str(), CLIENT);
        Ok(())
    }

    #[test]
    fn bad_client_jwks_are_refused_with_their_code() {
        let client = es256();
        let assertion = client.sign(claims());
        for (jwks, code) in [
            ("not json", "jwks_malformed"),
            (r#"{"keys": []}"#, "jwks_no_usable_key"),
            (
                r#"{"keys": [{"kty": "EC", "crv": "P-256"}]}"#,
                "jwks_no_usable_key",
            ),
        ] {
            let err = verify_assertion(
                &assertion,
                None,
                jwks,
                ISSUER,
                NOW,
                &AssertionPolicy::default(),
            )
            .unwrap_err();
            assert_eq!(err.code(), code, "{jwks}");
        }
    }

    #[test]
    fn messages_do_not_echo_the_token() {
        let client = es256();
        let typ = format!("evil\r\n{}", "x".repeat(500));
        let assertion = client.sign_typed(claims(), &typ);
        let err = client.verify(&assertion).unwrap_err();
        assert_eq!(err.code(), "typ_invalid");
        assert!(format!("{err}").len() < 200);
        assert!(!format!("{err}").contains(&assertion));
    }
}
