// Verify & explain: the very verifier that runs in the gateway (compiled to wasm a second time)
// decodes a token, verifies it against the live JWKS, and says what the gateway's rules decide
// for a request, step by step. The token never leaves this page: it is handed to the wasm module
// in memory; only the JWKS, the revocation feed and the gateway configuration are fetched.
//
// The live JWKS and revocation feed are this issuer's: they stand in for what a gateway fetches
// only for the providers whose `issuer` is this issuer. A provider of another issuer gets its
// keys and feed from that issuer, which this page cannot reach, so it is given none: what is
// explained for it is what a gateway that cannot get its keys does (503 jwks_unavailable).

import { get } from '../api.js';
import { card, errorBox, field, h, iso, loading, mono, pageHeader, peekJwt, relative, replace, scopes, TIME_CLAIMS } from '../util.js';

const VERIFIER_URL = '/ui/verifier/verifier.js';
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const PROVIDER_OPTIONS = ['issuer', 'audiences', 'algorithms', 'typ', 'clock_skew_seconds', 'max_lifetime_seconds'];
const STEP_MARK = { pass: '✓', fail: '✗', skip: '–' };
const STEP_LABEL = { pass: 'passed', fail: 'failed', skip: 'skipped' };
const REASON = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable' };
const HEADER_ORDER = ['alg', 'typ', 'kid'];
const CLAIM_ORDER = ['iss', 'sub', 'aud', 'client_id', 'scope', 'iat', 'nbf', 'exp', 'jti'];

// ---- the verifier package -----------------------------------------------------------------------

let verifierPromise = null;

/** Loads and initialises the wasm-bindgen module once; a failure can be retried. */
function loadVerifier() {
  if (!verifierPromise) {
    verifierPromise = (async () => {
      let mod;
      try {
        mod = await import(VERIFIER_URL);
      } catch (err) {
        throw new Error(`The verifier package could not be loaded from ${VERIFIER_URL} (${err.message}). Was the issuer started with --verifier-js-dir pointing at the wasm-bindgen output?`);
      }
      try {
        await mod.default();
      } catch (err) {
        throw new Error(`The verifier’s wasm module could not be started (${err.message}).`);
      }
      for (const name of ['verify', 'decode', 'explain']) {
        if (typeof mod[name] !== 'function') throw new Error(`The verifier package has no ${name}() function.`);
      }
      return mod;
    })();
    verifierPromise.catch(() => {
      verifierPromise = null;
    });
  }
  return verifierPromise;
}

// ---- page ---------------------------------------------------------------------------------------

