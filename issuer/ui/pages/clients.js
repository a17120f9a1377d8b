// Clients: list, register, disable, rotate the secret, revoke every token, mint a test token.

import { get, post, seg } from '../api.js';
import { busy, card, confirmDialog, errorSlot, field, h, iso, loading, mono, pageHeader, pill, replace, scopes, timeCell } from '../util.js';
import { secretReveal } from './secret.js';

export async function render(root, ctx) {
  const secretSlot = h('div', { class: 'secret-slot', 'aria-live': 'polite' });
  const listBody = h('div', { class: 'card-body-flush' }, loading('Loading clients…'));
  const refresh = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'clients-refresh' }, 'Refresh');

  const showSecret = (title, data) => {
    replace(
      secretSlot,
      secretReveal({
        title,
        clientId: data.client_id,
        secret: data.client_secret,
        onDone: () => secretSlot.replaceChildren(),
      }),
    );
    secretSlot.querySelector('input')?.focus();
  };

  const load = async () => {
    try {
      const list = await get('/admin/clients');
      if (!ctx.isCurrent()) return;
      replace(listBody, clientTable(list, { ctx, reload: load, showSecret }));
    } catch (err) {
      const slot = errorSlot('clients-error');
      slot.set(err);
      replace(listBody, slot.el);
    }
  };
  refresh.addEventListener('click', () => busy(refresh, load));

  root.append(
    pageHeader('Clients', 'Services and agents that obtain access tokens with the client credentials grant.'),
    secretSlot,
    createCard({
      onCreated: (data) => {
        showSecret(`Client ${data.client_id} registered`, data);
        load();
      },
    }),
    card('Registered clients', { testid: 'clients-card', actions: refresh }, listBody),
  );
  await load();
}

function createCard({ onCreated }) {
  const id = h('input', { type: 'text', name: 'client_id', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'svc.warehouse', testid: 'client-id' });
  const scope = h('input', { type: 'text', name: 'scope', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'instruments:read instruments:write', testid: 'client-scope' });
  const audience = h('input', { type: 'text', name: 'audience', autocomplete: 'off', spellcheck: 'false', placeholder: 'quantjourney', testid: 'client-audience' });
  const ttl = h('input', { type: 'number', name: 'ttl', min: '1', max: '86400', step: '1', inputmode: 'numeric', placeholder: '300', testid: 'client-ttl' });
  const kind = h('select', { name: 'kind', testid: 'client-kind' }, h('option', { value: 'service' }, 'Service'), h('option', { value: 'agent' }, 'Agent (may act for others)'));
  const errors = errorSlot('create-client-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'client-create' }, 'Register client');
  const form = h(
    'form',
    { class: 'form', testid: 'create-client-form', novalidate: true },
    h(
      'div',
      { class: 'form-grid form-grid-create' },
      field('Client ID', id, 'Letters, digits and . _ : - (becomes sub)'),
      field('Scopes', scope, 'Space separated; tokens may narrow, never widen'),
      field('Audience', audience, 'Default: quantjourney'),
      field('Lifetime (s)', ttl, 'Default: 300'),
      field('Kind', kind, 'An agent may exchange another principal’s token to act for it'),
      h('div', { class: 'form-grid-submit' }, submit),
    ),
    errors.el,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    const body = { client_id: id.value.trim(), scope: scope.value.trim().replace(/\s+/g, ' ') };
    if (!body.client_id || !body.scope) {
      errors.set({ description: 'A client ID and at least one scope are required.' });
      (body.client_id ? scope : id).focus();
      return;
    }
    if (audience.value.trim()) body.audience = audience.value.trim();
    if (kind.value === 'agent') body.kind = 'agent';
    if (ttl.value.trim()) {
      const n = Number(ttl.value);
      if (!Number.isInteger(n) || n < 1) {
        errors.set({ description: 'The lifetime is a whole number of seconds.' });
        ttl.focus();
        return;
      }
      body.ttl = n;
    }
    try {
      const data = await busy(submit, () => post('/admin/clients', body), 'Registering…');
      form.reset();
      onCreated(data);
    } catch (err) {
      errors.set(err);
    }
  });
  return card('Register a client', { testid: 'create-client-card', lede: 'A secret is generated and shown once.' }, form);
}

function clientTable(list, { ctx, reload, showSecret }) {
  if (!Array.isArray(list) || list.length === 0) {
    return h('div', { class: 'empty', testid: 'clients-empty' }, h('p', {}, 'No clients yet.'), h('p', { class: 'muted' }, 'Register one with the form on the right, or with issuer client create.'));
  }
  const rows = [...list]
    .sort((a, b) => (a.disabled_at ? 1 : 0) - (b.disabled_at ? 1 : 0) || String(a.client_id).localeCompare(String(b.client_id)))
    .map((client) => clientRow(client, { ctx, reload, showSecret }));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table', testid: 'clients-table' },
      h('thead', {}, h('tr', {}, ['Client', 'Status', 'Scopes', 'Audience · lifetime', 'Created', h('span', { class: 'sr-only' }, 'Actions')].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows),
    ),
  );
}

