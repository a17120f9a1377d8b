//! The filter configuration (`Config::parse`): the documented example, defaults, and every
//! unknown field or invalid value refused with the path of the field at fault.

use serde_json::{Value, json};
use verifier_core::defaults::DEFAULT_TYP;
use verifier_core::{
    Algorithm, Config, ConfigError, FetchTarget, KeySource, RemoteJwks, Requirement,
};
use verifier_core::{DelegationRule, PathMatch};
use verifier_testkit::*;

/// The example of DESIGN.md, "The filter's configuration", with `remote_jwks` (the document
/// shows `local_jwks` beside it as the alternative; a provider has one or the other).
fn design_example() -> Value {
    json!({
      "providers": {
        "local": {
          "issuer": "http://127.0.0.1:8080",
          "audiences": ["quantjourney"],
          "algorithms": ["ES256"],
          "remote_jwks": {"cluster": "issuer", "path": "/.well-known/jwks.json"}
        }
      },
      "rules": [
        {"match": {"prefix": "/api/v1/entities/register-bulk", "methods": ["POST"]},
         "requires": {"provider": "local", "scopes": ["instruments:write"]}},
        {"match": {"prefix": "/"}, "requires": {"provider": "local"}}
      ]
    })
}

fn parse(config: &Value) -> Result<Config, ConfigError> {
    Config::parse(config.to_string().as_bytes())
}

/// The path of the error `config` is refused with.
fn error_path(config: &Value) -> String {
    match parse(config) {
        Ok(_) => panic!("accepted: {config}"),
        Err(e) => {
            assert!(!e.message.is_empty());
            e.path
        }
    }
}

/// `design_example()` with `f` applied.
fn example_with(f: impl FnOnce(&mut Value)) -> Value {
    let mut c = design_example();
    f(&mut c);
    c
}

/// A configuration with one provider "x" (local keys) built from `provider_json` plus `f`.
fn provider_x(f: impl FnOnce(&mut Value)) -> Value {
    let mut p = provider_json(&[Signer::es256(1).jwk()]);
    f(&mut p);
    json!({
        "providers": {"x": p},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "x"}}],
    })
}

fn remove(v: &mut Value, member: &str) {
    v.as_object_mut().unwrap().remove(member);
}

// ---------------------------------------------------------------------------------------------
// The documented example and defaults

#[test]
fn the_design_example_parses() {
    let config = parse(&design_example()).expect("the documented example");
    let p = &config.providers["local"];
    assert_eq!(p.name, "local");
    assert_eq!(p.issuer, "http://127.0.0.1:8080");
    assert_eq!(p.audiences, ["quantjourney"]);
    assert_eq!(p.algorithms, [Algorithm::Es256]);
    assert_eq!(
        p.keys,
        KeySource::Remote(RemoteJwks {
            target: FetchTarget {
                cluster: "issuer".into(),
                path: "/.well-known/jwks.json".into(),
                authority: "issuer".into(),
                timeout_ms: 5_000,
            },
            refresh_seconds: 300,
            refetch_cooldown_seconds: 30,
            max_stale_seconds: 3_600,
        })
    );
    assert_eq!(config.rules.len(), 2);
    let first = &config.rules[0];
    assert_eq!(
        first.matcher.path,
        PathMatch::Prefix("/api/v1/entities/register-bulk".into())
    );
    assert_eq!(first.matcher.methods, ["POST"]);
    assert_eq!(
        first.requirement,
        Requirement::Token {
            provider: "local".into(),
            scopes: vec!["instruments:write".into()],
            delegation: DelegationRule::default(),
        }
    );
    assert_eq!(
        config.rules[1].requirement,
        Requirement::Token {
            provider: "local".into(),
            scopes: vec![],
            delegation: DelegationRule::default(),
        }
    );
    assert_eq!(
        config
            .remote_providers()
            .map(|(name, _)| name)
            .collect::<Vec<_>>(),
        ["local"]
    );
}

