//! Project Wycheproof signature-verification vectors, run through the production key path.
//!
//! The JSON files are vendored, unmodified, under `verifier-wasm/tests/wycheproof/` (see the
//! README there for where they came from). For each test group the public key is written as the
//! JWK an issuer would publish (EC `x`/`y`, OKP `x`, RSA `n`/`e`, AKP `pub`, each with its `alg`)
//! and loaded with [`Jwks::parse`], so key loading is tested along with
//! [`PublicKey::verify`]. Then:
//!
//! - `valid` must verify, and (the first few per file) must NOT verify under any other algorithm
//!   the key admits (an RSA key verifies six algorithms: a PKCS#1 v1.5 signature must not pass
//!   as PSS, SHA-256 must not pass as SHA-384, and so on);
//! - `invalid` must not verify (or its key must be refused at load);
//! - `acceptable` may go either way; the outcome is printed (`--nocapture`).
//!
//! Every file's vectors are accounted for: run + skipped == the file's `numberOfTests`, each
//! `tcId` once, and the number actually run is above a floor, so a loader that silently reads
//! nothing cannot pass.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use verifier_core::Jwks;
use verifier_core::{Algorithm, PublicKey};
use verifier_testkit::{b64, unhex};

fn vectors(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/wycheproof")
        .join(file);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_of<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("member {name} missing in {v}"))
}

/// An unsigned big-endian integer as exactly `len` bytes (Wycheproof writes ASN.1-style values
/// with a leading zero when the top bit is set; JWK coordinates are fixed-size).
fn fixed(bytes: &[u8], len: usize) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
    assert!(trimmed.len() <= len, "integer longer than {len} bytes");
    let mut out = vec![0; len - trimmed.len()];
    out.extend(trimmed);
    out
}

/// An unsigned big-endian integer without leading zeros (RFC 7518 §6.3.1: `n` and `e`).
fn minimal(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().copied().skip_while(|&b| b == 0).collect()
}