export async function render(root, ctx) {
  const saved = ctx.shared.verifyInput ?? { token: '', method: 'GET', path: '/' };
  const handed = ctx.shared.pendingToken;
  ctx.shared.pendingToken = null;

  const token = h('textarea', {
    rows: '6',
    class: 'token-box',
    spellcheck: 'false',
    autocomplete: 'off',
    placeholder: 'Paste an access token (eyJhbGciOi…). Leave empty to see what happens without one.',
    testid: 'verify-token',
  });
  token.value = handed ?? saved.token;
  const method = h('select', { testid: 'verify-method' }, METHODS.map((m) => h('option', { value: m }, m)));
  method.value = saved.method;
  const path = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', value: saved.path, testid: 'verify-path' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-lg', testid: 'verify-submit', title: 'Ctrl+Enter in the token box' }, 'Explain');
  const clear = h('button', { type: 'button', class: 'btn btn-ghost', testid: 'verify-clear' }, 'Clear');
  const verifierStatus = h('div', { class: 'verifier-status', 'aria-live': 'polite', testid: 'verifier-status' }, loading('Loading the verifier…'));
  // One short sentence per run for screen readers; the panels themselves are not live regions.
  const announce = h('div', { class: 'sr-only', role: 'status', 'aria-live': 'polite', testid: 'verify-announce' });

  const form = h(
    'form',
    { class: 'form verify-form', novalidate: true, testid: 'verify-form', 'aria-label': 'Token and request to explain' },
    field('Access token', token),
    h(
      'div',
      { class: 'request-row' },
      field('Method', method),
      h('div', { class: 'grow' }, field('Path', path)),
      h('div', { class: 'request-actions' }, submit, clear),
    ),
    verifierStatus,
  );

  const decodedBody = h('div', { class: 'panel-body' }, idle('Decoded header and claims appear here.'));
  const signatureBody = h('div', { class: 'panel-body' }, idle('Whether the token verifies against the live keys.'));
  const decisionBody = h('div', { class: 'panel-body' }, idle('What the gateway would answer, and why.'));
  const results = h(
    'div',
    { class: 'verify-results', testid: 'verify-results', dataset: { run: '0', state: 'idle' }, 'aria-busy': 'false' },
    h(
      'div',
      { class: 'verify-col' },
      panel('1', 'Decoded', 'Untrusted: read from the token without any check.', decodedBody, 'panel-decoded'),
    ),
    h(
      'div',
      { class: 'verify-col' },
      panel('2', 'Signature', 'Verified with the provider’s keys and policy.', signatureBody, 'panel-signature'),
      panel('3', 'Gateway decision', 'The filter’s configuration, evaluated by the filter’s own code.', decisionBody, 'panel-decision'),
    ),
  );

  const remember = () => {
    if (!ctx.isCurrent()) return;
    ctx.shared.verifyInput = { token: token.value, method: method.value, path: path.value };
  };
  token.addEventListener('input', remember);
  method.addEventListener('change', remember);
  path.addEventListener('input', remember);
  clear.addEventListener('click', () => {
    token.value = '';
    remember();
    token.focus();
  });

  let runs = 0;
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    runs += 1;
    const thisRun = runs;
    remember();
    submit.disabled = true;
    submit.classList.add('is-busy');
    results.setAttribute('aria-busy', 'true');
    results.dataset.state = 'running';
    replace(decodedBody, loading('Decoding…'));
    replace(signatureBody, loading('Fetching the live JWKS…'));
    replace(decisionBody, loading('Evaluating the gateway rules…'));
    announce.textContent = 'Explaining…';
    try {
      await explainAll({
        token: token.value.trim(),
        request: { method: method.value, path: path.value.trim() || '/' },
        panels: { decodedBody, signatureBody, decisionBody },
        verifierStatus,
      });
      announce.textContent = summary(results);
    } catch (err) {
      replace(decisionBody, errorBox(err, 'decision-error'));
    } finally {
      if (ctx.isCurrent()) {
        submit.disabled = false;
        submit.classList.remove('is-busy');
        results.setAttribute('aria-busy', 'false');
        results.dataset.state = 'done';
        results.dataset.run = String(thisRun);
      }
      running = false;
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run();
  });
  // Ctrl+Enter (⌘+Enter) in the token box explains, as in most consoles.
  token.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    }
  });

  root.append(
    pageHeader('Verify & explain', 'Why did the gateway refuse this call? The same verifier that runs in Envoy answers here, in your browser.'),
    card(null, { testid: 'verify-input-card', cls: 'card-input' }, form),
    announce,
    results,
  );

  loadVerifier().then(
    (mod) => {
      const version = typeof mod.version === 'function' ? safe(() => mod.version()) : null;
      replace(verifierStatus, h('span', { class: 'ok-text', testid: 'verifier-ready' }, '● Verifier loaded', version ? ` (${version})` : '', ' — the filter’s own code, compiled to wasm.'));
    },
    (err) => replace(verifierStatus, errorBox(err, 'verifier-error')),
  );

  if (handed) {
    run();
  } else {
    token.focus();
  }
}

