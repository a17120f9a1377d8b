//! Mints everything `make bench` (envoy/bench.sh) needs, offline: one ES256 and one Ed25519 key
//! pair, generated fresh, and files of signed access tokens.
//!
//! It never talks to the issuer, and the private keys never leave the process: only the public
//! JWKS and the tokens are written. Both filters under test get the same JWKS, so the comparison
//! is over the same keys and the same tokens.
//!
//! ```text
//! bench-tokens <out-dir> <warm-count> <cold-count>
//! ```
//!
//! writes, in `<out-dir>`:
//!
//! | file | contents |
//! |---|---|
//! | `jwks.json` | `{"keys": [ES256 JWK, EdDSA JWK]}`, each with `kid` (RFC 7638 thumbprint), `alg`, `use` |
//! | `es256-warm.txt`, `eddsa-warm.txt` | `<warm-count>` tokens each, one per line |
//! | `es256-cold.txt`, `eddsa-cold.txt` | `<cold-count>` tokens each, all distinct |
//! | `es256-noscope.txt` | one valid ES256 token without `instruments:read` (for the 403 checks) |
//! | `delegated-warm.txt`, `delegated-cold.txt` | as the ES256 files, each token delegated two hops (below) |
//! | `issuer.txt` | the `iss` all tokens carry |
//!
//! Every token is an RFC 9068 access token like the issuer's: header `{alg, typ: "at+jwt", kid}`,
//! claims `iss`, `sub`, `aud: "quantjourney"`, `client_id`, `iat`, `exp` (one hour), a unique
//! `jti` and `scope`. A delegated token is what the issuer's token exchange mints for a sub-agent
//! acting for an agent acting for `svc.bench`: `client_id` the sub-agent, `sub_profile`, `act`
//! two deep and `ancestor_jtis` naming the two tokens it descends from.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;

use jwt_simple::prelude::*;
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://issuer.bench.invalid";
const AUDIENCE: &str = "quantjourney";
const SUBJECT: &str = "svc.bench";
const SCOPE: &str = "instruments:read";
/// Lacks `instruments:read`, and holds a scope it is a prefix of, to catch a sloppy matcher.
const OTHER_SCOPE: &str = "instruments:write instruments:reader";
const LIFETIME_SECONDS: u64 = 3600;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [dir, warm, cold] => warm
            .parse::<usize>()
            .ok()
            .zip(cold.parse::<usize>().ok())
            .map(|(warm, cold)| (PathBuf::from(dir), warm, cold)),
        _ => None,
    };
    let Some((dir, warm, cold)) = parsed else {
        eprintln!("usage: bench-tokens <out-dir> <warm-count> <cold-count>");
        return ExitCode::from(2);
    };
    match run(&dir, warm, cold) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-tokens: {err}");
            ExitCode::FAILURE
        }
    }
}

/// One signing key of either kind.
enum Key {
    Es256(ES256KeyPair),
    EdDsa(Ed25519KeyPair),
}

impl Key {
    fn public_jwk(&self) -> Result<Value, String> {
        let (jwk, kid) = match self {
            Self::Es256(k) => (k.public_key().to_jwk(), k.public_key().jwk_thumbprint()),
            Self::EdDsa(k) => (k.public_key().to_jwk(), k.public_key().jwk_thumbprint()),
        };
        let mut jwk: Value = serde_json::from_str(&jwk).map_err(|e| e.to_string())?;
        let alg = match self {
            Self::Es256(_) => "ES256",
            Self::EdDsa(_) => "EdDSA",
        };
        let obj = jwk.as_object_mut().ok_or("JWK export is not an object")?;
        obj.insert("kid".into(), kid.into());
        obj.insert("alg".into(), alg.into());
        obj.insert("use".into(), "sig".into());
        Ok(jwk)
    }

    /// The same key, naming `kid` in the headers of the tokens it signs.
    fn with_kid(self) -> Self {
        match self {
            Self::Es256(k) => {
                let kid = k.public_key().jwk_thumbprint();
                Self::Es256(k.with_key_id(&kid))
            }
            Self::EdDsa(k) => {
                let kid = k.public_key().jwk_thumbprint();
                Self::EdDsa(k.with_key_id(&kid))
            }
        }
    }

