// The admin UI in real headless Chromium against a real issuer.
//
// Starts `issuer serve` on free loopback ports with a fresh SQLite database, a gateway
// configuration and the verifier's JS package, signs in with the admin credential the first start
// prints, and walks the whole path an operator takes: register a client (its secret shown once),
// mint a token, Verify & explain it (valid, ALLOW, rule #0), tamper with it (signature_invalid,
// DENY 401), revoke it (token_revoked), read the audit trail (newest first, chain intact). Along the
// way it checks that no token, secret or credential ever appears in a URL or in web storage, that
// the session cookie is invisible to scripts (and sent to /admin only), and that every state
// change carried the CSRF token. Other tests: another site's page can neither lock the operator
// out nor sign in; with several providers, only this issuer's get the live keys and feed.
//
// Screenshots of every page go to <repo>/target/ui-screenshots/.
//
// Environment: ISSUER_BIN (default target/debug/issuer), VERIFIER_JS_DIR (default
// target/js/verifier), CHROMIUM_BIN (default /usr/bin/chromium), KEEP_TMP=1 keeps the temporary
// directory (database, gateway configuration, issuer log).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fromRepo = (p) => (path.isAbsolute(p) ? p : path.join(REPO, p));
const ISSUER_BIN = fromRepo(process.env.ISSUER_BIN || 'target/debug/issuer');
const VERIFIER_JS_DIR = fromRepo(process.env.VERIFIER_JS_DIR || 'target/js/verifier');
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SHOTS = path.join(REPO, 'target', 'ui-screenshots');

const CLIENT_ID = 'svc.test';
// The issuer of a second provider in the several-providers configuration: not this issuer.
const PARTNER_ISSUER = 'https://partner.example';
const CLIENT_SCOPE = 'instruments:read instruments:write';
const BULK_PATH = '/api/v1/entities/register-bulk';

let tmp;
let browser;
const issuers = [];

// The issuer and page of the main walk-through.
let main;
let page;
let context;
const requests = []; // {url, method, headers, postData}
const consoleProblems = [];

// ---- set-up -------------------------------------------------------------------------------------

