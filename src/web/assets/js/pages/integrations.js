// Settings → System Integrations: the list, and the create/edit form rendered from the
// provider's JSON schema (labels in the chosen language, secrets as password inputs shown as
// ******, required marks), with Test, and the setup info (callback or WebSocket URL) after saving.

import { get, post, put, del, ApiError } from '../api.js';
import { h, mount, say, flash, errorBox, badge } from '../dom.js';
import { t, L, formatDateTime } from '../i18n.js';

/** What the server masks secrets as; sent back unchanged it keeps the stored value. */
export const MASK = '******';

/** The setup answer of a provider (callback URL, WebSocket URL and mode, hints). */
export function setupCard(setup) {
  if (!setup || typeof setup !== 'object') return '';
  const line = (label, value, testid) => (value ? h('div', { class: 'kv' }, h('span', { class: 'k' }, label),
    h('code', { testid, class: 'copyable', title: value }, value)) : '');
  return h('div', { class: 'card setup', testid: 'setup' },
    h('h2', {}, t('setup')),
    line(t('callbackUrl'), setup.callbackUrl, 'callback-url'),
    line(t('websocketUrl'), setup.websocketUrl, 'websocket-url'),
    line(t('mode'), setup.mode, 'setup-mode'),
    (setup.hints || []).map((x) => h('p', { class: 'hint' }, L(x))));
}

async function providers() {
  return get('/api/integration/providers');
}

/** Renders the integration list with a "New" button per registered provider. */
export async function renderList(main, rerender) {
  const provs = await providers();
  let list = null;
  try {
    list = await get('/api/integration');
  } catch (err) {
    if (!(err instanceof ApiError) || ![404, 405].includes(err.status)) throw err;
  }
  const byName = Object.fromEntries(provs.map((p) => [p.name, p]));
  const remove = async (i) => {
    if (!window.confirm(t('confirmDelete', { name: i.name }))) return;
    try { await del(`/api/integration/${encodeURIComponent(i.id)}`); await rerender(); say('ok', t('deleted')); } catch (err) { say('error', err.message); }
  };
  const head = [t('name'), t('provider'), t('enabled'), t('updated'), ''];
  mount(main, 
    h('div', { class: 'crumbs' }, t('settings'), ' → ', t('integrations')),
    h('h1', {}, t('integrations')),
    provs.length
      ? h('div', { class: 'providers' }, provs.map((p) => h('div', { class: 'card provider', testid: `provider-${p.name}` },
        h('div', { class: 'row between' }, h('strong', {}, L(p.label) || p.name),
          h('button', { class: 'primary', testid: `new-${p.name}`, onclick: () => { location.hash = `#/integrations/new/${p.name}`; } },
            `+ ${t('newIntegration')}`)),
        p.description ? h('p', { class: 'hint' }, L(p.description)) : '')))
      : h('div', { class: 'error', testid: 'no-providers' }, t('noProviders'), ' ', h('a', { href: '#/plugins' }, t('plugins'))),
    list === null
      ? h('p', { class: 'hint', testid: 'list-unavailable' }, t('listUnavailable'))
      : h('table', { testid: 'integrations-table' },
        h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))),
        h('tbody', {}, list.length ? list.map((i) => h('tr', { testid: `integration-row-${i.id}` },
          h('td', {}, h('a', { href: `#/integrations/${i.id}`, testid: `open-${i.id}` }, i.name || i.id)),
          h('td', {}, byName[i.provider] ? L(byName[i.provider].label) : i.provider),
          h('td', {}, i.enabled ? badge(t('yes'), 'ok') : badge(t('no'))),
          h('td', {}, formatDateTime(i.updatedAt)),
          h('td', { class: 'actions' },
            h('button', { onclick: () => { location.hash = `#/integrations/${i.id}/edit`; } }, t('edit')),
            h('button', { class: 'danger', testid: `delete-${i.id}`, onclick: () => remove(i) }, t('delete')))))
          : h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, t('none'))))));
}

/** One input for schema property `key`. Secrets are password inputs; stored ones show as ******. */
function field(key, prop, required, value, secret) {
  const id = `opt-${key}`;
  const type = prop.type || 'string';
  let input;
  if (Array.isArray(prop.enum)) {
    input = h('select', { id, testid: id },
      h('option', { value: '' }, '—'),
      prop.enum.map((v) => h('option', { value: String(v), selected: value === v }, L(prop.enumLabels && prop.enumLabels[v]) || String(v))));
  } else if (type === 'boolean') {
    input = h('input', { id, testid: id, type: 'checkbox', checked: value ?? prop.default ?? false });
  } else {
    const password = secret || prop['x-ui']?.component === 'password';
    const shown = password && value !== undefined && value !== null && value !== '' ? MASK : value;
    input = h('input', {
      id, testid: id, autocomplete: password ? 'new-password' : 'off',
      type: password ? 'password' : (type === 'integer' || type === 'number' ? 'number' : 'text'),
      value: shown ?? '', required,
      placeholder: prop.default !== undefined ? String(prop.default) : '',
      min: prop.minimum, max: prop.maximum, step: type === 'integer' ? 1 : undefined,
      maxlength: prop.maxLength,
    });
  }
  input.dataset.key = key;
  input.dataset.type = type;
  const label = h('label', { for: id }, L(prop.title) || key,
    required ? h('span', { class: 'req', title: t('required') }, ' *') : '');
  return h('div', { class: 'field' }, label, input,
    prop.description ? h('div', { class: 'hint' }, L(prop.description)) : '',
    secret && value ? h('div', { class: 'hint' }, t('secretKept')) : '');
}

