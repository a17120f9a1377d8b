//! Why a call could not be answered, with the stable code the caller keys on.

use serde_json::{Value, json};
use verifier_core::{ConfigError, Jwks, JwksError, RevocationError, VerifyError};

/// A failed call. Token failures carry the filter's own [`VerifyError`], so its codes and
/// messages are the gateway's; the rest are about what the caller passed in.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The token was refused, exactly as the gateway refuses it.
    #[error("{0}")]
    Verify(#[from] VerifyError),
    /// The filter configuration given to `explain` is invalid (the message names the field).
    #[error("{0}")]
    Config(ConfigError),
    /// An argument or option has the wrong shape or value.
    #[error("{0}")]
    Options(String),
    /// A JWKS given by the caller cannot be used.
    #[error("{field}: {error}")]
    Jwks {
        /// Which argument or option held it.
        field: String,
        /// Why.
        error: JwksError,
    },
    /// A revocation feed given by the caller cannot be used.
    #[error("{field}: {error}")]
    Revocations {
        /// Which option held it.
        field: String,
        /// Why.
        error: RevocationError,
    },
    /// A bug here, not in the input.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl Failure {
    /// The stable machine code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Failure::Verify(error) => error.code(),
            Failure::Config(_) => "config_invalid",
            Failure::Options(_) => "options_invalid",
            Failure::Jwks { error, .. } => error.code(),
            Failure::Revocations { error, .. } => error.code(),
            Failure::Internal(_) => "internal_error",
        }
    }

    /// `{code, message}`, as every answer carries it.
    pub(crate) fn report(&self) -> Value {
        json!({"code": self.code(), "message": self.to_string()})
    }

    /// Maps an error in the provider `verify` built from its options back to what the caller
    /// wrote: `options.<field>`, or the `jwks` argument with the JWKS error's own code.
    pub(crate) fn options(error: ConfigError, jwks: &str) -> Failure {
        let field = Some(error.path.as_str()).filter(|p| !p.is_empty());
        match field {
            Some(field) if field.starts_with("local_jwks") => match Jwks::parse(jwks.as_bytes()) {
                Err(error) => Failure::Jwks {
                    field: "jwks".into(),
                    error,
                },
                Ok(_) => Failure::Options(format!("jwks: {}", error.message)),
            },
            Some(field) => Failure::Options(format!("options.{field}: {}", error.message)),
            None => Failure::Options(format!("options: {}", error.message)),
        }
    }
}
