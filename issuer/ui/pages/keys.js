// Signing keys: their lifecycle (next → current → retired) and rotation.

import { get, post } from '../api.js';
import { busy, card, confirmDialog, errorSlot, h, iso, loading, mono, pageHeader, pill, relative, replace, timeCell } from '../util.js';

const STATUS_ORDER = { current: 0, next: 1, retired: 2 };
const STATUS_PILL = { current: 'green', next: 'blue', retired: 'grey' };

export async function render(root, ctx) {
  const body = h('div', { class: 'card-body-flush' }, loading('Loading keys…'));
  const result = h('div', { class: 'status-line', 'aria-live': 'polite', testid: 'rotate-result' });
  const errors = errorSlot('rotate-error');

  const load = async () => {
    try {
      const keys = await get('/admin/keys');
      if (!ctx.isCurrent()) return;
      replace(body, keyTable(keys));
    } catch (err) {
      const slot = errorSlot('keys-error');
      slot.set(err);
      replace(body, slot.el);
    }
  };

  const rotate = h('button', { type: 'button', class: 'btn btn-primary', testid: 'rotate-keys' }, 'Rotate now');
  const emergency = h('button', { type: 'button', class: 'btn btn-danger-ghost', testid: 'rotate-emergency' }, 'Emergency rotation…');
  const run = async (button, emergencyMode) => {
    errors.clear();
    result.replaceChildren();
    if (emergencyMode) {
      const ok = await confirmDialog({
        title: 'Emergency rotation?',
        body: h(
          'div',
          {},
          h('p', {}, 'A brand-new key starts signing at once; the current key retires. Use this when the current key may be compromised.'),
          h('p', {}, 'Gateways have not seen the new key yet: they fetch it on the first token with an unknown kid, so the first requests may wait briefly.'),
        ),
        confirmLabel: 'Rotate now, in an emergency',
        danger: true,
      });
      if (!ok) return;
    }
    try {
      const data = await busy(button, () => post('/admin/keys/rotate', emergencyMode ? { emergency: true } : {}), 'Rotating…');
      replace(result, h('span', { class: 'ok-text' }, 'Rotated. Now signing with ', mono(data.kid, { max: 20 }), data.emergency ? ' (emergency).' : '.'));
      await load();
    } catch (err) {
      errors.set(err);
    }
  };
  rotate.addEventListener('click', () => run(rotate, false));
  emergency.addEventListener('click', () => run(emergency, true));

  root.append(
    pageHeader('Signing keys', 'A next key is published ahead of time so every gateway already holds it when it starts signing; retired keys stay published until their last token expires.'),
    card(
      'Rotation',
      {
        testid: 'rotation-card',
        lede: 'A planned rotation promotes the pre-published next key (it must have been published for at least the JWKS max-age).',
      },
      h('div', { class: 'stack' }, h('div', { class: 'button-row' }, rotate, emergency), errors.el, result),
    ),
    card('Keys', { testid: 'keys-card' }, body),
    legend(),
  );
  await load();
}

function keyTable(keys) {
  if (!Array.isArray(keys) || keys.length === 0) {
    return h('div', { class: 'empty' }, h('p', {}, 'No keys.'));
  }
  const sorted = [...keys].sort(
    (a, b) => (STATUS_ORDER[a.status] ?? 9) - (STATUS_ORDER[b.status] ?? 9) || (b.created_at ?? 0) - (a.created_at ?? 0),
  );
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table', testid: 'keys-table' },
      h('thead', {}, h('tr', {}, ['State', 'Algorithm', 'Key ID (kid)', 'Created', 'Activates', 'Retires'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, sorted.map(keyRow)),
    ),
  );
}

function keyRow(key) {
  const status = String(key.status ?? 'unknown');
  // Planned times, when the issuer reports them; otherwise what is known happened.
  const activates = key.activated_at ?? key.activates_at ?? key.ready_at ?? null;
  const retires = key.retired_at ?? key.retires_at ?? key.rotates_at ?? null;
  const pending = (text) => h('span', { class: 'muted' }, text);
  return h(
    'tr',
    { dataset: { testid: 'key-row', status } },
    h('td', {}, pill(status, STATUS_PILL[status] ?? 'grey', 'key-status')),
    h('td', {}, h('span', { class: 'mono-plain' }, key.alg ?? '—')),
    h('td', {}, mono(key.kid, { max: 24, testid: 'key-kid' })),
    h('td', {}, timeCell(key.created_at)),
    h('td', {}, activates !== null ? timeCell(activates) : status === 'next' ? pending('at the next rotation') : pending('—')),
    h(
      'td',
      {},
      retires !== null ? timeCell(retires) : status === 'current' ? pending('at the next rotation') : pending('—'),
      key.publish_until ? h('div', { class: 'cell-sub', title: iso(key.publish_until) }, `leaves the JWKS ${relative(key.publish_until)}`) : null,
    ),
  );
}

function legend() {
  return h(
    'div',
    { class: 'legend', testid: 'keys-legend' },
    h('span', {}, pill('next', 'blue'), ' published, not signing yet'),
    h('span', {}, pill('current', 'green'), ' signs every new token'),
    h('span', {}, pill('retired', 'grey'), ' verifies tokens it signed until they expire'),
  );
}
