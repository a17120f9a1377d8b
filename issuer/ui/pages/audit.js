// The audit trail: newest first, filterable, paged backwards, with the hash chain's status.

import { get } from '../api.js';
import { busy, card, errorSlot, field, h, iso, loading, mono, pageHeader, pill, relative, replace } from '../util.js';

const PAGE = 50;

const KNOWN_ACTIONS = [
  'admin.',
  'admin.client.',
  'admin.client.created',
  'admin.client.disabled',
  'admin.client.secret_rotated',
  'admin.client.tokens_revoked',
  'admin.token.',
  'admin.token.revoked',
  'admin.key.rotated',
  'admin.session.',
  'admin.auth_failed',
  'key.',
  'client.',
  'token.',
];

export async function render(root, ctx) {
  const chainSlot = h('div', { class: 'chain-slot', 'aria-live': 'polite', testid: 'chain' }, loading('Checking the chain…'));
  const q = h('input', { type: 'search', autocomplete: 'off', spellcheck: 'false', placeholder: 'action, actor, target or source', testid: 'audit-q' });
  const outcome = h(
    'select',
    { testid: 'audit-outcome' },
    h('option', { value: '' }, 'Any outcome'),
    h('option', { value: 'success' }, 'Success'),
    h('option', { value: 'failure' }, 'Failure'),
  );
  const listId = 'audit-actions';
  const action = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. admin.client.', list: listId, testid: 'audit-action' });
  const datalist = h('datalist', { id: listId }, KNOWN_ACTIONS.map((a) => h('option', { value: a })));
  const apply = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'audit-apply' }, 'Filter');
  const reset = h('button', { type: 'button', class: 'btn btn-ghost', testid: 'audit-reset' }, 'Clear');
  const filterErrors = errorSlot('audit-error');
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter the audit trail', testid: 'audit-filters' },
    field('Search', q),
    field('Outcome', outcome),
    field('Action prefix', action),
    datalist,
    h('div', { class: 'filters-actions' }, apply, reset),
  );

  const tbody = h('tbody', {});
  const table = h(
    'table',
    { class: 'table table-audit', testid: 'audit-table' },
    h('thead', {}, h('tr', {}, [['Time', 'c-time'], ['Action', 'c-action'], ['Actor · source', 'c-actor'], ['Target', 'c-target'], ['Outcome', 'c-outcome'], ['Detail', 'c-detail']].map(([t, c]) => h('th', { scope: 'col', class: c }, t)))),
    tbody,
  );
  const listStatus = h('div', { class: 'list-status', 'aria-live': 'polite', testid: 'audit-status' });
  const more = h('button', { type: 'button', class: 'btn', testid: 'audit-more', hidden: true }, 'Load older');
  const moreErrors = errorSlot('audit-more-error');

  let nextBefore = null;
  let shown = 0;
  let generation = 0;

  const query = (before) => {
    const params = new URLSearchParams({ order: 'desc', limit: String(PAGE) });
    if (before !== null && before !== undefined) params.set('before', String(before));
    if (q.value.trim()) params.set('q', q.value.trim());
    if (outcome.value) params.set('outcome', outcome.value);
    if (action.value.trim()) params.set('action', action.value.trim());
    return `/admin/audit?${params}`;
  };

  const loadPage = async (before) => {
    const gen = generation;
    const page = await get(query(before));
    if (gen !== generation || !ctx.isCurrent()) return;
    const records = Array.isArray(page?.records) ? page.records : [];
    tbody.append(...records.map(auditRow));
    shown += records.length;
    nextBefore = page?.next_before ?? null;
    more.hidden = nextBefore === null || records.length === 0;
    replace(
      listStatus,
      shown === 0 ? h('span', { class: 'muted', testid: 'audit-empty' }, 'No records match.') : `${shown} record${shown === 1 ? '' : 's'} shown, newest first${more.hidden ? ' — that is all.' : '.'}`,
    );
  };

  const reload = async () => {
    generation += 1;
    tbody.replaceChildren();
    shown = 0;
    nextBefore = null;
    more.hidden = true;
    filterErrors.clear();
    moreErrors.clear();
    replace(listStatus, loading('Loading records…'));
    try {
      await loadPage(null);
    } catch (err) {
      listStatus.replaceChildren();
      filterErrors.set(err);
    }
  };

  filters.addEventListener('submit', async (event) => {
    event.preventDefault();
    await busy(apply, reload);
  });
  reset.addEventListener('click', () => {
    filters.reset();
    reload();
  });
  more.addEventListener('click', async () => {
    moreErrors.clear();
    try {
      await busy(more, () => loadPage(nextBefore), 'Loading…');
    } catch (err) {
      moreErrors.set(err);
    }
  });

  const recheck = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'chain-recheck' }, 'Check again');
  const loadChain = async () => {
    try {
      const chain = await get('/admin/audit/chain');
      if (!ctx.isCurrent()) return;
      replace(chainSlot, chainBadge(chain));
    } catch (err) {
      const slot = errorSlot('chain-error');
      slot.set(err);
      replace(chainSlot, slot.el);
    }
  };
  recheck.addEventListener('click', () => busy(recheck, loadChain));

  root.append(
    pageHeader('Audit trail', 'Every admin action, token issuance decision and key change, hash-chained so an edited or deleted record shows.'),
    card('Chain integrity', { testid: 'chain-card', actions: recheck, cls: 'card-compact' }, chainSlot),
    card(
      'Records',
      { testid: 'audit-card' },
      filters,
      filterErrors.el,
      h('div', { class: 'table-wrap table-bleed' }, table),
      h('div', { class: 'list-foot' }, listStatus, more),
      moreErrors.el,
    ),
  );
  await Promise.all([loadChain(), reload()]);
}

