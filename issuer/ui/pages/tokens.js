// Tokens: mint a test token for a client, revoke a token or every token of a client, and the
// revocations in force (what the gateways' revocation feed carries).

import { get, post, seg } from '../api.js';
import { busy, card, confirmDialog, copyText, errorSlot, field, h, iso, loading, mono, pageHeader, peekJwt, relative, replace, scopes, timeCell } from '../util.js';

export async function render(root, ctx) {
  const revocationsBody = h('div', { class: 'card-body-flush' }, loading('Loading revocations…'));
  const loadRevocations = async () => {
    try {
      const data = await get('/admin/revocations');
      if (!ctx.isCurrent()) return;
      replace(revocationsBody, revocationTables(data));
    } catch (err) {
      const slot = errorSlot('revocations-error');
      slot.set(err);
      replace(revocationsBody, slot.el);
    }
  };

  let clientList = [];
  const clientSelects = [];
  const fillSelects = () => {
    for (const { select, enabledOnly, preferred } of clientSelects) {
      const options = clientList.filter((c) => !enabledOnly || !c.disabled_at);
      const keep = preferred() ?? select.value;
      replace(
        select,
        options.length === 0 ? h('option', { value: '' }, 'No clients') : null,
        options.map((c) => h('option', { value: c.client_id }, c.client_id)),
      );
      if (keep && options.some((c) => c.client_id === keep)) select.value = keep;
    }
  };

  const mint = mintCard(ctx, clientSelects, { onRevoked: loadRevocations });
  const revoke = revokeCard(ctx, clientSelects, { onRevoked: loadRevocations });
  const refresh = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'revocations-refresh' }, 'Refresh');
  refresh.addEventListener('click', () => busy(refresh, loadRevocations));

  root.append(
    pageHeader('Tokens', 'Mint a test token to try a route, and revoke tokens the gateways must refuse from now on.'),
    h('div', { class: 'grid grid-2' }, mint, revoke),
    card('Revocations in force', { testid: 'revocations-card', lede: 'Published in the revocation feed the gateways poll; entries leave it when the tokens they cover have expired.', actions: refresh }, revocationsBody),
  );

  const clientsError = errorSlot('clients-load-error');
  mint.querySelector('form')?.prepend(clientsError.el);
  try {
    clientList = await get('/admin/clients');
  } catch (err) {
    clientsError.set(err);
  }
  if (!ctx.isCurrent()) return;
  fillSelects();
  ctx.shared.mintClient = null;
  await loadRevocations();
}

function clientSelect(clientSelects, { enabledOnly, preferred = () => null, testid }) {
  const select = h('select', { testid, required: true }, h('option', { value: '' }, 'Loading…'));
  clientSelects.push({ select, enabledOnly, preferred });
  return select;
}

// ---- mint ---------------------------------------------------------------------------------------

function mintCard(ctx, clientSelects, { onRevoked }) {
  const select = clientSelect(clientSelects, { enabledOnly: true, preferred: () => ctx.shared.mintClient, testid: 'mint-client' });
  const scope = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'all of the client’s scopes', testid: 'mint-scope' });
  const errors = errorSlot('mint-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'mint-submit' }, 'Mint token');
  const output = h('div', { class: 'mint-output', 'aria-live': 'polite', testid: 'mint-output' });
  const form = h(
    'form',
    { class: 'form', novalidate: true, testid: 'mint-form' },
    h('div', { class: 'field-row' }, field('Client', select), field('Scope (optional)', scope, 'Narrow the token to fewer scopes')),
    errors.el,
    h('div', { class: 'form-actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    if (!select.value) {
      errors.set({ description: 'Choose a client.' });
      select.focus();
      return;
    }
    const body = scope.value.trim() ? { scope: scope.value.trim().replace(/\s+/g, ' ') } : {};
    try {
      const data = await busy(submit, () => post(`/admin/clients/${seg(select.value)}/token`, body), 'Minting…');
      // Signed out (or gone to another page) meanwhile: the token is dropped, not kept for later.
      if (!ctx.isCurrent()) return;
      ctx.shared.lastMinted = { ...data, client_id: select.value };
      showMinted(output, ctx, ctx.shared.lastMinted, { onRevoked });
    } catch (err) {
      if (ctx.isCurrent()) errors.set(err);
    }
  });
  if (ctx.shared.lastMinted) showMinted(output, ctx, ctx.shared.lastMinted, { onRevoked });
  return card('Mint a test token', { testid: 'mint-card', lede: 'Issued exactly as /oauth/token would issue it to the client, and audited.' }, form, output);
}

