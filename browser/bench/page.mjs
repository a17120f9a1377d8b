// The benchmark's page side: every timed loop runs here, inside Chromium, so no Playwright
// round trip is ever inside a measurement. The driver (verify-bench.mjs) calls
// `window.bench.setup(data)` once, then `window.bench.run(name, ms)` once per variant and round.
//
// Every call's result is checked (ours: `valid === true` and the expected alg; jose: it resolved
// with the expected header and subject), so nothing can be optimised away or fail silently: a
// failed check throws, the driver's `page.evaluate` rejects and the run exits non-zero.

import init, { verify } from '/pkg/verifier.js';
import { createLocalJWKSet, importJWK, jwtVerify } from '/jose/index.js';

// Latency samples of one run; 8 MiB, reused. Calls beyond it are still counted (calls/s) but not
// sampled (percentiles): far beyond what any measured variant reaches in a few seconds.
const samples = new Float64Array(1 << 20);

const variants = new Map();
const info = {};

/** One variant. `kind`: 'sync' (ours), 'async' (jose), or 'floor' (async, not sampled per call). */
function add(name, kind, call, check, describe) {
  variants.set(name, { kind, call, check, describe });
}

async function setup(data) {
  const { now, options, jwksText, tokens } = data;

  // Timer resolution: Chromium coarsens performance.now() to 100 µs unless the page is
  // cross-origin isolated (the server sends COOP/COEP), when it is 5 µs. Per-call percentiles of
  // ~100 µs calls need the latter.
  info.crossOriginIsolated = globalThis.crossOriginIsolated === true;
  info.timerResolutionUs = timerResolution() * 1000;
  info.userAgent = navigator.userAgent;

  // What a page pays once: fetch, compile and instantiate the wasm.
  let t = performance.now();
  await init({ module_or_path: '/pkg/verifier_bg.wasm' });
  info.initMs = performance.now() - t;

  // ---- ours: the package's API exactly as a page uses it. JWKS as the JSON text a page fetched,
  // options as an object; both are parsed on every call because that is what `verify` takes.
  const oursOptions = { ...options, now };
  const oursCall = (token) => () => verify(token, jwksText, oursOptions);
  const oursValid = (alg) => (r) => r.valid === true && r.alg === alg && r.claims.sub === tokens.sub;
  const oursRefused = (code) => (r) => r.valid === false && r.error.code === code;

  // First calls, before any warm-up: what the first click on "Verify" costs. The very first ES256
  // call also builds the generator's table (once per instance).
  info.firstCallUs = {};
  for (const alg of ['ES256', 'EdDSA', 'ES256']) {
    const key = info.firstCallUs[alg] === undefined ? alg : `${alg} (again)`;
    t = performance.now();
    const r = oursCall(tokens[alg])();
    info.firstCallUs[key] = (performance.now() - t) * 1000;
    if (!oursValid(alg)(r)) throw new Error(`ours refused the ${alg} token: ${JSON.stringify(r)}`);
  }

  // ---- jose: jwtVerify with the same checks where jose has them. iss, aud, alg allow-list, typ,
  // the same 60 s clock tolerance and the claims ours requires. jose has no "lifetime <= 24 h" rule,
  // and does not parse anything but the token per call (its key set is built once, below).
  const joseOptions = {
    issuer: options.issuer,
    audience: options.audiences,
    algorithms: options.algorithms,
    typ: 'at+jwt',
    clockTolerance: 60,
    requiredClaims: ['iss', 'sub', 'aud', 'client_id', 'iat', 'exp', 'jti', 'scope'],
    currentDate: new Date(now * 1000),
  };
  const jwks = JSON.parse(jwksText);
  // (a) createLocalJWKSet once; it imports each JWK on first use and caches the CryptoKey, so after
  //     warm-up a call is: parse token, find the key by kid/alg, WebCrypto verify, check claims.
  const keySet = createLocalJWKSet(jwks);
  // (b) a CryptoKey imported once: no key selection at all, the least jose can do.
  const cryptoKey = {};
  for (const alg of ['ES256', 'EdDSA']) {
    cryptoKey[alg] = await importJWK(jwks.keys.find((k) => k.alg === alg));
  }
  const joseValid = (alg) => (r) => r.protectedHeader.alg === alg && r.payload.sub === tokens.sub;

  // jose must be verifying for real: the byte-flipped signature ours refuses, jose must refuse too.
  let joseRefusedBad = false;
  try {
    await jwtVerify(tokens.ES256_badsig, keySet, joseOptions);
  } catch (e) {
    joseRefusedBad = e.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED';
  }
  if (!joseRefusedBad) throw new Error('jose accepted (or refused oddly) a byte-flipped signature');

  for (const alg of ['ES256', 'EdDSA']) {
    add(`ours ${alg}`, 'sync', oursCall(tokens[alg]), oursValid(alg),
      'verify(token, jwksText, options): parses token, JWKS (and builds the key) and options every call');
    add(`jose(jwks) ${alg}`, 'async', () => jwtVerify(tokens[alg], keySet, joseOptions), joseValid(alg),
      'await jwtVerify(token, createLocalJWKSet(jwks) made once, warm CryptoKey cache, options)');
    add(`jose(key) ${alg}`, 'async', () => jwtVerify(tokens[alg], cryptoKey[alg], joseOptions), joseValid(alg),
      'await jwtVerify(token, CryptoKey imported once, options)');
  }

  // ---- diagnostics: where ours spends its time.
  // kid_unknown: everything but the signature (token, JWKS with key decoding, options, config).
  add('ours no-crypto (kid_unknown)', 'sync', oursCall(tokens.kid_unknown), oursRefused('kid_unknown'),
    'a token whose kid is not in the JWKS: all the parsing, no signature check');
  // A flipped signature byte still runs the whole ECDSA verification: same cost as a good one.
  add('ours ES256 bad signature', 'sync', oursCall(tokens.ES256_badsig), oursRefused('signature_invalid'),
    'byte-flipped ES256 signature: full parse and verification, refused at the end');
  // Floors of jose's sequential await: a bare microtask, and a WebCrypto round trip that does
  // next to no work (the browser process hop every subtle.* call makes).
  const oneByte = new Uint8Array(1);
  add('floor: await (microtask)', 'floor', async () => undefined, () => true,
    'await of an async no-op: the promise overhead alone');
  add('floor: await subtle.digest(1 B)', 'floor', () => crypto.subtle.digest('SHA-256', oneByte),
    (r) => r.byteLength === 32, 'a WebCrypto call doing nothing: the async hop jose pays per verify');

  // Every variant once, so a broken one fails here and not mid-run.
  for (const [name, v] of variants) {
    const r = v.kind === 'sync' ? v.call() : await v.call();
    if (!v.check(r)) throw new Error(`${name}: check failed on the first call: ${safe(r)}`);
  }
  return { info, variants: [...variants].map(([name, v]) => ({ name, kind: v.kind, describe: v.describe })) };
}