function requireFile(file, what, hint) {
  if (!fs.existsSync(file)) {
    throw new Error(`${what} is missing: ${file} does not exist. ${hint}`);
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what, fn, { timeoutMs = 30_000, intervalMs = 100, issuer } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (issuer && issuer.proc.exitCode !== null) {
      throw new Error(`the issuer exited (code ${issuer.proc.exitCode}) while waiting for ${what}.\n--- issuer output ---\n${issuer.log}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}.\n--- issuer output ---\n${issuer?.log ?? ''}`);
}

function gatewayConfig(issuerUrl) {
  return {
    providers: {
      local: {
        issuer: issuerUrl,
        audiences: ['quantjourney'],
        algorithms: ['ES256'],
        remote_jwks: { cluster: 'issuer', path: '/.well-known/jwks.json' },
        revocations: { cluster: 'issuer', path: '/oauth/revocations' },
      },
    },
    rules: [
      { match: { prefix: BULK_PATH, methods: ['POST'] }, requires: { provider: 'local', scopes: ['instruments:write'] } },
      { match: { prefix: '/' }, requires: { provider: 'local' } },
    ],
  };
}

/**
 * Two providers: this issuer's (`local`) and another issuer's (`partner`), both with remote keys
 * and a revocation feed; an exact-path public rule, a rule for each provider.
 */
function severalProvidersConfig(issuerUrl) {
  const provider = (issuer, cluster) => ({
    issuer,
    audiences: ['quantjourney'],
    algorithms: ['ES256'],
    remote_jwks: { cluster, path: '/.well-known/jwks.json' },
    revocations: { cluster, path: '/oauth/revocations' },
  });
  return {
    providers: { local: provider(issuerUrl, 'issuer'), partner: provider(PARTNER_ISSUER, 'partner') },
    rules: [
      { match: { path: '/health', methods: ['GET'] }, public: true },
      { match: { prefix: '/partner/' }, requires: { provider: 'partner' } },
      { match: { prefix: '/' }, requires: { provider: 'local' } },
    ],
  };
}

/**
 * Starts `issuer serve` on free ports with its own database under `tmp/<name>`; resolves once
 * `/ready` answers, with {admin, issuerUrl, credential, proc, log}. `gateway`: false for none,
 * true for `gatewayConfig`, or a function of the issuer URL giving the configuration.
 */
async function startIssuer(name, { gateway = true } = {}) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const [publicPort, adminPort] = [await freePort(), await freePort()];
  const issuer = {
    name,
    issuerUrl: `http://127.0.0.1:${publicPort}`,
    admin: `http://127.0.0.1:${adminPort}`,
    credential: null,
    proc: null,
    log: '',
  };
  const args = [
    'serve',
    '--database-url', `sqlite://${path.join(dir, 'issuer.db')}`,
    '--public-addr', `127.0.0.1:${publicPort}`,
    '--admin-addr', `127.0.0.1:${adminPort}`,
    '--issuer-url', issuer.issuerUrl,
    '--verifier-js-dir', VERIFIER_JS_DIR,
  ];
  if (gateway) {
    const gatewayFile = path.join(dir, 'gateway.json');
    const configure = typeof gateway === 'function' ? gateway : gatewayConfig;
    fs.writeFileSync(gatewayFile, JSON.stringify(configure(issuer.issuerUrl), null, 2));
    args.push('--gateway-config', gatewayFile);
  }
  issuer.proc = spawn(ISSUER_BIN, args, {
    cwd: dir,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  issuers.push(issuer);
  const logFile = fs.createWriteStream(path.join(dir, 'issuer.log'));
  const onLine = (stream) => (line) => {
    // The credential is printed once, on stdout ({"event":"admin_credential","id","token"});
    // it is kept out of every log this test writes or prints.
    let parsed = null;
    if (line.startsWith('{')) {
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = null;
      }
    }
    if (parsed && parsed.event === 'admin_credential') {
      issuer.credential = parsed.token;
      line = '{"event":"admin_credential", … (redacted)}';
    }
    logFile.write(`${stream}: ${line}\n`);
    issuer.log += `${stream}: ${line}\n`;
    if (issuer.log.length > 200_000) issuer.log = issuer.log.slice(-100_000);
  };
  readline.createInterface({ input: issuer.proc.stdout }).on('line', onLine('stdout'));
  readline.createInterface({ input: issuer.proc.stderr }).on('line', onLine('stderr'));
  issuer.proc.on('error', (err) => {
    issuer.log += `spawn error: ${err.message}\n`;
  });
  await waitFor('the admin credential line ({"event":"admin_credential",…}) on stdout', () => issuer.credential, { issuer });
  assert.equal(typeof issuer.credential, 'string', 'the admin_credential line has a string "token"');
  await waitFor(`GET ${issuer.admin}/ready`, async () => (await fetch(`${issuer.admin}/ready`)).ok, { issuer });
  return issuer;
}

async function stopIssuer(issuer) {
  if (issuer.proc.exitCode !== null || issuer.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => issuer.proc.once('exit', resolve));
  issuer.proc.kill('SIGTERM');
  const timer = setTimeout(() => issuer.proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A fresh browser context and page on `issuer`'s admin origin, recording what the page does. */
async function openPage(issuer, { record } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'UTC' });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: issuer.admin });
  const p = await ctx.newPage();
  p.setDefaultTimeout(15_000);
  if (record) {
    p.on('request', (request) => {
      record.requests.push({ url: request.url(), method: request.method(), headers: request.headers(), postData: request.postData() });
    });
    p.on('pageerror', (err) => record.problems.push(`page error: ${err.message}`));
    p.on('console', (message) => {
      const text = message.text();
      // Failed API calls the UI handles (401 before sign-in, 409 …) are logged by Chromium as
      // "Failed to load resource"; anything else at error level, and any CSP report, is a bug.
      if (/Content Security Policy|Refused to/i.test(text)) record.problems.push(`CSP: ${text}`);
      else if (message.type() === 'error' && !/Failed to load resource/.test(text)) record.problems.push(`console error: ${text}`);
    });
  }
  return { ctx, page: p };
}

/** Calls the admin API with the bearer credential (the way scripts use it; no UI involved). */
async function adminApi(issuer, method, route, body) {
  const response = await fetch(`${issuer.admin}${route}`, {
    method,
    headers: { Authorization: `Bearer ${issuer.credential}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  assert.ok(response.ok, `${method} ${route}: ${response.status} ${JSON.stringify(data)}`);
  return data;
}

before(async () => {
  requireFile(ISSUER_BIN, 'The issuer binary', 'Build it with `cargo build -p issuer` or set ISSUER_BIN.');
  requireFile(
    path.join(VERIFIER_JS_DIR, 'verifier.js'),
    'The verifier JS package',
    'Build it (make build produces target/js/verifier with wasm-bindgen) or set VERIFIER_JS_DIR.',
  );
  requireFile(path.join(VERIFIER_JS_DIR, 'verifier_bg.wasm'), 'The verifier JS package', 'verifier_bg.wasm must sit next to verifier.js.');
  requireFile(CHROMIUM_BIN, 'Chromium', 'Install Debian’s chromium (apt-get install chromium) or set CHROMIUM_BIN.');
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'issuer-ui-test-'));
  browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close().catch(() => {});
  await Promise.all(issuers.map(stopIssuer));
  if (tmp && !process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`kept ${tmp}`);
});

// ---- helpers ------------------------------------------------------------------------------------

const byTestId = (id) => page.getByTestId(id);

async function shot(name) {
  await page.evaluate(() => document.activeElement?.blur?.());
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Runs one step; on failure saves a screenshot and adds the issuer's output to the error. */
async function step(t, name, fn, issuer = main) {
  await t.test(name, async () => {
    try {
      await fn();
    } catch (err) {
      const file = `failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
      await shot(file).catch(() => {});
      err.message += `\n(screenshot: target/ui-screenshots/${file}.png)\n--- issuer output (tail) ---\n${issuer?.log.slice(-4000) ?? ''}`;
      throw err;
    }
  });
}