function chainBadge(chain) {
  const status = String(chain?.status ?? 'unknown');
  const intact = status === 'intact';
  const head = chain?.head ? mono(chain.head, { max: 16 }) : null;
  return h(
    'div',
    { class: `chain ${intact ? 'chain-ok' : 'chain-bad'}`, role: intact ? 'status' : 'alert' },
    pill(intact ? 'intact' : status, intact ? 'green' : 'red', 'chain-status'),
    h(
      'div',
      { class: 'chain-text' },
      intact
        ? h('span', {}, `All ${chain.records ?? 0} records check out: every hash and every link to the record before.`)
        : h(
            'span',
            {},
            chain?.broken_at !== undefined && chain?.broken_at !== null ? `Broken at record #${chain.broken_at}: ` : 'Broken: ',
            chain?.reason ? [h('code', { class: 'err-code', testid: 'chain-reason' }, chain.reason), ' '] : null,
            h('strong', { testid: 'chain-problem' }, chain?.problem ?? 'unknown problem'),
            chain?.records !== undefined ? ` (${chain.records} records before it check out)` : '',
          ),
      head ? h('span', { class: 'chain-head' }, 'Head ', head) : null,
    ),
  );
}

function auditRow(record) {
  const at = Number(record.at_ms) / 1000;
  const ok = record.outcome === 'success';
  return h(
    'tr',
    { dataset: { testid: 'audit-row', action: record.action ?? '', seq: String(record.seq ?? '') }, class: ok ? null : 'row-failure' },
    h('td', { class: 'nowrap' }, h('time', { datetime: iso(at), title: record.time ?? iso(at), class: 'when' }, h('span', {}, shortTime(at)), h('span', { class: 'rel' }, relative(at)))),
    h('td', {}, h('code', { class: 'action', testid: 'audit-action-cell' }, breakAtDots(record.action ?? '')), h('div', { class: 'cell-sub' }, `#${record.seq ?? '?'}`)),
    h('td', {}, h('div', { class: 'cell-main mono-plain', title: record.actor ?? '' }, record.actor ?? ''), h('div', { class: 'cell-sub', title: 'Source' }, record.source ?? '')),
    h('td', {}, record.target ? mono(record.target, { max: 16 }) : h('span', { class: 'muted' }, '—')),
    h('td', {}, pill(record.outcome ?? '?', ok ? 'green' : 'red', 'audit-outcome-cell')),
    h('td', { class: 'detail-cell' }, detail(record.detail)),
  );
}

/** `admin.client.created` with line-break opportunities after the dots only. */
function breakAtDots(text) {
  const parts = String(text).split('.');
  return parts.flatMap((part, i) => (i < parts.length - 1 ? [`${part}.`, h('wbr')] : [part]));
}

/** Detail members that hold Unix seconds. */
const TIME_KEY = /^(exp|iat|nbf)$|_at$|_before$|_until$/;

/** "Nov 24, 13:46:07" in local time. */
function shortTime(unixSecs) {
  return new Date(unixSecs * 1000).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** The detail compactly (key=value …), the whole JSON on demand. */
function detail(value) {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = value;
    }
  }
  if (parsed === null || parsed === undefined || (typeof parsed === 'object' && Object.keys(parsed).length === 0)) {
    return h('span', { class: 'muted' }, '—');
  }
  const summary =
    typeof parsed === 'object' && !Array.isArray(parsed)
      ? Object.entries(parsed)
          // The error code of a refused action first: it is what one scans for.
          .sort(([a], [b]) => (b === 'error') - (a === 'error'))
          .filter(([, v]) => v !== null && v !== undefined)
          .map(([k, v]) => {
            if (TIME_KEY.test(k) && typeof v === 'number' && v > 1e9 && v < 1e11) return `${k}=${shortTime(v)}`;
            return `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`;
          })
          .join(' ')
      : JSON.stringify(parsed);
  return h(
    'details',
    { class: 'detail' },
    h('summary', { title: 'Show the detail as JSON' }, h('span', { class: 'detail-summary' }, summary)),
    h('pre', { class: 'json' }, JSON.stringify(parsed, null, 2)),
  );
}