/** "Signature valid. Gateway: ALLOW, 200." from what the panels show. */
function summary(results) {
  const read = (id) => results.querySelector(`[data-testid="${id}"]`)?.textContent?.trim();
  const parts = [];
  const verdict = read('signature-verdict');
  const sigCode = read('signature-code');
  if (verdict) parts.push(`Signature ${verdict}.`);
  else if (sigCode) parts.push(`Signature refused: ${sigCode}.`);
  const badge = read('decision-badge');
  if (badge) parts.push(`Gateway: ${badge}${read('decision-status') ? `, ${read('decision-status')}` : ''}${read('decision-code') ? `, ${read('decision-code')}` : ''}.`);
  return parts.join(' ') || 'Done.';
}

function safe(fn) {
  try {
    return fn();
  } catch {
    return null;
  }
}

function idle(text) {
  return h('p', { class: 'idle' }, text);
}

function panel(number, title, lede, body, testid) {
  const titleId = `${testid}-title`;
  return h(
    'section',
    { class: 'card panel', testid, 'aria-labelledby': titleId },
    h(
      'div',
      { class: 'card-head' },
      h('div', { class: 'panel-title' }, h('span', { class: 'panel-num', 'aria-hidden': 'true' }, number), h('div', {}, h('h2', { id: titleId }, title), h('p', { class: 'card-lede' }, lede))),
    ),
    body,
  );
}

// ---- the work -----------------------------------------------------------------------------------

