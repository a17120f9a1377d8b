// A client secret, shown this one time: it lives only in this element, which goes away when the
// operator dismisses it or leaves the page.

import { copyText, h } from '../util.js';

export function secretReveal({ title, clientId, secret, onDone }) {
  const input = h('input', {
    type: 'text',
    readonly: true,
    class: 'secret-input',
    value: secret,
    'aria-label': `Client secret of ${clientId}`,
    spellcheck: 'false',
    autocomplete: 'off',
    testid: 'secret-value',
  });
  const status = h('div', { class: 'copy-status', 'aria-live': 'polite', testid: 'secret-copy-status' });
  const copy = h('button', { type: 'button', class: 'btn btn-primary', testid: 'copy-secret' }, 'Copy');
  copy.addEventListener('click', () => copyText(input.value, status, input));
  input.addEventListener('focus', () => input.select());
  const done = h('button', { type: 'button', class: 'btn', testid: 'secret-done' }, 'I have stored it');
  done.addEventListener('click', () => {
    input.value = '';
    onDone();
  });
  return h(
    'section',
    { class: 'card card-secret', role: 'region', 'aria-label': title, testid: 'secret-card' },
    h(
      'div',
      { class: 'secret-head' },
      h('span', { class: 'secret-icon', 'aria-hidden': 'true' }, '!'),
      h(
        'div',
        {},
        h('h2', {}, title),
        h('p', { class: 'secret-warning', testid: 'secret-warning' }, h('strong', {}, 'Copy this secret now: it will not be shown again. '), 'The issuer keeps only a hash of it. Store it in your secret manager; if it is lost, rotate it.'),
      ),
    ),
    h('div', { class: 'secret-row' }, input, copy, done),
    status,
    h(
      'p',
      { class: 'hint' },
      'Get a token with it: ',
      h('code', { class: 'mono-plain' }, `curl -u ${clientId}:<secret> -d grant_type=client_credentials <issuer>/oauth/token`),
    ),
  );
}