async function go(route) {
  await byTestId(`nav-${route}`).click();
  await byTestId(`page-${route}`).waitFor();
}

/** Presses Explain and waits for that run's results. */
async function explain() {
  const results = byTestId('verify-results');
  const before = await results.getAttribute('data-run');
  await byTestId('verify-submit').click();
  await page.waitForFunction(
    (prev) => {
      const el = document.querySelector('[data-testid="verify-results"]');
      return el && el.dataset.state === 'done' && el.dataset.run !== prev;
    },
    before,
  );
}

async function text(id) {
  return (await byTestId(id).innerText()).trim();
}

async function steps() {
  return page.locator('[data-testid="step"]').evaluateAll((items) => items.map((li) => ({ name: li.dataset.name, outcome: li.dataset.outcome })));
}

/** The token with one character in the middle of its signature changed (a different byte). */
function tamper(token) {
  const [h, c, s] = token.split('.');
  const i = Math.floor(s.length / 2);
  const replacement = s[i] === 'A' ? 'B' : 'A';
  return `${h}.${c}.${s.slice(0, i)}${replacement}${s.slice(i + 1)}`;
}

// ---- the walk-through ---------------------------------------------------------------------------

test('admin UI: sign in, client, token, verify & explain, tamper, revoke, audit', { timeout: 180_000 }, async (t) => {
  let secret;
  let token;
  let tampered;
  main = await startIssuer('main');
  ({ ctx: context, page } = await openPage(main, { record: { requests, problems: consoleProblems } }));
  const { admin, credential } = main;

  await step(t, 'sign-in page, a wrong credential is refused next to the form', async () => {
    await page.goto(`${admin}/ui/`);
    await byTestId('signin-form').waitFor();
    await shot('signin');
    await byTestId('credential').fill('not-the-credential');
    await byTestId('signin-submit').click();
    await byTestId('signin-error').waitFor();
    assert.equal(await text('error-code'), 'invalid_token');
  });

  await step(t, 'sign in with the admin credential', async () => {
    await byTestId('credential').fill(credential);
    await byTestId('signin-submit').click();
    await byTestId('page-clients').waitFor();
    assert.match(await text('actor'), /^admin:/);
    assert.equal(await byTestId('credential').count(), 0, 'the credential field is gone');
    assert.equal(new URL(page.url()).hash, '#/clients');
  });

  await step(t, 'a reload keeps the session (GET /admin/session)', async () => {
    await page.reload();
    await byTestId('page-clients').waitFor();
    assert.match(await text('actor'), /^admin:/);
  });

  await step(t, 'register a client: the secret is shown once, with a working Copy button', async () => {
    await byTestId('client-id').fill(CLIENT_ID);
    await byTestId('client-scope').fill(CLIENT_SCOPE);
    await byTestId('client-create').click();
    await byTestId('secret-card').waitFor();
    secret = await byTestId('secret-value').inputValue();
    assert.ok(secret.length >= 32, `a long random secret (got ${secret.length} characters)`);
    assert.match(await text('secret-warning'), /not be shown again/);
    await byTestId('copy-secret').click();
    await byTestId('copied').waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, secret, 'Copy put the secret on the clipboard');
    const row = page.locator(`[data-testid="client-row"][data-client-id="${CLIENT_ID}"]`);
    await row.waitFor();
    assert.equal(await row.getByTestId('client-status').innerText(), 'active');
    await shot('clients');
  });

  await step(t, 'keys page lists a current ES256 key', async () => {
    await go('keys');
    await byTestId('keys-table').waitFor();
    const current = page.locator('[data-testid="key-row"][data-status="current"]');
    assert.equal(await current.count(), 1, 'exactly one current key');
    assert.match(await current.innerText(), /ES256/);
    assert.equal(await page.locator('[data-testid="key-row"][data-status="next"]').count(), 1, 'a published next key');
    await shot('keys');
  });

  await step(t, 'the secret is gone once the page is left', async () => {
    await go('clients');
    await byTestId('clients-table').waitFor();
    assert.equal(await byTestId('secret-card').count(), 0);
    const html = await page.content();
    assert.ok(!html.includes(secret), 'the secret is nowhere in the page any more');
  });

  await step(t, 'mint a test token for the client', async () => {
    await go('tokens');
    await page.locator(`[data-testid="mint-client"] option[value="${CLIENT_ID}"]`).waitFor({ state: 'attached' });
    await byTestId('mint-client').selectOption(CLIENT_ID);
    await byTestId('mint-submit').click();
    await byTestId('minted-token').waitFor();
    token = await byTestId('minted-token').inputValue();
    assert.equal(token.split('.').length, 3, 'a JWS compact token');
    tampered = tamper(token);
    assert.notEqual(tampered, token);
    await shot('tokens');
  });

  await step(t, 'Verify & explain: valid, ALLOW, rule #0 for POST register-bulk', async () => {
    await byTestId('explain-minted').click();
    await byTestId('page-verify').waitFor();
    assert.equal(await byTestId('verify-token').inputValue(), token, 'the token was handed over in memory');
    const status = await Promise.race([
      byTestId('verifier-ready').waitFor().then(() => 'ready'),
      byTestId('verifier-error').waitFor().then(() => 'error'),
    ]);
    if (status === 'error') assert.fail(`the verifier package did not load in the page: ${await text('verifier-error')}`);
    await byTestId('verify-method').selectOption('POST');
    await byTestId('verify-path').fill(BULK_PATH);
    await explain();
    assert.equal(await text('signature-verdict'), 'valid');
    assert.equal(await text('decision-badge'), 'ALLOW');
    assert.equal(await text('decision-status'), '200');
    assert.equal(await text('rule-index'), '#0');
    const claims = byTestId('decoded-claims');
    assert.match(await claims.locator('tr[data-key="sub"]').innerText(), new RegExp(CLIENT_ID.replace('.', '\\.')));
    assert.match(await claims.locator('tr[data-key="exp"]').innerText(), /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\s+in \d+ min/);
    const outcomes = await steps();
    assert.ok(outcomes.length > 0, 'steps are listed');
    assert.deepEqual(outcomes.filter((s) => s.outcome === 'fail'), [], 'no step failed');
    for (const name of ['rule', 'signature', 'scopes']) {
      assert.equal(outcomes.find((s) => s.name === name)?.outcome, 'pass', `step ${name} passed`);
    }
    const upstream = await text('upstream-headers');
    assert.match(upstream, /x-auth-subject\s+svc\.test/);
    assert.match(upstream, /x-auth-scope\s+instruments:read instruments:write/);
    await shot('verify-allow');
    await shot('verify-explain');
  });

  await step(t, 'a tampered signature: signature_invalid, DENY 401', async () => {
    await byTestId('verify-token').fill(tampered);
    await explain();
    assert.equal(await text('signature-code'), 'signature_invalid');
    assert.equal(await text('decision-badge'), 'DENY');
    assert.equal(await text('decision-status'), '401');
    assert.equal(await text('decision-code'), 'signature_invalid');
    assert.equal((await steps()).find((s) => s.name === 'signature')?.outcome, 'fail');
    assert.match(await text('www-authenticate'), /error="invalid_token"/);
    await shot('verify-tampered');
  });

  await step(t, 'revoke the original token on the Tokens page', async () => {
    await go('tokens');
    await byTestId('revoke-input').fill(token);
    await byTestId('revoke-submit').click();
    await byTestId('revoke-done').waitFor();
    const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti;
    await page.locator(`[data-testid="revoked-token-row"][data-jti="${jti}"]`).waitFor();
  });

  await step(t, 'explained again, the revoked token is refused: token_revoked', async () => {
    await go('verify');
    await byTestId('verify-token').fill(token);
    assert.equal(await byTestId('verify-method').inputValue(), 'POST', 'the request was remembered');
    await explain();
    assert.equal(await text('decision-badge'), 'DENY');
    assert.equal(await text('decision-status'), '401');
    assert.equal(await text('decision-code'), 'token_revoked');
    assert.equal((await steps()).find((s) => s.name === 'revocation')?.outcome, 'fail');
    // The signature itself is still good: revocation is the gateway's feed, not the JWKS.
    assert.equal(await text('signature-verdict'), 'valid');
    await shot('verify-revoked');
  });

  await step(t, 'the Tokens page with the revocation in force', async () => {
    await go('tokens');
    await byTestId('revoked-tokens-table').waitFor();
    await shot('tokens-revoked');
  });

  await step(t, 'audit trail: newest first, every action there, chain intact', async () => {
    await go('audit');
    await byTestId('chain-status').waitFor();
    assert.equal(await text('chain-status'), 'intact');
    await page.locator('[data-testid="audit-row"]').first().waitFor();
    const rows = await page
      .locator('[data-testid="audit-row"]')
      .evaluateAll((trs) => trs.map((tr) => ({ action: tr.dataset.action, seq: Number(tr.dataset.seq) })));
    const seqs = rows.map((r) => r.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
    const at = (action) => rows.findIndex((r) => r.action === action);
    for (const action of ['admin.token.revoked', 'admin.client.token_issued', 'admin.client.created', 'admin.session.created']) {
      assert.ok(at(action) >= 0, `${action} is in the trail (saw ${rows.map((r) => r.action).join(', ')})`);
    }
    assert.ok(at('admin.token.revoked') < at('admin.client.token_issued'), 'the revocation is newer than the issuance');
    assert.ok(at('admin.client.token_issued') < at('admin.client.created'), 'the issuance is newer than the registration');
    // Filtering by action prefix narrows the list.
    await byTestId('audit-action').fill('admin.client.');
    await byTestId('audit-apply').click();
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="audit-row"]')];
      return rows.length > 0 && rows.every((tr) => tr.dataset.action.startsWith('admin.client.'));
    });
    await byTestId('audit-reset').click();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="audit-row"]')].some((tr) => tr.dataset.action === 'admin.token.revoked'));
    await shot('audit');
  });

  await step(t, 'nothing secret in URLs or web storage; the session cookie is HttpOnly; CSRF on every change', async () => {
    const secrets = { token, tampered, secret, credential };
    for (const request of requests) {
      for (const [name, value] of Object.entries(secrets)) {
        assert.ok(!request.url.includes(value), `the ${name} appears in the URL ${request.method} ${request.url.slice(0, 80)}…`);
      }
    }
    assert.ok(!page.url().includes(token));
    const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
    assert.equal(storage.local, 0, 'localStorage is empty');
    assert.equal(storage.session, 0, 'sessionStorage is empty');
    assert.equal(storage.cookie, '', 'no cookie is visible to scripts');
    const cookies = await context.cookies(`${admin}/admin/session`);
    assert.ok(cookies.length >= 1, 'the session cookie exists');
    for (const cookie of cookies) {
      assert.equal(cookie.httpOnly, true, `cookie ${cookie.name} is HttpOnly`);
      assert.equal(cookie.sameSite, 'Strict', `cookie ${cookie.name} is SameSite=Strict`);
      assert.equal(cookie.path, '/admin', `cookie ${cookie.name} is for the API only`);
    }
    // Not sent with the UI's files, nor to anything else on this host outside /admin.
    for (const url of [`${admin}/ui/`, `${admin}/`, `${main.issuerUrl}/oauth/token`]) {
      assert.deepEqual((await context.cookies(url)).map((c) => c.name), [], url);
    }
    const changes = requests.filter((r) => r.url.startsWith(`${admin}/admin/`) && !['GET', 'HEAD'].includes(r.method));
    assert.ok(changes.length >= 4, 'state changes were made');
    for (const r of changes) {
      if (r.method === 'POST' && new URL(r.url).pathname === '/admin/session') continue;
      assert.ok(r.headers['x-csrf-token'], `${r.method} ${new URL(r.url).pathname} carried X-CSRF-Token`);
    }
    // The credential went in one request body only: the sign-in.
    const withCredential = requests.filter((r) => r.postData && r.postData.includes(credential));
    assert.deepEqual(withCredential.map((r) => `${r.method} ${new URL(r.url).pathname}`), ['POST /admin/session']);
    assert.deepEqual(consoleProblems, [], 'no page errors and no Content-Security-Policy violations');
  });

  await step(t, 'sign out ends the session', async () => {
    await byTestId('signout').click();
    await byTestId('signin-form').waitFor();
    const status = await page.evaluate(async () => (await fetch('/admin/session')).status);
    assert.equal(status, 401);
    const html = await page.content();
    assert.ok(!html.includes(token) && !html.includes(tampered), 'no token is left in the signed-out page');
  });

  await step(t, 'a token minted while signing out does not come back after signing in again', async () => {
    await byTestId('credential').fill(credential);
    await byTestId('signin-submit').click();
    await byTestId('nav-tokens').waitFor();
    await go('tokens');
    await page.locator(`[data-testid="mint-client"] option[value="${CLIENT_ID}"]`).waitFor({ state: 'attached' });
    await byTestId('mint-client').selectOption(CLIENT_ID);
    // The issuer mints the token at once; its answer reaches the page only after the sign-out.
    let release;
    const gate = new Promise((resolve) => {
      release = resolve;
    });
    let minted;
    const held = new Promise((resolve) => {
      minted = resolve;
    });
    const route = '**/admin/clients/*/token';
    await page.route(route, async (r) => {
      const response = await r.fetch();
      minted(JSON.parse(await response.text()).access_token);
      await gate;
      await r.fulfill({ response });
    });
    try {
      await byTestId('mint-submit').click();
      const late = await held;
      assert.equal(typeof late, 'string', 'the token was minted');
      await byTestId('signout').click();
      await byTestId('signin-form').waitFor();
      const delivered = page.waitForEvent('requestfinished', (r) => /\/admin\/clients\/[^/]+\/token$/.test(new URL(r.url()).pathname));
      release();
      await delivered;
      // Let the page run what it does with the answer.
      await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 100)));
      assert.ok(!(await page.content()).includes(late), 'not on the sign-in page');
      await byTestId('credential').fill(credential);
      await byTestId('signin-submit').click();
      await byTestId('page-tokens').waitFor();
      await byTestId('mint-form').waitFor();
      assert.equal(await byTestId('minted-token').count(), 0, 'the token minted before the sign-out is not shown');
      assert.ok(!(await page.content()).includes(late), 'nor anywhere in the page');
      await go('verify');
      assert.equal(await byTestId('verify-token').inputValue(), '', 'nor handed to Verify & explain');
    } finally {
      release();
      await page.unroute(route);
    }
  });
});