#[test]
fn the_design_example_with_local_jwks_parses_as_a_string_or_an_object() {
    let keys = jwks(&[Signer::es256(1).jwk()]);
    for local in [json!(keys), serde_json::from_str::<Value>(&keys).unwrap()] {
        let config = parse(&example_with(|c| {
            let p = &mut c["providers"]["local"];
            remove(p, "remote_jwks");
            p["local_jwks"] = local.clone();
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        match &config.providers["local"].keys {
            KeySource::Local(set) => assert_eq!(set.keys[0].kid.as_deref(), Some("es256-1")),
            KeySource::Remote(_) => panic!("expected local keys"),
        }
        assert_eq!(config.remote_providers().count(), 0);
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let mut bare = design_example();
    remove(&mut bare["providers"]["local"], "algorithms");
    let config = parse(&bare).unwrap();
    let p = &config.providers["local"];
    assert_eq!(p.typ.as_deref(), Some("at+jwt"));
    assert_eq!(DEFAULT_TYP, "at+jwt");
    assert_eq!(p.clock_skew_seconds, 60);
    assert_eq!(p.max_lifetime_seconds, 86_400);
    assert!(!p.forward);
    assert_eq!(p.algorithms, [Algorithm::Es256]);
    assert_eq!(config.jwks_wait_ms, 3_000);
    assert_eq!(config.realm, "service");
}

#[test]
fn every_setting_can_be_given() {
    let config = parse(&json!({
        "providers": {"p": {
            "issuer": ISSUER,
            "audiences": ["a", "b"],
            "algorithms": ["RS256", "EdDSA", "ES256"],
            "typ": null,
            "clock_skew_seconds": 0,
            "max_lifetime_seconds": 60,
            "forward": true,
            "remote_jwks": {"cluster": "idp", "path": "/jwks", "authority": "idp.example", "timeout_ms": 250, "refresh_seconds": 60}
        }},
        "rules": [
            {"match": {"path": "/health", "methods": ["GET", "HEAD"]}, "public": true},
            {"match": {"prefix": "/"}, "requires": {"provider": "p", "scopes": ["a:b", "c"]}, "public": false}
        ],
        "realm": "my api",
        "jwks_wait_ms": 60000
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let p = &config.providers["p"];
    assert_eq!(
        p.algorithms,
        [Algorithm::Rs256, Algorithm::EdDsa, Algorithm::Es256]
    );
    assert_eq!(
        (
            p.typ.as_deref(),
            p.clock_skew_seconds,
            p.max_lifetime_seconds,
            p.forward
        ),
        (None, 0, 60, true)
    );
    match &p.keys {
        KeySource::Remote(r) => assert_eq!(
            (
                r.target.authority.as_str(),
                r.target.timeout_ms,
                r.refresh_seconds
            ),
            ("idp.example", 250, 60)
        ),
        KeySource::Local(_) => panic!("remote expected"),
    }
    assert_eq!(
        config.rules[0].matcher.path,
        PathMatch::Exact("/health".into())
    );
    assert_eq!(
        config.rules[0].requirement,
        Requirement::Public { forward: false }
    );
    assert_eq!(
        (config.realm.as_str(), config.jwks_wait_ms),
        ("my api", 60_000)
    );
}

// ---------------------------------------------------------------------------------------------
// Unknown fields, at every level

#[test]
fn unknown_fields_are_refused_with_their_path() {
    let cases: Vec<(&str, Value)> = vec![
        ("providerz", example_with(|c| c["providerz"] = json!({}))),
        (
            "providers.local.audiencez",
            example_with(|c| c["providers"]["local"]["audiencez"] = json!(["x"])),
        ),
        (
            "providers.local.issuer_url",
            example_with(|c| c["providers"]["local"]["issuer_url"] = json!("x")),
        ),
        (
            "providers.local.remote_jwks.uri",
            example_with(|c| c["providers"]["local"]["remote_jwks"]["uri"] = json!("x")),
        ),
        (
            "rules[0].match.prefx",
            example_with(|c| c["rules"][0]["match"]["prefx"] = json!("/")),
        ),
        (
            "rules[1].match.method",
            example_with(|c| c["rules"][1]["match"]["method"] = json!("GET")),
        ),
        (
            "rules[1].requires.scope",
            example_with(|c| c["rules"][1]["requires"]["scope"] = json!(["a"])),
        ),
        (
            "rules[0].requirez",
            example_with(|c| c["rules"][0]["requirez"] = json!({})),
        ),
    ];
    for (path, config) in cases {
        assert_eq!(error_path(&config), path);
    }
    assert!(parse(&design_example()).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Providers

#[test]
fn a_provider_needs_exactly_one_key_source() {
    // The example as DESIGN.md prints it, with both sources: refused.
    let both = example_with(|c| {
        c["providers"]["local"]["local_jwks"] = json!(jwks(&[Signer::es256(1).jwk()]))
    });
    assert_eq!(error_path(&both), "providers.local");
    let neither = example_with(|c| remove(&mut c["providers"]["local"], "remote_jwks"));
    assert_eq!(error_path(&neither), "providers.local");
    assert!(parse(&design_example()).is_ok());
    assert!(parse(&provider_x(|_| {})).is_ok());
}

#[test]
fn a_rule_naming_an_undefined_provider_is_refused() {
    let config = example_with(|c| c["rules"][1]["requires"]["provider"] = json!("remote"));
    assert_eq!(error_path(&config), "rules[1].requires.provider");
    let config = example_with(|c| c["rules"][0]["requires"]["provider"] = json!("Local"));
    assert_eq!(error_path(&config), "rules[0].requires.provider");
}

#[test]
fn unknown_algorithms_are_refused_with_their_index() {
    for (algorithms, path) in [
        (json!(["none"]), "providers.x.algorithms[0]"),
        (json!(["HS256"]), "providers.x.algorithms[0]"),
        (json!(["es256"]), "providers.x.algorithms[0]"),
        (json!(["ES256", "ES512"]), "providers.x.algorithms[1]"),
        (
            json!(["ES256", "EdDSA", "RS256", "ML-DSA-87"]),
            "providers.x.algorithms[3]",
        ),
        (json!([]), "providers.x.algorithms"),
        (json!("ES256"), "providers.x.algorithms"),
        (json!([256]), "providers.x.algorithms[0]"),
    ] {
        assert_eq!(
            error_path(&provider_x(|p| p["algorithms"] = algorithms.clone())),
            path,
            "{algorithms}"
        );
    }
    assert!(parse(&provider_x(|p| p["algorithms"] = json!(["EdDSA"]))).is_ok());
    let every = json!([
        "ES256",
        "ES384",
        "EdDSA",
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ML-DSA-44",
        "ML-DSA-65"
    ]);
    assert!(parse(&provider_x(|p| p["algorithms"] = every.clone())).is_ok());
}

#[test]
fn invalid_provider_values_are_refused_with_their_path() {
    let cases: Vec<(&str, Value)> = vec![
        ("providers.x.issuer", provider_x(|p| remove(p, "issuer"))),
        (
            "providers.x.issuer",
            provider_x(|p| p["issuer"] = json!("")),
        ),
        ("providers.x.issuer", provider_x(|p| p["issuer"] = json!(1))),
        (
            "providers.x.audiences",
            provider_x(|p| remove(p, "audiences")),
        ),
        (
            "providers.x.audiences",
            provider_x(|p| p["audiences"] = json!([])),
        ),
        (
            "providers.x.audiences",
            provider_x(|p| p["audiences"] = json!("svc.api")),
        ),
        (
            "providers.x.audiences[1]",
            provider_x(|p| p["audiences"] = json!(["svc.api", ""])),
        ),
        (
            "providers.x.audiences[0]",
            provider_x(|p| p["audiences"] = json!([7])),
        ),
        ("providers.x.typ", provider_x(|p| p["typ"] = json!(""))),
        ("providers.x.typ", provider_x(|p| p["typ"] = json!(1))),
        ("providers.x.typ", provider_x(|p| p["typ"] = json!(false))),
        (
            "providers.x.clock_skew_seconds",
            provider_x(|p| p["clock_skew_seconds"] = json!(601)),
        ),
        (
            "providers.x.clock_skew_seconds",
            provider_x(|p| p["clock_skew_seconds"] = json!(-1)),
        ),
        (
            "providers.x.clock_skew_seconds",
            provider_x(|p| p["clock_skew_seconds"] = json!(1.5)),
        ),
        (
            "providers.x.clock_skew_seconds",
            provider_x(|p| p["clock_skew_seconds"] = json!("60")),
        ),
        (
            "providers.x.max_lifetime_seconds",
            provider_x(|p| p["max_lifetime_seconds"] = json!(0)),
        ),
        (
            "providers.x.max_lifetime_seconds",
            provider_x(|p| p["max_lifetime_seconds"] = json!(366 * 86_400 + 1)),
        ),
        (
            "providers.x.forward",
            provider_x(|p| p["forward"] = json!("true")),
        ),
        (
            "providers.x.forward",
            provider_x(|p| p["forward"] = json!(1)),
        ),
        ("providers.x", provider_x(|p| *p = json!("not an object"))),
    ];
    for (path, config) in cases {
        assert_eq!(error_path(&config), path, "{config}");
    }
    for ok in [
        provider_x(|p| p["clock_skew_seconds"] = json!(600)),
        provider_x(|p| p["clock_skew_seconds"] = json!(0)),
        provider_x(|p| p["max_lifetime_seconds"] = json!(1)),
        provider_x(|p| p["max_lifetime_seconds"] = json!(366 * 86_400)),
        provider_x(|p| p["typ"] = json!(null)),
        provider_x(|p| p["forward"] = json!(true)),
    ] {
        assert!(parse(&ok).is_ok(), "{ok}");
    }
}

#[test]
fn local_jwks_that_cannot_be_trusted_or_used_are_refused() {
    let mut private = Signer::es256(1).jwk();
    private["d"] = json!(b64([1u8; 32]));
    let weak_rsa = json!({"kty": "RSA", "n": b64([0xc3u8; 128]), "e": "AQAB"});
    let hmac = json!({"kty": "oct", "k": b64("short")});
    for (what, local) in [
        ("private key", json!(jwks(&[private]))),
        ("RSA 1024 only", json!(jwks(&[weak_rsa]))),
        ("HMAC secret", json!(jwks(&[hmac]))),
        ("not JSON", json!("{keys")),
        ("no keys", json!("{}")),
        ("a number", json!(5)),
        ("an array", json!([Signer::es256(1).jwk()])),
        (
            "too large",
            json!(format!(
                "{}{}",
                jwks(&[Signer::es256(1).jwk()]),
                " ".repeat(70_000)
            )),
        ),
    ] {
        let config = provider_x(|p| p["local_jwks"] = local.clone());
        assert_eq!(error_path(&config), "providers.x.local_jwks", "{what}");
    }
}

#[test]
fn invalid_remote_jwks_values_are_refused_with_their_path() {
    let base = "providers.local.remote_jwks";
    let set = |member: &str, value: Value| {
        example_with(|c| c["providers"]["local"]["remote_jwks"][member] = value)
    };
    let cases: Vec<(String, Value)> = vec![
        (
            format!("{base}.cluster"),
            example_with(|c| remove(&mut c["providers"]["local"]["remote_jwks"], "cluster")),
        ),
        (
            format!("{base}.path"),
            example_with(|c| remove(&mut c["providers"]["local"]["remote_jwks"], "path")),
        ),
        (format!("{base}.cluster"), set("cluster", json!(""))),
        (format!("{base}.path"), set("path", json!("jwks.json"))),
        (format!("{base}.path"), set("path", json!("/jwks .json"))),
        (
            format!("{base}.path"),
            set("path", json!("/jwks\r\nx-evil: 1")),
        ),
        (format!("{base}.timeout_ms"), set("timeout_ms", json!(0))),
        (
            format!("{base}.timeout_ms"),
            set("timeout_ms", json!(60_001)),
        ),
        (
            format!("{base}.refresh_seconds"),
            set("refresh_seconds", json!(0)),
        ),
        (
            format!("{base}.refresh_seconds"),
            set("refresh_seconds", json!(86_401)),
        ),
        (format!("{base}.authority"), set("authority", json!(""))),
        (
            base.to_string(),
            example_with(|c| c["providers"]["local"]["remote_jwks"] = json!("https://idp/jwks")),
        ),
    ];
    for (path, config) in cases {
        assert_eq!(error_path(&config), path, "{config}");
    }
    assert!(parse(&set("timeout_ms", json!(60_000))).is_ok());
    assert!(parse(&set("refresh_seconds", json!(86_400))).is_ok());
}

#[test]
fn providers_must_be_a_non_empty_object() {
    for providers in [json!({}), json!([]), json!(null)] {
        assert_eq!(
            error_path(&example_with(|c| c["providers"] = providers.clone())),
            "providers",
            "{providers}"
        );
    }
    assert_eq!(
        error_path(&example_with(|c| remove(c, "providers"))),
        "providers"
    );
}

// ---------------------------------------------------------------------------------------------
// Rules

#[test]
fn empty_or_missing_rules_are_refused() {
    assert_eq!(
        error_path(&example_with(|c| c["rules"] = json!([]))),
        "rules"
    );
    assert_eq!(error_path(&example_with(|c| remove(c, "rules"))), "rules");
    assert_eq!(
        error_path(&example_with(|c| c["rules"] = json!({}))),
        "rules"
    );
    assert_eq!(
        error_path(&example_with(|c| c["rules"][1] = json!("catch-all"))),
        "rules[1]"
    );
}

#[test]
fn invalid_rules_are_refused_with_their_path() {
    let cases: Vec<(&str, Value)> = vec![
        (
            "rules[0].match",
            example_with(|c| remove(&mut c["rules"][0], "match")),
        ),
        (
            "rules[0].match",
            example_with(|c| c["rules"][0]["match"]["path"] = json!("/x")),
        ),
        (
            "rules[1].match",
            example_with(|c| c["rules"][1]["match"] = json!({})),
        ),
        (
            "rules[1].match",
            example_with(|c| c["rules"][1]["match"] = json!("/")),
        ),
        (
            "rules[1].match.prefix",
            example_with(|c| c["rules"][1]["match"]["prefix"] = json!("api")),
        ),
        (
            "rules[1].match.prefix",
            example_with(|c| c["rules"][1]["match"]["prefix"] = json!("")),
        ),
        (
            "rules[1].match.prefix",
            example_with(|c| c["rules"][1]["match"]["prefix"] = json!(1)),
        ),
        (
            "rules[0].match.methods",
            example_with(|c| c["rules"][0]["match"]["methods"] = json!(["post"])),
        ),
        (
            "rules[0].match.methods",
            example_with(|c| c["rules"][0]["match"]["methods"] = json!([])),
        ),
        (
            "rules[0].match.methods",
            example_with(|c| c["rules"][0]["match"]["methods"] = json!("POST")),
        ),
        (
            "rules[0].match.methods",
            example_with(|c| c["rules"][0]["match"]["methods"] = json!(["PO ST"])),
        ),
        (
            "rules[0]",
            example_with(|c| c["rules"][0]["public"] = json!(true)),
        ),
        (
            "rules[1]",
            example_with(|c| remove(&mut c["rules"][1], "requires")),
        ),
        (
            "rules[1].public",
            example_with(|c| c["rules"][1]["public"] = json!("yes")),
        ),
        (
            "rules[1].requires.provider",
            example_with(|c| remove(&mut c["rules"][1]["requires"], "provider")),
        ),
        (
            "rules[1].requires",
            example_with(|c| c["rules"][1]["requires"] = json!("local")),
        ),
        (
            "rules[0].requires.scopes",
            example_with(|c| c["rules"][0]["requires"]["scopes"] = json!([])),
        ),
        (
            "rules[0].requires.scopes",
            example_with(|c| c["rules"][0]["requires"]["scopes"] = json!(["a b"])),
        ),
        (
            "rules[0].requires.scopes",
            example_with(|c| c["rules"][0]["requires"]["scopes"] = json!(["a\"b"])),
        ),
        (
            "rules[0].requires.scopes",
            example_with(|c| c["rules"][0]["requires"]["scopes"] = json!(["a\\b"])),
        ),
        (
            "rules[0].requires.scopes",
            example_with(|c| c["rules"][0]["requires"]["scopes"] = json!(["é"])),
        ),
        (
            "rules[0].requires.scopes[0]",
            example_with(|c| c["rules"][0]["requires"]["scopes"] = json!([""])),
        ),
    ];
    for (path, config) in cases {
        assert_eq!(error_path(&config), path, "{config}");
    }
    let public = json!({"match": {"path": "/health"}, "public": true});
    assert!(
        parse(&example_with(|c| c["rules"]
            .as_array_mut()
            .unwrap()
            .insert(0, public)))
        .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// The document as a whole

#[test]
fn a_document_that_is_not_a_json_object_is_refused_with_an_empty_path() {
    let example = design_example().to_string();
    for document in [
        String::new(),
        "not json".into(),
        "[]".into(),
        "null".into(),
        "\"{}\"".into(),
        format!("{example} trailing"),
        example[..example.len() - 1].to_string(),
        // Duplicate member names are refused before any field is read.
        format!(r#"{{"realm": "a", "realm": "b", {}"#, &example[1..]),
        format!("{}{}", "[".repeat(20), "]".repeat(20)),
        "\u{feff}{}".into(),
    ] {
        let err = Config::parse(document.as_bytes()).expect_err(&document);
        assert_eq!(err.path, "", "{document}");
    }
    assert!(Config::parse(example.as_bytes()).is_ok());
}

#[test]
fn duplicate_members_deep_in_the_configuration_are_refused() {
    let example = design_example().to_string();
    let doubled = example.replacen(
        r#""issuer":"#,
        r#""issuer":"http://evil.test","issuer":"#,
        1,
    );
    assert_ne!(doubled, example);
    assert_eq!(Config::parse(doubled.as_bytes()).unwrap_err().path, "");
}

#[test]
fn a_document_over_1_mib_is_refused() {
    let example = design_example().to_string();
    let big = format!(
        "{example}{}",
        " ".repeat(verifier_core::limits::MAX_CONFIG_BYTES)
    );
    assert_eq!(Config::parse(big.as_bytes()).unwrap_err().path, "");
    let fits = format!(
        "{example}{}",
        " ".repeat(verifier_core::limits::MAX_CONFIG_BYTES - example.len())
    );
    assert!(Config::parse(fits.as_bytes()).is_ok());
}

#[test]
fn realm_and_jwks_wait_ms_are_checked() {
    for (member, value) in [
        ("realm", json!("say \"hi\"")),
        ("realm", json!("back\\slash")),
        ("realm", json!("new\nline")),
        ("realm", json!("")),
        ("realm", json!(7)),
        ("jwks_wait_ms", json!(0)),
        ("jwks_wait_ms", json!(60_001)),
        ("jwks_wait_ms", json!(-5)),
        ("jwks_wait_ms", json!("3000")),
    ] {
        assert_eq!(
            error_path(&example_with(|c| c[member] = value.clone())),
            member,
            "{value}"
        );
    }
    let config = parse(&example_with(|c| {
        c["realm"] = json!("gateway");
        c["jwks_wait_ms"] = json!(1);
    }))
    .unwrap();
    assert_eq!((config.realm.as_str(), config.jwks_wait_ms), ("gateway", 1));
}

#[test]
fn several_providers_are_kept_apart() {
    let (es, ed) = (Signer::es256(1), Signer::eddsa(1));
    let config = parse(&json!({
        "providers": {
            "ours": provider_json(&[es.jwk()]),
            "theirs": {"issuer": "https://other.test", "audiences": ["x"], "algorithms": ["EdDSA"], "typ": null, "local_jwks": jwks(&[ed.jwk()])},
        },
        "rules": [
            {"match": {"prefix": "/theirs"}, "requires": {"provider": "theirs"}},
            {"match": {"prefix": "/"}, "requires": {"provider": "ours"}},
        ],
    }))
    .unwrap();
    let theirs = &config.providers["theirs"];
    assert_eq!(
        (theirs.issuer.as_str(), theirs.typ.as_deref()),
        ("https://other.test", None)
    );
    assert_eq!(config.providers["ours"].typ.as_deref(), Some("at+jwt"));
    // A token for one provider is not valid for the other.
    let token = es.token(&claims());
    assert_eq!(code(&token, &config.providers["ours"]), "valid");
    assert_eq!(code(&token, theirs), "alg_not_allowed");
}
