//! The filter configuration: providers (whom to trust) and rules (what each route requires).
//!
//! Shaped like Envoy's `jwt_authn` so its users feel at home. Everything is checked when the
//! configuration is loaded, and every error names the field it is about (`rules[1].match.prefix`),
//! because a gateway that starts with a half-understood policy is worse than one that refuses to.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::cache::CacheLimits;
use crate::defaults::{
    DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_FETCH_TIMEOUT_MS, DEFAULT_JWKS_REFRESH_SECONDS,
    DEFAULT_JWKS_WAIT_MS, DEFAULT_MAX_DELEGATION_DEPTH, DEFAULT_MAX_LIFETIME_SECONDS,
    DEFAULT_MAX_REVOCATION_BYTES, DEFAULT_MAX_STALE_SECONDS, DEFAULT_REALM,
    DEFAULT_REFETCH_COOLDOWN_SECONDS, DEFAULT_REVOCATION_REFRESH_SECONDS, DEFAULT_TYP,
};
use crate::delegation::{DelegationPolicy, DelegationRule};
use crate::json;
use crate::jwks::Jwks;
use crate::limits::{
    MAX_CLOCK_SKEW_SECONDS, MAX_CONFIG_BYTES, MAX_DELEGATION_DEPTH, MAX_JSON_DEPTH,
    MAX_REVOCATION_BYTES,
};
use crate::policy::{FetchTarget, KeySource, Provider, RemoteJwks, RevocationFeed};
use crate::rules::{Matcher, PathMatch, Requirement, Rule};

/// The whole filter configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Trusted token issuers, by name.
    pub providers: BTreeMap<String, Provider>,
    /// Rules in order; the first that matches a request decides.
    pub rules: Vec<Rule>,
    /// The realm in `WWW-Authenticate` challenges.
    pub realm: String,
    /// How long a request may wait for a provider's first keys, in milliseconds.
    pub jwks_wait_ms: u64,
    /// Bounds of the verified-token cache.
    pub token_cache: CacheLimits,
}

/// A configuration that cannot be used, and the field that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the problem is, e.g. `providers.local.audiences[0]`; empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "invalid configuration: {}", self.message)
        } else {
            write!(
                f,
                "invalid configuration at {}: {}",
                self.path, self.message
            )
        }
    }
}

impl core::error::Error for ConfigError {}

impl Config {
    /// Parses and checks a configuration document.
    pub fn parse(document: &[u8]) -> Result<Config, ConfigError> {
        if document.len() > MAX_CONFIG_BYTES {
            return Err(error("", format!("larger than {MAX_CONFIG_BYTES} bytes")));
        }
        let value = json::parse(document, MAX_JSON_DEPTH).map_err(|e| {
            error(
                "",
                format!("{} (the configuration must be one JSON object)", e.reason()),
            )
        })?;
        Config::from_value(&value)
    }

    /// Checks an already parsed configuration.
    pub fn from_value(value: &Value) -> Result<Config, ConfigError> {
        let mut root = Obj::new(
            "",
            value,
            &["providers", "rules", "realm", "jwks_wait_ms", "token_cache"],
        )?;
        let providers_value = root.required("providers")?;
        let providers_obj = object(&root.path("providers"), providers_value)?;
        if providers_obj.is_empty() {
            return Err(error("providers", "at least one provider is required"));
        }
        let mut providers = BTreeMap::new();
        for (name, value) in providers_obj {
            let provider = provider(&format!("providers.{name}"), name, value)?;
            providers.insert(name.clone(), provider);
        }
        let rules_path = root.path("rules");
        let rules = array(&rules_path, root.required("rules")?)?
            .iter()
            .enumerate()
            .map(|(i, v)| rule(&format!("{rules_path}[{i}]"), v, &providers))
            .collect::<Result<Vec<_>, _>>()?;
        if rules.is_empty() {
            return Err(error(
                "rules",
                "at least one rule is required (requests no rule matches are refused)",
            ));
        }
        let realm = match root.optional("realm") {
            None => DEFAULT_REALM.to_owned(),
            Some(v) => {
                let realm = string(&root.path("realm"), v)?;
                if !realm
                    .chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ')
                {
                    return Err(error(
                        "realm",
                        "must be printable ASCII without quotes or backslashes",
                    ));
                }
                realm
            }
        };
        let jwks_wait_ms = root.integer_or("jwks_wait_ms", DEFAULT_JWKS_WAIT_MS, 1, 60_000)?;
        let token_cache = match root.optional("token_cache") {
            None => CacheLimits::default(),
            Some(v) => {
                let path = root.path("token_cache");
                let mut o = Obj::new(&path, v, &["max_entries", "max_bytes"])?;
                let defaults = CacheLimits::default();
                CacheLimits {
                    max_entries: o.bounded_or(
                        "max_entries",
                        defaults.max_entries,
                        0,
                        10_000_000,
                    )?,
                    max_bytes: o.bounded_or("max_bytes", defaults.max_bytes, 0, 1 << 30)?,
                }
            }
        };
        Ok(Config {
            providers,
            rules,
            realm,
            jwks_wait_ms,
            token_cache,
        })
    }

