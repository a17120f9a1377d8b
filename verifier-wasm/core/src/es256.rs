//! ES256 verification with precomputed tables: the cold path's hot spot.
//!
//! p256's own `verify` computes `u1·G + u2·Q` with 256 doublings on every call (its
//! `precomputed-tables` feature only helps signing), about 0.5 ms inside Envoy's V8. Keys live
//! for hours, so each key used more than once gets a fixed-base comb table and a verification becomes
//! ~70 mixed additions (widths 8 and 7): 4x faster in V8 than p256's own (121 µs against 485 at width 6, measured under Node's V8; see the
//! README's Performance section for the figures through Envoy). Only p256's public group
//! operations are used, on public data (no secret is involved, so variable time is fine), and
//! the result is checked against p256's `verify` and the Wycheproof vectors in the tests.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use once_cell::race::OnceBox;
use p256::elliptic_curve::PrimeField as _;
use p256::elliptic_curve::group::{Curve as _, Group as _};
use p256::elliptic_curve::ops::{Invert as _, Reduce};
use p256::elliptic_curve::point::AffineCoordinates as _;
use p256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use sha2::{Digest as _, Sha256};

/// Digit width of the generator's comb: 33 additions a verification (43 at width 6), for a table
/// of 290 KB built once per VM (97 KB at width 6).
const G_WIDTH: usize = 8;
/// Digit width of each key's comb: 37 additions a verification (43 at width 6), for 160 KB per key
/// used (97 KB at width 6); width 8 would take 290 KB per key for 4 additions fewer.
const KEY_WIDTH: usize = 7;

/// Fixed-base comb over signed radix-2^W digits: `k·P = Σ d_i · (2^(W·i)·P)`, the table holding
/// `m · 2^(W·i) · P` for every digit position `i` and `m ∈ 1..=2^(W-1)`, in affine form. A
/// multiplication is then one mixed addition per non-zero digit, and no doubling.
struct Comb<const W: usize>;

impl<const W: usize> Comb<W> {
    /// Digit positions: `256/W` full digits plus one for the top bits and the final carry.
    const DIGITS: usize = 256 / W + 1;
    /// Table entries per digit position: multiples 1..=2^(W-1).
    const HALF: usize = 1 << (W - 1);

    fn table(p: ProjectivePoint) -> Box<[AffinePoint]> {
        const { assert!(4 <= W && W <= 8) };
        // Out of line: inlined and unrolled, the point operations add ~50 KB of wasm, and
        // building a table is not the hot path.
        #[inline(never)]
        fn add(a: &ProjectivePoint, b: &ProjectivePoint) -> ProjectivePoint {
            a + b
        }
        #[inline(never)]
        fn double(a: &ProjectivePoint) -> ProjectivePoint {
            a.double()
        }
        let mut proj = Vec::with_capacity(Self::DIGITS * Self::HALF);
        let mut base = p; // 2^(W·i) · P
        for _ in 0..Self::DIGITS {
            let mut multiple = base;
            for _ in 0..Self::HALF {
                proj.push(multiple);
                multiple = add(&multiple, &base);
            }
            for _ in 0..W {
                base = double(&base);
            }
        }
        // P has prime order n and no m·2^(W·i) is a multiple of n, so no entry is the identity.
        let mut table = vec![AffinePoint::IDENTITY; proj.len()];
        ProjectivePoint::batch_normalize(&proj, &mut table);
        table.into_boxed_slice()
    }

