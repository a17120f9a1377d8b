//! The claim set (RFC 7519 §4, RFC 9068 §2.2): who the token names, for whom, until when.

use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use crate::delegation::Delegation;
use crate::error::VerifyError;
use crate::json;
use crate::limits::MAX_JSON_DEPTH;
use crate::policy::Provider;

/// Claims RFC 9068 §2.2 requires of an access token; enforced when the provider pins `typ`.
const ACCESS_TOKEN_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"];

/// A parsed claim set. Only meaningful after the signature has verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`: the service identity, e.g. `svc.warehouse`.
    pub sub: Option<String>,
    /// `aud`, normalised to a list.
    pub aud: Vec<String>,
    /// `client_id` (RFC 9068 §2.2).
    pub client_id: Option<String>,
    /// `exp`, seconds since the epoch (fractions allowed).
    pub exp: f64,
    /// `nbf`, if present.
    pub nbf: Option<f64>,
    /// `iat`, if present.
    pub iat: Option<f64>,
    /// `jti`, if present.
    pub jti: Option<String>,
    /// `scope`, space separated (RFC 8693 §4.2).
    pub scope: Option<String>,
    /// `sub_profile`: what kind of principal `sub` is (`service`, `user`, `ai_agent`).
    pub sub_profile: Option<String>,
    /// `act` and the ancestors' `jti`s, for a token obtained by token exchange.
    pub delegation: Option<Delegation>,
    /// The full claim set, for display by `decode` and `explain`.
    pub raw: Value,
}

impl Claims {
    /// Parses the decoded payload, checking each known claim's type.
    pub fn parse(bytes: &[u8]) -> Result<Claims, VerifyError> {
        let m = json::parse_object(bytes, MAX_JSON_DEPTH)
            .map_err(|e| VerifyError::TokenMalformed { reason: e.reason() })?;
        let aud = match m.get("aud") {
            None => Vec::new(),
            Some(Value::String(a)) => alloc::vec![a.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|a| a.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
                .ok_or(invalid("aud", "not a string or an array of strings"))?,
            Some(_) => return Err(invalid("aud", "not a string or an array of strings")),
        };
        Ok(Claims {
            iss: text(&m, "iss")?,
            sub: text(&m, "sub")?,
            aud,
            client_id: text(&m, "client_id")?,
            exp: date(&m, "exp")?.ok_or(VerifyError::ClaimMissing { claim: "exp" })?,
            nbf: date(&m, "nbf")?,
            iat: date(&m, "iat")?,
            jti: text(&m, "jti")?,
            scope: text(&m, "scope")?,
            sub_profile: text(&m, "sub_profile")?,
            delegation: Delegation::from_claims(&m)?,
            raw: Value::Object(m),
        })
    }

    /// Checks the claims against the provider's policy at time `now` (Unix seconds).
    pub fn validate(&self, provider: &Provider, now: u64) -> Result<(), VerifyError> {
        if provider.typ.is_some() {
            if let Some(claim) = ACCESS_TOKEN_CLAIMS
                .into_iter()
                .find(|c| self.raw.get(c).is_none())
            {
                return Err(VerifyError::ClaimMissing { claim });
            }
        }
        match &self.iss {
            Some(iss) if *iss == provider.issuer => {}
            Some(iss) => return Err(VerifyError::IssuerMismatch { iss: iss.clone() }),
            None => return Err(VerifyError::ClaimMissing { claim: "iss" }),
        }
        if !provider.accepts_audience(&self.aud) {
            return Err(VerifyError::AudienceMismatch);
        }
        self.validate_time(provider, now)?;
        // These values become request headers upstream; a control character there is an injection.
        for (claim, value) in [
            ("sub", &self.sub),
            ("client_id", &self.client_id),
            ("scope", &self.scope),
            ("sub_profile", &self.sub_profile),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.chars().any(char::is_control))
            {
                return Err(invalid(claim, "contains control characters"));
            }
        }
        Ok(())
    }

    /// `exp`, `nbf` and `iat` against `now` with the provider's skew, and the lifetime bound.
    pub fn validate_time(&self, provider: &Provider, now: u64) -> Result<(), VerifyError> {
        self.lifetime().validate(provider, now)
    }

    /// The numeric dates, which is all a cached verification needs to be re-checked.
    pub fn lifetime(&self) -> Lifetime {
        Lifetime {
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
        }
    }

    /// The granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }
}

fn invalid(claim: &'static str, reason: &'static str) -> VerifyError {
    VerifyError::ClaimInvalid { claim, reason }
}

fn text(m: &Map<String, Value>, claim: &'static str) -> Result<Option<String>, VerifyError> {
    match m.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(claim, "not a string")),
    }
}

/// RFC 7519 §2 NumericDate: a finite, non-negative number of seconds; fractions allowed.
fn date(m: &Map<String, Value>, claim: &'static str) -> Result<Option<f64>, VerifyError> {
    match m.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
            _ => Err(invalid(claim, "not a non-negative finite number")),
        },
        Some(_) => Err(invalid(claim, "not a number")),
    }
}

/// A token's numeric dates: what must be re-checked on every use, cached or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lifetime {
    /// `exp`.
    pub exp: f64,
    /// `nbf`, if present.
    pub nbf: Option<f64>,
    /// `iat`, if present.
    pub iat: Option<f64>,
}

impl Lifetime {
    /// Checks the dates against `now` with the provider's skew, and the lifetime bound.
    pub fn validate(&self, provider: &Provider, now: u64) -> Result<(), VerifyError> {
        let skew = provider.clock_skew_seconds;
        let (t, s) = (now as f64, skew as f64);
        // RFC 7519 §4.1.4: the current time must be before exp.
        if t >= self.exp + s {
            return Err(VerifyError::TokenExpired {
                exp: self.exp,
                now,
                skew,
            });
        }
        if let Some(nbf) = self.nbf.filter(|nbf| t + s < *nbf) {
            return Err(VerifyError::TokenNotYetValid { nbf, now, skew });
        }
        if let Some(iat) = self.iat.filter(|iat| t + s < *iat) {
            return Err(VerifyError::IssuedInFuture { iat, now, skew });
        }
        let lifetime = self.exp - self.iat.unwrap_or(t);
        if lifetime > provider.max_lifetime_seconds as f64 {
            return Err(VerifyError::LifetimeTooLong {
                lifetime,
                max: provider.max_lifetime_seconds,
            });
        }
        Ok(())
    }

    /// The first whole second at which the token is expired even with `skew`.
    pub fn dead_at(&self, skew: u64) -> u64 {
        // exp is finite and non-negative (checked at parse); `as` saturates for huge values.
        (self.exp.ceil() as u64).saturating_add(skew)
    }
}