async function explainAll({ token, request, panels, verifierStatus }) {
  const { decodedBody, signatureBody, decisionBody } = panels;
  // Fresh every time: a key rotated or a token revoked a moment ago must show.
  const configP = get('/admin/gateway-config');
  const jwksP = get('/admin/jwks', { text: true });
  const verifierP = loadVerifier();
  const [configR, jwksR, verifierR] = await Promise.allSettled([configP, jwksP, verifierP]);
  const verifier = verifierR.status === 'fulfilled' ? verifierR.value : null;
  if (!verifier) replace(verifierStatus, errorBox(verifierR.reason, 'verifier-error'));

  const config = configR.status === 'fulfilled' ? configR.value?.config ?? null : null;
  const configSource = configR.status === 'fulfilled' ? configR.value?.source ?? null : null;
  // This issuer's identifier: the `iss` of its tokens and of its revocation feed.
  const ownIssuer = configR.status === 'fulfilled' && typeof configR.value?.issuer === 'string' ? configR.value.issuer : null;

  // 1. Decoded.
  let decoded = null;
  if (!token) {
    replace(decodedBody, idle('No token: the request is explained as if it carried no Authorization header.'));
  } else {
    decoded = verifier ? safe(() => verifier.decode(token)) : null;
    if (!verifier) {
      const peek = peekJwt(token);
      decoded = peek ? { ...peek, fallback: true } : { error: { code: 'malformed', message: 'Not a JWS compact token with JSON header and claims.' } };
    }
    renderDecoded(decodedBody, decoded);
  }
  const claims = decoded && !decoded.error ? decoded.claims ?? {} : peekJwt(token)?.claims ?? {};

  // 2. Signature.
  const providers = config && typeof config.providers === 'object' && config.providers !== null ? config.providers : {};
  const providerName = pickProvider(providers, claims.iss, ownIssuer);
  const provider = providerName ? providers[providerName] : null;
  if (!token) {
    replace(signatureBody, idle('No token to verify.'));
  } else if (!verifier) {
    replace(signatureBody, errorBox({ code: 'verifier_unavailable', message: 'Cannot verify: the verifier package is not loaded (see above).' }, 'signature-error'));
  } else if (provider && isForeignRemote(provider, ownIssuer)) {
    renderUnknownKeys(signatureBody, providerName, provider, ownIssuer);
  } else if (jwksR.status === 'rejected' && !(provider && provider.local_jwks)) {
    replace(signatureBody, errorBox(jwksR.reason, 'signature-error'));
  } else {
    const jwksText = jwksR.status === 'fulfilled' ? jwksR.value.text : null;
    const keys = provider && provider.local_jwks ? provider.local_jwks : jwksText;
    const keySource = provider && provider.local_jwks ? `local_jwks of provider ${providerName}` : 'the live JWKS (GET /admin/jwks)';
    const options = provider ? providerOptions(provider) : fallbackOptions(claims, jwksR.status === 'fulfilled' ? jwksR.value.data : null);
    let result;
    try {
      result = verifier.verify(token, keys, options);
    } catch (err) {
      result = { valid: false, error: { code: 'verifier_threw', message: String(err?.message ?? err) } };
    }
    renderSignature(signatureBody, result, { providerName, keySource, options, configured: Boolean(provider) });
  }

  // 3. Gateway decision.
  if (configR.status === 'rejected') {
    replace(decisionBody, errorBox(configR.reason, 'gateway-config-error'));
    return;
  }
  if (!config) {
    replace(
      decisionBody,
      h(
        'div',
        { class: 'alert alert-info', testid: 'no-gateway-config' },
        h('strong', {}, 'No gateway configuration. '),
        'Start the issuer with --gateway-config <file> (the filter’s JSON configuration) to see what the gateway decides. Decoding and the signature check above work without it.',
      ),
    );
    return;
  }
  if (!verifier) {
    replace(decisionBody, errorBox({ code: 'verifier_unavailable', message: 'Cannot explain: the verifier package is not loaded.' }, 'decision-error'));
    return;
  }
  const options = {};
  const warnings = [];
  const jwks = {};
  const revocations = {};
  // Providers of other issuers: given neither keys nor feed, as said on the page.
  const foreign = [];
  let feedP = null;
  for (const [name, p] of Object.entries(providers)) {
    if (!p || typeof p !== 'object') continue;
    if (!isOwn(p, ownIssuer)) {
      if (p.remote_jwks || p.revocations) foreign.push({ name, issuer: p.issuer, keys: Boolean(p.remote_jwks), feed: Boolean(p.revocations) });
      continue;
    }
    if (p.remote_jwks) {
      if (jwksR.status === 'fulfilled') jwks[name] = jwksR.value.text;
      else warnings.push(`The live JWKS could not be fetched for provider ${name}: ${jwksR.reason.description ?? jwksR.reason.message}`);
    }
    if (p.revocations) {
      feedP ??= get('/admin/revocation-feed', { text: true });
      try {
        revocations[name] = (await feedP).text;
      } catch (err) {
        warnings.push(`The revocation feed could not be fetched for provider ${name}: ${err.description ?? err.message}`);
      }
    }
  }
  if (Object.keys(jwks).length) options.jwks = jwks;
  if (Object.keys(revocations).length) options.revocations = revocations;
  let answer;
  try {
    answer = verifier.explain(token || null, config, request, options);
  } catch (err) {
    answer = { decision: 'error', status: null, error: { code: 'verifier_threw', message: String(err?.message ?? err) }, steps: [] };
  }
  renderDecision(decisionBody, answer, { request, configSource, warnings, foreign, ownIssuer });
}

/** Whether `provider` is one of this issuer's: its keys and feed are the live ones. */
function isOwn(provider, ownIssuer) {
  return ownIssuer !== null && provider?.issuer === ownIssuer;
}

/** A provider that fetches its keys from an issuer other than this one. */
function isForeignRemote(provider, ownIssuer) {
  return Boolean(provider?.remote_jwks) && !isOwn(provider, ownIssuer);
}

/** The provider whose issuer is the token's `iss`, else this issuer's, else the first one. */
function pickProvider(providers, iss, ownIssuer) {
  const names = Object.keys(providers ?? {});
  if (names.length === 0) return null;
  const byIssuer = (wanted) => names.find((n) => providers[n] && typeof wanted === 'string' && providers[n].issuer === wanted);
  return byIssuer(iss) ?? byIssuer(ownIssuer) ?? names[0];
}

