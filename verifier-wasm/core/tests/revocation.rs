//! The revocation feed: parsing (`Revocations::parse`), the `revocations` member of a provider,
//! the feed's refresh policy, and the decision: a token that verified and is listed is refused
//! with `token_revoked`; nothing is looked up before the signature and claims have verified.

use serde_json::{Value, json};
use verifier_core::Freshness;
use verifier_core::defaults::DEFAULT_MAX_REVOCATION_BYTES;
use verifier_core::{
    Awaiting, CacheLimits, Config, ConfigError, Decision, FeedState, KeyState, Keys, ProviderFeed,
    RefreshPolicy, RevocationError, Revocations, Schedule, TokenCache, VerifyError, decide,
    decide_cached,
};
use verifier_core::{Revoked, TokenRef};
use verifier_testkit::*;

/// The issuer's example feed, for [`ISSUER`].
fn feed_json() -> Value {
    json!({
        "iss": ISSUER,
        "generated_at": NOW,
        "tokens": [{"jti": "3q2-7w", "exp": NOW + 300}],
        "clients": [{"client_id": "svc.a", "revoked_before": NOW - 100}],
    })
}

fn parse(document: &Value) -> Result<Revocations, RevocationError> {
    Revocations::parse(
        document.to_string().as_bytes(),
        ISSUER,
        DEFAULT_MAX_REVOCATION_BYTES,
    )
}

fn parse_text(document: &str) -> Result<Revocations, RevocationError> {
    Revocations::parse(document.as_bytes(), ISSUER, DEFAULT_MAX_REVOCATION_BYTES)
}

/// `"ok"` or the refusal's code.
fn feed_code(result: &Result<Revocations, RevocationError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn feed(document: &Value) -> Revocations {
    parse(document).unwrap_or_else(|e| panic!("feed refused: {e}"))
}

fn jti(jti: &str) -> TokenRef<'_> {
    TokenRef {
        jti: Some(jti),
        ..TokenRef::default()
    }
}

