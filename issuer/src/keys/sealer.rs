//! Protection of private keys at rest.
//!
//! Every stored private key records the name of the sealer that produced it (`sealed_by`), so a
//! process configured with [`AesGcmSealer`] can still open the legacy `plaintext` rows and can
//! tell which rows it has to re-seal ([`needs_reseal`], [`open_stored`]).

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};

use super::master_key::MasterKey;
use crate::random::random_bytes;

/// Why a private key could not be sealed or opened. Never carries key bytes.
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
    /// The sealed bytes cannot even be parsed: too short, or an unknown format version.
    #[error("sealed private key of {kid:?} is corrupt: {reason}")]
    Corrupt {
        /// The key's id.
        kid: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// AES-GCM refused the sealed bytes.
    #[error(
        "sealed private key of {kid:?} failed authentication: the master key is not the one it \
         was sealed under, or the stored bytes were altered or moved from another key's row"
    )]
    AuthenticationFailed {
        /// The key's id.
        kid: String,
    },
    /// The OS RNG could not supply a nonce.
    #[error("cannot seal a private key: the operating system random number generator failed")]
    Random,
    /// AES-GCM refused to encrypt (only possible for inputs of many gigabytes).
    #[error("cannot seal a private key: encryption failed")]
    Encrypt,
}

impl SealError {
    /// The stable machine code, e.g. `seal_authentication_failed`. Never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongSealer { .. } => "seal_wrong_sealer",
            Self::Corrupt { .. } => "seal_corrupt",
            Self::AuthenticationFailed { .. } => "seal_authentication_failed",
            Self::Random => "seal_random_failed",
            Self::Encrypt => "seal_encrypt_failed",
        }
    }
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

/// Name stored in `sealed_by` for [`PlaintextSealer`] rows.
pub const PLAINTEXT_SEALER: &str = "plaintext";

/// Name stored in `sealed_by` for [`AesGcmSealer`] rows.
pub const AES_GCM_SEALER: &str = "aes-256-gcm-v1";

/// Stores private keys UNENCRYPTED: anyone who can read the database can sign tokens.
///
/// Kept so rows written before [`AesGcmSealer`] existed (`sealed_by = 'plaintext'`) can still be
/// opened and then re-sealed; see [`open_stored`] and [`needs_reseal`].
#[derive(Debug, Default, Clone, Copy)]
pub struct PlaintextSealer;

impl KeySealer for PlaintextSealer {
    fn name(&self) -> &'static str {
        PLAINTEXT_SEALER
    }

    fn seal(&self, _kid: &str, private_key: &[u8]) -> Result<Vec<u8>, SealError> {
        Ok(private_key.to_vec())
    }

    fn open(&self, _kid: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        Ok(sealed.to_vec())
    }
}

/// First byte of every [`AesGcmSealer`] output: the format version.
const VERSION: u8 = 1;
/// AES-GCM's standard 96-bit nonce (NIST SP 800-38D §8.2: random nonces of exactly 96 bits).
const NONCE_LEN: usize = 12;
/// AES-GCM's full 128-bit tag.
const TAG_LEN: usize = 16;

/// Seals private keys with AES-256-GCM under the master key.
///
/// Stored form: `version (1 byte, = 1) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
/// The nonce is fresh from the OS RNG for every seal: random 96-bit nonces stay far inside
/// the NIST collision bound (2^32 messages per key) for a table of signing keys.
/// The associated data is `version || kid`, so a sealed key copied onto another row (another
/// kid) or relabelled with another version fails to open instead of signing under a wrong
/// identity.
pub struct AesGcmSealer {
    // With aes-gcm's `zeroize` feature the expanded key schedule is wiped on drop.
    cipher: Aes256Gcm,
}

impl AesGcmSealer {
    /// A sealer under `master_key`.
    pub fn new(master_key: &MasterKey) -> Self {
        let key: &Key<Aes256Gcm> = master_key.as_bytes().into();
        Self {
            cipher: Aes256Gcm::new(key),
        }
    }
}

impl fmt::Debug for AesGcmSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesGcmSealer(<redacted>)")
    }
}

/// The associated data of a sealed key: the format version and the kid.
fn associated_data(kid: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + kid.len());
    aad.push(VERSION);
    aad.extend_from_slice(kid.as_bytes());
    aad
}