/** Runs `name` for `ms` milliseconds; returns calls, elapsed ms and per-call latency percentiles. */
async function run(name, ms) {
  const v = variants.get(name);
  if (!v) throw new Error(`no variant ${name}`);
  const { call, check } = v;
  let n = 0;
  const start = performance.now();
  const end = start + ms;
  let t1 = start;
  if (v.kind === 'sync') {
    while (t1 < end) {
      const t0 = performance.now();
      const r = call();
      t1 = performance.now();
      if (n < samples.length) samples[n] = t1 - t0;
      n++;
      if (!check(r)) throw new Error(`${name}: check failed at call ${n}: ${safe(r)}`);
    }
  } else if (v.kind === 'async') {
    // Sequential: each verify awaited before the next starts, as a page handling one token does.
    while (t1 < end) {
      const t0 = performance.now();
      const r = await call();
      t1 = performance.now();
      if (n < samples.length) samples[n] = t1 - t0;
      n++;
      if (!check(r)) throw new Error(`${name}: check failed at call ${n}: ${safe(r)}`);
    }
  } else {
    // Floors are far below the timer's resolution: count calls, read the clock every 256.
    while (t1 < end) {
      for (let i = 0; i < 256; i++) {
        const r = await call();
        if (!check(r)) throw new Error(`${name}: check failed`);
      }
      n += 256;
      t1 = performance.now();
    }
    return { calls: n, ms: t1 - start };
  }
  const sampled = samples.subarray(0, Math.min(n, samples.length)).slice().sort();
  const q = (p) => sampled[Math.max(0, Math.ceil(p * sampled.length) - 1)] * 1000;
  return { calls: n, ms: t1 - start, p50Us: q(0.5), p99Us: q(0.99), maxUs: q(1), sampled: sampled.length };
}

/** The smallest step performance.now() takes, in ms. */
function timerResolution() {
  let min = Infinity;
  for (let i = 0; i < 50; i++) {
    const a = performance.now();
    let b = a;
    while (b === a) b = performance.now();
    min = Math.min(min, b - a);
  }
  return min;
}

function safe(r) {
  try {
    return JSON.stringify(r)?.slice(0, 300);
  } catch {
    return String(r);
  }
}

window.bench = { setup, run };