function showMinted(output, ctx, minted, { onRevoked }) {
  const token = minted.access_token;
  const peek = peekJwt(token);
  const textarea = h('textarea', {
    readonly: true,
    rows: '5',
    class: 'token-box',
    spellcheck: 'false',
    'aria-label': 'Minted access token',
    testid: 'minted-token',
  });
  textarea.value = token;
  const status = h('div', { class: 'copy-status', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', class: 'btn btn-sm', testid: 'copy-token' }, 'Copy');
  copy.addEventListener('click', () => copyText(token, status, textarea));
  const explain = h('button', { type: 'button', class: 'btn btn-primary btn-sm', testid: 'explain-minted' }, 'Verify & explain this token');
  explain.addEventListener('click', () => {
    if (!ctx.isCurrent()) return;
    ctx.shared.pendingToken = token;
    ctx.navigate('verify');
  });
  const revokeErrors = errorSlot('revoke-minted-error');
  const revoke = h('button', { type: 'button', class: 'btn btn-sm btn-danger-ghost', testid: 'revoke-minted' }, 'Revoke this token');
  revoke.addEventListener('click', async () => {
    revokeErrors.clear();
    const claims = peek?.claims ?? {};
    try {
      await busy(revoke, () => post('/admin/revocations', revocationBody(claims)));
      replace(status, h('span', { class: 'ok-text', testid: 'revoke-minted-done' }, 'Revoked: the gateways refuse it from their next feed refresh.'));
      onRevoked();
    } catch (err) {
      revokeErrors.set(err);
    }
  });
  const claims = peek?.claims ?? {};
  replace(
    output,
    h(
      'div',
      { class: 'minted' },
      h(
        'dl',
        { class: 'facts' },
        fact('Client', minted.client_id),
        fact('Scope', scopes(minted.scope ?? claims.scope)),
        fact('Expires', claims.exp ? h('span', { title: iso(claims.exp) }, `${relative(claims.exp)} (${minted.expires_in} s)`) : `${minted.expires_in} s`),
        fact('jti', claims.jti ? mono(claims.jti, { max: 26, testid: 'minted-jti' }) : '—'),
      ),
      textarea,
      h('div', { class: 'button-row' }, explain, copy, revoke),
      status,
      revokeErrors.el,
    ),
  );
}

function fact(label, value) {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value));
}

/** The body of POST /admin/revocations for a token's claims. */
function revocationBody(claims) {
  const body = { jti: String(claims.jti), exp: Math.ceil(Number(claims.exp)) };
  if (typeof claims.client_id === 'string') body.client_id = claims.client_id;
  return body;
}

// ---- revoke -------------------------------------------------------------------------------------