test('another site\'s page can neither lock the operator out nor sign in', { timeout: 120_000 }, async (t) => {
  const issuer = await startIssuer('csrf', { gateway: false });
  ({ ctx: context, page } = await openPage(issuer));
  const { admin, credential } = issuer;
  // Another site on this machine: `localhost` is not the same site as `127.0.0.1`.
  const attack = `
    <!doctype html><title>cute cats</title>
    ${Array.from({ length: 15 }, (_, i) => `<img src="${admin}/admin/keys?cat=${i}" alt="">`).join('\n')}
    <form id="f" method="POST" action="${admin}/admin/session" enctype="text/plain">
      <input name='{"credential":"${credential}","x":"' value='"}'>
    </form>
    <script>
      window.addEventListener('load', async () => {
        // What a script may send anywhere without a preflight: text/plain, no custom header.
        await fetch('${admin}/admin/session', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ credential: '${credential}' }) }).catch(() => {});
        document.title = 'sent';
      });
    </script>`;
  const evil = http.createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(attack);
  });
  await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const evilUrl = `http://localhost:${evil.address().port}/`;
  try {
    await step(
      t,
      'the page loads 15 admin images and posts the credential cross-site',
      async () => {
        // The answers (401 JSON) are kept from the page by Opaque Response Blocking, but the
        // requests are sent; the issuer's metric below shows they arrived.
        let sent = 0;
        page.on('request', (request) => {
          if (new URL(request.url()).pathname === '/admin/keys') sent += 1;
        });
        await page.goto(evilUrl);
        await page.waitForFunction(() => document.title === 'sent');
        assert.equal(sent, 15, 'every image was requested');
        // The form: a cross-site text/plain POST; the browser shows the issuer's answer.
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.url() === `${admin}/admin/session` && r.request().method() === 'POST'),
          page.evaluate(() => document.getElementById('f').submit()),
        ]);
        assert.equal(response.status(), 403);
        assert.equal((await response.json()).error, 'csrf_failed');
        assert.equal((await context.cookies(`${admin}/admin/session`)).length, 0, 'not signed in');
      },
      issuer,
    );

    await step(
      t,
      'nothing was counted towards a lockout, nor audited; the operator signs in from that address',
      async () => {
        // The bearer API from this same address (127.0.0.1) is not locked out…
        const page1 = await adminApi(issuer, 'GET', '/admin/audit?order=desc&limit=1000');
        const actions = page1.records.map((r) => r.action);
        assert.ok(!actions.includes('admin.auth_failed'), `no failed authentication in the trail: ${actions}`);
        assert.ok(!actions.includes('admin.session.created'), 'nobody signed in');
        const metrics = await (await fetch(`${admin}/metrics`)).text();
        const failures = Number(/^issuer_admin_auth_failures_total (\d+)/m.exec(metrics)?.[1]);
        assert.ok(failures >= 15, `the refusals are counted in the metric (${failures})`);
        // …and neither is the UI.
        await page.goto(`${admin}/ui/`);
        await byTestId('credential').fill(credential);
        await byTestId('signin-submit').click();
        await byTestId('page-clients').waitFor();
        await shot('signin-after-cross-site-attempts');
      },
      issuer,
    );
  } finally {
    evil.close();
    await context.close();
  }
});