impl KeySealer for AesGcmSealer {
    fn name(&self) -> &'static str {
        AES_GCM_SEALER
    }

    fn seal(&self, kid: &str, private_key: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>().map_err(|_| SealError::Random)?;
        let nonce = Nonce::from(nonce_bytes);
        let aad = associated_data(kid);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: private_key,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Encrypt)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce_bytes);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let corrupt = |reason| SealError::Corrupt {
            kid: kid.to_owned(),
            reason,
        };
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(corrupt("empty"));
        };
        if version != VERSION {
            return Err(corrupt("unknown format version"));
        }
        let Some((nonce, ciphertext)) = rest.split_first_chunk::<NONCE_LEN>() else {
            return Err(corrupt("too short"));
        };
        if ciphertext.len() < TAG_LEN {
            return Err(corrupt("too short"));
        }
        let aad = associated_data(kid);
        self.cipher
            .decrypt(
                &Nonce::from(*nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::AuthenticationFailed {
                kid: kid.to_owned(),
            })
    }
}

/// Whether a row sealed by `sealed_by` should be re-sealed with `configured` (and then stored
/// with `sealed_by = configured.name()`): true for every row the configured sealer did not
/// write, in particular the legacy `plaintext` rows once AES-GCM is configured.
pub fn needs_reseal(configured: &dyn KeySealer, sealed_by: &str) -> bool {
    sealed_by != configured.name()
}

