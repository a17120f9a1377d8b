// Agents: the live delegations (principal → agent → sub-agent …), built from the audit trail's
// token-exchange records by GET /admin/delegations, and revoking a branch: one delegated token
// (POST /admin/revocations with its jti; every token exchanged from it falls with it at the
// gateways, which check the ancestors' jtis each delegated token carries), or an agent with
// every token in whose chain it appears (POST /admin/revocations with its client_id).

import { get, post } from '../api.js';
import { busy, card, confirmDialog, errorSlot, h, iso, loading, mono, pageHeader, pill, relative, replace, scopes } from '../util.js';

export async function render(root, ctx) {
  const body = h('div', { class: 'card-body' }, loading('Loading delegations…'));
  const status = h('div', { class: 'status-line', 'aria-live': 'polite', testid: 'agents-status' });
  const errors = errorSlot('agents-error');
  const load = async () => {
    try {
      const data = await get('/admin/delegations');
      if (!ctx.isCurrent()) return;
      replace(body, tree(data, { onRevoke: revoke }));
    } catch (err) {
      errors.set(err);
      replace(body);
    }
  };
  const revoke = async (what, button) => {
    errors.clear();
    const ok = await confirmDialog({
      title: what.client_id && !what.jti ? `Revoke agent ${what.client_id}?` : what.client_id ? 'Revoke this branch?' : 'Revoke the principal’s token and everything exchanged from it?',
      body: what.client_id && !what.jti
        ? `Every token ${what.client_id} holds, and every token in whose delegation chain it appears, is refused by the gateways from their next feed refresh.`
        : 'This delegated token and every token exchanged from it, directly or not, are refused by the gateways from their next feed refresh. Its parent and sibling branches keep working.',
      confirmLabel: 'Revoke',
      danger: true,
    });
    if (!ok || !ctx.isCurrent()) return;
    try {
      await busy(button, () => post('/admin/revocations', what), 'Revoking…');
      replace(status, h('span', { class: 'ok-text', testid: 'agents-revoked' }, what.jti ? `Revoked branch ${what.jti}.` : `Revoked agent ${what.client_id}.`));
      await load();
    } catch (err) {
      errors.set(err);
    }
  };
  const refresh = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'agents-refresh' }, 'Refresh');
  refresh.addEventListener('click', () => busy(refresh, load));
  root.append(
    pageHeader('Agents', 'Who acts for whom right now: every live token minted by token exchange, as a tree from the principal down.'),
    card('Live delegations', { testid: 'delegations-card', lede: 'From the audit trail; a token leaves the tree when it expires or is revoked, directly or through an ancestor or an agent of its chain.', actions: refresh }, errors.el, status, body),
  );
  await load();
}

/** The forest: one tree per principal, each delegated token under the one it was exchanged from. */
function tree(data, { onRevoke }) {
  const tokens = data.tokens ?? [];
  if (tokens.length === 0) {
    return h('p', { class: 'muted', testid: 'delegations-empty' }, 'No live delegations. An agent gets one by exchanging a principal’s token at POST /oauth/token (grant type token-exchange).');
  }
  const byJti = new Map(tokens.map((t) => [t.jti, t]));
  const children = new Map();
  const principals = new Map();
  for (const t of tokens) {
    if (byJti.has(t.parent)) {
      if (!children.has(t.parent)) children.set(t.parent, []);
      children.get(t.parent).push(t);
    } else {
      const key = `${t.sub}\u0000${t.parent}`;
      if (!principals.has(key)) principals.set(key, { sub: t.sub, profile: t.sub_profile, parent: t.parent, parentExp: t.parent_exp, tokens: [] });
      principals.get(key).tokens.push(t);
    }
  }
  const node = (t) =>
    h(
      'li',
      { class: 'tree-node', testid: 'delegation', dataset: { jti: t.jti, actor: t.client_id } },
      h(
        'div',
        { class: 'tree-row' },
        pill('ai_agent', 'blue'),
        h('strong', { testid: 'delegation-actor' }, t.client_id),
        h('span', { class: 'muted' }, ` acts for ${t.sub} · depth ${(t.actors ?? []).length} · `),
        scopes(t.scope),
        h('span', { class: 'muted', title: iso(t.exp) }, ` · expires ${relative(t.exp)} · `),
        mono(t.jti, { max: 14 }),
        h(
          'span',
          { class: 'tree-actions' },
          revokeButton('Revoke branch', 'revoke-branch', { jti: t.jti, exp: t.exp, client_id: t.client_id }, onRevoke),
          revokeButton('Revoke agent', 'revoke-agent', { client_id: t.client_id }, onRevoke),
        ),
      ),
      children.has(t.jti) ? h('ul', { class: 'tree' }, children.get(t.jti).map(node)) : null,
    );
  return h(
    'ul',
    { class: 'tree tree-root', testid: 'delegation-tree' },
    [...principals.values()].map((p) =>
      h(
        'li',
        { class: 'tree-node', testid: 'principal', dataset: { sub: p.sub } },
        h(
          'div',
          { class: 'tree-row' },
          pill(p.profile ?? 'service', p.profile === 'user' ? 'green' : 'grey'),
          h('strong', {}, p.sub),
          h('span', { class: 'muted' }, ' · from token '),
          mono(p.parent, { max: 14 }),
          p.parentExp ? h('span', { class: 'tree-actions' }, revokeButton('Revoke the whole tree', 'revoke-tree', { jti: p.parent, exp: p.parentExp }, onRevoke)) : null,
        ),
        h('ul', { class: 'tree' }, p.tokens.map(node)),
      ),
    ),
  );
}

function revokeButton(label, testid, what, onRevoke) {
  const button = h('button', { type: 'button', class: 'btn btn-sm btn-danger-ghost', testid }, label);
  button.addEventListener('click', () => onRevoke(what, button));
  return button;
}