function clientRow(client, { ctx, reload, showSecret }) {
  const id = client.client_id;
  const disabled = Boolean(client.disabled_at);
  const rowError = errorSlot('client-row-error');
  const status = h('div', { class: 'row-status', 'aria-live': 'polite' });

  const act = (label, { testid, cls = 'btn btn-sm', handler }) => {
    const b = h('button', { type: 'button', class: cls, testid, 'aria-label': `${label} ${id}` }, label);
    b.addEventListener('click', async () => {
      rowError.clear();
      status.replaceChildren();
      try {
        await busy(b, () => handler(b));
      } catch (err) {
        rowError.set(err);
      }
    });
    return b;
  };

  const actions = [];
  if (!disabled) {
    actions.push(
      act('Mint token', {
        testid: 'client-mint',
        handler: async () => {
          if (!ctx.isCurrent()) return;
          ctx.shared.mintClient = id;
          ctx.navigate('tokens');
        },
      }),
    );
    if (client.auth_method !== 'private_key_jwt') {
      actions.push(
        act('New secret', {
          testid: 'client-rotate-secret',
          handler: async () => {
            const ok = await confirmDialog({
              title: `Rotate the secret of ${id}?`,
              body: 'The current secret stops working at once. The new one is shown once.',
              confirmLabel: 'Rotate secret',
            });
            if (!ok) return;
            const data = await post(`/admin/clients/${seg(id)}/secret`);
            showSecret(`New secret for ${data.client_id ?? id}`, { client_id: data.client_id ?? id, client_secret: data.client_secret });
          },
        }),
      );
    }
  }
  actions.push(
    act('Revoke tokens', {
      testid: 'client-revoke-tokens',
      handler: async () => {
        const ok = await confirmDialog({
          title: `Revoke every token of ${id}?`,
          body: 'Every token issued to this client until now is refused by the gateways within seconds. New tokens can still be issued unless the client is disabled.',
          confirmLabel: 'Revoke all tokens',
          danger: true,
        });
        if (!ok) return;
        await post(`/admin/clients/${seg(id)}/revoke-tokens`);
        replace(status, h('span', { class: 'ok-text' }, 'Tokens revoked.'));
      },
    }),
  );
  if (!disabled) {
    actions.push(
      act('Disable', {
        testid: 'client-disable',
        cls: 'btn btn-sm btn-danger-ghost',
        handler: async () => {
          const ok = await confirmDialog({
            title: `Disable ${id}?`,
            body: client.kind === 'agent'
              ? 'The agent can no longer obtain tokens, and every token it holds or acts through (every delegation chain it appears in) is revoked: the gateways refuse them within seconds.'
              : 'The client can no longer obtain tokens. Tokens it already holds stay valid until they expire unless you also revoke them.',
            confirmLabel: 'Disable client',
            danger: true,
          });
          if (!ok) return;
          await post(`/admin/clients/${seg(id)}/disable`);
          await reload();
        },
      }),
    );
  }

  return h(
    'tr',
    { dataset: { testid: 'client-row', clientId: id }, class: disabled ? 'row-disabled' : null },
    h('td', {}, h('div', { class: 'cell-main' }, mono(id, { max: 28, testid: 'client-id-cell' })), h('div', { class: 'cell-sub', testid: 'client-kind-cell' }, `${client.kind === 'agent' ? 'agent · ' : ''}${client.auth_method === 'private_key_jwt' ? 'private_key_jwt' : 'client secret'}`)),
    h('td', {}, disabled ? h('span', { title: `Disabled ${iso(client.disabled_at)}` }, pill('disabled', 'red', 'client-status')) : pill('active', 'green', 'client-status')),
    h('td', { class: 'scopes-cell' }, scopes(client.scope)),
    h('td', { class: 'nowrap' }, h('div', { class: 'cell-main' }, client.audience ?? '—'), h('div', { class: 'cell-sub' }, `tokens live ${formatTtl(client.ttl)}`)),
    h('td', {}, timeCell(client.created_at)),
    h('td', { class: 'actions-cell' }, h('div', { class: 'row-actions' }, actions), status, rowError.el),
  );
}

function formatTtl(secs) {
  if (!Number.isFinite(secs)) return '—';
  if (secs % 3600 === 0) return `${secs / 3600} h`;
  if (secs % 60 === 0) return `${secs / 60} min`;
  return `${secs} s`;
}
