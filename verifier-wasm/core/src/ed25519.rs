//! Ed25519 verification with a per-key table: the EdDSA cold path's hot spot.
//!
//! ed25519-dalek's `verify_strict` computes `R' = [s]B − [k]A` with a width-8 table for the
//! base point (a constant) and a width-5 table for `−A` that it builds again on every call. Keys
//! live for hours, so each key used more than once gets width-8 tables for both points, built
//! once (curve25519-dalek's `VartimeEdwardsPrecomputation`): no per-call table and fewer
//! additions for `[k]A`. Every check of `verify_strict` is kept, in its order: `s` canonical,
//! `R` a curve point, neither `R` nor `A` of small order, then the compressed `R'` equal to the
//! signature's `R` bytes. Only public data is involved (variable time is fine), and the result is
//! checked against `verify_strict` and the Wycheproof vectors in the tests.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, VartimeEdwardsPrecomputation};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimePrecomputedMultiscalarMul as _;
use once_cell::race::OnceBox;
use sha2::{Digest as _, Sha512};

/// An Ed25519 public key (not of small order) and its table, built on the second verification,
/// so that a key parsed for one check takes `verify_strict` itself. Clones share the table.
#[derive(Clone)]
pub struct Ed25519Key {
    key: ed25519_dalek::VerifyingKey,
    /// Width-8 tables of `B` and `−A`.
    table: Arc<OnceBox<VartimeEdwardsPrecomputation>>,
    /// Set by the first verification, which runs without the table.
    used: Arc<AtomicBool>,
}

impl Ed25519Key {
    /// Wraps a key already checked (a curve point, not of small order).
    pub fn new(key: ed25519_dalek::VerifyingKey) -> Ed25519Key {
        Ed25519Key {
            key,
            table: Arc::new(OnceBox::new()),
            used: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The key itself.
    pub fn key(&self) -> &ed25519_dalek::VerifyingKey {
        &self.key
    }

    /// RFC 8032 §5.1.7 verification of a 64-byte signature over `message`; accepts exactly what
    /// `ed25519_dalek::VerifyingKey::verify_strict` accepts.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        let table = match self.table.get() {
            Some(table) => table,
            None if !self.used.swap(true, Ordering::Relaxed) => {
                return self.key.verify_strict(message, &signature).is_ok();
            }
            None => self.table.get_or_init(|| {
                let minus_a = -self.key.to_edwards();
                Box::new(VartimeEdwardsPrecomputation::new([
                    ED25519_BASEPOINT_POINT,
                    minus_a,
                ]))
            }),
        };
        // s in [0, ℓ): a non-canonical s is the malleability RFC 8032 forbids.
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes()))
        else {
            return false;
        };
        let r_bytes = signature.r_bytes();
        let Some(r) = CompressedEdwardsY(*r_bytes).decompress() else {
            return false;
        };
        if r.is_small_order() || self.key.is_weak() {
            return false;
        }
        // k = SHA-512(R || A || M) mod ℓ
        let digest = Sha512::new()
            .chain_update(r_bytes)
            .chain_update(self.key.as_bytes())
            .chain_update(message)
            .finalize();
        let mut wide = [0u8; 64];
        wide.copy_from_slice(&digest);
        let k = Scalar::from_bytes_mod_order_wide(&wide);
        // R' = [s]B + [k](−A), compared as bytes with the signature's R, as verify_strict does
        // (so a non-canonical encoding of R never passes).
        table.vartime_multiscalar_mul([s, k]).compress().as_bytes() == r_bytes
    }
}

impl PartialEq for Ed25519Key {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Ed25519Key {}

impl fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Key")
            .field("key", &self.key)
            .field("table", &self.table.get().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use ed25519_dalek::Signer as _;

    /// Deterministic test bytes: SHA-512(label || counter), first 32 bytes.
    fn bytes(label: &str, i: u64) -> [u8; 32] {
        let digest = Sha512::new()
            .chain_update(label.as_bytes())
            .chain_update(i.to_be_bytes())
            .finalize();
        let mut out = [0u8; 32];
        out.copy_from_slice(&digest[..32]);
        out
    }

    #[test]
    fn agrees_with_verify_strict_on_good_and_tampered_signatures() {
        for i in 0..24 {
            let signing = ed25519_dalek::SigningKey::from_bytes(&bytes("key", i));
            let key = Ed25519Key::new(signing.verifying_key());
            // The first call takes verify_strict itself; every later one the table.
            assert!(key.verify(b"warm-up", &signing.sign(b"warm-up").to_bytes()));
            for j in 0..8 {
                let message = bytes("message", i * 8 + j);
                let good = signing.sign(&message).to_bytes();
                let mut variants: Vec<[u8; 64]> = Vec::from([good]);
                for position in [0, 17, 31, 32, 48, 63] {
                    let mut bad = good;
                    bad[position] ^= 1 << (j % 8);
                    variants.push(bad);
                }
                // s + ℓ: the same point equation, a non-canonical scalar.
                let mut high = good;
                high[63] |= 0x80;
                variants.push(high);
                for signature in variants {
                    let strict = key
                        .key()
                        .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&signature))
                        .is_ok();
                    assert_eq!(
                        key.verify(&message, &signature),
                        strict,
                        "key {i}, message {j}"
                    );
                }
                assert!(key.table.get().is_some());
                assert!(!key.verify(&message, &good[..63]), "wrong length");
            }
        }
    }
}
