// Browser benchmark of the verifier's JS package against jose, in real headless Chromium.
//
//   cd browser && VERIFIER_JS_DIR=../target/js/verifier node bench/verify-bench.mjs
//
// `verify` calls per second for ES256 and EdDSA with our package (wasm) and with jose's jwtVerify
// (WebCrypto), on the same tokens at the same fixed `now` (the core's shared vectors), plus the
// package's size. Figures from a shared, noisy machine: the ratios, measured side by side in one
// run, are what to trust (see ../shared/MEASUREMENTS.md), so every variant runs in each of ROUNDS
// rounds, the order reversed every other round, and the median of the rounds is reported.
//
// Exits non-zero if any call fails its check (a refused token, a wrong answer, a throw) or if ours
// takes more than 5 ms per verify at p99: the admin UI's Verify & explain page must stay instant.
//
// Environment:
//   VERIFIER_JS_DIR  the built package (default ../target/js/verifier, relative to browser/)
//   CHROMIUM_BIN     default /usr/bin/chromium
//   DURATION_MS      per variant and round (default 2000)
//   WARMUP_MS        per variant, once before the rounds (default 1000): wasm and JS tier up
//   ROUNDS           default 3
// Results also go to <repo>/target/bench/browser-verify.json.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const PKG = path.resolve(process.env.VERIFIER_JS_DIR || path.join(REPO, 'target/js/verifier'));
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const DURATION_MS = positive('DURATION_MS', 2000);
const WARMUP_MS = positive('WARMUP_MS', 1000);
const ROUNDS = positive('ROUNDS', 3);
const VECTORS = path.join(REPO, 'verifier-wasm/core/tests/vectors/tokens.json');
const OUT = path.join(REPO, 'target/bench/browser-verify.json');
const LIMIT_US = 5000; // "the page must stay instant": < 5 ms per verify

function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, not ${raw}`);
  return n;
}

// ---- inputs -------------------------------------------------------------------------------------

for (const f of ['verifier.js', 'verifier_bg.wasm']) {
  if (!fs.existsSync(path.join(PKG, f))) {
    console.error(`no ${f} in ${PKG}: run \`make build-js\` (or set VERIFIER_JS_DIR)`);
    process.exit(2);
  }
}

// The same tokens, JWKS and options as the core's and the package's tests, at their fixed `now`.
const vectors = JSON.parse(fs.readFileSync(VECTORS, 'utf8'));
const cases = new Map(vectors.verify.cases.map((c) => [c.name, c]));
const pick = (name) => {
  const c = cases.get(name);
  if (!c) throw new Error(`${VECTORS} has no case "${name}"`);
  return c;
};
const es256 = pick('es256 valid');
const eddsa = pick('eddsa valid');
for (const c of [pick('signature byte flipped'), pick('unknown kid'), eddsa]) {
  if (c.jwks !== es256.jwks) throw new Error(`case "${c.name}" uses another JWKS than "es256 valid"`);
}
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
const data = {
  now: vectors.now,
  options: vectors.verify.options,
  jwksText: es256.jwks,
  tokens: {
    ES256: es256.token,
    EdDSA: eddsa.token,
    ES256_badsig: pick('signature byte flipped').token,
    kid_unknown: pick('unknown kid').token,
    sub: claimsOf(es256.token).sub,
  },
};

// ---- a static server: an allowlist of files, nothing else -------------------------------------

