//! Header and payload JSON the fuzzer writes, signed with the fixture's key: the header and claim
//! parsers, the claim checks at a clock the fuzzer picks, the cache and the scope check, all
//! behind a valid signature.
//!
//! Input: `[key] [clock] header-bytes [0xFF payload-bytes]`. `key` bit 0 picks ES256 (0) or
//! EdDSA (1); `clock` is minutes from `NOW` as an i8, except 0x80 (epoch 0) and 0x7F (u64::MAX).
#![no_main]

use libfuzzer_sys::fuzz_target;
use verifier_core::Algorithm;
use verifier_fuzz::{NOW, check_against_verify, check_write, fixture};

fuzz_target!(|data: &[u8]| {
    let [key, clock, rest @ ..] = data else {
        return;
    };
    let alg = if key & 1 == 0 {
        Algorithm::Es256
    } else {
        Algorithm::EdDsa
    };
    let now = match *clock {
        0x80 => 0,
        0x7f => u64::MAX,
        c => NOW.wrapping_add_signed(i64::from(c as i8) * 60),
    };
    let (header, payload) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let f = fixture();
    let token = f
        .signer(alg)
        .expect("a fixture key")
        .sign_text(header, payload);
    let authorization = format!("Bearer {token}");
    let _ = check_against_verify(f, "local", &authorization, now);
    if alg == Algorithm::EdDsa {
        let _ = check_against_verify(f, "third", &authorization, now);
    }
    check_write(&f.config, &authorization, now);
});
