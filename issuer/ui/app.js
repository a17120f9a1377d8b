// The admin UI: sign-in, the shell (sidebar, top bar) and the hash router.
//
// Routes are hash routes (#/clients …) holding nothing sensitive; tokens handed from one page
// to another travel in `shared` (memory), never in the URL.

import { api, ApiError, del, get, onUnauthorized, setCsrf } from './api.js';
import { busy, errorSlot, field, h, local, replace } from './util.js';
import * as clients from './pages/clients.js';
import * as keys from './pages/keys.js';
import * as tokens from './pages/tokens.js';
import * as agents from './pages/agents.js';
import * as audit from './pages/audit.js';
import * as verify from './pages/verify.js';

const ROUTES = [
  { path: 'clients', label: 'Clients', page: clients, icon: 'M4 6h16M4 12h16M4 18h10' },
  { path: 'keys', label: 'Keys', page: keys, icon: 'M15 7a4 4 0 1 1-3.9 5H4v3H2v-5h9.1A4 4 0 0 1 15 7z' },
  { path: 'tokens', label: 'Tokens', page: tokens, icon: 'M4 7h16v10H4zM8 11h4' },
  { path: 'agents', label: 'Agents', page: agents, icon: 'M12 4a3 3 0 1 1 0 6 3 3 0 0 1 0-6zM6 20a6 6 0 0 1 12 0M4 14l3 2M20 14l-3 2' },
  { path: 'audit', label: 'Audit', page: audit, icon: 'M6 3h9l3 3v15H6zM9 10h6M9 14h6M9 18h4' },
  { path: 'verify', label: 'Verify & explain', page: verify, icon: 'M5 12l4 4 10-10' },
];

const root = document.getElementById('app');

/** The signed-in session: {actor, expires_at}; the CSRF token is kept by api.js only. */
let session = null;

/** In-memory hand-over between pages (e.g. a minted token to Verify & explain). */
const shared = {
  pendingToken: null,
  lastMinted: null,
  mintClient: null,
  verifyInput: null,
};

let pageEl = null;
let navLinks = [];
let renderSeq = 0;

function currentRoute() {
  const name = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return ROUTES.find((r) => r.path === name) ?? null;
}

function navigate(path) {
  if (location.hash === `#/${path}`) {
    renderPage();
  } else {
    location.hash = `#/${path}`;
  }
}

function adopt(data) {
  session = { actor: data.actor, expires_at: data.expires_at };
  setCsrf(data.csrf);
}

function forget() {
  session = null;
  setCsrf(null);
  // The page on screen is no longer current: a request it still awaits (a token being minted…)
  // must not put anything in `shared` or on screen when it completes.
  renderSeq += 1;
  // Tokens handed between pages, the last minted one and the Verify page's input go too.
  for (const key of Object.keys(shared)) shared[key] = null;
}

// ---- sign-in ----------------------------------------------------------------------------------

function renderSignIn(notice) {
  document.title = 'Sign in · Issuer admin';
  const input = h('input', {
    type: 'password',
    name: 'credential',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    testid: 'credential',
  });
  const errors = errorSlot('signin-error');
  const button = h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'signin-submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin-form', testid: 'signin-form', novalidate: true },
    field('Admin credential', input, [
      'The token printed once on the issuer’s stdout at first start, in the line ',
      h('code', {}, '{"event":"admin_credential",…}'),
      '. Lost it? Run ',
      h('code', {}, 'issuer admin reset-credential'),
      '.',
    ]),
    errors.el,
    button,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    const credential = input.value.trim();
    if (!credential) {
      errors.set({ description: 'Enter the admin credential.' });
      input.focus();
      return;
    }
    try {
      const data = await busy(button, () => api('POST', '/admin/session', { credential }, { quiet401: true }), 'Signing in…');
      input.value = '';
      adopt(data);
      if (!currentRoute()) history.replaceState(null, '', '#/clients');
      renderShell();
    } catch (err) {
      errors.set(err);
      input.select();
    }
  });
  replace(
    root,
    h(
      'main',
      { class: 'signin', testid: 'signin' },
      h(
        'div',
        { class: 'signin-card' },
        h('div', { class: 'brand brand-lg' }, logo(), h('span', {}, 'Issuer admin')),
        h('h1', {}, 'Sign in'),
        h('p', { class: 'lede' }, 'Manage clients, signing keys and revocations, and find out why the gateway refused a call.'),
        notice ? h('div', { class: 'alert alert-info', role: 'status', testid: 'signin-notice' }, notice) : null,
        form,
      ),
      h('p', { class: 'signin-foot' }, 'The session is an HttpOnly cookie; the credential is never stored by this page.'),
    ),
  );
  input.focus();
}