function providerOptions(provider) {
  const options = {};
  for (const key of PROVIDER_OPTIONS) {
    if (Object.prototype.hasOwnProperty.call(provider, key)) options[key] = provider[key];
  }
  return options;
}

/** Without a gateway configuration: the token's own issuer and audience, the JWKS's algorithms. */
function fallbackOptions(claims, jwks) {
  const algs = [...new Set((jwks?.keys ?? []).map((k) => k.alg).filter((a) => typeof a === 'string'))];
  const options = {};
  if (typeof claims.iss === 'string') options.issuer = claims.iss;
  const aud = Array.isArray(claims.aud) ? claims.aud : typeof claims.aud === 'string' ? [claims.aud] : [];
  if (aud.length) options.audiences = aud;
  if (algs.length) options.algorithms = algs;
  return options;
}

// ---- rendering ----------------------------------------------------------------------------------

function renderDecoded(body, decoded) {
  if (!decoded || decoded.error) {
    const err = decoded?.error ?? { code: 'decode_failed', message: 'The token could not be decoded.' };
    replace(body, errorBox(err, 'decode-error'));
    return;
  }
  const { header = {}, claims = {} } = decoded;
  replace(
    body,
    decoded.fallback ? h('p', { class: 'hint' }, 'Decoded by the page itself: the verifier is not loaded.') : null,
    h('h3', { class: 'kv-title' }, 'Header'),
    kvTable(header, 'decoded-header', HEADER_ORDER),
    h('h3', { class: 'kv-title' }, 'Claims'),
    kvTable(claims, 'decoded-claims', CLAIM_ORDER),
    decoded.signature_bytes !== undefined ? h('p', { class: 'hint' }, `Signature: ${decoded.signature_bytes} bytes.`) : null,
    h(
      'details',
      { class: 'json-toggle', testid: 'decoded-json' },
      h('summary', {}, 'Show JSON'),
      h('pre', { class: 'json' }, JSON.stringify({ header, claims }, null, 2)),
    ),
  );
}

/** Key/value rows, the well-known keys first in `order`, the rest as they come. */
function kvTable(object, testid, order = []) {
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  const entries = Object.entries(object ?? {}).sort(([a], [b]) => rank(a) - rank(b));
  if (entries.length === 0) return h('p', { class: 'muted' }, '(empty)');
  return h(
    'table',
    { class: 'kv', testid },
    h('tbody', {}, entries.map(([k, v]) => h('tr', { dataset: { key: k } }, h('th', { scope: 'row' }, h('code', {}, k)), h('td', {}, claimValue(k, v))))),
  );
}

function claimValue(key, value) {
  if (TIME_CLAIMS.has(key) && typeof value === 'number' && Number.isFinite(value)) {
    const now = Date.now() / 1000;
    const past = value < now;
    const cls = key === 'exp' && past ? 'time-bad' : key === 'nbf' && !past ? 'time-bad' : '';
    return h(
      'span',
      { class: `claim-time ${cls}`.trim() },
      h('span', { class: 'mono-plain' }, iso(value)),
      h('span', { class: 'rel' }, key === 'exp' && past ? `expired ${relative(value)}` : relative(value)),
      h('span', { class: 'raw-num', title: 'As in the token' }, String(value)),
    );
  }
  if (key === 'scope' && typeof value === 'string') return scopes(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return h('span', { class: 'chips' }, value.map((v) => h('span', { class: 'chip' }, v)));
  }
  if (key === 'kid' || key === 'jti') return mono(value, { max: 44 });
  if (value !== null && typeof value === 'object') return h('code', { class: 'json-inline' }, JSON.stringify(value));
  if (typeof value === 'string') return h('span', { class: 'mono-plain' }, value);
  return h('code', {}, JSON.stringify(value));
}