test('several providers: the live keys and feed go to this issuer\'s provider only', { timeout: 120_000 }, async (t) => {
  const issuer = await startIssuer('providers', { gateway: severalProvidersConfig });
  ({ ctx: context, page } = await openPage(issuer));
  await adminApi(issuer, 'POST', '/admin/clients', { client_id: 'svc.multi', scope: 'instruments:read' });
  const { access_token: token } = await adminApi(issuer, 'POST', '/admin/clients/svc.multi/token', {});
  // A token of the partner's: its signature cannot be checked here, it only has to decode.
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const partnerToken = [
    b64({ alg: 'ES256', typ: 'at+jwt', kid: 'partner-key-1' }),
    b64({ iss: PARTNER_ISSUER, sub: 'svc.partner', aud: 'quantjourney', iat: now, exp: now + 300, jti: 'p-1', scope: 'read' }),
    Buffer.alloc(64, 7).toString('base64url'),
  ].join('.');
  const request = async (method, path, value) => {
    await byTestId('verify-token').fill(value);
    await byTestId('verify-method').selectOption(method);
    await byTestId('verify-path').fill(path);
    await explain();
  };

  try {
    await step(
      t,
      'sign in',
      async () => {
        await page.goto(`${issuer.admin}/ui/#/verify`);
        await byTestId('credential').fill(issuer.credential);
        await byTestId('signin-submit').click();
        await byTestId('page-verify').waitFor();
        await byTestId('verifier-ready').waitFor();
      },
      issuer,
    );

    await step(
      t,
      'a token of this issuer on a route of its provider: ALLOW, the other provider named as unknown',
      async () => {
        await request('GET', '/api/v1/instruments', token);
        assert.equal(await text('signature-verdict'), 'valid');
        assert.equal(await text('decision-badge'), 'ALLOW', await byTestId('panel-decision').innerText());
        assert.equal(await text('rule-index'), '#2');
        assert.match(await text('foreign-providers'), /partner belongs to another issuer: their keys are not known to this issuer/);
        await shot('verify-several-providers');
      },
      issuer,
    );

    await step(
      t,
      'a route of the other issuer\'s provider: what a gateway without its keys answers, said plainly',
      async () => {
        await request('GET', '/partner/orders', token);
        assert.equal(await text('decision-badge'), 'DENY');
        assert.equal(await text('decision-status'), '503');
        assert.equal(await text('decision-code'), 'jwks_unavailable');
        assert.equal(await text('rule-index'), '#1');
        const note = await text('foreign-provider-note');
        assert.match(note, /Keys not known to this issuer/);
        assert.match(note, /partner\.example/);
        assert.equal(await byTestId('decision-error-hint').count(), 0);

        await request('GET', '/partner/orders', partnerToken);
        assert.match(await text('signature-unknown-keys'), /cannot be checked here/);
        assert.equal(await byTestId('signature-verdict').count(), 0, 'nothing claims the partner token is valid');
        assert.equal(await text('decision-code'), 'jwks_unavailable');
        await shot('verify-foreign-provider');
      },
      issuer,
    );

    await step(
      t,
      'an exact-path rule is shown as one',
      async () => {
        await request('GET', '/health', '');
        assert.equal(await text('decision-badge'), 'ALLOW');
        assert.equal(await text('rule-index'), '#0');
        assert.match(await byTestId('rule').innerText(), /exact path\s+\/health/);
      },
      issuer,
    );

    await step(
      t,
      'an unusable document from this page is not called an invalid configuration',
      async () => {
        const feed = '**/admin/revocation-feed';
        await page.route(feed, (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ iss: 'https://elsewhere.example', generated_at: 0, tokens: [], clients: [] }) }));
        try {
          await request('GET', '/api/v1/instruments', token);
        } finally {
          await page.unroute(feed);
        }
        assert.equal(await text('decision-badge'), 'ERROR');
        assert.match(await text('decision-code'), /^revocations_/);
        const hint = await text('decision-error-hint');
        assert.match(hint, /documents this page handed to the verifier/);
        assert.doesNotMatch(hint, /refuse to load/);
        await shot('verify-documents-unusable');
      },
      issuer,
    );
  } finally {
    await context.close();
  }
});