/// How a group's key becomes a JWK.
#[derive(Clone, Copy)]
enum KeyKind {
    /// `publicKey.wx`, `publicKey.wy`; the curve name and coordinate size.
    Ec(&'static str, usize),
    /// `publicKey.pk`.
    Ed25519,
    /// `publicKey.modulus`, `publicKey.publicExponent`.
    Rsa,
    /// `publicKey` (hex of the FIPS 204 encoding).
    Akp,
}

fn jwk_for(kind: KeyKind, group: &Value, alg: Algorithm) -> Value {
    let pk = &group["publicKey"];
    let jwk = match kind {
        KeyKind::Ec(crv, size) => {
            let x = b64(fixed(&unhex(str_of(pk, "wx")), size));
            let y = b64(fixed(&unhex(str_of(pk, "wy")), size));
            // Our encoding of the key agrees with the JWK Wycheproof ships, where it ships one
            // (it leaves it out for some edge-case keys).
            if let Some(theirs) = group.get("publicKeyJwk") {
                assert_eq!(
                    (x.as_str(), y.as_str(), crv),
                    (
                        str_of(theirs, "x"),
                        str_of(theirs, "y"),
                        str_of(theirs, "crv")
                    )
                );
            }
            json!({"kty": "EC", "crv": crv, "x": x, "y": y})
        }
        KeyKind::Ed25519 => {
            let x = b64(unhex(str_of(pk, "pk")));
            assert_eq!(x, str_of(&group["publicKeyJwk"], "x"));
            json!({"kty": "OKP", "crv": "Ed25519", "x": x})
        }
        KeyKind::Rsa => {
            let n = b64(minimal(&unhex(str_of(pk, "modulus"))));
            let e = b64(minimal(&unhex(str_of(pk, "publicExponent"))));
            let theirs = group
                .get("publicKeyJwk")
                .or_else(|| group.get("keyJwk"))
                .expect("RSA groups ship a JWK");
            assert_eq!(
                (n.as_str(), e.as_str()),
                (str_of(theirs, "n"), str_of(theirs, "e"))
            );
            json!({"kty": "RSA", "n": n, "e": e})
        }
        KeyKind::Akp => {
            json!({"kty": "AKP", "pub": b64(unhex(group["publicKey"].as_str().unwrap()))})
        }
    };
    let mut jwk = jwk;
    jwk["alg"] = json!(alg.name());
    jwk["use"] = json!("sig");
    jwk["kid"] = json!("wycheproof");
    jwk
}

/// The key as production loads it, or the loader's reason for refusing it.
fn load(jwk: &Value) -> Result<PublicKey, String> {
    let document = json!({ "keys": [jwk] }).to_string();
    match Jwks::parse(document.as_bytes()) {
        Ok(set) => {
            assert_eq!(set.keys.len(), 1);
            let key = &set.keys[0];
            assert!(key.admits(key.alg.expect("the JWK names its alg")));
            Ok(key.key.clone())
        }
        Err(e) => Err(format!("{} ({e})", e.code())),
    }
}

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    /// Invalid vectors whose key the loader refused (they never reach `verify`).
    invalid_key_refused: usize,
    acceptable_accepted: Vec<u64>,
    acceptable_rejected: Vec<u64>,
    /// Vectors that must not verify here whatever their result says, with the reason.
    rejected_by_plan: Vec<(u64, &'static str)>,
    skipped: Vec<(u64, &'static str)>,
    failures: Vec<String>,
}

impl Tally {
    fn run(&self) -> usize {
        self.valid
            + self.invalid
            + self.invalid_key_refused
            + self.acceptable_accepted.len()
            + self.acceptable_rejected.len()
            + self.rejected_by_plan.len()
    }
}

/// How many valid vectors per file are also tried under every other algorithm the key admits.
const CROSS_CHECKS: usize = 10;

/// What to do with one vector.
enum Plan {
    /// Assert its `result`.
    AsWritten,
    /// It must not verify here, whatever its `result` (the reason says why).
    Reject(&'static str),
    /// Not run (the reason says why); counted, and printed.
    #[allow(dead_code)] // no file needs it today; kept so a new file's exceptions are explicit
    Skip(&'static str),
}

/// Decides the plan for a vector from its group and itself.
type Planner = fn(&Value, &Value) -> Plan;

fn as_written(_group: &Value, _test: &Value) -> Plan {
    Plan::AsWritten
}

/// Runs every vector of `file` with `alg`; returns the tally after checking coverage.
fn run_file(file: &str, alg: Algorithm, kind: KeyKind, plan: Planner, floor: usize) -> Tally {
    let doc = vectors(file);
    let declared = doc["numberOfTests"].as_u64().expect("numberOfTests") as usize;
    let mut tally = Tally::default();
    let mut ids = BTreeSet::new();
    for group in doc["testGroups"].as_array().expect("testGroups") {
        let jwk = jwk_for(kind, group, alg);
        let key = load(&jwk);
        for test in group["tests"].as_array().expect("tests") {
            let id = test["tcId"].as_u64().expect("tcId");
            assert!(ids.insert(id), "{file}: tcId {id} twice");
            let plan = plan(group, test);
            if let Plan::Skip(reason) = plan {
                tally.skipped.push((id, reason));
                continue;
            }
            let result = match plan {
                Plan::Reject(_) => "rejected by plan",
                _ => str_of(test, "result"),
            };
            let msg = unhex(str_of(test, "msg"));
            let sig = unhex(str_of(test, "sig"));
            let what = format!("{file} tcId {id} ({}) {result}", str_of(test, "comment"));
            let key = match &key {
                Ok(key) => key,
                Err(reason) => {
                    match (result, &plan) {
                        (_, Plan::Reject(why)) => tally.rejected_by_plan.push((id, why)),
                        ("invalid", _) => tally.invalid_key_refused += 1,
                        ("acceptable", _) => tally.acceptable_rejected.push(id),
                        _ => tally
                            .failures
                            .push(format!("{what}: the key was refused: {reason}")),
                    }
                    continue;
                }
            };
            let verified = key.verify(alg, &msg, &sig);
            match (result, verified) {
                ("valid", true) => {
                    tally.valid += 1;
                    // The same signature under any other algorithm this key admits must fail.
                    // (For the first few valid vectors only: an RSA public operation costs
                    // milliseconds in a debug build, and five more per vector add up.)
                    let others = Algorithm::ALL
                        .into_iter()
                        .filter(|_| tally.valid <= CROSS_CHECKS);
                    for other in others {
                        if other != alg && key.admits(other) && key.verify(other, &msg, &sig) {
                            tally
                                .failures
                                .push(format!("{what}: ALSO verifies as {other}"));
                        }
                    }
                }
                ("invalid", false) => tally.invalid += 1,
                ("rejected by plan", false) => {
                    if let Plan::Reject(why) = plan {
                        tally.rejected_by_plan.push((id, why));
                    }
                }
                ("acceptable", true) => tally.acceptable_accepted.push(id),
                ("acceptable", false) => tally.acceptable_rejected.push(id),
                (_, verified) => tally.failures.push(format!(
                    "{what}: verify returned {verified}; flags {}",
                    test["flags"]
                )),
            }
        }
    }
    println!(
        "{file} as {alg}: valid {} invalid {} (+{} by key refusal) acceptable accepted {:?} \
         rejected {:?}; rejected by plan {} {:?}; skipped {} {:?}",
        tally.valid,
        tally.invalid,
        tally.invalid_key_refused,
        tally.acceptable_accepted,
        tally.acceptable_rejected,
        tally.rejected_by_plan.len(),
        tally.rejected_by_plan,
        tally.skipped.len(),
        tally.skipped,
    );
    assert!(
        tally.failures.is_empty(),
        "{file}: {} failures:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    let seen = ids.len();
    assert_eq!(
        tally.run() + tally.skipped.len(),
        declared,
        "{file}: {} run + {} skipped of {declared} declared; {seen} distinct tcIds seen \
         (min {:?}, max {:?})",
        tally.run(),
        tally.skipped.len(),
        ids.first(),
        ids.last()
    );
    assert_eq!(
        seen, declared,
        "{file}: {seen} distinct tcIds of {declared}"
    );
    assert!(
        tally.run() >= floor,
        "{file}: only {} vectors ran (floor {floor}); {seen} tcIds seen of {declared}",
        tally.run()
    );
    assert!(tally.valid > 0 && tally.invalid > 0, "{file}: {tally:?}");
    tally
}

// ---------------------------------------------------------------------------------------------
// ECDSA, IEEE P1363 (`r || s`), which is what JWS uses (RFC 7518 §3.4). The DER files are not
// used: a DER signature is never a valid JWS signature (see the attacks tests).

#[test]
fn ecdsa_p256_sha256_p1363() {
    let t = run_file(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        Algorithm::Es256,
        KeyKind::Ec("P-256", 32),
        as_written,
        250,
    );
    assert!(t.skipped.is_empty());
}

#[test]
fn ecdsa_p384_sha384_p1363() {
    let t = run_file(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        Algorithm::Es384,
        KeyKind::Ec("P-384", 48),
        as_written,
        270,
    );
    assert!(t.skipped.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Ed25519 (RFC 8032, strict: no malleable S, no non-canonical encodings).

#[test]
fn ed25519() {
    let t = run_file(
        "ed25519_test.json",
        Algorithm::EdDsa,
        KeyKind::Ed25519,
        as_written,
        145,
    );
    assert!(t.skipped.is_empty());
}

// ---------------------------------------------------------------------------------------------
// RSA. Every key in these files is 2048 bits or more, so nothing is skipped for the loader's
// 2048-bit floor; a file with smaller keys would show their valid vectors as refused keys and
// fail, and would need a skip here naming that policy. The groups with e = 3 load (the loader
// takes any odd exponent from 3 to 2^33, as the `rsa` crate does).

#[test]
fn rsa_pkcs1_v1_5_2048_sha256() {
    let t = run_file(
        "rsa_signature_2048_sha256_test.json",
        Algorithm::Rs256,
        KeyKind::Rsa,
        as_written,
        250,
    );
    assert!(t.skipped.is_empty());
}

#[test]
fn rsa_pkcs1_v1_5_2048_sha384() {
    run_file(
        "rsa_signature_2048_sha384_test.json",
        Algorithm::Rs384,
        KeyKind::Rsa,
        as_written,
        250,
    );
}

#[test]
fn rsa_pkcs1_v1_5_2048_sha512() {
    run_file(
        "rsa_signature_2048_sha512_test.json",
        Algorithm::Rs512,
        KeyKind::Rsa,
        as_written,
        250,
    );
}

/// RFC 7518 §3.5 fixes PSS parameters per algorithm: MGF1 with the same hash, salt as long as
/// the hash. A file whose group says otherwise is not a JWS vector set.
fn assert_pss_params(file: &str, sha: &str, salt: u64) {
    for group in vectors(file)["testGroups"].as_array().unwrap() {
        assert_eq!(
            (
                str_of(group, "sha"),
                str_of(group, "mgf"),
                str_of(group, "mgfSha"),
                group["sLen"].as_u64()
            ),
            (sha, "MGF1", sha, Some(salt)),
            "{file}"
        );
    }
}

#[test]
fn rsa_pss_2048_sha256_mgf1_32() {
    let file = "rsa_pss_2048_sha256_mgf1_32_test.json";
    assert_pss_params(file, "SHA-256", 32);
    run_file(file, Algorithm::Ps256, KeyKind::Rsa, as_written, 100);
}

#[test]
fn rsa_pss_2048_sha384_mgf1_48() {
    let file = "rsa_pss_2048_sha384_mgf1_48_test.json";
    assert_pss_params(file, "SHA-384", 48);
    run_file(file, Algorithm::Ps384, KeyKind::Rsa, as_written, 135);
}

/// Upstream has no 2048-bit SHA-512 / 64-byte-salt file; the 4096-bit one is the PS512 set.
#[test]
fn rsa_pss_4096_sha512_mgf1_64() {
    let file = "rsa_pss_4096_sha512_mgf1_64_test.json";
    assert_pss_params(file, "SHA-512", 64);
    run_file(file, Algorithm::Ps512, KeyKind::Rsa, as_written, 170);
}

// ---------------------------------------------------------------------------------------------
// ML-DSA (FIPS 204). JOSE signs with the empty context (draft-ietf-cose-dilithium) and the
// verifier has no context parameter, so a vector with a non-empty `ctx` must NOT verify here,
// valid or not: the context separates domains, and a signature made for another one is not a
// signature for JOSE. Keys of the wrong length are refused by the loader, which is how their
// (invalid) vectors are counted.

fn reject_non_empty_context(_group: &Value, test: &Value) -> Plan {
    match test.get("ctx").and_then(Value::as_str) {
        Some(ctx) if !ctx.is_empty() => {
            Plan::Reject("signed with a non-empty context; JOSE verifies with the empty one")
        }
        _ => Plan::AsWritten,
    }
}

#[test]
fn mldsa_44_verify() {
    let t = run_file(
        "mldsa_44_verify_test.json",
        Algorithm::MlDsa44,
        KeyKind::Akp,
        reject_non_empty_context,
        165,
    );
    assert!(
        t.invalid_key_refused > 0,
        "the wrong-length keys are refused"
    );
    assert!(t.rejected_by_plan.len() >= 7, "{:?}", t.rejected_by_plan);
    assert!(t.skipped.is_empty());
}

#[test]
fn mldsa_65_verify() {
    let t = run_file(
        "mldsa_65_verify_test.json",
        Algorithm::MlDsa65,
        KeyKind::Akp,
        reject_non_empty_context,
        195,
    );
    assert!(
        t.invalid_key_refused > 0,
        "the wrong-length keys are refused"
    );
    assert!(t.rejected_by_plan.len() >= 7, "{:?}", t.rejected_by_plan);
    assert!(t.skipped.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The loader itself, on Wycheproof's keys.

#[test]
fn wycheproof_keys_load_only_for_their_own_algorithm() {
    // A P-256 key published with alg ES384 (or any other) does not fit its type: skipped.
    let doc = vectors("ecdsa_secp256r1_sha256_p1363_test.json");
    let group = &doc["testGroups"][0];
    for alg in Algorithm::ALL {
        let jwk = jwk_for(KeyKind::Ec("P-256", 32), group, alg);
        assert_eq!(load(&jwk).is_ok(), alg == Algorithm::Es256, "{alg}");
    }
    // An RSA key published for RS256 is never used for PS256, even though the type fits.
    let doc = vectors("rsa_pss_2048_sha256_mgf1_32_test.json");
    let group = &doc["testGroups"][0];
    let jwk = jwk_for(KeyKind::Rsa, group, Algorithm::Rs256);
    let set = Jwks::parse(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap();
    let test = &group["tests"][0];
    assert_eq!(str_of(test, "result"), "valid");
    let (msg, sig) = (unhex(str_of(test, "msg")), unhex(str_of(test, "sig")));
    assert!(set.keys[0].key.verify(Algorithm::Ps256, &msg, &sig));
    assert_eq!(
        set.candidates(Some("wycheproof"), Algorithm::Ps256).count(),
        0
    );
    assert_eq!(
        set.candidates(Some("wycheproof"), Algorithm::Rs256).count(),
        1
    );
}
