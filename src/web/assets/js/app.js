// The app shell: sign-in, language switch, and the hash router over the page modules.
//   #/plugins                         Plugins
//   #/integrations                    System Integrations
//   #/integrations/new/{provider}     create form
//   #/integrations/{id}[/tab/{key}]   detail page with the plugin's tabs
//   #/integrations/{id}/edit          edit form
//   #/experts, #/experts/{id}         Digital Experts

import { get, token, setToken, whenUnauthorized } from './api.js';
import { h, mount, say, showFlash, errorBox } from './dom.js';
import { t, tParts, currentLang, setLang } from './i18n.js';
import * as plugins from './pages/plugins.js';
import * as integrations from './pages/integrations.js';
import * as detail from './pages/integration-detail.js';
import * as experts from './pages/experts.js';

const main = document.getElementById('app');

function showLogin(message) {
  main.dataset.ready = 'login';
  document.body.classList.add('signed-out');
  const error = h('div', { id: 'login-error', class: 'error', testid: 'login-error', role: 'alert', hidden: !message }, message || '');
  const input = h('input', {
    id: 'token', type: 'password', testid: 'token-input', autocomplete: 'current-password', required: true,
    'aria-describedby': 'token-hint login-error', 'aria-invalid': message ? 'true' : undefined,
  });
  mount(main, h('form', { class: 'card login', testid: 'login-form', novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) {
      error.textContent = t('loginEmpty');
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    setToken(value);
    say('', '');
    render();
  } },
  h('h1', {}, t('login')),
  error,
  h('label', { for: 'token' }, t('token')),
  input,
  h('p', { class: 'hint', id: 'token-hint' }, tParts('tokenHint', { cmd: h('code', {}, 'xpert-host'), env: h('code', {}, 'XPERT_ADMIN_TOKEN') })),
  h('button', { class: 'primary', type: 'submit', testid: 'login-button' }, t('login'))));
  input.focus();
}

whenUnauthorized(() => { setToken(''); showTenant(); showLogin(t('tokenRejected')); });

function translateShell() {
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  // The tab's title names the section shown, as the navigation does.
  const section = (location.hash || '#/plugins').replace(/^#\/?/, '').split('/')[0] || 'plugins';
  const key = { plugins: 'plugins', integrations: 'integrations', experts: 'experts' }[section] || 'plugins';
  document.title = token() ? `${t(key)} · Xpert AI` : `${t('login')} · Xpert AI`;
}

let generation = 0;

// Who the token belongs to (GET /api/me), fetched once per token.
let me = null;
let meToken = '';

/** Shows the caller's tenant in the header badge (hidden when signed out). */
async function showTenant() {
  const badge = document.getElementById('tenant');
  if (!token()) { me = null; meToken = ''; badge.hidden = true; return; }
  if (meToken !== token()) { me = await get('/api/me'); meToken = token(); }
  // On a phone only the name shows; the rest stays for screen readers.
  badge.replaceChildren(h('span', { class: 'k' }, `${t('tenant')}: `), me.tenant.name,
    me.admin ? h('span', { class: 'k' }, ` · ${t('admin')}`) : '');
  badge.title = me.tenant.id;
  badge.dataset.tenantId = me.tenant.id;
  badge.hidden = false;
}

/** Renders the page the hash names (or the sign-in form without a token). */
async function render() {
  const mine = ++generation;
  translateShell();
  if (!token()) { await showTenant(); showLogin(); return; }
  document.body.classList.remove('signed-out');
  const parts = (location.hash || '#/plugins').replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const section = parts[0] || 'plugins';
  for (const a of document.querySelectorAll('header nav a')) {
    const here = a.dataset.section === section;
    a.classList.toggle('active', here);
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  main.dataset.ready = '';
  main.setAttribute('aria-busy', 'true');
  // Each render builds its page off-screen and shows it only if no newer render started meanwhile.
  const view = h('div', { class: 'page' });
  try {
    await showTenant();
    if (section === 'integrations' && parts[1] === 'new') await integrations.renderForm(view, parts[2]);
    else if (section === 'integrations' && parts[1] && parts[2] === 'edit') await integrations.renderForm(view, null, parts[1]);
    else if (section === 'integrations' && parts[1]) await detail.render(view, parts[1], parts[2] === 'tab' ? parts[3] : undefined);
    else if (section === 'integrations') await integrations.renderList(view, render);
    else if (section === 'experts' && parts[1]) await experts.renderDetail(view, parts[1], render);
    else if (section === 'experts') await experts.renderList(view, render);
    else await plugins.render(view, render);
    if (mine !== generation) return;
    mount(main, view);
    main.dataset.ready = location.hash || '#/plugins';
  } catch (err) {
    if (err.status !== 401 && mine === generation) {
      mount(main, h('h1', {}, t('pageError')), errorBox(err, 'page-error'));
    }
  } finally {
    main.removeAttribute('aria-busy');
  }
}

const langSelect = document.getElementById('lang');
langSelect.value = currentLang();
setLang(currentLang());
// A notice was written in the old language: switching clears it with the page it belonged to.
langSelect.addEventListener('change', () => { setLang(langSelect.value); say('', ''); render(); });
document.getElementById('logout').addEventListener('click', () => { setToken(''); say('', ''); render(); });
window.addEventListener('hashchange', () => { showFlash(); render(); });
render();