/** The token is for a provider of another issuer: its keys are not known here. */
function renderUnknownKeys(body, providerName, provider, ownIssuer) {
  replace(
    body,
    h(
      'div',
      { class: 'alert alert-info', testid: 'signature-unknown-keys' },
      h('strong', {}, 'Keys not known to this issuer. '),
      'Provider ',
      h('code', {}, providerName),
      ' takes its keys from ',
      h('code', {}, String(provider.issuer ?? '?')),
      ', not from this issuer',
      ownIssuer ? [' (', h('code', {}, ownIssuer), ')'] : '',
      ', so the signature cannot be checked here. The gateway decision below is what a gateway without those keys would answer.',
    ),
  );
}

function renderSignature(body, result, { providerName, keySource, options, configured }) {
  const context = h(
    'p',
    { class: 'hint' },
    configured ? `Provider ${providerName}: ` : 'No gateway configuration: issuer and audience taken from the token itself; ',
    `keys from ${keySource}; algorithms ${Array.isArray(options.algorithms) ? options.algorithms.join(', ') : 'default'}.`,
  );
  if (result && result.valid === true) {
    const kid = result.kid ?? result.header?.kid;
    replace(
      body,
      h(
        'div',
        { class: 'verdict verdict-ok', testid: 'signature-result', dataset: { valid: 'true' } },
        h('span', { class: 'verdict-mark', 'aria-hidden': 'true' }, '✓'),
        h('div', {}, h('div', { class: 'verdict-title', testid: 'signature-verdict' }, 'valid'), h('div', { class: 'verdict-sub' }, 'Signature, issuer, audience, type and lifetime all check out', kid ? [' · kid ', mono(kid, { max: 16 })] : '', '. Revocation is the gateway’s check (3).')),
      ),
      context,
    );
    return;
  }
  const err = result?.error ?? { code: 'unknown', message: 'The verifier gave no reason.' };
  replace(
    body,
    h(
      'div',
      { class: 'verdict verdict-bad', testid: 'signature-result', dataset: { valid: 'false' }, role: 'alert' },
      h('span', { class: 'verdict-mark', 'aria-hidden': 'true' }, '✗'),
      h('div', {}, h('div', { class: 'verdict-title' }, h('span', { class: 'sr-only' }, 'invalid: '), h('code', { class: 'err-code', testid: 'signature-code' }, err.code)), h('div', { class: 'verdict-sub', testid: 'signature-message' }, err.message)),
    ),
    context,
  );
}

/** Why explain answered `decision: "error"`, from its code: which input was at fault. */
function errorHint(code) {
  if (code === 'config_invalid') {
    return 'The gateway configuration is not valid: Envoy would refuse to load it.';
  }
  if (code === 'options_invalid' || /^jwks_/.test(code) || /^revocations_/.test(code)) {
    return 'The documents this page handed to the verifier (the live JWKS or revocation feed, as options to explain) could not be used, so no decision was made. This is not about the gateway configuration, nor what a gateway would answer.';
  }
  return 'The verifier could not explain this request, so no decision was made.';
}

/** What the page did for providers of other issuers, said plainly. */
function foreignNote(foreign, answer, ownIssuer) {
  if (!foreign.length) return null;
  // What a gateway without the documents answers: keys are needed first, then the feed.
  const outcome = (f) => (f.keys ? '503 jwks_unavailable' : '503 revocations_unavailable');
  const decided = foreign.find((f) => f.name === answer?.provider);
  if (decided) {
    const missing = decided.keys && decided.feed ? 'its keys and revocation feed are' : decided.keys ? 'its keys are' : 'its revocation feed is';
    return h(
      'div',
      { class: 'alert alert-info', testid: 'foreign-provider-note' },
      h('strong', {}, decided.keys ? 'Keys not known to this issuer. ' : 'Revocation feed not known to this issuer. '),
      'Provider ',
      h('code', {}, decided.name),
      ' belongs to ',
      h('code', {}, String(decided.issuer ?? '?')),
      ', not to this issuer',
      ownIssuer ? [' (', h('code', {}, ownIssuer), ')'] : '',
      `: ${missing} not known here, so this is what a gateway that cannot get them would answer (${outcome(decided)}), not what your gateway answers.`,
    );
  }
  const keys = foreign.every((f) => f.keys);
  return h(
    'p',
    { class: 'hint', testid: 'foreign-providers' },
    `Provider${foreign.length > 1 ? 's' : ''} `,
    foreign.map((f, i) => [i ? ', ' : '', h('code', {}, f.name)]),
    foreign.length > 1 ? ' belong' : ' belongs',
    ` to another issuer: ${keys ? 'their keys are' : 'their keys or revocation feeds are'} not known to this issuer, so requests they check are explained as a gateway without them would answer (${keys ? '503 jwks_unavailable' : '503'}).`,
  );
}

