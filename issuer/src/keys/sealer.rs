//! Protection of private keys at rest.
//!
//! Every stored private key records the name of the sealer that produced it, so a later
//! sealer (issue 4: AES-GCM under a master key) can tell which keys it still has to re-seal.

use std::fmt;

/// Why a private key could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The key was sealed by a sealer this process is not configured with.
    #[error("private key was sealed by {found:?}, but this process uses {expected:?}")]
    WrongSealer {
        /// This process's sealer.
        expected: &'static str,
        /// The sealer named in the database.
        found: String,
    },
}

/// Turns private key bytes into what is stored, and back.
pub trait KeySealer: Send + Sync + fmt::Debug {
    /// Stable name stored next to each sealed key.
    fn name(&self) -> &'static str;

    /// Seals the private key of `kid` for storage (`kid` is there to bind the two together).
    fn seal(&self, kid: &str, private_key: &[u8]) -> Result<Vec<u8>, SealError>;

    /// Recovers the private key of `kid` from its sealed form.
    fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError>;
}

/// Stores private keys UNENCRYPTED: anyone who can read the database can sign tokens.
///
/// The only sealer until issue 4 adds AES-GCM under a master key; kept as a named type so the
/// switch is one line and the plaintext rows can be found (`sealed_by = 'plaintext'`).
#[derive(Debug, Default, Clone, Copy)]
pub struct PlaintextSealer;

impl KeySealer for PlaintextSealer {
    fn name(&self) -> &'static str {
        "plaintext"
    }

    fn seal(&self, _kid: &str, private_key: &[u8]) -> Result<Vec<u8>, SealError> {
        Ok(private_key.to_vec())
    }

    fn open(&self, _kid: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        Ok(sealed.to_vec())
    }
}