function logo() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'logo');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M12 2l8 3.5v6c0 5-3.4 9.1-8 10.5-4.6-1.4-8-5.5-8-10.5v-6z M8.5 12l2.5 2.5 4.5-5');
  svg.append(path);
  return svg;
}

function icon(d) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'nav-icon');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

// ---- shell --------------------------------------------------------------------------------------

function renderShell() {
  navLinks = ROUTES.map((route) =>
    h('a', { href: `#/${route.path}`, class: 'nav-link', testid: `nav-${route.path}` }, icon(route.icon), h('span', {}, route.label)),
  );
  const signOutErrors = errorSlot('signout-error');
  const signOut = h('button', { type: 'button', class: 'btn btn-ghost', testid: 'signout' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    signOutErrors.clear();
    try {
      await busy(signOut, () => del('/admin/session', { quiet401: true }));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) {
        signOutErrors.set(err);
        return;
      }
    }
    forget();
    renderSignIn('You are signed out.');
  });
  pageEl = h('main', { id: 'page', class: 'page', tabindex: '-1', testid: 'page' });
  const expires = session.expires_at
    ? h('span', { class: 'session-exp', title: 'Session expires' }, `until ${local(session.expires_at)}`)
    : null;
  replace(
    root,
    h('a', { href: '#page', class: 'skip-link' }, 'Skip to content'),
    h(
      'div',
      { class: 'shell' },
      h(
        'aside',
        { class: 'sidebar' },
        h('div', { class: 'brand' }, logo(), h('span', {}, 'Issuer admin')),
        h('nav', { 'aria-label': 'Sections' }, h('ul', { class: 'nav' }, navLinks.map((a) => h('li', {}, a)))),
        h('div', { class: 'sidebar-foot' }, 'OAuth client credentials · JWT · JWKS'),
      ),
      h(
        'div',
        { class: 'main' },
        h(
          'header',
          { class: 'topbar' },
          h('div', { class: 'topbar-crumb', testid: 'crumb' }),
          h(
            'div',
            { class: 'topbar-user' },
            signOutErrors.el,
            h('span', { class: 'avatar', 'aria-hidden': 'true' }, 'A'),
            h('span', { class: 'actor' }, h('span', { class: 'actor-label' }, 'Signed in as '), h('strong', { testid: 'actor' }, session.actor)),
            expires,
            signOut,
          ),
        ),
        pageEl,
      ),
    ),
  );
  const skip = root.querySelector('.skip-link');
  skip.addEventListener('click', (e) => {
    e.preventDefault();
    pageEl.focus();
  });
  renderPage();
}

async function renderPage() {
  if (!session || !pageEl) return;
  const route = currentRoute();
  if (!route) {
    history.replaceState(null, '', '#/clients');
    return renderPage();
  }
  renderSeq += 1;
  const seq = renderSeq;
  for (const link of navLinks) {
    if (link.getAttribute('href') === `#/${route.path}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const crumb = root.querySelector('[data-testid="crumb"]');
  if (crumb) replace(crumb, route.label);
  document.title = `${route.label} · Issuer admin`;
  const container = h('div', { class: 'page-inner', testid: `page-${route.path}` });
  replace(pageEl, container);
  try {
    await route.page.render(container, {
      shared,
      navigate,
      isCurrent: () => seq === renderSeq,
    });
  } catch (err) {
    if (seq === renderSeq) {
      const slot = errorSlot('page-error');
      slot.set(err);
      container.append(slot.el);
    }
  }
  if (seq === renderSeq && document.activeElement === document.body) {
    const title = container.querySelector('h1');
    if (title) title.focus({ preventScroll: true });
  }
}

// ---- start --------------------------------------------------------------------------------------

onUnauthorized(() => {
  if (!session) return;
  forget();
  renderSignIn('Your session has ended. Sign in again.');
});

window.addEventListener('hashchange', () => {
  if (session) renderPage();
});

async function start() {
  try {
    const data = await get('/admin/session', { quiet401: true });
    adopt(data);
    renderShell();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      renderSignIn();
    } else {
      renderSignIn();
      const slot = errorSlot('session-error');
      slot.set(err);
      root.querySelector('.signin-card')?.append(slot.el);
    }
  }
}

start();