function renderDecision(body, answer, { request, configSource, warnings, foreign = [], ownIssuer = null }) {
  const decision = String(answer?.decision ?? 'error');
  const status = answer?.status;
  const err = answer?.error ?? null;
  const allow = decision === 'allow';
  const badgeText = decision === 'allow' ? 'ALLOW' : decision === 'deny' ? 'DENY' : 'ERROR';
  const banner = h(
    'div',
    { class: `decision decision-${allow ? 'allow' : decision === 'deny' ? 'deny' : 'error'}`, testid: 'decision', dataset: { decision } },
    h('div', { class: 'decision-badge', testid: 'decision-badge' }, badgeText),
    h(
      'div',
      { class: 'decision-main' },
      h(
        'div',
        { class: 'decision-line' },
        status !== null && status !== undefined ? h('span', { class: 'decision-status', testid: 'decision-status' }, String(status)) : null,
        status !== null && status !== undefined && REASON[status] ? h('span', { class: 'decision-reason' }, REASON[status]) : null,
        err ? h('code', { class: 'err-code', testid: 'decision-code' }, err.code) : null,
        h('span', { class: 'decision-request' }, h('code', {}, request.method), ' ', h('code', {}, request.path)),
      ),
      err ? h('div', { class: 'decision-message', testid: 'decision-message' }, err.message) : h('div', { class: 'decision-message' }, allow ? 'The request reaches the upstream service.' : ''),
    ),
  );
  const parts = [banner];
  if (decision === 'error') {
    parts.push(h('p', { class: 'hint', testid: 'decision-error-hint' }, errorHint(String(err?.code ?? ''))));
  }
  for (const warning of warnings) parts.push(h('div', { class: 'alert alert-warn', role: 'alert' }, warning));
  parts.push(foreignNote(foreign, answer, ownIssuer));
  if (answer?.www_authenticate) {
    parts.push(h('div', { class: 'header-line' }, h('span', { class: 'header-name' }, 'WWW-Authenticate: '), h('code', { testid: 'www-authenticate' }, answer.www_authenticate)));
  }
  if (decision !== 'error') parts.push(ruleBlock(answer?.rule, answer?.provider));
  if (answer?.delegation) parts.push(chainBlock(answer.delegation, answer.steps));
  if (Array.isArray(answer?.steps) && answer.steps.length) parts.push(stepList(answer.steps));
  if (allow && answer?.upstream_headers) parts.push(upstreamHeaders(answer.upstream_headers, answer.authorization_forwarded));
  if (configSource) parts.push(h('p', { class: 'hint' }, `Gateway configuration: ${configSource}`));
  replace(body, parts);
}