test('without a gateway configuration, and with the verifier package failing to load', { timeout: 120_000 }, async (t) => {
  const issuer = await startIssuer('plain', { gateway: false });
  ({ ctx: context, page } = await openPage(issuer));
  await adminApi(issuer, 'POST', '/admin/clients', { client_id: 'svc.plain', scope: 'instruments:read' });
  const { access_token: token } = await adminApi(issuer, 'POST', '/admin/clients/svc.plain/token', {});

  await step(
    t,
    'sign in',
    async () => {
      await page.goto(`${issuer.admin}/ui/#/verify`);
      await byTestId('credential').fill(issuer.credential);
      await byTestId('signin-submit').click();
      await byTestId('page-verify').waitFor();
    },
    issuer,
  );

  await step(
    t,
    'no gateway configuration: decoded and verified all the same, and told why there is no decision',
    async () => {
      await byTestId('verifier-ready').waitFor();
      await byTestId('verify-token').fill(token);
      await explain();
      assert.equal(await text('signature-verdict'), 'valid');
      await byTestId('no-gateway-config').waitFor();
      assert.match(await byTestId('decoded-claims').locator('tr[data-key="sub"]').innerText(), /svc\.plain/);
      await shot('verify-no-gateway-config');
    },
    issuer,
  );

  await step(
    t,
    'the verifier package does not load: Verify & explain says so, other pages keep working',
    async () => {
      await page.route('**/ui/verifier/**', (route) => route.fulfill({ status: 404, contentType: 'text/plain', body: 'gone' }));
      await page.reload();
      await byTestId('page-verify').waitFor();
      await byTestId('verifier-error').waitFor();
      await byTestId('verify-token').fill(token);
      await explain();
      // Decoding falls back to the page's own (untrusted) reading; nothing claims to be verified.
      assert.match(await byTestId('decoded-claims').locator('tr[data-key="sub"]').innerText(), /svc\.plain/);
      await byTestId('signature-error').waitFor();
      assert.equal(await byTestId('signature-verdict').count(), 0);
      await shot('verify-no-verifier');
      await go('clients');
      await page.locator('[data-testid="client-row"][data-client-id="svc.plain"]').waitFor();
      await go('keys');
      await byTestId('keys-table').waitFor();
    },
    issuer,
  );
  await context.close();
});

