//! RFC 9068 access tokens: the claims the issuer mints, and the checks introspection and
//! revocation apply to a token presented back to it, made by `verifier_core`: the code every
//! gateway runs, with its limits (a token of at most
//! [`MAX_TOKEN_BYTES`](verifier_core::limits::MAX_TOKEN_BYTES)) and its `typ` comparison.
//!
//! Every token says what its `sub` is (`sub_profile`). A token minted by token exchange
//! (RFC 8693) also carries `act`, the chain of agents acting for `sub`, outermost first, and
//! [`ANCESTORS_CLAIM`](verifier_core::ANCESTORS_CLAIM), the `jti`s of the tokens it was
//! exchanged from, nearest first: what lets a gateway refuse it offline once any of them is
//! revoked.

use jwt_simple::prelude::{Audiences, Deserialize, JWTClaims, Serialize, UnixTimeStamp};
use serde_json::{Value, json};
use verifier_core::{Delegation, PROFILE_AI_AGENT, Provider, Unverified};

use crate::clients::{Client, MAX_TTL_SECS};
use crate::clock::UnixTime;
use crate::config::IssuerUrl;
use crate::keys::{ACCESS_TOKEN_TYP, Jwks, SigningAlg};
use crate::scope::Scope;

/// The claims RFC 9068 §2.2 adds to the registered ones, what the subject is, and for an
/// exchanged token who acts for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The client the token was issued to (for an exchanged token, the agent).
    pub client_id: String,
    /// Granted scopes, space separated.
    pub scope: String,
    /// What `sub` is: `service`, `ai_agent` or `user`.
    pub sub_profile: String,
    /// RFC 8693 §4.1: the acting agent, the one it acts for next, and so on (exchanged tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Value>,
    /// The `jti`s of the tokens this one was exchanged from, nearest first; the name is
    /// [`verifier_core::ANCESTORS_CLAIM`] (a test holds them together).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ancestor_jtis: Vec<String>,
}

/// The claim set of a new token for `client` with `scope`, issued at `now`: the client
/// credentials grant's.
///
/// Exactly `iss`, `sub`, `aud`, `client_id`, `iat`, `exp`, `jti`, `scope` and `sub_profile`:
/// no `nbf`, since RFC 9068 does not ask for it and `iat` already says when the token starts.
pub fn claims(
    issuer: &IssuerUrl,
    client: &Client,
    scope: &Scope,
    jti: String,
    now: UnixTime,
) -> JWTClaims<AccessTokenClaims> {
    let custom = AccessTokenClaims {
        client_id: client.id.as_str().to_owned(),
        scope: scope.to_string(),
        sub_profile: client.kind.profile().to_owned(),
        act: None,
        ancestor_jtis: Vec::new(),
    };
    let expires_at = now.saturating_add(client.ttl.secs());
    let aud = client.audience.as_str();
    build(
        issuer,
        client.id.as_str(),
        aud,
        jti,
        now,
        expires_at,
        custom,
    )
}

/// What a token minted by token exchange says, besides `iss` and its `jti`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchanged<'a> {
    /// The principal: the subject token's `sub`.
    pub sub: &'a str,
    /// What the principal is: the subject token's `sub_profile`.
    pub sub_profile: &'a str,
    /// The agent the token is issued to (`client_id`, and the outermost actor).
    pub agent: &'a str,
    /// The subject token's `act`, if it was delegated already: the rest of the chain.
    pub previous_act: Option<&'a Value>,
    /// The subject token's `jti`, then its own ancestors.
    pub ancestors: Vec<String>,
    /// `aud`.
    pub aud: &'a str,
    /// The granted scopes.
    pub scope: &'a Scope,
    /// `iat`.
    pub iat: UnixTime,
    /// `exp`.
    pub exp: UnixTime,
}

/// The claim set of a token minted by token exchange.
pub fn exchanged_claims(
    issuer: &IssuerUrl,
    token: &Exchanged<'_>,
    jti: String,
) -> JWTClaims<AccessTokenClaims> {
    let custom = AccessTokenClaims {
        client_id: token.agent.to_owned(),
        scope: token.scope.to_string(),
        sub_profile: token.sub_profile.to_owned(),
        act: Some(actor_chain(token.agent, token.previous_act)),
        ancestor_jtis: token.ancestors.clone(),
    };
    build(
        issuer, token.sub, token.aud, jti, token.iat, token.exp, custom,
    )
}

/// The `act` of a token `agent` obtained by exchange: the agent, outermost, and the subject
/// token's own chain nested in it verbatim (RFC 8693 §4.1).
pub fn actor_chain(agent: &str, previous: Option<&Value>) -> Value {
    let mut act = json!({ "sub": agent, "sub_profile": PROFILE_AI_AGENT });
    if let Some(previous) = previous {
        act["act"] = previous.clone();
    }
    act
}