    fn sign(&self, jti: &str, scope: &str, delegated: bool) -> Result<String, String> {
        let mut custom = Map::new();
        custom.insert("client_id".into(), SUBJECT.into());
        custom.insert("scope".into(), scope.into());
        if delegated {
            custom.insert("client_id".into(), "agent.bench.sub".into());
            custom.insert("sub_profile".into(), "service".into());
            custom.insert(
                "act".into(),
                json!({"sub": "agent.bench.sub", "sub_profile": "ai_agent",
                       "act": {"sub": "agent.bench", "sub_profile": "ai_agent"}}),
            );
            custom.insert(
                "ancestor_jtis".into(),
                json!([format!("{jti}-parent"), format!("{jti}-root")]),
            );
        }
        let claims = Claims::with_custom_claims(custom, Duration::from_secs(LIFETIME_SECONDS))
            .with_issuer(ISSUER)
            .with_audience(AUDIENCE)
            .with_subject(SUBJECT)
            .with_jwt_id(jti);
        let header = HeaderOptions {
            signature_type: Some("at+jwt".to_owned()),
            ..HeaderOptions::default()
        };
        match self {
            Self::Es256(k) => k.sign_with_options(claims, &header),
            Self::EdDsa(k) => k.sign_with_options(claims, &header),
        }
        .map_err(|e| e.to_string())
    }
}

fn run(dir: &Path, warm: usize, cold: usize) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let es256 = Key::Es256(ES256KeyPair::generate()).with_kid();
    let eddsa = Key::EdDsa(Ed25519KeyPair::generate()).with_kid();
    let jwks = json!({"keys": [es256.public_jwk()?, eddsa.public_jwk()?]});
    write(dir, "jwks.json", &jwks.to_string())?;
    write(dir, "issuer.txt", ISSUER)?;
    write(
        dir,
        "es256-warm.txt",
        &mint(&es256, "es256-warm", warm, SCOPE)?,
    )?;
    write(
        dir,
        "eddsa-warm.txt",
        &mint(&eddsa, "eddsa-warm", warm, SCOPE)?,
    )?;
    write(
        dir,
        "es256-noscope.txt",
        &mint(&es256, "es256-noscope", 1, OTHER_SCOPE)?,
    )?;
    write(
        dir,
        "es256-cold.txt",
        &mint(&es256, "es256-cold", cold, SCOPE)?,
    )?;
    write(
        dir,
        "eddsa-cold.txt",
        &mint(&eddsa, "eddsa-cold", cold, SCOPE)?,
    )?;
    write(
        dir,
        "delegated-warm.txt",
        &mint_as(&es256, "delegated-warm", warm, SCOPE, true)?,
    )?;
    write(
        dir,
        "delegated-cold.txt",
        &mint_as(&es256, "delegated-cold", cold, SCOPE, true)?,
    )?;
    Ok(())
}

/// `count` tokens, one per line, each with its own `jti`; signed on every core.
fn mint(key: &Key, prefix: &str, count: usize, scope: &str) -> Result<String, String> {
    mint_as(key, prefix, count, scope, false)
}

/// [`mint`], delegated two hops when `delegated`.
fn mint_as(
    key: &Key,
    prefix: &str,
    count: usize,
    scope: &str,
    delegated: bool,
) -> Result<String, String> {
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(workers).max(1);
    let parts: Vec<Result<String, String>> = thread::scope(|s| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                s.spawn(move || {
                    let mut out = String::new();
                    for i in start..(start + chunk).min(count) {
                        let token = key.sign(&format!("{prefix}-{i}"), scope, delegated)?;
                        let _ = writeln!(out, "{token}");
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a minting thread panicked".into()))
            })
            .collect()
    });
    parts.into_iter().collect()
}

fn write(dir: &Path, name: &str, contents: &str) -> Result<(), String> {
    let path = dir.join(name);
    fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))
}
