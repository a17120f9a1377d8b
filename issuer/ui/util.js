// DOM and formatting helpers. Untrusted text only ever becomes text nodes or attribute values,
// never markup: there is no innerHTML anywhere in this UI.

/**
 * Builds an element: h('button', {class: 'btn', onclick: fn, dataset: {testid: 'x'}}, 'Label').
 * Attributes whose value is null, undefined or false are left out; `true` sets an empty one.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = v;
    } else if (name === 'testid') {
      el.dataset.testid = value;
    } else if (name === 'value' && 'value' in el) {
      el.value = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
/** A fresh id for label/input pairs. */
export function uid(prefix = 'f') {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled form field; returns {field, input}. `input` is the control element given. */
export function field(label, input, hint) {
  if (!input.id) input.id = uid('in');
  const hintEl = hint ? h('p', { class: 'hint', id: `${input.id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  const wrapper = h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
  return wrapper;
}

/** An error box for an ApiError or Error, shown next to what failed. */
export function errorBox(err, testid) {
  const code = err && err.code ? err.code : null;
  const text = err && (err.description || err.message) ? err.description || err.message : String(err);
  return h(
    'div',
    { class: 'alert alert-error', role: 'alert', testid: testid ?? 'error' },
    code ? h('code', { class: 'err-code', testid: 'error-code' }, code) : null,
    h('span', {}, text),
  );
}

/** A slot that shows an error next to a form or button; `set(err)` / `clear()`. */
export function errorSlot(testid = 'error') {
  const el = h('div', { class: 'error-slot' });
  return {
    el,
    set(err) {
      replace(el, errorBox(err, testid));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

/** Disables a button and shows a spinner while `work` runs. */
export async function busy(button, work, label) {
  const original = button.textContent;
  button.disabled = true;
  button.classList.add('is-busy');
  button.setAttribute('aria-busy', 'true');
  if (label) button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.classList.remove('is-busy');
    button.removeAttribute('aria-busy');
    button.textContent = original;
  }
}

/** A loading placeholder. */
export function loading(text = 'Loading…') {
  return h('div', { class: 'loading', role: 'status', testid: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

// ---- time ----------------------------------------------------------------------------------

/** "in 4 min" / "3 min ago" for a Unix time in seconds, relative to now. */
export function relative(unixSecs, nowSecs = Date.now() / 1000) {
  if (!Number.isFinite(unixSecs)) return '';
  const diff = unixSecs - nowSecs;
  const abs = Math.abs(diff);
  let text;
  if (abs < 5) return 'just now';
  if (abs < 60) text = `${Math.round(abs)} s`;
  else if (abs < 3600) text = `${Math.round(abs / 60)} min`;
  else if (abs < 86400 * 2) text = `${Math.round(abs / 360) / 10} h`;
  else text = `${Math.round(abs / 86400)} days`;
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

/** ISO 8601 UTC without milliseconds, for a Unix time in seconds. */
export function iso(unixSecs) {
  if (!Number.isFinite(unixSecs)) return String(unixSecs);
  const d = new Date(unixSecs * 1000);
  if (Number.isNaN(d.getTime())) return String(unixSecs);
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

/** Local "2025-06-01 14:03" for a Unix time in seconds. */
export function local(unixSecs, withSeconds = false) {
  const d = new Date(unixSecs * 1000);
  if (Number.isNaN(d.getTime())) return String(unixSecs);
  const p = (n) => String(n).padStart(2, '0');
  const base = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  return withSeconds ? `${base}:${p(d.getSeconds())}` : base;
}

/** A <time> element: local time, relative time beneath, full UTC in the title. */
export function timeCell(unixSecs, { seconds = false } = {}) {
  if (unixSecs === null || unixSecs === undefined) return h('span', { class: 'muted' }, '—');
  return h(
    'time',
    { datetime: iso(unixSecs), title: iso(unixSecs), class: 'when' },
    h('span', {}, local(unixSecs, seconds)),
    h('span', { class: 'rel' }, relative(unixSecs)),
  );
}

// ---- small widgets --------------------------------------------------------------------------

/** Monospace text truncated in the middle, the whole value in the title (and copyable). */
export function mono(text, { max = 18, testid } = {}) {
  const full = String(text ?? '');
  let shown = full;
  if (full.length > max) {
    const head = Math.ceil((max - 1) / 2);
    const tail = Math.floor((max - 1) / 2);
    shown = `${full.slice(0, head)}…${full.slice(full.length - tail)}`;
  }
  return h('code', { class: 'mono', title: full, testid, dataset: { full } }, shown);
}

/** A coloured status pill: kinds are green, blue, grey, red, amber. */
export function pill(text, kind, testid) {
  return h('span', { class: `pill pill-${kind}`, testid }, text);
}

/** Space-separated scopes as chips. */
export function scopes(text) {
  const list = String(text ?? '').split(/\s+/).filter(Boolean);
  if (list.length === 0) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'chips' }, list.map((s) => h('span', { class: 'chip' }, s)));
}

/** A page heading with an optional lede and actions on the right. */
export function pageHeader(title, lede, ...actions) {
  return h(
    'div',
    { class: 'page-header' },
    h('div', {}, h('h1', { tabindex: '-1', class: 'page-title' }, title), lede ? h('p', { class: 'lede' }, lede) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null,
  );
}

/** A card with an h2 title. */
export function card(title, { testid, lede, actions, cls } = {}, ...body) {
  const titleId = title ? uid('card') : null;
  return h(
    'section',
    { class: `card ${cls ?? ''}`.trim(), testid, 'aria-labelledby': titleId },
    title
      ? h(
          'div',
          { class: 'card-head' },
          h('div', {}, h('h2', { id: titleId }, title), lede ? h('p', { class: 'card-lede' }, lede) : null),
          actions ? h('div', { class: 'card-actions' }, actions) : null,
        )
      : null,
    body,
  );
}

/** Copies text with the async clipboard API; reports into `status`. */
export async function copyText(text, status, fallbackInput) {
  try {
    if (!navigator.clipboard) throw new Error('clipboard unavailable');
    await navigator.clipboard.writeText(text);
    if (status) replace(status, h('span', { class: 'ok-text', testid: 'copied' }, 'Copied to the clipboard.'));
    return true;
  } catch {
    if (fallbackInput) {
      fallbackInput.focus();
      fallbackInput.select();
    }
    if (status) replace(status, h('span', { class: 'warn-text' }, 'Copying is not allowed here: the text is selected, press Ctrl+C.'));
    return false;
  }
}

/** A modal confirmation built on <dialog>; resolves true when confirmed. */
export function confirmDialog({ title, body, confirmLabel = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'btn btn-danger' : 'btn btn-primary', testid: 'confirm-ok' }, confirmLabel);
    const cancel = h('button', { type: 'submit', value: 'cancel', class: 'btn', testid: 'confirm-cancel' }, 'Cancel');
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId, testid: 'confirm-dialog' },
      h('form', { method: 'dialog' }, h('h2', { id: titleId }, title), h('div', { class: 'dialog-body' }, body), h('div', { class: 'dialog-actions' }, cancel, ok)),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

// ---- tokens ---------------------------------------------------------------------------------

/** Decodes a base64url segment to a string; throws on bad input. */
function b64urlToString(segment) {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new Error('not base64url');
  const b64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const bin = atob(padded);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/**
 * Reads a JWT's header and claims without checking anything (for display and for the jti/exp a
 * revocation needs). Returns null when it is not a JWS compact token with JSON parts.
 */
export function peekJwt(token) {
  const parts = String(token ?? '').trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(b64urlToString(parts[0]));
    const claims = JSON.parse(b64urlToString(parts[1]));
    if (typeof header !== 'object' || typeof claims !== 'object' || !header || !claims) return null;
    return { header, claims };
  } catch {
    return null;
  }
}

/** Claims whose values are NumericDates. */
export const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf', 'auth_time', 'revoked_before', 'generated_at']);