function ruleBlock(rule, provider) {
  if (!rule) {
    return h('div', { class: 'rule rule-none', testid: 'rule' }, h('span', { class: 'rule-label' }, 'Rule'), h('span', {}, 'No rule matches this request: denied by default.'));
  }
  const match = rule.match ?? {};
  // explain reports a rule's `match` as written: `prefix`, or `path` for an exact path.
  const where = match.prefix !== undefined ? ['prefix ', h('code', {}, match.prefix)] : match.path !== undefined ? ['exact path ', h('code', {}, match.path)] : ['any path'];
  const methods = Array.isArray(match.methods) && match.methods.length ? match.methods.join(' ') : 'any method';
  let requires;
  if (rule.public) {
    requires = h('span', { class: 'pill pill-amber' }, 'public — no token checked');
  } else {
    requires = h(
      'span',
      {},
      'provider ',
      h('code', {}, rule.provider ?? provider ?? '?'),
      Array.isArray(rule.scopes) && rule.scopes.length ? [', scopes ', h('span', { class: 'chips' }, rule.scopes.map((s) => h('span', { class: 'chip' }, s)))] : ', any scope',
      rule.forward ? ', Authorization forwarded' : '',
    );
  }
  return h(
    'div',
    { class: 'rule', testid: 'rule' },
    h('span', { class: 'rule-label' }, 'Matched rule'),
    h('span', { class: 'rule-index', testid: 'rule-index' }, `#${rule.index}`),
    h('span', { class: 'rule-match' }, h('code', {}, methods), ' · ', where),
    h('span', { class: 'rule-requires' }, '→ requires ', requires),
  );
}

/** Who acts for whom: the principal at the root, then each actor down to the one calling, and
 * the delegation check that decided (the `delegation` step). */
function chainBlock(chain, steps) {
  const actors = Array.isArray(chain.actors) ? [...chain.actors].reverse() : [];
  const step = Array.isArray(steps) ? steps.find((s) => s.name === 'delegation') : null;
  const link = (name, profile, testid) => h('span', { class: 'chain-link', testid }, h('strong', {}, String(name ?? '?')), profile ? h('span', { class: 'muted' }, ` (${profile})`) : null);
  return h(
    'div',
    { class: 'chain', testid: 'delegation-chain', dataset: { depth: String(chain.depth ?? actors.length) } },
    h('h3', { class: 'kv-title' }, `Delegation: ${chain.depth ?? actors.length} actor(s), the last one calls`),
    h(
      'p',
      { class: 'chain-links' },
      link(chain.principal, chain.principal_profile, 'chain-principal'),
      actors.map((a) => [h('span', { class: 'muted' }, ' → acts for it: '), link(a.sub, a.sub_profile, 'chain-actor')]),
    ),
    step ? h('p', { class: `hint step-${step.outcome}`, testid: 'delegation-verdict' }, `Delegation check: ${step.outcome} — ${step.detail}`) : null,
  );
}

function stepList(steps) {
  return h(
    'div',
    { class: 'steps-wrap' },
    h('h3', { class: 'kv-title' }, 'Steps'),
    h(
      'ol',
      { class: 'steps', testid: 'steps' },
      steps.map((step) => {
        const outcome = ['pass', 'fail', 'skip'].includes(step.outcome) ? step.outcome : 'skip';
        return h(
          'li',
          { class: `step step-${outcome}`, dataset: { testid: 'step', name: step.name ?? '', outcome } },
          h('span', { class: 'step-mark', 'aria-hidden': 'true' }, STEP_MARK[outcome]),
          h('span', { class: 'sr-only' }, `${STEP_LABEL[outcome]}: `),
          h('span', { class: 'step-name' }, step.name ?? ''),
          h('span', { class: 'step-detail' }, step.detail ?? ''),
        );
      }),
    ),
  );
}

function upstreamHeaders(headers, forwarded) {
  const entries = Object.entries(headers);
  return h(
    'div',
    { class: 'upstream' },
    h('h3', { class: 'kv-title' }, 'Headers the upstream receives'),
    h(
      'table',
      { class: 'kv', testid: 'upstream-headers' },
      h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, h('code', {}, k)), h('td', {}, h('span', { class: 'mono-plain' }, String(v)))))),
    ),
    forwarded === undefined || forwarded === null
      ? null
      : h('p', { class: 'hint' }, forwarded ? 'The Authorization header is forwarded too.' : 'The Authorization header is not forwarded; headers of these names sent by the caller are removed.'),
  );
}
