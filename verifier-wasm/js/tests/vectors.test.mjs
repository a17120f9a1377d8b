// The JS package under Node, on the core's shared vectors (verifier-wasm/core/tests/vectors/tokens.json):
// the same tokens must give the same codes as the Rust core, which is what the Envoy filter runs.
//
//   VERIFIER_JS_DIR=target/js/verifier node --test verifier-wasm/js/tests/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const pkg = resolve(process.env.VERIFIER_JS_DIR ?? join(root, 'target/js/verifier'));
if (!existsSync(join(pkg, 'verifier.js'))) {
  throw new Error(`no JS package at ${pkg}: run \`make build-js\` (or set VERIFIER_JS_DIR)`);
}
const verifier = await import(pathToFileURL(join(pkg, 'verifier.js')).href);
verifier.initSync({ module: readFileSync(join(pkg, 'verifier_bg.wasm')) });
const { verify, decode, explain } = verifier;

const vectors = JSON.parse(
  readFileSync(join(root, 'verifier-wasm/core/tests/vectors/tokens.json'), 'utf8'),
);
const now = vectors.now;

test('the vectors file has cases', () => {
  assert.ok(vectors.verify.cases.length >= 20);
  assert.ok(vectors.explain.cases.length >= 8);
});

for (const c of vectors.verify.cases) {
  test(`verify: ${c.name}`, () => {
    const got = verify(c.token, c.jwks, { ...vectors.verify.options, now });
    if (c.expect.valid) {
      assert.equal(got.valid, true, JSON.stringify(got.error));
      assert.equal(typeof got.claims.sub, 'string');
      assert.equal(typeof got.header.alg, 'string');
    } else {
      assert.equal(got.valid, false);
      assert.equal(got.error.code, c.expect.code);
      assert.equal(typeof got.error.message, 'string');
    }
  });
}

for (const c of vectors.explain.cases) {
  test(`explain: ${c.name}`, () => {
    const { config, jwks, revocations } = vectors.explain;
    const got = explain(c.token, config, c.request, { now, jwks, revocations });
    assert.equal(got.decision, c.expect.decision, JSON.stringify(got.error));
    assert.equal(got.status, c.expect.status);
    assert.equal(got.error?.code ?? null, c.expect.code);
    assert.equal(got.rule?.index ?? null, c.expect.rule);
    const failed = got.steps.filter((s) => s.outcome === 'fail');
    assert.equal(failed.length, c.expect.code ? 1 : 0, JSON.stringify(got.steps));
    if (c.expect.decision === 'allow' && c.token) {
      assert.equal(got.upstream_headers['x-auth-issuer'], config.providers.local.issuer);
    }
  });
}

test('explain shows who acts for whom, and the actor headers the upstream gets', () => {
  const { config, jwks, revocations } = vectors.explain;
  const c = vectors.explain.cases.find((x) => x.name.startsWith('service to agent to sub-agent'));
  const got = explain(c.token, config, c.request, { now, jwks, revocations });
  assert.equal(got.decision, 'allow');
  assert.equal(got.delegation.principal, 'svc.warehouse');
  assert.deepEqual(got.delegation.actors.map((a) => a.sub), ['agent.sub', 'agent.main']);
  assert.equal(got.delegation.depth, 2);
  assert.equal(got.upstream_headers['x-auth-actor'], 'agent.sub');
  assert.equal(got.upstream_headers['x-auth-actor-chain'], 'agent.sub,agent.main');
  assert.equal(got.upstream_headers['x-auth-subject'], 'svc.warehouse');
  const step = got.steps.find((s) => s.name === 'delegation');
  assert.equal(step.outcome, 'pass');
  assert.match(step.detail, /agent\.sub.*acts for.*svc\.warehouse/);
  const deep = vectors.explain.cases.find((x) => x.name === 'chain deeper than the rule\'s max_delegation_depth');
  const refused = explain(deep.token, config, deep.request, { now, jwks, revocations });
  const failed = refused.steps.find((s) => s.outcome === 'fail');
  assert.equal(failed.name, 'delegation');
  assert.equal(refused.error.code, 'delegation_too_deep');
});

test('jwks and config are accepted as objects or JSON text alike', () => {
  const c = vectors.verify.cases[0];
  const asObject = verify(c.token, JSON.parse(c.jwks), { ...vectors.verify.options, now });
  const asText = verify(c.token, c.jwks, { ...vectors.verify.options, now });
  assert.deepEqual(asObject, asText);
  const e = vectors.explain.cases[0];
  const { config, jwks, revocations } = vectors.explain;
  assert.deepEqual(
    explain(e.token, JSON.stringify(config), e.request, { now, jwks, revocations }),
    explain(e.token, config, e.request, { now, jwks, revocations }),
  );
});