    /// Signed radix-2^W digits of `k < n < 2^256`: `k = Σ d_i·2^(W·i)` with
    /// `d_i ∈ [-2^(W-1), 2^(W-1))`; the last digit takes the top `256 mod W` bits plus the
    /// carry, which for W ∈ 4..=8 stays within `[0, 2^(W-1)]`.
    fn digits(k: &Scalar) -> [i16; 65] {
        let be = k.to_repr();
        let mut limbs = [0u64; 5]; // little-endian, one spare so a window may run past bit 255
        for (limb, bytes) in limbs.iter_mut().zip(be.rchunks_exact(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            *limb = u64::from_be_bytes(word);
        }
        let mut out = [0i16; 65];
        let mut carry = 0;
        for (i, digit) in out.iter_mut().take(Self::DIGITS).enumerate() {
            let (word, bit) = ((i * W) / 64, (i * W) % 64);
            let low = limbs.get(word).copied().unwrap_or(0);
            let high = limbs.get(word + 1).copied().unwrap_or(0);
            let mut window = low >> bit;
            if bit + W > 64 {
                window |= high << (64 - bit);
            }
            let value = (window & ((1 << W) - 1)) as i16 + carry;
            let recentre = i + 1 < Self::DIGITS && value >= (1 << (W - 1));
            *digit = if recentre { value - (1 << W) } else { value };
            carry = i16::from(recentre);
        }
        out
    }

    /// `acc += k·P` with `table = Self::table(P)`; false if a digit fell outside the table
    /// (impossible by construction; the caller then refuses the signature).
    fn mul_add(acc: &mut ProjectivePoint, table: &[AffinePoint], k: &Scalar) -> bool {
        for (i, &d) in Self::digits(k).iter().take(Self::DIGITS).enumerate() {
            if let Some(m) = usize::from(d.unsigned_abs()).checked_sub(1) {
                let Some(entry) = table.get(i * Self::HALF + m) else {
                    return false;
                };
                if d > 0 {
                    *acc += entry;
                } else {
                    *acc -= entry;
                }
            }
        }
        true
    }
}

/// The generator's table: a constant, computed on first use (like p256's own tables).
fn generator_table() -> &'static [AffinePoint] {
    static TABLE: OnceBox<Box<[AffinePoint]>> = OnceBox::new();
    TABLE.get_or_init(|| Box::new(Comb::<G_WIDTH>::table(ProjectivePoint::GENERATOR)))
}

/// A P-256 public key and its comb table, built on the second verification (≈3 ms in V8), so
/// only keys that are used again pay for it: a key parsed for one check (the JS package's
/// `verify`, a browser page) takes the plain path instead. Clones share the table.
#[derive(Clone)]
pub struct P256Key {
    key: p256::ecdsa::VerifyingKey,
    table: Arc<OnceBox<Box<[AffinePoint]>>>,
    /// Set by the first verification, which runs without the key's table.
    used: Arc<AtomicBool>,
}

impl P256Key {
    /// Wraps a key `VerifyingKey` already checked (on the curve, not the identity).
    pub fn new(key: p256::ecdsa::VerifyingKey) -> P256Key {
        P256Key {
            key,
            table: Arc::new(OnceBox::new()),
            used: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The key itself.
    pub fn key(&self) -> &p256::ecdsa::VerifyingKey {
        &self.key
    }

    /// ECDSA verification (SEC 1 §4.1.4) of a JWS `r || s` signature over SHA-256(message);
    /// accepts exactly what `p256::ecdsa::VerifyingKey::verify` accepts.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        // Exactly 64 bytes, r and s in [1, n-1] (refuses the "psychic signature" r = s = 0).
        let Ok(sig) = p256::ecdsa::Signature::from_slice(signature) else {
            return false;
        };
        let (r, s) = sig.split_scalars();
        // Not normalised to low s, like p256's verify: JWS does not require it.
        let digest: [u8; 32] = Sha256::digest(message).into();
        let z = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(digest));
        let s_inv = *s.invert_vartime();
        let (u1, u2) = (z * s_inv, *r * s_inv);
        // R = u1·G + u2·Q
        let q = || ProjectivePoint::from(*self.key.as_affine());
        let with_tables = |table: &[AffinePoint]| {
            let mut point = ProjectivePoint::IDENTITY;
            (Comb::<G_WIDTH>::mul_add(&mut point, generator_table(), &u1)
                && Comb::<KEY_WIDTH>::mul_add(&mut point, table, &u2))
            .then_some(point)
        };
        let point = match self.table.get() {
            Some(table) => with_tables(table),
            // First use: two plain multiplications (~0.5 ms in V8), building no table, not
            // even the generator's: a page that checks one token stays instant.
            None if !self.used.swap(true, Ordering::Relaxed) => {
                Some(ProjectivePoint::GENERATOR * u1 + q() * u2)
            }
            None => with_tables(
                self.table
                    .get_or_init(|| Box::new(Comb::<KEY_WIDTH>::table(q()))),
            ),
        };
        let Some(point) = point.filter(|p| !bool::from(p.is_identity())) else {
            return false;
        };
        // x(R) mod n == r
        <Scalar as Reduce<FieldBytes>>::reduce(&point.to_affine().x()) == *r
    }
}