fn build(
    issuer: &IssuerUrl,
    sub: &str,
    aud: &str,
    jti: String,
    iat: UnixTime,
    exp: UnixTime,
    custom: AccessTokenClaims,
) -> JWTClaims<AccessTokenClaims> {
    JWTClaims {
        issued_at: Some(UnixTimeStamp::from_secs(iat)),
        expires_at: Some(UnixTimeStamp::from_secs(exp)),
        invalid_before: None,
        issuer: Some(issuer.as_str().to_owned()),
        subject: Some(sub.to_owned()),
        audiences: Some(Audiences::AsString(aud.to_owned())),
        jwt_id: Some(jti),
        nonce: None,
        custom,
    }
}

/// A token that is genuinely ours and unexpired (revocation is checked separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidToken {
    /// `iss`.
    pub iss: String,
    /// `sub`.
    pub sub: String,
    /// `aud`.
    pub aud: String,
    /// `client_id`.
    pub client_id: String,
    /// `scope`.
    pub scope: String,
    /// `exp`.
    pub exp: UnixTime,
    /// `iat`.
    pub iat: UnixTime,
    /// `jti`.
    pub jti: String,
    /// `sub_profile`, when the token says (those minted before agents existed do not).
    pub sub_profile: Option<String>,
    /// `act` exactly as the token carries it: the chain, outermost first.
    pub act: Option<Value>,
    /// The chain and the token's ancestors, as gateways read them from `act` and
    /// [`ANCESTORS_CLAIM`](verifier_core::ANCESTORS_CLAIM).
    pub delegation: Option<Delegation>,
    /// `may_act` (RFC 8693 §4.4): who may exchange this token, when it says.
    pub may_act: Option<Value>,
}

impl ValidToken {
    /// Every client whose whole-client revocation revokes this token, as gateways check it: its
    /// own client, and for a delegated token its principal and every agent of its chain.
    pub fn revocable_by(&self) -> Vec<&str> {
        let mut clients = vec![self.client_id.as_str()];
        if let Some(delegation) = &self.delegation {
            clients.push(self.sub.as_str());
            clients.extend(delegation.actors.iter().map(|a| a.sub.as_str()));
        }
        clients.sort_unstable();
        clients.dedup();
        clients
    }

    /// The token's own `jti`, then those it was exchanged from: revoking any revokes it.
    pub fn lineage(&self) -> Vec<&str> {
        let ancestors = self.delegation.iter().flat_map(|d| &d.ancestors);
        std::iter::once(self.jti.as_str())
            .chain(ancestors.map(String::as_str))
            .collect()
    }
}

/// Checks `token` against our published keys `jwks` at `now`; `None` for anything not valid.
///
/// What a gateway checks, for tokens of any audience and with no clock skew (the clock that
/// minted them is ours, and `now >= exp` is expired): the signature by the key the `kid`
/// names, used only with the algorithm our records give it; `typ` `at+jwt`; `iss` ours; `iat`
/// not in the future; no lifetime longer than a client may have. And what only we know: every
/// claim we mint is present, `aud` is a single string and the dates are whole seconds.
pub fn validate(token: &str, jwks: &Jwks, issuer: &IssuerUrl, now: UnixTime) -> Option<ValidToken> {
    // Our JWKS document as a gateway reads it: every key names its one algorithm.
    let keys = verifier_core::Jwks::parse(&serde_json::to_vec(jwks).ok()?).ok()?;
    validate_with(token, &keys, issuer, now)
}

/// [`validate`] against our published keys already parsed as a gateway reads them
/// ([`Keyring::verifying_keys`](crate::keys::Keyring::verifying_keys)).
pub fn validate_with(
    token: &str,
    keys: &verifier_core::Jwks,
    issuer: &IssuerUrl,
    now: UnixTime,
) -> Option<ValidToken> {
    let algorithms = SigningAlg::ALL.map(SigningAlg::algorithm);
    let policy = Provider::builder(issuer.as_str())
        .dangerous_any_audience()
        .algorithms(&algorithms)
        .typ(Some(ACCESS_TOKEN_TYP))
        .clock_skew_seconds(0)
        .max_lifetime_seconds(MAX_TTL_SECS)
        .build();
    let unverified = Unverified::parse(token, &policy).ok()?;
    // We always name the key; without a `kid` a lone key of the algorithm would be tried.
    unverified.header.kid.as_ref()?;
    let claims = unverified.verify(&policy, keys, now).ok()?.claims;
    let aud = match claims.raw.get("aud") {
        Some(Value::String(aud)) => aud.clone(),
        _ => return None,
    };
    Some(ValidToken {
        iss: claims.iss?,
        sub: claims.sub?,
        aud,
        client_id: claims.client_id?,
        scope: claims.scope?,
        exp: whole_seconds(claims.exp)?,
        iat: whole_seconds(claims.iat?)?,
        jti: claims.jti?,
        sub_profile: claims.sub_profile,
        act: claims.raw.get("act").cloned(),
        delegation: claims.delegation,
        may_act: claims.raw.get("may_act").cloned(),
    })
}