/**
 * The schema's properties in display order: an explicit `x-ui.order` first, then the required
 * ones in the order `required` lists them, then the rest as the schema gives them.
 */
export function orderedProperties(schema) {
  const entries = Object.entries(schema.properties || {});
  const required = schema.required || [];
  const rank = ([k, p]) => {
    if (Number.isFinite(p?.['x-ui']?.order)) return [0, p['x-ui'].order];
    if (required.includes(k)) return [1, required.indexOf(k)];
    return [2, 0];
  };
  return entries
    .map((e, i) => [e, rank(e), i])
    .sort((a, b) => a[1][0] - b[1][0] || a[1][1] - b[1][1] || a[2] - b[2])
    .map(([e]) => e);
}

/** The options object from the form's inputs (empty inputs left out, numbers as numbers). */
function readOptions(form) {
  const options = {};
  for (const el of form.querySelectorAll('[data-key]')) {
    const key = el.dataset.key;
    if (el.type === 'checkbox') { options[key] = el.checked; continue; }
    if (el.value === '') continue;
    options[key] = el.dataset.type === 'integer' || el.dataset.type === 'number' ? Number(el.value) : el.value;
  }
  return options;
}

/** The create (no `existingId`) or edit form for an integration of `providerName`. */
export async function renderForm(main, providerName, existingId) {
  const [provs, existing] = await Promise.all([
    providers(),
    existingId ? get(`/api/integration/${encodeURIComponent(existingId)}`) : null,
  ]);
  const name = existing ? existing.provider : providerName;
  const provider = provs.find((p) => p.name === name);
  if (!provider) {
    mount(main, h('h1', {}, t('integrations')),
      h('div', { class: 'error', testid: 'form-error', role: 'alert' }, t('providerMissing', { name }),
        h('code', { class: 'code' }, 'PROVIDER_NOT_FOUND'), ' ', h('a', { href: '#/plugins' }, t('plugins'))));
    return;
  }
  const schema = provider.schema || {};
  const required = new Set(schema.required || []);
  const secrets = new Set(schema.secret || []);
  const opts = (existing && existing.options) || {};
  const result = h('div', { id: 'form-result', 'aria-live': 'polite' });
  const fields = h('div', { class: 'fields' },
    orderedProperties(schema).map(([k, p]) => field(k, p, required.has(k), opts[k], secrets.has(k))));
  const nameInput = h('input', { id: 'int-name', testid: 'int-name', value: existing ? existing.name : L(provider.label), required: true });
  const enabled = h('input', { id: 'int-enabled', testid: 'int-enabled', type: 'checkbox', checked: existing ? existing.enabled : true });
  const busy = (on) => { for (const b of main.querySelectorAll('.form-buttons button')) b.disabled = on; };

  const save = async () => {
    busy(true);
    const body = { name: nameInput.value.trim(), provider: name, enabled: enabled.checked, options: readOptions(fields) };
    try {
      const saved = existing
        ? await put(`/api/integration/${encodeURIComponent(existing.id)}`, body)
        : await post('/api/integration', body);
      if (saved.setup) sessionStorage.setItem(`xpert.setup.${saved.id}`, JSON.stringify(saved.setup));
      flash('ok', t('saved'));
      location.hash = `#/integrations/${saved.id}`;
    } catch (err) {
      result.replaceChildren(errorBox(err));
    } finally { busy(false); }
  };
  const test = async () => {
    busy(true);
    try {
      const res = await post('/api/integration/test', { provider: name, options: readOptions(fields), id: existing ? existing.id : undefined });
      // The provider says what it checked (the format only, or a real handshake) and what it found.
      const ok = res?.ok !== false;
      const said = L(res?.message) || t(ok ? 'testOk' : 'testFailed');
      result.replaceChildren(h('div', { class: ok ? 'ok' : 'error', testid: ok ? 'test-ok' : 'test-failed' }, said), setupCard(res && res.setup));
    } catch (err) {
      result.replaceChildren(errorBox(err));
    } finally { busy(false); }
  };

  mount(main, 
    h('div', { class: 'crumbs' }, h('a', { href: '#/integrations' }, t('integrations')), ' → ', existing ? existing.name : t('newIntegration')),
    h('h1', { testid: 'form-title' }, L(provider.label) || name),
    provider.description ? h('p', { class: 'hint' }, L(provider.description)) : '',
    h('form', { class: 'card', testid: 'integration-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
      h('div', { class: 'field' }, h('label', { for: 'int-name' }, t('name'), h('span', { class: 'req' }, ' *')), nameInput),
      h('div', { class: 'field inline' }, enabled, h('label', { for: 'int-enabled' }, t('enabled'))),
      fields,
      provider.helpUrl ? h('p', {}, h('a', { href: provider.helpUrl, target: '_blank', rel: 'noopener noreferrer' }, L(provider.helpLabel) || provider.helpUrl, ' ↗')) : '',
      result,
      h('div', { class: 'row form-buttons' },
        h('button', { class: 'primary', type: 'submit', testid: 'save-integration' }, t('save')),
        h('button', { type: 'button', testid: 'test-integration', onclick: test }, t('test')),
        h('button', { type: 'button', testid: 'cancel-integration', onclick: () => { location.hash = existing ? `#/integrations/${existing.id}` : '#/integrations'; } }, t('cancel')))));
}