fn client(client: &str, iat: Option<f64>) -> TokenRef<'_> {
    TokenRef {
        jti: None,
        client: Some(client),
        iat,
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[test]
fn the_issuers_example_parses() {
    let f = feed(&feed_json());
    assert_eq!((f.tokens(), f.clients(), f.len()), (1, 1, 2));
    assert_eq!(f.issuer(), ISSUER);
    assert_eq!(f.check(&jti("3q2-7w")), Some(Revoked::Token));
    assert_eq!(f.check(&jti("3q2-7x")), None);
    assert_eq!(
        f.check(&client("svc.a", Some((NOW - 101) as f64))),
        Some(Revoked::Client {
            revoked_before: (NOW - 100) as f64
        })
    );
    assert_eq!(f.check(&client("svc.b", Some(0.0))), None);
    // An empty feed revokes nothing.
    let empty = feed(&json!({"iss": ISSUER, "tokens": [], "clients": []}));
    assert!(empty.is_empty());
    assert_eq!(empty.check(&jti("3q2-7w")), None);
}

#[test]
fn a_feed_for_another_issuer_is_refused() {
    for iss in [
        "https://issuer.test/",
        "https://ISSUER.test",
        "https://evil.test",
        "",
    ] {
        let mut doc = feed_json();
        doc["iss"] = json!(iss);
        let result = parse(&doc);
        let expected = if iss.is_empty() {
            "revocations_malformed"
        } else {
            "revocations_issuer_mismatch"
        };
        assert_eq!(feed_code(&result), expected, "{iss:?}");
    }
    // The issuer's text lands in a log line: printable and short.
    let mut doc = feed_json();
    doc["iss"] = json!(format!("evil\r\n{}", "x".repeat(500)));
    let error = parse(&doc).unwrap_err().to_string();
    assert!(!error.contains('\r') && error.len() < 200, "{error}");
}

#[test]
fn unknown_members_are_ignored_at_every_level() {
    let doc = json!({
        "iss": ISSUER,
        "version": 2,
        "next": {"cursor": "abc", "deep": [[1, {"x": null}]]},
        "tokens": [{"jti": "3q2-7w", "exp": NOW + 300, "reason": "leaked", "meta": {"by": ["ops"]}}],
        "clients": [{"client_id": "svc.a", "revoked_before": NOW, "note": null, "extra": [true]}],
        "sessions": [{"sid": "s1"}],
    });
    let f = feed(&doc);
    assert_eq!(f.check(&jti("3q2-7w")), Some(Revoked::Token));
    assert!(f.check(&client("svc.a", None)).is_some());
    assert_eq!(f.len(), 2);
    // Members the issuer may leave out: generated_at and exp.
    let lean = feed(&json!({
        "iss": ISSUER,
        "tokens": [{"jti": "a"}],
        "clients": [],
    }));
    assert_eq!(lean.check(&jti("a")), Some(Revoked::Token));
}

#[test]
fn duplicate_member_names_are_refused_at_every_level() {
    let iss = serde_json::to_string(ISSUER).unwrap();
    let clean = format!(
        r#"{{"iss":{iss},"x":{{"a":1}},"tokens":[{{"jti":"a","exp":1,"y":1}}],"clients":[{{"client_id":"c","revoked_before":1,"z":1}}]}}"#
    );
    assert_eq!(feed_code(&parse_text(&clean)), "ok", "the twin parses");
    for document in [
        // A known member twice at the root: which iss or list counts depends on the parser.
        format!(r#"{{"iss":{iss},"iss":"https://evil.test","tokens":[],"clients":[]}}"#),
        format!(r#"{{"iss":{iss},"tokens":[{{"jti":"a"}}],"tokens":[],"clients":[]}}"#),
        format!(r#"{{"iss":{iss},"tokens":[],"clients":[],"clients":[]}}"#),
        format!(r#"{{"iss":{iss},"generated_at":1,"generated_at":2,"tokens":[],"clients":[]}}"#),
        // An unknown member twice, and duplicates inside an unknown member.
        format!(r#"{{"iss":{iss},"x":1,"x":2,"tokens":[],"clients":[]}}"#),
        format!(r#"{{"iss":{iss},"x":{{"a":1,"a":2}},"tokens":[],"clients":[]}}"#),
        // Inside entries.
        format!(r#"{{"iss":{iss},"tokens":[{{"jti":"a","jti":"b"}}],"clients":[]}}"#),
        format!(r#"{{"iss":{iss},"tokens":[{{"jti":"a","exp":1,"exp":2}}],"clients":[]}}"#),
        format!(r#"{{"iss":{iss},"tokens":[{{"jti":"a","y":1,"y":1}}],"clients":[]}}"#),
        format!(
            r#"{{"iss":{iss},"tokens":[],"clients":[{{"client_id":"c","client_id":"d","revoked_before":1}}]}}"#
        ),
        format!(
            r#"{{"iss":{iss},"tokens":[],"clients":[{{"client_id":"c","revoked_before":1,"revoked_before":9}}]}}"#
        ),
        // Escapes spell the same name.
        format!(r#"{{"iss":{iss},"\u0069ss":{iss},"tokens":[],"clients":[]}}"#),
    ] {
        assert_eq!(
            feed_code(&parse_text(&document)),
            "revocations_malformed",
            "{document}"
        );
    }
}

#[test]
fn documents_over_the_limit_are_refused_before_parsing() {
    let document = feed_json().to_string();
    let len = document.len();
    let at = |max| Revocations::parse(document.as_bytes(), ISSUER, max);
    assert!(at(len).is_ok());
    assert_eq!(
        at(len - 1),
        Err(RevocationError::TooLarge { len, max: len - 1 })
    );
    // The default limit, 4 MiB: a feed of that size is read, one byte more is not.
    assert_eq!(DEFAULT_MAX_REVOCATION_BYTES, 4 * 1024 * 1024);
    let head = format!(
        r#"{{"iss":{},"tokens":["#,
        serde_json::to_string(ISSUER).unwrap()
    );
    let tail = r#"],"clients":[]}"#;
    let mut big = head.clone();
    let mut n = 0;
    while big.len() + tail.len() + 40 < DEFAULT_MAX_REVOCATION_BYTES {
        if n > 0 {
            big.push(',');
        }
        big.push_str(&format!(r#"{{"jti":"jti-{n:08}","exp":{NOW}}}"#));
        n += 1;
    }
    big.push_str(tail);
    let pad = DEFAULT_MAX_REVOCATION_BYTES - big.len();
    big.insert_str(head.len() - 1, &" ".repeat(pad));
    assert_eq!(big.len(), DEFAULT_MAX_REVOCATION_BYTES);
    let f = parse_text(&big).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.tokens(), n);
    assert_eq!(f.check(&jti("jti-00000000")), Some(Revoked::Token));
    assert_eq!(
        f.check(&jti(&format!("jti-{:08}", n - 1))),
        Some(Revoked::Token)
    );
    assert_eq!(f.check(&jti(&format!("jti-{n:08}"))), None);
    big.push(' ');
    assert_eq!(feed_code(&parse_text(&big)), "revocations_too_large");
}

#[test]
fn bad_shapes_are_refused() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut doc = feed_json();
        f(&mut doc);
        doc.to_string()
    };
    let remove = |member: &'static str| {
        with(&move |d: &mut Value| {
            d.as_object_mut().unwrap().remove(member);
        })
    };
    let deep = nested(16);
    let cases: Vec<(&str, String)> = vec![
        ("not JSON", "revoked: 3q2-7w".into()),
        ("an array", "[]".into()),
        ("a string", r#""feed""#.into()),
        ("empty", String::new()),
        ("trailing data", format!("{} {{}}", feed_json())),
        ("no iss", remove("iss")),
        ("no tokens", remove("tokens")),
        ("no clients", remove("clients")),
        ("iss a number", with(&|d| d["iss"] = json!(1))),
        (
            "tokens an object",
            with(&|d| d["tokens"] = json!({"jti": "a"})),
        ),
        ("tokens null", with(&|d| d["tokens"] = json!(null))),
        ("clients a string", with(&|d| d["clients"] = json!("svc.a"))),
        (
            "a token entry a string",
            with(&|d| d["tokens"] = json!(["3q2-7w"])),
        ),
        ("a token entry null", with(&|d| d["tokens"] = json!([null]))),
        ("no jti", with(&|d| d["tokens"] = json!([{"exp": 1}]))),
        ("jti a number", with(&|d| d["tokens"] = json!([{"jti": 7}]))),
        ("jti empty", with(&|d| d["tokens"] = json!([{"jti": ""}]))),
        (
            "exp a string",
            with(&|d| d["tokens"] = json!([{"jti": "a", "exp": "soon"}])),
        ),
        (
            "exp negative",
            with(&|d| d["tokens"] = json!([{"jti": "a", "exp": -1}])),
        ),
        (
            "no client_id",
            with(&|d| d["clients"] = json!([{"revoked_before": 1}])),
        ),
        (
            "no revoked_before",
            with(&|d| d["clients"] = json!([{"client_id": "c"}])),
        ),
        (
            "client_id empty",
            with(&|d| d["clients"] = json!([{"client_id": "", "revoked_before": 1}])),
        ),
        (
            "revoked_before a string",
            with(&|d| d["clients"] = json!([{"client_id": "c", "revoked_before": "1"}])),
        ),
        (
            "revoked_before negative",
            with(&|d| d["clients"] = json!([{"client_id": "c", "revoked_before": -5}])),
        ),
        (
            "revoked_before null",
            with(&|d| d["clients"] = json!([{"client_id": "c", "revoked_before": null}])),
        ),
        (
            "generated_at a string",
            with(&|d| d["generated_at"] = json!("now")),
        ),
        (
            "an unknown member too deep",
            with(&|d| d["x"] = deep.clone()),
        ),
        (
            "an unknown entry member too deep",
            with(&|d| d["tokens"] = json!([{"jti": "a", "x": nested(14)}])),
        ),
        (
            "a huge number",
            format!(r#"{{"iss":"{ISSUER}","tokens":[],"clients":[],"x":1e999}}"#),
        ),
    ];
    for (what, document) in cases {
        let result = parse_text(&document);
        assert_eq!(
            feed_code(&result),
            "revocations_malformed",
            "{what}: {document:.200}"
        );
        let message = result.unwrap_err().to_string();
        assert!(
            message.len() < 250 && message.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{what}: {message:?}"
        );
    }
    let mut not_utf8 =
        format!(r#"{{"iss":"{ISSUER}","tokens":[{{"jti":"_"}}],"clients":[]}}"#).into_bytes();
    for b in not_utf8.iter_mut().filter(|b| **b == b'_') {
        *b = 0xff;
    }
    assert_eq!(
        feed_code(&Revocations::parse(&not_utf8, ISSUER, 1024)),
        "revocations_malformed",
        "not UTF-8"
    );
    // The depth limit counts the feed's own levels: an unknown member 15 deep still fits.
    assert!(parse_text(&with(&|d| d["x"] = nested(15))).is_ok());
    assert!(
        parse_text(&with(
            &|d| d["tokens"] = json!([{"jti": "a", "x": nested(13)}])
        ))
        .is_ok()
    );
    // Fractional dates are dates.
    assert!(
        parse_text(&with(
            &|d| d["clients"] = json!([{"client_id": "c", "revoked_before": 1.5}])
        ))
        .is_ok()
    );
}

#[test]
fn repeated_entries_keep_the_strictest() {
    let f = feed(&json!({
        "iss": ISSUER,
        "tokens": [{"jti": "b"}, {"jti": "a"}, {"jti": "b"}],
        "clients": [
            {"client_id": "c", "revoked_before": 100},
            {"client_id": "d", "revoked_before": 50},
            {"client_id": "c", "revoked_before": 300},
            {"client_id": "c", "revoked_before": 200},
        ],
    }));
    assert_eq!((f.tokens(), f.clients()), (2, 2));
    assert!(f.check(&jti("a")).is_some() && f.check(&jti("b")).is_some());
    // The later time of the three revokes more, so it is the one kept.
    assert!(f.check(&client("c", Some(299.0))).is_some());
    assert!(f.check(&client("c", Some(300.0))).is_none());
    assert!(f.check(&client("d", Some(49.0))).is_some());
    assert!(f.check(&client("d", Some(50.0))).is_none());
}

#[test]
fn client_revocation_is_strictly_before_revoked_before() {
    let f = feed(&feed_json());
    let before = (NOW - 100) as f64;
    assert!(f.check(&client("svc.a", Some(before - 1.0))).is_some());
    assert!(f.check(&client("svc.a", Some(before - 0.25))).is_some());
    assert!(
        f.check(&client("svc.a", Some(before))).is_none(),
        "iat == revoked_before"
    );
    assert!(f.check(&client("svc.a", Some(before + 0.5))).is_none());
    assert!(f.check(&client("svc.a", None)).is_some(), "no iat");
    // Client ids are compared exactly.
    assert!(f.check(&client("SVC.A", None)).is_none());
    assert!(f.check(&client("svc.a ", None)).is_none());
    assert!(f.check(&client("svc.", None)).is_none());
    // A jti is not a client id, nor the other way round.
    assert!(f.check(&jti("svc.a")).is_none());
    assert!(f.check(&client("3q2-7w", None)).is_none());
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn config_with_feed(feed: Value) -> Value {
    let mut provider = provider_json(&[signer().jwk()]);
    provider["revocations"] = feed;
    config_json(provider)
}

fn config_error(config: &Value) -> ConfigError {
    match Config::parse(config.to_string().as_bytes()) {
        Ok(_) => panic!("accepted: {config}"),
        Err(e) => e,
    }
}

#[test]
fn the_revocations_member_has_documented_defaults() {
    let config = parse_config(&config_with_feed(
        json!({"cluster": "issuer", "path": "/oauth/revocations"}),
    ));
    let p = &config.providers[PROVIDER];
    let feed = p.revocations.as_ref().expect("a feed");
    assert_eq!(
        (
            feed.target.cluster.as_str(),
            feed.target.path.as_str(),
            feed.target.authority.as_str()
        ),
        ("issuer", "/oauth/revocations", "issuer")
    );
    assert_eq!(
        (
            feed.refresh_seconds,
            feed.target.timeout_ms,
            feed.max_stale_seconds,
            feed.max_bytes
        ),
        (5, 5_000, 3_600, 4 * 1024 * 1024)
    );
    let feeds: Vec<_> = config.revocation_feeds().collect();
    assert_eq!(feeds.len(), 1);
    assert_eq!(feeds[0].0.name, PROVIDER);
    // Without the member: no feed, as before.
    let plain = parse_config(&config_json(provider_json(&[signer().jwk()])));
    assert_eq!(plain.providers[PROVIDER].revocations, None);
    assert_eq!(plain.revocation_feeds().count(), 0);
}

#[test]
fn every_revocations_setting_can_be_given() {
    let config = parse_config(&config_with_feed(json!({
        "cluster": "idp", "path": "/revoked?format=json", "authority": "idp.internal",
        "timeout_ms": 250, "refresh_seconds": 1, "max_stale_seconds": 1, "max_bytes": 1024,
    })));
    let feed = config.providers[PROVIDER].revocations.clone().unwrap();
    assert_eq!(
        (
            feed.target.authority.as_str(),
            feed.target.timeout_ms,
            feed.refresh_seconds,
            feed.max_stale_seconds,
            feed.max_bytes
        ),
        ("idp.internal", 250, 1, 1, 1024)
    );
    // A long interval raises the default age limit with it.
    let config = parse_config(&config_with_feed(
        json!({"cluster": "idp", "path": "/r", "refresh_seconds": 7200}),
    ));
    let feed = config.providers[PROVIDER].revocations.clone().unwrap();
    assert_eq!(feed.max_stale_seconds, 7_200);
}

#[test]
fn invalid_revocations_are_refused_naming_the_field() {
    let base = "providers.test.revocations";
    let good = json!({"cluster": "issuer", "path": "/oauth/revocations"});
    let set = |member: &str, value: Value| {
        let mut feed = good.clone();
        feed[member] = value;
        config_with_feed(feed)
    };
    let cases: Vec<(String, Value)> = vec![
        (
            format!("{base}.uri"),
            set("uri", json!("http://issuer/oauth/revocations")),
        ),
        (
            format!("{base}.refetch_cooldown_seconds"),
            set("refetch_cooldown_seconds", json!(30)),
        ),
        (
            format!("{base}.cluster"),
            config_with_feed(json!({"path": "/r"})),
        ),
        (
            format!("{base}.path"),
            config_with_feed(json!({"cluster": "c"})),
        ),
        (format!("{base}.cluster"), set("cluster", json!(""))),
        (
            format!("{base}.path"),
            set("path", json!("oauth/revocations")),
        ),
        (
            format!("{base}.path"),
            set("path", json!("/r\r\nx-evil: 1")),
        ),
        (format!("{base}.authority"), set("authority", json!(""))),
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
            set("refresh_seconds", json!(1.5)),
        ),
        (
            format!("{base}.refresh_seconds"),
            set("refresh_seconds", json!("5")),
        ),
        (
            format!("{base}.max_stale_seconds"),
            set("max_stale_seconds", json!(0)),
        ),
        (
            format!("{base}.max_stale_seconds"),
            set("max_stale_seconds", json!(7 * 24 * 3600 + 1)),
        ),
        (format!("{base}.max_bytes"), set("max_bytes", json!(0))),
        (
            format!("{base}.max_bytes"),
            set("max_bytes", json!(64 * 1024 * 1024 + 1)),
        ),
        (
            base.to_string(),
            config_with_feed(json!("/oauth/revocations")),
        ),
        (base.to_string(), config_with_feed(json!(null))),
    ];
    for (path, config) in cases {
        let error = config_error(&config);
        assert_eq!(error.path, path, "{config}");
        assert!(!error.message.is_empty());
    }
    // An age limit shorter than the interval would drop every feed before the next fetch.
    let mut feed = good.clone();
    feed["refresh_seconds"] = json!(60);
    feed["max_stale_seconds"] = json!(59);
    let error = config_error(&config_with_feed(feed.clone()));
    assert_eq!(error.path, format!("{base}.max_stale_seconds"));
    feed["max_stale_seconds"] = json!(60);
    assert!(Config::parse(config_with_feed(feed).to_string().as_bytes()).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Refresh policy: fresh for one interval, usable until max_stale_seconds old

#[test]
fn a_feed_is_usable_until_it_is_max_stale_seconds_old() {
    let config = parse_config(&config_with_feed(json!({
        "cluster": "c", "path": "/r", "refresh_seconds": 5, "max_stale_seconds": 60,
    })));
    let policy =
        RefreshPolicy::from_revocations(config.providers[PROVIDER].revocations.as_ref().unwrap());
    let mut vm = ProviderFeed::new(policy);
    let mut shared = Schedule::default();
    assert!(
        matches!(vm.state(), FeedState::Pending),
        "nothing tried yet"
    );
    assert!(shared.take_lease(7, 1_000, &policy));
    let _ = vm.sync(shared, None, 1_000);
    assert!(
        matches!(vm.state(), FeedState::Pending),
        "a fetch under way"
    );
    shared.on_failure(1_100, &policy);
    let _ = vm.sync(shared, None, 1_100);
    assert!(
        matches!(vm.state(), FeedState::Unavailable),
        "the first fetch failed"
    );

    assert!(shared.take_lease(7, 2_000, &policy));
    shared.on_success(2_000, None, true, &policy);
    assert_eq!(
        shared.next_due_ms,
        2_000 + 4_500,
        "refetched within the interval"
    );
    assert!(vm.needs_document(&shared, 2_000));
    let out = vm.sync(shared, Some(feed(&feed_json())), 2_000);
    assert!(out.keys_changed && out.wake);
    assert!(matches!(vm.state(), FeedState::Ready(f) if f.len() == 2));
    assert_eq!(vm.freshness(), Freshness::Fresh);

    // The endpoint fails from now on: stale after the interval, dropped at 60 s of age.
    shared.on_failure(7_000, &policy);
    let _ = vm.sync(shared, None, 7_000);
    assert_eq!(vm.freshness(), Freshness::Stale);
    assert!(matches!(vm.state(), FeedState::Ready(_)));
    let _ = vm.sync(shared, None, 2_000 + 59_999);
    assert!(matches!(vm.state(), FeedState::Ready(_)));
    let out = vm.sync(shared, None, 2_000 + 60_000);
    assert!(out.expired);
    assert_eq!(vm.freshness(), Freshness::Expired);
    assert!(matches!(vm.state(), FeedState::Unavailable));
}

// ---------------------------------------------------------------------------------------------
// The decision

fn signer() -> Signer {
    Signer::es256(1)
}

/// Provider [`PROVIDER`] (RFC 9068 tokens) and provider "third" (any `typ`, so tokens without
/// `client_id` or `iat`), both with a feed; provider "plain" without one. `/write` needs a scope.
fn decision_config() -> Config {
    let feed = json!({"cluster": "issuer", "path": "/oauth/revocations"});
    let mut local = provider_json(&[signer().jwk()]);
    local["revocations"] = feed.clone();
    let mut third = provider_json(&[signer().jwk()]);
    third["typ"] = json!(null);
    third["revocations"] = feed;
    parse_config(&json!({
        "providers": {PROVIDER: local, "third": third, "plain": provider_json(&[signer().jwk()])},
        "rules": [
            {"match": {"prefix": "/write"}, "requires": {"provider": PROVIDER, "scopes": ["instruments:write"]}},
            {"match": {"prefix": "/third"}, "requires": {"provider": "third"}},
            {"match": {"prefix": "/plain"}, "requires": {"provider": "plain"}},
            {"match": {"prefix": "/"}, "requires": {"provider": PROVIDER}},
        ],
    }))
}

/// Every provider's local keys, and one revocation feed state for all.
struct WithFeed<'c> {
    keys: TestKeys<'c>,
    feed: Option<Revocations>,
    pending: bool,
}

impl<'c> WithFeed<'c> {
    fn ready(config: &'c Config, feed: Revocations) -> WithFeed<'c> {
        WithFeed {
            keys: TestKeys::ready(config),
            feed: Some(feed),
            pending: false,
        }
    }
}

impl Keys for WithFeed<'_> {
    fn state(&self, provider: &str) -> KeyState<'_> {
        self.keys.state(provider)
    }

    fn revocations(&self, provider: &str) -> FeedState<'_> {
        assert_ne!(
            provider, "plain",
            "a provider without a feed is never asked"
        );
        match (&self.feed, self.pending) {
            (Some(feed), _) => FeedState::Ready(feed),
            (None, true) => FeedState::Pending,
            (None, false) => FeedState::Unavailable,
        }
    }
}

/// A feed revoking jti `revoked-jti` and client `svc.revoked` before `NOW - 100`.
fn decision_feed() -> Revocations {
    feed(&json!({
        "iss": ISSUER,
        "generated_at": NOW,
        "tokens": [{"jti": "revoked-jti", "exp": NOW + 300}],
        "clients": [{"client_id": "svc.revoked", "revoked_before": NOW - 100}],
    }))
}

fn run(keys: &impl Keys, config: &Config, path: &str, token: &str) -> Decision {
    let authorization = bearer(token);
    decide(
        config,
        keys,
        &request("GET", path, Some(&authorization)),
        NOW,
    )
}

fn outcome(decision: &Decision) -> String {
    match decision {
        Decision::Allow { .. } => "allow".into(),
        Decision::Deny(d) => d.error.code().into(),
        Decision::Wait { provider, awaiting } => format!("wait:{provider}:{awaiting:?}"),
    }
}

#[test]
fn a_revoked_jti_is_refused_with_token_revoked() {
    let config = decision_config();
    let keys = WithFeed::ready(&config, decision_feed());
    let revoked = signer().token(&claims_with(json!({"jti": "revoked-jti"})));
    let d = denial(run(&keys, &config, "/api", &revoked));
    assert_eq!((d.status, d.error.code()), (401, "token_revoked"));
    let challenge = d.www_authenticate.clone().unwrap();
    assert!(
        challenge.starts_with(r#"Bearer realm="service", error="invalid_token", error_description="the token has been revoked"#),
        "{challenge}"
    );
    let body: Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(
        (body["error"].as_str(), body["code"].as_str()),
        (Some("invalid_token"), Some("token_revoked"))
    );
    // Who it was is logged: the signature verified.
    assert_eq!(d.facts.sub.as_deref(), Some("svc.warehouse"));
    assert_eq!(d.facts.iss.as_deref(), Some(ISSUER));
    // The twin, with another jti, passes with its identity.
    let fine = signer().token(&claims_with(json!({"jti": "revoked-jti-2"})));
    assert!(matches!(
        run(&keys, &config, "/api", &fine),
        Decision::Allow { identity: Some(ref i), .. } if i.subject == "svc.warehouse"
    ));
    // Revocation is a 401 even where the token also lacks the route's scope.
    assert_eq!(
        outcome(&run(&keys, &config, "/write", &revoked)),
        "token_revoked"
    );
    assert_eq!(
        outcome(&run(&keys, &config, "/write", &fine)),
        "insufficient_scope"
    );
}

#[test]
fn a_client_revocation_refuses_tokens_issued_strictly_before_it() {
    let config = decision_config();
    let keys = WithFeed::ready(&config, decision_feed());
    let at = |iat: Value| {
        let token = signer().token(&claims_with(
            json!({"client_id": "svc.revoked", "iat": iat}),
        ));
        outcome(&run(&keys, &config, "/api", &token))
    };
    assert_eq!(at(json!(NOW - 101)), "token_revoked");
    assert_eq!(at(json!((NOW - 100) as f64 - 0.5)), "token_revoked");
    assert_eq!(at(json!(NOW - 100)), "allow", "iat == revoked_before");
    assert_eq!(at(json!((NOW - 100) as f64 + 0.5)), "allow");
    assert_eq!(at(json!(NOW - 10)), "allow");
    // Another client's old token passes.
    let other = signer().token(&claims_with(
        json!({"client_id": "svc.other", "iat": NOW - 200}),
    ));
    assert_eq!(outcome(&run(&keys, &config, "/api", &other)), "allow");
}

#[test]
fn the_client_is_client_id_or_else_sub() {
    let config = decision_config();
    let keys = WithFeed::ready(&config, decision_feed());
    let old = NOW - 200;
    // client_id wins over sub: a listed sub with another client_id is not revoked.
    let token = signer().token(&claims_with(
        json!({"sub": "svc.revoked", "client_id": "svc.other", "iat": old}),
    ));
    assert_eq!(outcome(&run(&keys, &config, "/api", &token)), "allow");
    // Without client_id (a third-party token), sub is the client.
    let token = signer().token(&claims_with(
        json!({"sub": "svc.revoked", "client_id": null, "iat": old}),
    ));
    assert_eq!(
        outcome(&run(&keys, &config, "/third", &token)),
        "token_revoked"
    );
    let token = signer().token(&claims_with(
        json!({"sub": "svc.revoked", "client_id": null, "iat": NOW - 100}),
    ));
    assert_eq!(outcome(&run(&keys, &config, "/third", &token)), "allow");
    // Neither: only the jti can revoke it.
    let token = signer().token(&claims_with(
        json!({"sub": null, "client_id": null, "jti": null, "iat": old}),
    ));
    assert_eq!(outcome(&run(&keys, &config, "/third", &token)), "allow");
}

#[test]
fn a_listed_clients_token_without_iat_is_refused() {
    let config = decision_config();
    let keys = WithFeed::ready(&config, decision_feed());
    let token = signer().token(&claims_with(
        json!({"client_id": "svc.revoked", "iat": null}),
    ));
    assert_eq!(
        outcome(&run(&keys, &config, "/third", &token)),
        "token_revoked"
    );
    // The same token for an unlisted client passes: a missing iat alone is no revocation.
    let token = signer().token(&claims_with(json!({"client_id": "svc.other", "iat": null})));
    assert_eq!(outcome(&run(&keys, &config, "/third", &token)), "allow");
}

#[test]
fn the_signature_and_claims_are_checked_before_the_feed() {
    let config = decision_config();
    let revoked = signer().token(&claims_with(json!({"jti": "revoked-jti"})));
    let forged = flip_signature_byte(&revoked, 5);
    let other_key = Signer::es256(2)
        .with_kid(&signer().kid)
        .token(&claims_with(json!({"jti": "revoked-jti"})));
    let expired = signer().token(&claims_with(
        json!({"jti": "revoked-jti", "iat": NOW - 7_200, "exp": NOW - 3_600}),
    ));
    let foreign = signer().token(&claims_with(
        json!({"jti": "revoked-jti", "iss": "https://evil.test"}),
    ));
    let ready = WithFeed::ready(&config, decision_feed());
    let pending = WithFeed {
        keys: TestKeys::ready(&config),
        feed: None,
        pending: true,
    };
    let unavailable = WithFeed {
        keys: TestKeys::ready(&config),
        feed: None,
        pending: false,
    };
    for (token, code) in [
        (&forged, "signature_invalid"),
        (&other_key, "signature_invalid"),
        (&expired, "token_expired"),
        (&foreign, "issuer_mismatch"),
        (&"garbage".to_owned(), "token_malformed"),
    ] {
        // Whatever the feed's state: a bad token never waits for it, never gets a 503 for it,
        // and never learns whether its jti is listed.
        for keys in [&ready, &pending, &unavailable] {
            let d = denial(run(keys, &config, "/api", token));
            assert_eq!((d.status, d.error.code()), (401, code));
        }
    }
    assert_eq!(
        outcome(&run(&ready, &config, "/api", &revoked)),
        "token_revoked"
    );
}

#[test]
fn a_pending_feed_holds_a_verified_token_and_an_unavailable_one_is_503() {
    let config = decision_config();
    let token = signer().token(&claims());
    let pending = WithFeed {
        keys: TestKeys::ready(&config),
        feed: None,
        pending: true,
    };
    assert_eq!(
        run(&pending, &config, "/api", &token),
        Decision::Wait {
            provider: PROVIDER.into(),
            awaiting: Awaiting::Revocations
        }
    );
    let unavailable = WithFeed {
        keys: TestKeys::ready(&config),
        feed: None,
        pending: false,
    };
    let d = denial(run(&unavailable, &config, "/api", &token));
    assert_eq!(
        d.error,
        VerifyError::RevocationsUnavailable {
            provider: PROVIDER.into()
        }
    );
    assert_eq!((d.status, d.www_authenticate.as_deref()), (503, None));
    let body: Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(
        (body["error"].as_str(), body["code"].as_str()),
        (
            Some("temporarily_unavailable"),
            Some("revocations_unavailable")
        )
    );
    // When the wait runs out, the host answers with what was awaited.
    assert_eq!(
        Awaiting::Revocations.unavailable(PROVIDER).code(),
        "revocations_unavailable"
    );
    assert_eq!(
        Awaiting::Keys.unavailable(PROVIDER).code(),
        "jwks_unavailable"
    );
    // Keys pending come first: the token cannot be verified yet.
    let keys_pending = WithFeed {
        keys: TestKeys {
            pending: vec![PROVIDER],
            ..TestKeys::ready(&config)
        },
        feed: None,
        pending: true,
    };
    assert_eq!(
        outcome(&run(&keys_pending, &config, "/api", &token)),
        format!("wait:{PROVIDER}:Keys")
    );
    // A provider without a feed is never held or refused for one (WithFeed panics if asked).
    assert_eq!(
        outcome(&run(&unavailable, &config, "/plain", &token)),
        "allow"
    );
}

#[test]
fn a_host_that_fetches_no_feed_fails_closed() {
    // TestKeys keeps the default `Keys::revocations`.
    let config = decision_config();
    let keys = TestKeys::ready(&config);
    let token = signer().token(&claims());
    assert_eq!(
        outcome(&run(&keys, &config, "/api", &token)),
        "revocations_unavailable"
    );
    assert_eq!(outcome(&run(&keys, &config, "/plain", &token)), "allow");
}

#[test]
fn a_cached_token_is_checked_against_the_feed_on_every_hit() {
    let config = decision_config();
    let token = signer().token(&claims_with(json!({"jti": "later-revoked"})));
    let authorization = bearer(&token);
    let request = request("GET", "/api", Some(&authorization));
    let mut cache = TokenCache::new(CacheLimits::default());
    // Verified while the first feed is awaited: cached, held.
    let pending = WithFeed {
        keys: TestKeys::ready(&config),
        feed: None,
        pending: true,
    };
    assert_eq!(
        outcome(&decide_cached(&config, &pending, &mut cache, &request, NOW)),
        format!("wait:{PROVIDER}:Revocations")
    );
    assert_eq!(cache.len(), 1);
    // The feed arrives: the hit passes.
    let keys = WithFeed::ready(&config, decision_feed());
    assert_eq!(
        outcome(&decide_cached(&config, &keys, &mut cache, &request, NOW)),
        "allow"
    );
    assert_eq!(cache.stats().hits, 1);
    // The jti is revoked later: the next hit is refused, without a signature check.
    let revoking = WithFeed::ready(
        &config,
        feed(&json!({"iss": ISSUER, "tokens": [{"jti": "later-revoked"}], "clients": []})),
    );
    assert_eq!(
        outcome(&decide_cached(
            &config, &revoking, &mut cache, &request, NOW
        )),
        "token_revoked"
    );
    assert_eq!(cache.stats().hits, 2);
    // And its client, by time.
    let by_client = WithFeed::ready(
        &config,
        feed(
            &json!({"iss": ISSUER, "tokens": [], "clients": [{"client_id": "warehouse", "revoked_before": NOW}]}),
        ),
    );
    assert_eq!(
        outcome(&decide_cached(
            &config, &by_client, &mut cache, &request, NOW
        )),
        "token_revoked"
    );
    // A feed that cannot be had fails a hit closed too.
    let unavailable = WithFeed {
        keys: TestKeys::ready(&config),
        feed: None,
        pending: false,
    };
    assert_eq!(
        outcome(&decide_cached(
            &config,
            &unavailable,
            &mut cache,
            &request,
            NOW
        )),
        "revocations_unavailable"
    );
}

#[test]
fn token_ref_takes_client_id_else_sub() {
    let claims = verifier_core::Claims::parse(
        json!({"exp": 1, "sub": "s", "client_id": "c", "jti": "j", "iat": 5})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        TokenRef::from_claims(&claims),
        TokenRef {
            jti: Some("j"),
            client: Some("c"),
            iat: Some(5.0)
        }
    );
    let claims =
        verifier_core::Claims::parse(json!({"exp": 1, "sub": "s"}).to_string().as_bytes()).unwrap();
    assert_eq!(
        TokenRef::from_claims(&claims),
        TokenRef {
            jti: None,
            client: Some("s"),
            iat: None
        }
    );
}