test('decode shows the parts of a token it refuses to trust', () => {
  const forged = vectors.verify.cases.find((c) => c.name === 'jku header');
  const got = decode(forged.token);
  assert.equal(got.header.jku, 'https://evil.test/jwks');
  assert.equal(got.claims.iss, vectors.verify.options.issuer);
  assert.ok(got.signature_bytes > 0);
  assert.equal(decode('hello').error.code, 'token_malformed');
});

test('bad input is an error object, never a throw', () => {
  const { options } = vectors.verify;
  const jwks = vectors.verify.cases[0].jwks;
  const cases = [
    [verify(undefined, jwks, options), 'token_malformed'],
    [verify({}, jwks, options), 'token_malformed'],
    [verify('a.b.c', 42, options), 'options_invalid'],
    [verify('a.b.c', '{not json', options), 'jwks_malformed'],
    [verify('a.b.c', jwks, { ...options, now: -1 }), 'options_invalid'],
    [verify('a.b.c', jwks, { ...options, now: 'today' }), 'options_invalid'],
    [verify('a.b.c', jwks, { audiences: ['x'] }), 'options_invalid'],
    [verify('a.b.c', jwks, { ...options, algorithms: ['none'] }), 'options_invalid'],
    [decode(null), 'token_malformed'],
  ];
  for (const [got, code] of cases) {
    assert.equal(got.error.code, code, JSON.stringify(got));
    if ('valid' in got) assert.equal(got.valid, false);
  }
  const { config } = vectors.explain;
  const request = { method: 'GET', path: '/api/x' };
  assert.equal(explain('x', '{', request).error.code, 'config_invalid');
  assert.match(explain('x', { providers: {} }, request).error.message, /providers/);
  assert.equal(explain('x', config, { method: 'GET' }).error.code, 'options_invalid');
  assert.equal(explain('x', config, request, { jwks: { nope: '{}' } }).error.code, 'options_invalid');
  assert.equal(explain('x', config, request, { color: 'red' }).error.code, 'options_invalid');
  assert.equal(
    explain('x', config, request, { jwks: { local: '{"keys": 1}' } }).error.code,
    'jwks_malformed',
  );
  // A provider whose keys are not given is what a gateway that cannot reach the issuer sees.
  const token = vectors.explain.cases[0].token;
  const unreachable = explain(token, config, request, { now });
  assert.equal(unreachable.status, 503);
  assert.equal(unreachable.error.code, 'jwks_unavailable');
});

test('without options.now the host clock is used', () => {
  const c = vectors.verify.cases[0];
  // The vectors are pinned to 2023; by the wall clock the token has long expired.
  const got = verify(c.token, c.jwks, vectors.verify.options);
  assert.equal(got.error.code, 'token_expired');
});

test('explain matches rules on the path as Envoy normalises it', () => {
  const { config, jwks, revocations, cases } = vectors.explain;
  const reader = cases.find((c) => c.name === 'reader lacks instruments:write').token;
  for (const path of [
    '/api/v1/entities/x/../register-bulk',
    '//api/v1/entities//register-bulk',
    '/api/v1/entities%2Fregister-bulk',
    '/api/v1/entities/./register-bulk?dry=1',
  ]) {
    const got = explain(reader, config, { method: 'POST', path }, { now, jwks, revocations });
    assert.equal(got.error?.code, 'insufficient_scope', path);
    assert.equal(got.rule.index, 0, path);
    assert.equal(got.request.path, path);
    assert.match(got.request.normalised_path, /^\/api\/v1\/entities\/register-bulk/);
  }
  // Methods are compared as sent, like Envoy's route matching: `post` is not `POST`.
  const lower = explain(reader, config, { method: 'post', path: '/api/v1/entities/register-bulk' }, { now, jwks, revocations });
  assert.equal(lower.rule.index, 2);
});

test('verify reuses a parsed key set only while the JWKS and options are unchanged', () => {
  const { options } = vectors.verify;
  const good = vectors.verify.cases.find((c) => c.name === 'es256 valid');
  const other = { keys: JSON.parse(good.jwks).keys.filter((k) => k.alg === 'EdDSA') };
  for (let i = 0; i < 3; i++) {
    assert.equal(verify(good.token, good.jwks, { ...options, now }).valid, true);
  }
  assert.equal(verify(good.token, other, { ...options, now }).error.code, 'kid_unknown');
  assert.equal(verify(good.token, good.jwks, { ...options, now, audiences: ['svc.other'] }).error.code, 'audience_mismatch');
  assert.equal(verify(good.token, good.jwks, { ...options, now }).valid, true);
});
