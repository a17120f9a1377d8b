//! What the admin UI serves besides the API: its own pages (embedded at build time from
//! `issuer/ui/`), the verifier's JS package and the gateway's filter configuration (both read
//! once at start-up from the paths `issuer serve` is given).
//!
//! Nothing here is secret: the pages hold no credentials, the JS package is a public build
//! artifact, and the filter configuration holds public keys at most. The HTTP side (routes and
//! security headers) is in `admin::ui`.

pub mod assets;
pub mod gateway;
pub mod verifier;

pub use gateway::{GatewayConfig, GatewayConfigError};
pub use verifier::{MAX_VERIFIER_FILE_BYTES, VerifierPackage, VerifierPackageError};

/// The UI's inputs that come from outside the binary, shared by every request.
#[derive(Debug, Default)]
pub struct UiResources {
    /// The verifier's JS package (`--verifier-js-dir`), if it was given and could be read.
    pub verifier: Option<VerifierPackage>,
    /// The gateway's filter configuration (`--gateway-config`), checked, if it was given.
    pub gateway_config: Option<GatewayConfig>,
}