impl PartialEq for P256Key {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for P256Key {}

impl fmt::Debug for P256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("P256Key").field(&self.key).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::{Signer as _, Verifier as _};

    /// Deterministic test bytes: SHA-256(label || counter).
    fn bytes(label: &str, i: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(label.as_bytes());
        h.update(i.to_le_bytes());
        h.finalize().into()
    }

    fn check_digits<const W: usize>(k: &Scalar) {
        let d = Comb::<W>::digits(k);
        let half = 1i16 << (W - 1);
        let mut acc = Scalar::ZERO;
        for (i, &x) in d.iter().enumerate().rev() {
            assert!(i < Comb::<W>::DIGITS || x == 0);
            assert!(
                -half <= x && x <= half,
                "digit {x} out of range for W = {W}"
            );
            let m = Scalar::from(u64::from(x.unsigned_abs()));
            acc = acc * Scalar::from(1u64 << W) + if x < 0 { -m } else { m };
        }
        assert_eq!(acc, *k, "W = {W}");
    }

    #[test]
    fn digits_reconstruct_the_scalar() {
        let mut scalars = vec![Scalar::ZERO, Scalar::ONE, -Scalar::ONE, -Scalar::from(2u64)];
        let mut power = Scalar::ONE; // 2^i
        for _ in 0..256 {
            scalars.extend([power, power - Scalar::ONE, -power]);
            power = power.double();
        }
        for i in 0..500 {
            scalars.push(<Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(
                bytes("k", i),
            )));
        }
        for k in &scalars {
            check_digits::<4>(k);
            check_digits::<6>(k);
            check_digits::<8>(k);
        }
    }

    #[test]
    fn agrees_with_p256_verify() {
        for i in 0..6 {
            let sk = p256::ecdsa::SigningKey::from_slice(&bytes("sk", i)).unwrap();
            let vk = *sk.verifying_key();
            let key = P256Key::new(vk);
            for j in 0..10 {
                let msg = bytes("msg", i * 100 + j);
                let sig: p256::ecdsa::Signature = sk.sign(&msg);
                let good: [u8; 64] = sig.to_bytes().into();
                let mut cases = vec![good.to_vec(), good[..63].to_vec()];
                let mut flipped = good;
                flipped[(j as usize * 7) % 64] ^= 1 << (j % 8);
                cases.push(flipped.to_vec());
                let mut high_s = good;
                high_s[32..].copy_from_slice(&(-*sig.s()).to_repr());
                cases.push(high_s.to_vec());
                let mut zero_r = good;
                zero_r[..32].fill(0);
                cases.push(zero_r.to_vec());
                for case in &cases {
                    let want = p256::ecdsa::Signature::from_slice(case)
                        .is_ok_and(|s| vk.verify(&msg, &s).is_ok());
                    assert_eq!(key.verify(&msg, case), want);
                    // A key's first verification takes the path without its table.
                    assert_eq!(P256Key::new(vk).verify(&msg, case), want);
                }
                assert!(key.verify(&msg, &good) && !key.verify(&msg[1..], &good));
            }
        }
    }
}