function revokeCard(ctx, clientSelects, { onRevoked }) {
  // One token: pasted whole (its jti and exp are read from it here; it is not sent anywhere) or
  // by jti and expiry.
  const input = h('textarea', { rows: '3', spellcheck: 'false', autocomplete: 'off', class: 'token-box', placeholder: 'eyJhbGciOi… or a jti', testid: 'revoke-input' });
  const exp = h('input', { type: 'number', min: '0', step: '1', inputmode: 'numeric', placeholder: 'e.g. 1767225600', testid: 'revoke-exp' });
  const expField = field('Token expiry (Unix seconds)', exp, 'Only needed for a bare jti: the entry stays in the feed until then.');
  const errors = errorSlot('revoke-error');
  const result = h('div', { class: 'status-line', 'aria-live': 'polite', testid: 'revoke-result' });
  const submit = h('button', { type: 'submit', class: 'btn btn-danger', testid: 'revoke-submit' }, 'Revoke token');
  const preview = h('div', { class: 'revoke-preview', 'aria-live': 'polite' });
  const updatePreview = () => {
    const peek = peekJwt(input.value);
    if (!input.value.trim()) {
      preview.replaceChildren();
      expField.hidden = true;
    } else if (peek) {
      const c = peek.claims;
      replace(preview, h('span', { class: 'muted' }, 'Token of ', h('strong', {}, String(c.client_id ?? c.sub ?? '?')), ', jti ', mono(c.jti ?? '?', { max: 16 }), c.exp ? `, expires ${relative(c.exp)}` : ''));
      expField.hidden = true;
    } else {
      preview.replaceChildren();
      expField.hidden = false;
    }
  };
  input.addEventListener('input', updatePreview);
  expField.hidden = true;

  const form = h(
    'form',
    { class: 'form', novalidate: true, testid: 'revoke-form' },
    field('Access token or jti', input),
    preview,
    expField,
    errors.el,
    h('div', { class: 'form-actions' }, submit),
    result,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    result.replaceChildren();
    const text = input.value.trim();
    let body;
    const peek = peekJwt(text);
    if (peek) {
      if (peek.claims.jti === undefined || peek.claims.exp === undefined) {
        errors.set({ description: 'This token has no jti or no exp, so it cannot be revoked by id.' });
        return;
      }
      body = revocationBody(peek.claims);
    } else if (text) {
      if (text.includes('.')) {
        errors.set({ description: 'This looks like a token but cannot be decoded. Paste the whole token, or just its jti.' });
        return;
      }
      const n = Number(exp.value);
      if (!exp.value || !Number.isInteger(n) || n < 0) {
        errors.set({ description: 'Give the token’s exp (Unix seconds) with a bare jti.' });
        exp.focus();
        return;
      }
      body = { jti: text, exp: n };
    } else {
      errors.set({ description: 'Paste a token or enter a jti.' });
      input.focus();
      return;
    }
    try {
      const data = await busy(submit, () => post('/admin/revocations', body), 'Revoking…');
      input.value = '';
      exp.value = '';
      updatePreview();
      replace(result, h('span', { class: 'ok-text', testid: 'revoke-done' }, 'Revoked token ', mono(data.jti ?? body.jti, { max: 16 }), '. Gateways refuse it from their next feed refresh.'));
      onRevoked();
    } catch (err) {
      errors.set(err);
    }
  });

  // A whole client.
  const select = clientSelect(clientSelects, { enabledOnly: false, testid: 'revoke-client' });
  const clientErrors = errorSlot('revoke-client-error');
  const clientResult = h('div', { class: 'status-line', 'aria-live': 'polite', testid: 'revoke-client-result' });
  const clientSubmit = h('button', { type: 'submit', class: 'btn btn-danger-ghost', testid: 'revoke-client-submit' }, 'Revoke all its tokens…');
  const clientForm = h(
    'form',
    { class: 'form form-inline', novalidate: true, testid: 'revoke-client-form' },
    field('Every token of a client', select),
    h('div', { class: 'form-inline-action' }, clientSubmit),
  );
  clientForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clientErrors.clear();
    clientResult.replaceChildren();
    const id = select.value;
    if (!id) {
      clientErrors.set({ description: 'Choose a client.' });
      return;
    }
    const ok = await confirmDialog({
      title: `Revoke every token of ${id}?`,
      body: 'Every token issued to it until now is refused by the gateways within seconds.',
      confirmLabel: 'Revoke all tokens',
      danger: true,
    });
    if (!ok) return;
    try {
      await busy(clientSubmit, () => post(`/admin/clients/${seg(id)}/revoke-tokens`), 'Revoking…');
      replace(clientResult, h('span', { class: 'ok-text' }, `Every token of ${id} issued until now is revoked.`));
      onRevoked();
    } catch (err) {
      clientErrors.set(err);
    }
  });

  return card(
    'Revoke',
    { testid: 'revoke-card', lede: 'Paste a token (read here, never sent) or give its jti.' },
    form,
    h('hr', { class: 'sep' }),
    clientForm,
    clientErrors.el,
    clientResult,
  );
}

function revocationTables(data) {
  const tokens = Array.isArray(data?.tokens) ? data.tokens : [];
  const clients = Array.isArray(data?.clients) ? data.clients : [];
  const tokenTable = tokens.length
    ? h(
        'table',
        { class: 'table', testid: 'revoked-tokens-table' },
        h('caption', {}, `Tokens (${tokens.length})`),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'jti'), h('th', { scope: 'col' }, 'Expires'))),
        h('tbody', {}, [...tokens].sort((a, b) => b.exp - a.exp).map((t) => h('tr', { dataset: { testid: 'revoked-token-row', jti: t.jti } }, h('td', {}, mono(t.jti, { max: 28 })), h('td', {}, timeCell(t.exp))))),
      )
    : h('p', { class: 'empty-inline' }, 'No single tokens revoked.');
  const clientTable = clients.length
    ? h(
        'table',
        { class: 'table', testid: 'revoked-clients-table' },
        h('caption', {}, `Clients (${clients.length})`),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Client'), h('th', { scope: 'col' }, 'Refused if issued before'))),
        h('tbody', {}, clients.map((c) => h('tr', {}, h('td', {}, mono(c.client_id, { max: 32 })), h('td', {}, timeCell(c.revoked_before, { seconds: true }))))),
      )
    : h('p', { class: 'empty-inline' }, 'No whole clients revoked.');
  return h('div', { class: 'grid grid-2 grid-tight' }, h('div', { class: 'table-wrap' }, tokenTable), h('div', { class: 'table-wrap' }, clientTable));
}