// jose's browser build is its unbundled `dist/webapi` ES modules; every file of it is listed
// up front. Request paths are only ever looked up in this map, never joined to a directory, so
// there is no path to traverse.
const joseIndex = fileURLToPath(import.meta.resolve('jose'));
const joseDir = path.dirname(joseIndex);
if (!joseIndex.endsWith(path.join('dist', 'webapi', 'index.js'))) {
  throw new Error(`jose resolved to ${joseIndex}, not its webapi (browser) build`);
}
const routes = new Map([
  ['/', path.join(HERE, 'page.html')],
  ['/page.mjs', path.join(HERE, 'page.mjs')],
  ['/pkg/verifier.js', path.join(PKG, 'verifier.js')],
  ['/pkg/verifier_bg.wasm', path.join(PKG, 'verifier_bg.wasm')],
]);
for (const file of fs.readdirSync(joseDir, { recursive: true })) {
  const abs = path.join(joseDir, file);
  if (file.endsWith('.js') && fs.statSync(abs).isFile()) {
    routes.set(`/jose/${file.split(path.sep).join('/')}`, abs);
  }
}
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
const served = new Set();
const refused = []; // requests outside the allowlist: the page must not need any

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://localhost');
  const file = routes.get(pathname);
  if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
    refused.push(`${req.method} ${pathname}`);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  served.add(pathname);
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)],
    'cache-control': 'no-store',
    // Cross-origin isolation: Chromium then gives performance.now() 5 µs resolution instead of
    // 100 µs, which per-call percentiles need. Everything is same-origin, so nothing else changes.
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
  });
  if (req.method === 'HEAD') res.end();
  else fs.createReadStream(file).pipe(res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

// ---- the run ------------------------------------------------------------------------------------

const loadBefore = os.loadavg()[0];
const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox'] });
let exitCode = 0;
try {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.bench, null, { timeout: 30_000 }).catch((e) => {
    throw new Error(`the page did not load: ${pageErrors.join('; ') || e.message}`);
  });
  const { info, variants } = await page.evaluate((d) => window.bench.setup(d), data);
  const names = variants.map((v) => v.name);
  const total = (names.length * (WARMUP_MS + ROUNDS * DURATION_MS)) / 1000;
  console.log(`${browser.version()} headless, ${names.length} variants: ${WARMUP_MS} ms warm-up, then ` +
    `${ROUNDS} rounds x ${DURATION_MS} ms each (~${Math.round(total)} s)`);

  for (const name of names) await page.evaluate(([n, ms]) => window.bench.run(n, ms), [name, WARMUP_MS]);

  const rounds = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // A B C ... then ... C B A: drift within a round (thermal, a neighbour's load) hits every
    // variant alike over the run.
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const got = await page.evaluate(([n, ms]) => window.bench.run(n, ms), [name, DURATION_MS]);
      rounds[name].push({ ...got, rate: (got.calls * 1000) / got.ms });
    }
    process.stdout.write(`round ${r + 1}/${ROUNDS} done\n`);
  }
  if (pageErrors.length || refused.length) {
    throw new Error(`errors in the page: ${[...pageErrors, ...refused.map((r) => `refused ${r}`)].join('; ')}`);
  }

  const summary = summarise(variants, rounds);
  const sizes = packageSizes();
  const failures = report(info, summary, sizes);
  const result = {
    date: new Date().toISOString(),
    command: commandLine(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadavg1: { before: loadBefore, after: os.loadavg()[0] } },
    browser: browser.version(),
    node: process.version,
    config: { durationMs: DURATION_MS, warmupMs: WARMUP_MS, rounds: ROUNDS, limitUs: LIMIT_US, now: data.now },
    page: roundNumbers(info),
    variants: summary.variants,
    ratios: summary.ratios,
    sizes,
    failures,
  };
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nresults: ${path.relative(process.cwd(), OUT)}`);
  if (failures.length) {
    console.error(`\nFAIL: ${failures.join('; ')}`);
    exitCode = 1;
  }
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(exitCode);

// ---- summary and report -------------------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarise(variants, rounds) {
  const out = {};
  for (const { name, kind, describe } of variants) {
    const rs = rounds[name];
    const v = { kind, describe, callsPerSec: median(rs.map((r) => r.rate)) };
    v.usPerCall = 1e6 / v.callsPerSec;
    if (kind !== 'floor') {
      v.p50Us = median(rs.map((r) => r.p50Us));
      v.p99Us = median(rs.map((r) => r.p99Us));
      v.worstP99Us = Math.max(...rs.map((r) => r.p99Us));
      v.maxUs = Math.max(...rs.map((r) => r.maxUs));
    }
    v.rounds = rs.map((r) => ({ calls: r.calls, ms: r.ms, callsPerSec: r.rate, p50Us: r.p50Us, p99Us: r.p99Us }));
    out[name] = roundNumbers(v);
  }
  const ratios = {};
  for (const alg of ['ES256', 'EdDSA']) {
    for (const other of ['jose(jwks)', 'jose(key)']) {
      const a = out[`ours ${alg}`];
      const b = out[`${other} ${alg}`];
      ratios[`${alg}: ours / ${other}`] = {
        ratio: a.callsPerSec / b.callsPerSec,
        // The same ratio within each round: how much of it is noise.
        perRound: a.rounds.map((r, i) => r.callsPerSec / b.rounds[i].callsPerSec),
      };
    }
  }
  return { variants: out, ratios };
}

/** Timer readings like 4084.999999962747 to one decimal (small ones to 4 digits), for a readable JSON file. */
function roundNumbers(value) {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    return Math.abs(value) < 10 ? +value.toPrecision(4) : Math.round(value * 10) / 10;
  }
  if (Array.isArray(value)) return value.map(roundNumbers);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundNumbers(v)]));
  return value;
}

function packageSizes() {
  const size = (file) => {
    const bytes = fs.readFileSync(file);
    return {
      raw: bytes.length,
      gzip9: zlib.gzipSync(bytes, { level: 9 }).length,
      brotli11: zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  };
  // For scale: jose's modules the page actually loaded, unbundled and unminified as npm ships them.
  const joseFiles = [...served].filter((p) => p.startsWith('/jose/')).map((p) => routes.get(p));
  const jose = { files: joseFiles.length, raw: 0, gzip9: 0 };
  for (const f of joseFiles) {
    const s = size(f);
    jose.raw += s.raw;
    jose.gzip9 += s.gzip9; // per file, as served without a bundler
  }
  return { wasm: size(path.join(PKG, 'verifier_bg.wasm')), glue: size(path.join(PKG, 'verifier.js')), joseLoaded: jose };
}

function report(info, { variants, ratios }, sizes) {
  const f0 = (x) => Math.round(x).toLocaleString('en-US');
  const f1 = (x) => x.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const w = Math.max(...Object.keys(variants).map((n) => n.length));
  const row = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(w) : c.padStart(i === 5 ? 24 : 10))).join('  ');

  console.log(`\npage: crossOriginIsolated=${info.crossOriginIsolated}, timer resolution ${f1(info.timerResolutionUs)} µs, ` +
    `wasm init ${f1(info.initMs)} ms, first calls: ` +
    Object.entries(info.firstCallUs).map(([k, v]) => `${k} ${f0(v)} µs`).join(', '));
  console.log(`\n${row(['variant', 'calls/s', 'µs/call', 'p50 µs', 'p99 µs', 'calls/s per round'])}`);
  for (const [name, v] of Object.entries(variants)) {
    if (name === 'ours no-crypto (kid_unknown)') console.log('-- diagnostics');
    console.log(row([
      name,
      f0(v.callsPerSec),
      v.usPerCall < 10 ? v.usPerCall.toFixed(3) : f1(v.usPerCall),
      v.p50Us === undefined ? '-' : f0(v.p50Us),
      v.p99Us === undefined ? '-' : f0(v.p99Us),
      v.rounds.map((r) => f0(r.callsPerSec)).join(' / '),
    ]));
  }
  console.log('');
  for (const [k, { ratio, perRound }] of Object.entries(ratios)) {
    // Two significant digits, so 0.024x does not print as 0.02x.
    const r2 = (x) => (x < 1 ? x.toPrecision(2) : x.toFixed(2));
    console.log(`${k.padEnd(26)} = ${r2(ratio)}x   (rounds: ${perRound.map(r2).join(', ')})`);
  }
  const parse = variants['ours no-crypto (kid_unknown)'].usPerCall;
  console.log(`\nours, per call: ${f0(parse)} µs without any signature check (token, JWKS, key decoding, options); ` +
    `the rest (building key tables, the signature check) ~${f0(variants['ours ES256'].usPerCall - parse)} µs ` +
    `for ES256 and ~${f0(variants['ours EdDSA'].usPerCall - parse)} µs for EdDSA`);
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const s = sizes;
  console.log(`\npackage: verifier_bg.wasm ${f0(s.wasm.raw)} B (${kb(s.wasm.raw)}), gzip -9 ${f0(s.wasm.gzip9)} B (${kb(s.wasm.gzip9)}), ` +
    `brotli ${f0(s.wasm.brotli11)} B; verifier.js ${f0(s.glue.raw)} B, gzip -9 ${f0(s.glue.gzip9)} B`);
  console.log(`         total gzip -9 ${f0(s.wasm.gzip9 + s.glue.gzip9)} B (${kb(s.wasm.gzip9 + s.glue.gzip9)})`);
  console.log(`jose, for scale: the ${s.joseLoaded.files} modules the page loaded, ${f0(s.joseLoaded.raw)} B raw, ` +
    `${f0(s.joseLoaded.gzip9)} B gzipped file by file (unbundled, unminified)`);

  const failures = [];
  for (const alg of ['ES256', 'EdDSA']) {
    const v = variants[`ours ${alg}`];
    // The median of the rounds' p99: one round hit by a neighbour's burst on this shared machine
    // does not fail the run, but is printed.
    if (v.p99Us > LIMIT_US) failures.push(`ours ${alg} p99 ${f0(v.p99Us)} µs > ${LIMIT_US} µs`);
    else if (v.worstP99Us > LIMIT_US) console.log(`note: ours ${alg}: one round's p99 was ${f0(v.worstP99Us)} µs`);
  }
  return failures;
}

function commandLine() {
  const env = ['VERIFIER_JS_DIR', 'CHROMIUM_BIN', 'DURATION_MS', 'WARMUP_MS', 'ROUNDS']
    .filter((k) => process.env[k])
    .map((k) => `${k}=${process.env[k]}`);
  return `cd ${path.relative(REPO, process.cwd()) || '.'} && ${[...env, 'node', path.relative(process.cwd(), fileURLToPath(import.meta.url))].join(' ')}`;
}