/// A NumericDate as we write it: whole seconds.
fn whole_seconds(date: f64) -> Option<UnixTime> {
    // Finite and non-negative already (the verifier checked); below 2^53 every u64 is exact.
    (date.fract() == 0.0 && date < 9_007_199_254_740_992.0).then_some(date as UnixTime)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use jwt_simple::prelude::HeaderOptions;
    use serde_json::json;

    use super::*;
    use crate::clients::{Audience, ClientId, ClientKind, Ttl};
    use crate::keys::{Jwk, PrivateKey};

    const NOW: UnixTime = 1_800_000_000;

    fn issuer() -> IssuerUrl {
        "https://issuer.test".parse().expect("issuer")
    }

    fn client() -> Client {
        Client {
            id: ClientId::parse("svc.a").expect("id"),
            kind: ClientKind::Service,
            scope: Scope::parse("read write").expect("scope"),
            audience: Audience::parse("orders").expect("audience"),
            ttl: Ttl::try_from(300).expect("ttl"),
            created_at: NOW,
        }
    }

    /// A key of `alg` that names itself in what it signs, and its published JWK.
    fn key(alg: SigningAlg) -> (PrivateKey, Jwk) {
        let key = PrivateKey::generate(alg).expect("key");
        let jwk = key.public_jwk().expect("jwk");
        (key.with_key_id(&jwk.kid), jwk)
    }

    fn sign<C: Serialize>(key: &PrivateKey, claims: JWTClaims<C>, typ: Option<&str>) -> String {
        let header = HeaderOptions {
            signature_type: typ.map(str::to_owned),
            ..HeaderOptions::default()
        };
        key.sign(claims, &header).expect("sign")
    }

    fn minted(key: &PrivateKey) -> String {
        let claims = claims(&issuer(), &client(), &client().scope, "jti-1".into(), NOW);
        sign(key, claims, Some(ACCESS_TOKEN_TYP))
    }

    fn accepts(token: &str, jwks: &[&Jwk], now: UnixTime) -> bool {
        let jwks = Jwks {
            keys: jwks.iter().copied().cloned().collect(),
        };
        validate(token, &jwks, &issuer(), now).is_some()
    }

    #[test]
    fn our_tokens_are_valid_until_exp_with_every_claim_we_mint() {
        for alg in SigningAlg::ALL {
            let (key, jwk) = key(alg);
            let token = minted(&key);
            let jwks = Jwks {
                keys: vec![jwk.clone()],
            };
            let valid = validate(&token, &jwks, &issuer(), NOW).expect("valid");
            assert_eq!(
                valid,
                ValidToken {
                    iss: "https://issuer.test".into(),
                    sub: "svc.a".into(),
                    aud: "orders".into(),
                    client_id: "svc.a".into(),
                    scope: "read write".into(),
                    exp: NOW + 300,
                    iat: NOW,
                    jti: "jti-1".into(),
                    sub_profile: Some("service".into()),
                    act: None,
                    delegation: None,
                    may_act: None,
                },
                "{alg}"
            );
            assert!(accepts(&token, &[&jwk], NOW + 299), "{alg}");
            assert!(
                !accepts(&token, &[&jwk], NOW + 300),
                "{alg}: expired at exp"
            );
            assert!(
                !accepts(&token, &[&jwk], NOW - 1),
                "{alg}: issued in the future"
            );
            let other = validate(
                &token,
                &jwks,
                &"https://other.test".parse().expect("url"),
                NOW,
            );
            assert!(other.is_none(), "{alg}: another issuer");
        }
    }

    #[test]
    fn the_key_is_the_one_the_kid_names_with_its_own_algorithm() {
        let (es256, es256_jwk) = key(SigningAlg::Es256);
        let (_, eddsa_jwk) = key(SigningAlg::EdDsa);
        let token = minted(&es256);
        assert!(accepts(&token, &[&eddsa_jwk, &es256_jwk], NOW));
        assert!(!accepts(&token, &[&eddsa_jwk], NOW), "unknown kid");
        // The kid of another key, of another algorithm.
        let liar = es256.with_key_id(&eddsa_jwk.kid);
        assert!(!accepts(&minted(&liar), &[&eddsa_jwk], NOW));
        // No kid at all, even with a lone key that would verify it.
        let anonymous = PrivateKey::generate(SigningAlg::Es256).expect("key");
        let jwk = anonymous.public_jwk().expect("jwk");
        assert!(!accepts(&minted(&anonymous), &[&jwk], NOW));
        // A signature that does not hold.
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 5;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(!accepts(&tampered, &[&es256_jwk], NOW));
    }

    #[test]
    fn only_tokens_shaped_as_we_mint_them_are_ours() {
        let (key, jwk) = key(SigningAlg::Es256);
        let mint = || claims(&issuer(), &client(), &client().scope, "jti-1".into(), NOW);
        assert!(!accepts(&sign(&key, mint(), Some("JWT")), &[&jwk], NOW));
        assert!(!accepts(&sign(&key, mint(), None), &[&jwk], NOW));

        // Each of these is refused, with the type right.
        let custom = json!({"client_id": "svc.a", "scope": "read"});
        let variants: [fn(&mut JWTClaims<Value>); 6] = [
            |c| c.audiences = Some(Audiences::AsSet(HashSet::from(["orders".to_owned()]))),
            |c| c.custom = json!({"client_id": "svc.a"}),
            |c| c.custom = json!({"scope": "read"}),
            |c| c.invalid_before = Some(UnixTimeStamp::from_secs(NOW + 10)),
            |c| c.custom["scope"] = "s".repeat(8 * 1024).into(),
            |c| c.expires_at = None,
        ];
        for (n, change) in variants.into_iter().enumerate() {
            let mut claims = reshaped(mint(), custom.clone());
            change(&mut claims);
            let token = sign(&key, claims, Some(ACCESS_TOKEN_TYP));
            assert!(!accepts(&token, &[&jwk], NOW), "variant {n}");
        }
        let unchanged = sign(&key, reshaped(mint(), custom), Some(ACCESS_TOKEN_TYP));
        assert!(accepts(&unchanged, &[&jwk], NOW));
    }

    #[test]
    fn exchanged_tokens_carry_the_chain_and_their_ancestors_as_gateways_read_them() {
        let (key, jwk) = key(SigningAlg::Es256);
        let jwks = Jwks { keys: vec![jwk] };
        let scope = Scope::parse("read").expect("scope");
        let inner = actor_chain("agent.one", None);
        let token = Exchanged {
            sub: "svc.a",
            sub_profile: "service",
            agent: "agent.two",
            previous_act: Some(&inner),
            ancestors: vec!["jti-1".into(), "jti-0".into()],
            aud: "orders",
            scope: &scope,
            iat: NOW,
            exp: NOW + 60,
        };
        let signed = sign(
            &key,
            exchanged_claims(&issuer(), &token, "jti-2".into()),
            Some(ACCESS_TOKEN_TYP),
        );
        let valid = validate(&signed, &jwks, &issuer(), NOW).expect("valid");
        assert_eq!(valid.sub, "svc.a");
        assert_eq!(valid.client_id, "agent.two");
        assert_eq!(valid.sub_profile.as_deref(), Some("service"));
        assert_eq!(
            valid.act,
            Some(json!({"sub": "agent.two", "sub_profile": "ai_agent",
                        "act": {"sub": "agent.one", "sub_profile": "ai_agent"}}))
        );
        let delegation = valid.delegation.clone().expect("delegated");
        assert_eq!(delegation.chain, "agent.two,agent.one");
        assert_eq!(delegation.ancestors, ["jti-1", "jti-0"]);
        assert_eq!(valid.lineage(), ["jti-2", "jti-1", "jti-0"]);
        assert_eq!(
            valid.revocable_by(),
            ["agent.one", "agent.two", "svc.a"],
            "its client, its principal and every agent"
        );
        // The claim name is the one the gateways read.
        let claims =
            serde_json::to_value(exchanged_claims(&issuer(), &token, "j".into())).expect("json");
        assert!(
            claims.get(verifier_core::ANCESTORS_CLAIM).is_some(),
            "{claims}"
        );
        // A token of our own, undelegated, names only its client.
        let own = validate(&minted(&key), &jwks, &issuer(), NOW).expect("valid");
        assert_eq!(own.revocable_by(), ["svc.a"]);
        assert_eq!(own.lineage(), ["jti-1"]);
    }

    /// `claims` with other custom claims.
    fn reshaped<C>(claims: JWTClaims<AccessTokenClaims>, custom: C) -> JWTClaims<C> {
        JWTClaims {
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
            invalid_before: claims.invalid_before,
            issuer: claims.issuer,
            subject: claims.subject,
            audiences: claims.audiences,
            jwt_id: claims.jwt_id,
            nonce: claims.nonce,
            custom,
        }
    }
}