/// Opens a stored private key with whichever sealer its row names.
///
/// Rows of the configured sealer open with it. Legacy `plaintext` rows open only while
/// `accept_plaintext` is true: once every row is re-sealed, turn it off, so a row planted as
/// `plaintext` by someone who can write to the database is refused rather than trusted.
/// Any other name is [`SealError::WrongSealer`] (e.g. AES-GCM rows in a process started
/// without its master key).
pub fn open_stored(
    configured: &dyn KeySealer,
    accept_plaintext: bool,
    sealed_by: &str,
    kid: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, SealError> {
    if sealed_by == configured.name() {
        configured.open(kid, sealed)
    } else if sealed_by == PLAINTEXT_SEALER && accept_plaintext {
        PlaintextSealer.open(kid, sealed)
    } else {
        Err(SealError::WrongSealer {
            expected: configured.name(),
            found: sealed_by.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KID: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    const PRIVATE_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn sealer(byte: u8) -> AesGcmSealer {
        AesGcmSealer::new(&MasterKey::from_bytes([byte; 32]))
    }

    #[test]
    fn round_trip() -> Result<(), SealError> {
        let s = sealer(7);
        let sealed = s.seal(KID, PRIVATE_KEY)?;
        assert_eq!(sealed.len(), 1 + NONCE_LEN + PRIVATE_KEY.len() + TAG_LEN);
        assert_eq!(sealed[0], VERSION);
        assert!(
            !sealed
                .windows(8)
                .any(|w| PRIVATE_KEY.windows(8).any(|p| p == w)),
            "plaintext must not appear in the sealed form"
        );
        assert_eq!(s.open(KID, &sealed)?, PRIVATE_KEY);
        Ok(())
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() -> Result<(), SealError> {
        let s = sealer(7);
        let a = s.seal(KID, PRIVATE_KEY)?;
        let b = s.seal(KID, PRIVATE_KEY)?;
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
        assert_ne!(a, b);
        Ok(())
    }

    #[test]
    fn any_flipped_byte_fails_to_open() -> Result<(), SealError> {
        let s = sealer(7);
        let sealed = s.seal(KID, PRIVATE_KEY)?;
        let nonce_byte = 1;
        let ciphertext_byte = 1 + NONCE_LEN;
        let tag_byte = sealed.len() - 1;
        for i in [nonce_byte, ciphertext_byte, tag_byte] {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert_eq!(
                s.open(KID, &tampered),
                Err(SealError::AuthenticationFailed { kid: KID.into() }),
                "byte {i}"
            );
        }
        // Every position, for good measure: the version byte is refused as a format error.
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x80;
            assert!(s.open(KID, &tampered).is_err(), "byte {i}");
        }
        Ok(())
    }

    #[test]
    fn a_key_moved_to_another_kid_fails_to_open() -> Result<(), SealError> {
        let s = sealer(7);
        let sealed = s.seal(KID, PRIVATE_KEY)?;
        let err = s.open("another-kid", &sealed).unwrap_err();
        assert_eq!(err.code(), "seal_authentication_failed");
        Ok(())
    }

    #[test]
    fn the_wrong_master_key_fails_to_open() -> Result<(), SealError> {
        let sealed = sealer(7).seal(KID, PRIVATE_KEY)?;
        let err = sealer(8).open(KID, &sealed).unwrap_err();
        assert_eq!(err, SealError::AuthenticationFailed { kid: KID.into() });
        Ok(())
    }

    #[test]
    fn truncated_or_unversioned_input_is_corrupt() -> Result<(), SealError> {
        let s = sealer(7);
        let sealed = s.seal(KID, PRIVATE_KEY)?;
        for len in [0, 1, NONCE_LEN, NONCE_LEN + TAG_LEN] {
            assert_eq!(
                s.open(KID, &sealed[..len]).unwrap_err().code(),
                "seal_corrupt"
            );
        }
        // Long enough to parse but cut inside the tag: authentication fails.
        let cut = &sealed[..sealed.len() - 1];
        assert_eq!(
            s.open(KID, cut).unwrap_err().code(),
            "seal_authentication_failed"
        );
        let mut v2 = sealed.clone();
        v2[0] = 2;
        assert_eq!(
            s.open(KID, &v2),
            Err(SealError::Corrupt {
                kid: KID.into(),
                reason: "unknown format version"
            })
        );
        // A legacy plaintext row handed to the AES sealer is refused, not returned.
        assert!(s.open(KID, PRIVATE_KEY).is_err());
        Ok(())
    }

    #[test]
    fn an_empty_key_round_trips() -> Result<(), SealError> {
        let s = sealer(1);
        let sealed = s.seal(KID, b"")?;
        assert_eq!(sealed.len(), 1 + NONCE_LEN + TAG_LEN);
        assert_eq!(s.open(KID, &sealed)?, b"");
        Ok(())
    }

    #[test]
    fn errors_and_debug_never_show_key_bytes() -> Result<(), SealError> {
        let s = sealer(0xAB);
        let debug = format!("{s:?}");
        assert_eq!(debug, "AesGcmSealer(<redacted>)");
        let sealed = s.seal(KID, PRIVATE_KEY)?;
        let err = sealer(0xCD).open(KID, &sealed).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("0123456789abcdef"), "{text}");
        assert!(!text.to_lowercase().contains("abab"), "{text}");
        Ok(())
    }

    #[test]
    fn reseal_is_needed_for_rows_of_other_sealers() {
        let aes = sealer(7);
        assert!(needs_reseal(&aes, PLAINTEXT_SEALER));
        assert!(!needs_reseal(&aes, AES_GCM_SEALER));
        assert!(needs_reseal(&aes, "something-else"));
        assert!(!needs_reseal(&PlaintextSealer, PLAINTEXT_SEALER));
        assert!(needs_reseal(&PlaintextSealer, AES_GCM_SEALER));
    }

    #[test]
    fn open_stored_picks_the_rows_sealer() -> Result<(), SealError> {
        let aes = sealer(7);
        let sealed = aes.seal(KID, PRIVATE_KEY)?;
        assert_eq!(
            open_stored(&aes, false, AES_GCM_SEALER, KID, &sealed)?,
            PRIVATE_KEY
        );
        assert_eq!(
            open_stored(&aes, true, PLAINTEXT_SEALER, KID, PRIVATE_KEY)?,
            PRIVATE_KEY
        );
        assert_eq!(
            open_stored(&aes, false, PLAINTEXT_SEALER, KID, PRIVATE_KEY)
                .unwrap_err()
                .code(),
            "seal_wrong_sealer"
        );
        // A process without the master key cannot open AES rows, and says why.
        assert_eq!(
            open_stored(&PlaintextSealer, true, AES_GCM_SEALER, KID, &sealed),
            Err(SealError::WrongSealer {
                expected: PLAINTEXT_SEALER,
                found: AES_GCM_SEALER.into()
            })
        );
        Ok(())
    }
}
