//! The keys and revocation feeds `explain` is given, in place of the ones the filter fetches.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use verifier_core::{Config, FeedState, Jwks, KeyState, Keys, Provider, Revocations};

use crate::failure::Failure;

/// Keys for every provider: the configuration's own `local_jwks`, or the JWKS the caller gave for
/// a `remote_jwks` provider; and the feeds the caller gave. What is not given is unavailable, as
/// it is to a gateway that cannot reach the issuer. There is no refetch: a `kid` the given JWKS
/// lacks is refused at once (the filter would fetch once more first).
pub(crate) struct Supplied<'c> {
    config: &'c Config,
    jwks: BTreeMap<String, Jwks>,
    feeds: BTreeMap<String, Revocations>,
}

impl<'c> Supplied<'c> {
    /// Reads `options.jwks` and `options.revocations`; any other member is refused.
    pub(crate) fn read(
        config: &'c Config,
        options: &Map<String, Value>,
    ) -> Result<Supplied<'c>, Failure> {
        let mut supplied = Supplied {
            config,
            jwks: BTreeMap::new(),
            feeds: BTreeMap::new(),
        };
        for (name, value) in options {
            match name.as_str() {
                "jwks" => supplied.read_jwks(value)?,
                "revocations" => supplied.read_feeds(value)?,
                _ => {
                    return Err(Failure::Options(format!(
                        "options.{name} is not a known member (now, jwks, revocations)"
                    )));
                }
            }
        }
        Ok(supplied)
    }

    fn read_jwks(&mut self, value: &Value) -> Result<(), Failure> {
        for given in per_provider(self.config, value, "jwks")? {
            if given.provider.local_jwks().is_some() {
                return Err(given
                    .refused("the provider has local_jwks; its keys come from the configuration"));
            }
            let jwks = Jwks::parse(given.document.as_bytes()).map_err(|error| Failure::Jwks {
                field: given.field,
                error,
            })?;
            self.jwks.insert(given.name.clone(), jwks);
        }
        Ok(())
    }

    fn read_feeds(&mut self, value: &Value) -> Result<(), Failure> {
        for given in per_provider(self.config, value, "revocations")? {
            let provider = given.provider;
            let Some(feed) = &provider.revocations else {
                return Err(given.refused(
                    "the provider has no revocations member, so the gateway reads no feed",
                ));
            };
            let feed =
                Revocations::parse(given.document.as_bytes(), &provider.issuer, feed.max_bytes)
                    .map_err(|error| Failure::Revocations {
                        field: given.field,
                        error,
                    })?;
            self.feeds.insert(given.name.clone(), feed);
        }
        Ok(())
    }
}

/// One document of `options.<member>`, for a provider the configuration has.
struct Given<'a> {
    name: &'a String,
    /// `options.<member>.<provider>`, for errors.
    field: String,
    provider: &'a Provider,
    document: String,
}

impl Given<'_> {
    fn refused(&self, why: &str) -> Failure {
        Failure::Options(format!("{}: {why}", self.field))
    }
}

/// `{<provider>: <document>}`, every provider named being one the configuration has.
fn per_provider<'a>(
    config: &'a Config,
    value: &'a Value,
    member: &str,
) -> Result<Vec<Given<'a>>, Failure> {
    let map = value.as_object().ok_or_else(|| {
        Failure::Options(format!(
            "options.{member} must be an object keyed by provider name"
        ))
    })?;
    map.iter()
        .map(|(name, document)| {
            let field = format!("options.{member}.{name}");
            let provider = config.providers.get(name).ok_or_else(|| {
                Failure::Options(format!("{field}: the configuration has no such provider"))
            })?;
            Ok(Given {
                name,
                field,
                provider,
                document: text(document),
            })
        })
        .collect()
}

/// A document given as JSON text or as a value, as text.
fn text(document: &Value) -> String {
    match document {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl Keys for Supplied<'_> {
    fn state(&self, provider: &str) -> KeyState<'_> {
        let local = self
            .config
            .providers
            .get(provider)
            .and_then(|p| p.local_jwks());
        match local.or_else(|| self.jwks.get(provider)) {
            Some(jwks) => KeyState::Ready(jwks),
            None => KeyState::Unavailable,
        }
    }

    fn revocations(&self, provider: &str) -> FeedState<'_> {
        self.feeds
            .get(provider)
            .map_or(FeedState::Unavailable, FeedState::Ready)
    }
}