/** `POST /oauth/token` at `issuer` as client `id` (client_secret_basic) with `form`; the JSON answer. */
async function oauthToken(issuer, id, secret, form) {
  const response = await fetch(`${issuer.issuerUrl}/oauth/token`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form).toString(),
  });
  const data = await response.json();
  assert.equal(response.status, 200, `token request by ${id}: ${JSON.stringify(data)}`);
  return data.access_token;
}

test('agents: the tree of live delegations, the chain in Verify & explain, revoking a branch', { timeout: 120_000 }, async (t) => {
  const delegating = (issuerUrl) => {
    const config = gatewayConfig(issuerUrl);
    config.providers.local.delegation = { max_depth: 4 };
    return config;
  };
  const issuer = await startIssuer('agents', { gateway: delegating });
  ({ ctx: context, page } = await openPage(issuer));
  const create = (client_id, kind) => adminApi(issuer, 'POST', '/admin/clients', { client_id, kind, scope: 'instruments:read orders:*' });
  const service = await create('svc.desk', 'service');
  const planner = await create('agent.planner', 'agent');
  const pricer = await create('agent.pricer', 'agent');
  const other = await create('agent.other', 'agent');
  const exchange = (agent, subject, scope) =>
    oauthToken(issuer, agent.client_id, agent.client_secret, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      scope,
    });
  const root = await oauthToken(issuer, service.client_id, service.client_secret, { grant_type: 'client_credentials' });
  const middle = await exchange(planner, root, 'instruments:read orders:write');
  const leaf = await exchange(pricer, middle, 'instruments:read');
  await exchange(other, root, 'instruments:read');

  await step(
    t,
    'the Agents view draws principal → agent → sub-agent from the audit trail',
    async () => {
      await page.goto(`${issuer.admin}/ui/#/agents`);
      await byTestId('credential').fill(issuer.credential);
      await byTestId('signin-submit').click();
      await byTestId('page-agents').waitFor();
      await byTestId('delegation-tree').waitFor();
      const principal = page.locator('[data-testid="principal"][data-sub="svc.desk"]');
      await principal.waitFor();
      // Both branches hang off the service's token; the sub-agent's under the planner's.
      const top = await principal.locator(':scope > ul > [data-testid="delegation"]').evaluateAll((nodes) => nodes.map((n) => n.dataset.actor).sort());
      assert.deepEqual(top, ['agent.other', 'agent.planner']);
      const nested = page.locator('[data-testid="delegation"][data-actor="agent.planner"] [data-testid="delegation"]');
      assert.deepEqual(await nested.evaluateAll((nodes) => nodes.map((n) => n.dataset.actor)), ['agent.pricer']);
      await shot('agents');
    },
    issuer,
  );

  await step(
    t,
    'the Clients page registers an agent and tells agents from services',
    async () => {
      await go('clients');
      await byTestId('client-id').fill('agent.ui');
      await byTestId('client-scope').fill('instruments:read');
      await byTestId('client-kind').selectOption('agent');
      await byTestId('client-create').click();
      await byTestId('secret-card').waitFor();
      const kindOf = (id) => page.locator(`[data-testid="client-row"][data-client-id="${id}"] [data-testid="client-kind-cell"]`).innerText();
      await page.locator('[data-testid="client-row"][data-client-id="agent.ui"]').waitFor();
      assert.match(await kindOf('agent.ui'), /^agent · /);
      assert.match(await kindOf('agent.planner'), /^agent · /);
      assert.doesNotMatch(await kindOf('svc.desk'), /agent/);
      const clients = await adminApi(issuer, 'GET', '/admin/clients');
      assert.equal(clients.find((c) => c.client_id === 'agent.ui').kind, 'agent');
    },
    issuer,
  );

  await step(
    t,
    'Verify & explain shows who acts for whom, and the delegation check',
    async () => {
      await go('verify');
      await byTestId('verifier-ready').waitFor();
      await byTestId('verify-token').fill(leaf);
      await explain();
      await byTestId('delegation-chain').waitFor();
      assert.equal(await text('chain-principal'), 'svc.desk (service)');
      const actors = await page.locator('[data-testid="chain-actor"]').allInnerTexts();
      assert.deepEqual(actors.map((a) => a.trim()), ['agent.planner (ai_agent)', 'agent.pricer (ai_agent)']);
      assert.match(await text('delegation-verdict'), /^Delegation check: pass/);
      const headers = await text('upstream-headers');
      assert.match(headers, /x-auth-actor-chain\s+agent\.pricer,agent\.planner/);
      await shot('verify-delegated');
    },
    issuer,
  );

  await step(
    t,
    'revoking the planner\'s branch removes it and the sub-agent below it; the sibling stays',
    async () => {
      await go('agents');
      const branch = page.locator('[data-testid="delegation"][data-actor="agent.planner"]');
      await branch.locator(':scope > .tree-row [data-testid="revoke-branch"]').click();
      await byTestId('confirm-ok').click();
      await byTestId('agents-revoked').waitFor();
      await page.locator('[data-testid="delegation"][data-actor="agent.planner"]').waitFor({ state: 'detached' });
      assert.equal(await page.locator('[data-testid="delegation"][data-actor="agent.pricer"]').count(), 0);
      assert.equal(await page.locator('[data-testid="delegation"][data-actor="agent.other"]').count(), 1);
      // The issuer agrees: the sub-agent's token is no longer active.
      const response = await fetch(`${issuer.issuerUrl}/oauth/introspect`, {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from(`${other.client_id}:${other.client_secret}`).toString('base64')}`,
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: leaf }).toString(),
      });
      assert.deepEqual(await response.json(), { active: false });
      await shot('agents-revoked');
    },
    issuer,
  );
  await context.close();
});