    /// The providers whose keys the host must fetch.
    pub fn remote_providers(&self) -> impl Iterator<Item = (&str, &RemoteJwks)> {
        self.providers.iter().filter_map(|(name, p)| match &p.keys {
            KeySource::Remote(remote) => Some((name.as_str(), remote)),
            KeySource::Local(_) => None,
        })
    }

    /// The providers whose revocation feed the host must fetch.
    pub fn revocation_feeds(&self) -> impl Iterator<Item = (&Provider, &RevocationFeed)> {
        self.providers
            .values()
            .filter_map(|p| p.revocations.as_ref().map(|feed| (p, feed)))
    }
}

impl Provider {
    /// Reads one provider object as the configuration writes it (`issuer`, `audiences`,
    /// `local_jwks`, ...), without a configuration around it; errors name the member
    /// (`audiences[0]`).
    pub fn from_value(name: &str, value: &Value) -> Result<Provider, ConfigError> {
        provider("", name, value)
    }
}

fn provider(path: &str, name: &str, value: &Value) -> Result<Provider, ConfigError> {
    let mut o = Obj::new(
        path,
        value,
        &[
            "issuer",
            "audiences",
            "algorithms",
            "typ",
            "clock_skew_seconds",
            "max_lifetime_seconds",
            "forward",
            "local_jwks",
            "remote_jwks",
            "revocations",
            "delegation",
        ],
    )?;
    let issuer = string(&o.path("issuer"), o.required("issuer")?)?;
    let audiences = strings(&o.path("audiences"), o.required("audiences")?)?;
    let algorithms = match o.optional("algorithms") {
        None => alloc::vec![Algorithm::Es256],
        Some(v) => {
            let path = o.path("algorithms");
            strings(&path, v)?
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    Algorithm::from_name(name).ok_or_else(|| {
                        let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                        error(
                            &format!("{path}[{i}]"),
                            format!(
                                "unknown algorithm {name:?}; expected one of {}",
                                known.join(", ")
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    let typ = match o.optional("typ") {
        None => Some(DEFAULT_TYP.to_owned()),
        Some(Value::Null) => None,
        Some(v) => Some(string(&o.path("typ"), v)?),
    };
    let clock_skew_seconds = o.integer_or(
        "clock_skew_seconds",
        DEFAULT_CLOCK_SKEW_SECONDS,
        0,
        MAX_CLOCK_SKEW_SECONDS,
    )?;
    let max_lifetime_seconds = o.integer_or(
        "max_lifetime_seconds",
        DEFAULT_MAX_LIFETIME_SECONDS,
        1,
        366 * 24 * 3600,
    )?;
    let forward = o.bool_or("forward", false)?;
    let keys = match (o.optional("local_jwks"), o.optional("remote_jwks")) {
        (Some(local), None) => KeySource::Local(local_jwks(&o.path("local_jwks"), local)?),
        (None, Some(remote)) => KeySource::Remote(remote_jwks(&o.path("remote_jwks"), remote)?),
        (Some(_), Some(_)) => {
            return Err(error(
                path,
                "give either local_jwks or remote_jwks, not both",
            ));
        }
        (None, None) => return Err(error(path, "one of local_jwks or remote_jwks is required")),
    };
    // The feed's `iss` must be the provider's issuer, which every provider has (required above).
    let revocations = match o.optional("revocations") {
        None => None,
        Some(v) => Some(revocation_feed(&o.path("revocations"), v)?),
    };
    let delegation = match o.optional("delegation") {
        None => None,
        Some(v) => {
            let mut d = Obj::new(&o.path("delegation"), v, &["max_depth"])?;
            let max_depth = d.bounded_or(
                "max_depth",
                DEFAULT_MAX_DELEGATION_DEPTH,
                1,
                MAX_DELEGATION_DEPTH,
            )?;
            Some(DelegationPolicy { max_depth })
        }
    };
    Ok(Provider {
        name: name.to_owned(),
        issuer,
        audiences,
        any_audience: false,
        algorithms,
        typ,
        clock_skew_seconds,
        max_lifetime_seconds,
        forward,
        keys,
        revocations,
        delegation,
    })
}

fn local_jwks(path: &str, value: &Value) -> Result<Jwks, ConfigError> {
    // Accept the JSON as a string (as jwt_authn's `inline_string`) or as an object.
    let parsed = match value {
        Value::String(text) => Jwks::parse(text.as_bytes()),
        Value::Object(_) => Jwks::from_value(value),
        _ => return Err(error(path, "expected a JWKS as a JSON string or object")),
    };
    parsed.map_err(|e| error(path, e.to_string()))
}

fn remote_jwks(path: &str, value: &Value) -> Result<RemoteJwks, ConfigError> {
    let mut o = Obj::new(
        path,
        value,
        &[
            "cluster",
            "path",
            "authority",
            "timeout_ms",
            "refresh_seconds",
            "refetch_cooldown_seconds",
            "max_stale_seconds",
        ],
    )?;
    let target = fetch_target(&mut o)?;
    let refresh_seconds = o.integer_or(
        "refresh_seconds",
        DEFAULT_JWKS_REFRESH_SECONDS,
        1,
        24 * 3600,
    )?;
    let refetch_cooldown_seconds = o.integer_or(
        "refetch_cooldown_seconds",
        DEFAULT_REFETCH_COOLDOWN_SECONDS,
        1,
        3600,
    )?;
    let max_stale_seconds = o.integer_or(
        "max_stale_seconds",
        DEFAULT_MAX_STALE_SECONDS,
        0,
        7 * 24 * 3600,
    )?;
    Ok(RemoteJwks {
        target,
        refresh_seconds,
        refetch_cooldown_seconds,
        max_stale_seconds,
    })
}

fn revocation_feed(path: &str, value: &Value) -> Result<RevocationFeed, ConfigError> {
    let mut o = Obj::new(
        path,
        value,
        &[
            "cluster",
            "path",
            "authority",
            "timeout_ms",
            "refresh_seconds",
            "max_stale_seconds",
            "max_bytes",
        ],
    )?;
    let target = fetch_target(&mut o)?;
    let refresh_seconds = o.integer_or(
        "refresh_seconds",
        DEFAULT_REVOCATION_REFRESH_SECONDS,
        1,
        24 * 3600,
    )?;
    let max_stale_seconds = o.integer_or(
        "max_stale_seconds",
        DEFAULT_MAX_STALE_SECONDS.max(refresh_seconds),
        1,
        7 * 24 * 3600,
    )?;
    // The age limit counts from the fetch, so a shorter one than the interval would drop every
    // feed before the next fetch could replace it.
    if max_stale_seconds < refresh_seconds {
        return Err(error(
            &o.path("max_stale_seconds"),
            format!("must be at least refresh_seconds ({refresh_seconds})"),
        ));
    }
    let max_bytes = o.bounded_or(
        "max_bytes",
        DEFAULT_MAX_REVOCATION_BYTES,
        1024,
        MAX_REVOCATION_BYTES as u64,
    )?;
    Ok(RevocationFeed {
        target,
        refresh_seconds,
        max_stale_seconds,
        max_bytes,
    })
}

/// The members that say where a document is fetched from, shared by `remote_jwks` and
/// `revocations`: cluster, path, authority (the cluster by default) and timeout.
fn fetch_target(o: &mut Obj<'_>) -> Result<FetchTarget, ConfigError> {
    let cluster = string(&o.path("cluster"), o.required("cluster")?)?;
    let request_path = string(&o.path("path"), o.required("path")?)?;
    // The path becomes a request header; a control character there is an injection.
    if !request_path.starts_with('/') || request_path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(error(
            &o.path("path"),
            "must start with / and contain no spaces or control characters",
        ));
    }
    let authority = match o.optional("authority") {
        None => cluster.clone(),
        Some(v) => string(&o.path("authority"), v)?,
    };
    let timeout_ms = o.integer_or("timeout_ms", DEFAULT_FETCH_TIMEOUT_MS, 1, 60_000)?;
    Ok(FetchTarget {
        cluster,
        path: request_path,
        authority,
        timeout_ms,
    })
}

fn rule(
    path: &str,
    value: &Value,
    providers: &BTreeMap<String, Provider>,
) -> Result<Rule, ConfigError> {
    let mut o = Obj::new(path, value, &["match", "requires", "public", "forward"])?;
    let match_path = o.path("match");
    let mut m = Obj::new(
        &match_path,
        o.required("match")?,
        &["prefix", "path", "methods"],
    )?;
    let path_match = match (m.optional("prefix"), m.optional("path")) {
        (Some(p), None) => PathMatch::Prefix(request_path(&m.path("prefix"), p)?),
        (None, Some(p)) => PathMatch::Exact(request_path(&m.path("path"), p)?),
        _ => {
            return Err(error(
                &match_path,
                "exactly one of prefix or path is required",
            ));
        }
    };
    let methods = match m.optional("methods") {
        None => Vec::new(),
        Some(v) => {
            let methods_path = m.path("methods");
            let methods = strings(&methods_path, v)?;
            if let Some(bad) = methods
                .iter()
                .find(|x| x.is_empty() || !x.bytes().all(|b| b.is_ascii_uppercase()))
            {
                return Err(error(
                    &methods_path,
                    format!("{bad:?} is not an upper-case HTTP method"),
                ));
            }
            methods
        }
    };
    let public = o.bool_or("public", false)?;
    let forward = match o.optional("forward") {
        None => None,
        Some(v) => Some(
            v.as_bool()
                .ok_or_else(|| error(&o.path("forward"), "expected true or false"))?,
        ),
    };
    let requirement = match (public, o.optional("requires")) {
        (true, None) => Requirement::Public {
            forward: forward.unwrap_or(false),
        },
        (false, Some(requires)) => {
            let requires_path = o.path("requires");
            let mut r = Obj::new(
                &requires_path,
                requires,
                &[
                    "provider",
                    "scopes",
                    "max_delegation_depth",
                    "actors",
                    "human_root",
                ],
            )?;
            let provider = string(&r.path("provider"), r.required("provider")?)?;
            if !providers.contains_key(&provider) {
                return Err(error(
                    &r.path("provider"),
                    format!("no provider named {provider:?} is defined"),
                ));
            }
            let scopes = match r.optional("scopes") {
                None => Vec::new(),
                Some(v) => {
                    let scopes_path = r.path("scopes");
                    let scopes = strings(&scopes_path, v)?;
                    // RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'.
                    if let Some(bad) = scopes.iter().find(|s| {
                        !s.bytes()
                            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
                    }) {
                        return Err(error(&scopes_path, format!("{bad:?} is not a valid scope")));
                    }
                    scopes
                }
            };
            let delegation = delegation_rule(&mut r, &providers[&provider])?;
            if forward.is_some() {
                return Err(error(
                    &o.path("forward"),
                    "only public rules take forward; a provider's forward applies to its rules",
                ));
            }
            Requirement::Token {
                provider,
                scopes,
                delegation,
            }
        }
        (true, Some(_)) => return Err(error(path, "a public rule cannot also have requires")),
        (false, None) => return Err(error(path, "a rule needs requires, or \"public\": true")),
    };
    Ok(Rule {
        matcher: Matcher {
            path: path_match,
            methods,
        },
        requirement,
    })
}

/// A rule's delegation members; those that narrow delegation need a provider that accepts it.
fn delegation_rule(r: &mut Obj<'_>, provider: &Provider) -> Result<DelegationRule, ConfigError> {
    let max_depth = match r.optional("max_delegation_depth") {
        None => None,
        Some(v) => Some(bounded(
            &r.path("max_delegation_depth"),
            v,
            0,
            MAX_DELEGATION_DEPTH,
        )?),
    };
    let actors = match r.optional("actors") {
        None => Vec::new(),
        Some(v) => strings(&r.path("actors"), v)?,
    };
    let human_root = r.bool_or("human_root", false)?;
    if provider.delegation.is_none() {
        if let Some(member) = [
            ("max_delegation_depth", max_depth.is_some()),
            ("actors", !actors.is_empty()),
        ]
        .into_iter()
        .find_map(|(member, set)| set.then_some(member))
        {
            return Err(error(
                &r.path(member),
                format!(
                    "provider {:?} accepts no delegated tokens (it has no delegation member)",
                    provider.name
                ),
            ));
        }
    }
    Ok(DelegationRule {
        max_depth,
        actors,
        human_root,
    })
}

fn request_path(path: &str, value: &Value) -> Result<String, ConfigError> {
    let p = string(path, value)?;
    if !p.starts_with('/') {
        return Err(error(path, "must start with /"));
    }
    Ok(p)
}

fn error(path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// A JSON object being read, which refuses members it does not know.
struct Obj<'a> {
    prefix: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn new(path: &str, value: &'a Value, known: &[&str]) -> Result<Obj<'a>, ConfigError> {
        let map = object(path, value)?;
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(error(
                &format!("{prefix}{unknown}"),
                format!("unknown field; expected one of: {}", known.join(", ")),
            ));
        }
        Ok(Obj { prefix, map })
    }

    fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn optional(&mut self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    /// A whole number from `min` to `max`, or `default` when the member is absent.
    fn integer_or(
        &mut self,
        key: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        self.optional(key)
            .map_or(Ok(default), |v| integer(&self.path(key), v, min, max))
    }

    /// [`integer_or`](Self::integer_or) as a size.
    fn bounded_or(
        &mut self,
        key: &str,
        default: usize,
        min: u64,
        max: u64,
    ) -> Result<usize, ConfigError> {
        self.optional(key)
            .map_or(Ok(default), |v| bounded(&self.path(key), v, min, max))
    }

    /// `true` or `false`, or `default` when the member is absent.
    fn bool_or(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        self.optional(key).map_or(Ok(default), |v| {
            v.as_bool()
                .ok_or_else(|| error(&self.path(key), "expected true or false"))
        })
    }

    fn required(&mut self, key: &str) -> Result<&'a Value, ConfigError> {
        self.map
            .get(key)
            .ok_or_else(|| error(&self.path(key), "required field is missing"))
    }
}

fn object<'a>(path: &str, value: &'a Value) -> Result<&'a Map<String, Value>, ConfigError> {
    value
        .as_object()
        .ok_or_else(|| error(path, "expected a JSON object"))
}

fn array<'a>(path: &str, value: &'a Value) -> Result<&'a Vec<Value>, ConfigError> {
    value
        .as_array()
        .ok_or_else(|| error(path, "expected an array"))
}

fn string(path: &str, value: &Value) -> Result<String, ConfigError> {
    match value.as_str() {
        Some(s) if !s.is_empty() => Ok(s.to_owned()),
        Some(_) => Err(error(path, "must not be empty")),
        None => Err(error(path, "expected a string")),
    }
}

/// A non-empty array of non-empty strings.
fn strings(path: &str, value: &Value) -> Result<Vec<String>, ConfigError> {
    let items = array(path, value)?;
    if items.is_empty() {
        return Err(error(path, "must not be empty"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| string(&format!("{path}[{i}]"), v))
        .collect()
}

fn integer(path: &str, value: &Value, min: u64, max: u64) -> Result<u64, ConfigError> {
    match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(error(
            path,
            format!("expected a whole number from {min} to {max}"),
        )),
    }
}

fn bounded(path: &str, value: &Value, min: u64, max: u64) -> Result<usize, ConfigError> {
    usize::try_from(integer(path, value, min, max)?)
        .map_err(|_| error(path, "too large for this platform"))
}
