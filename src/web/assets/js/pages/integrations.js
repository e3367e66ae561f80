// System Integrations: the list, and the create/edit form rendered from the provider's JSON
// schema (labels in the chosen language, secrets as password inputs shown as ******, required
// marks, every invalid field marked with its own message), with Test, and the setup info
// (callback or WebSocket URL, with copy buttons) after saving.

import { get, post, put, del, ApiError } from '../api.js';
import { h, mount, say, sayError, flash, errorBox, badge, confirmDialog, copyButton, tableFrame } from '../dom.js';
import { t, L, formatDateTime, errorText, modeName } from '../i18n.js';

/** What the server masks secrets as; sent back unchanged it keeps the stored value. */
export const MASK = '******';

/** The setup answer of a provider (callback URL, WebSocket URL and mode, hints). */
export function setupCard(setup) {
  if (!setup || typeof setup !== 'object') return '';
  const line = (label, value, testid) => (value ? h('div', { class: 'kv' }, h('span', { class: 'k' }, label),
    h('code', { testid, class: 'copyable' }, value), copyButton(value, `copy-${testid}`)) : '');
  return h('section', { class: 'card setup', testid: 'setup', 'aria-labelledby': 'setup-title' },
    h('h2', { id: 'setup-title' }, t('setup')),
    line(t('callbackUrl'), setup.callbackUrl, 'callback-url'),
    line(t('websocketUrl'), setup.websocketUrl, 'websocket-url'),
    setup.mode ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('mode')), h('span', { testid: 'setup-mode' }, modeName(setup.mode))) : '',
    (setup.hints || []).map((x) => h('p', { class: 'hint' }, L(x))));
}

/**
 * Asks before deleting integration `i` and deletes it; the host refuses while a published
 * Digital Expert uses it, and its answer (naming the expert) is shown. Resolves true when deleted.
 */
export async function deleteIntegration(i) {
  const yes = await confirmDialog({
    title: t('deleteIntegrationTitle', { name: i.name }), body: t('deleteIntegrationBody'), confirm: t('delete'),
  });
  if (!yes) return false;
  try {
    await del(`/api/integration/${encodeURIComponent(i.id)}`);
    sessionStorage.removeItem(`xpert.setup.${i.id}`);
    return true;
  } catch (err) {
    sayError(err);
    return false;
  }
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
    if (await deleteIntegration(i)) { await rerender(); say('ok', t('deleted', { name: i.name })); }
  };
  const head = [t('name'), t('provider'), t('status'), t('updated'), h('span', { class: 'sr-only' }, t('edit'))];
  mount(main,
    h('h1', {}, t('integrations')),
    provs.length
      ? h('div', { class: 'providers' }, provs.map((p) => h('div', { class: 'card provider', testid: `provider-${p.name}` },
        h('div', { class: 'row between' }, h('h2', { class: 'plain' }, L(p.label) || p.name),
          h('a', { class: 'button primary', href: `#/integrations/new/${p.name}`, testid: `new-${p.name}` },
            `+ ${t('newIntegration')}`)),
        p.description ? h('p', { class: 'hint' }, L(p.description)) : '')))
      : h('div', { class: 'error', testid: 'no-providers' }, t('noProviders'), ' ', h('a', { href: '#/plugins' }, t('plugins'))),
    list === null
      ? h('p', { class: 'hint', testid: 'list-unavailable' }, t('listUnavailable'))
      : tableFrame(h('table', { testid: 'integrations-table' },
        h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, list.length ? list.map((i) => h('tr', { testid: `integration-row-${i.id}` },
          h('td', {}, h('a', { href: `#/integrations/${i.id}`, testid: `open-${i.id}` }, i.name || i.id)),
          h('td', {}, byName[i.provider] ? L(byName[i.provider].label) : i.provider),
          h('td', {}, i.enabled ? badge(t('enabled'), 'ok') : badge(t('disabled'))),
          h('td', {}, formatDateTime(i.updatedAt)),
          h('td', { class: 'actions' },
            h('a', { class: 'button', href: `#/integrations/${i.id}/edit`, 'aria-label': `${t('edit')}: ${i.name}` }, t('edit')),
            h('button', { type: 'button', class: 'danger', testid: `delete-${i.id}`, 'aria-label': `${t('delete')}: ${i.name}`, onclick: () => remove(i) }, t('delete')))))
          : h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, t('none'))))), t('integrations')));
}

/** One input for schema property `key`. Secrets are password inputs; stored ones show as ******. */
function field(key, prop, required, value, secret) {
  const id = `opt-${key}`;
  const type = prop.type || 'string';
  let input;
  const describedBy = `${id}-error ${id}-hint`;
  if (Array.isArray(prop.enum)) {
    input = h('select', { id, testid: id, 'aria-describedby': describedBy },
      h('option', { value: '' }, '—'),
      prop.enum.map((v) => h('option', { value: String(v), selected: value === v }, L(prop.enumLabels && prop.enumLabels[v]) || String(v))));
  } else if (type === 'boolean') {
    input = h('input', { id, testid: id, type: 'checkbox', checked: value ?? prop.default ?? false, 'aria-describedby': describedBy });
  } else {
    const password = secret || prop['x-ui']?.component === 'password';
    const shown = password && value !== undefined && value !== null && value !== '' ? MASK : value;
    // No maxlength: a pasted value longer than allowed is kept whole and called out, never cut.
    input = h('input', {
      id, testid: id, autocomplete: password ? 'new-password' : 'off',
      type: password ? 'password' : (type === 'integer' || type === 'number' ? 'number' : 'text'),
      value: shown ?? '', required, 'aria-required': required ? 'true' : undefined,
      placeholder: prop.default !== undefined ? String(prop.default) : '',
      min: prop.minimum, max: prop.maximum, step: type === 'integer' ? 1 : undefined,
      'aria-describedby': describedBy,
    });
  }
  input.dataset.key = key;
  input.dataset.type = type;
  const label = h('label', { for: id }, L(prop.title) || key,
    required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : '');
  return h('div', { class: 'field', testid: `field-${key}` }, label, input,
    h('div', { class: 'field-error', id: `${id}-error`, testid: `field-error-${key}`, hidden: true }),
    h('div', { class: 'hint', id: `${id}-hint` }, prop.description ? L(prop.description) : '',
      secret && value ? [' ', t('secretKept')] : ''));
}

/** Marks a field invalid with its message, or (message '') valid again. */
export function markField(container, key, message) {
  const box = container.querySelector(`[data-testid='field-error-${CSS.escape(key)}']`);
  const input = container.querySelector(`[data-key='${CSS.escape(key)}']`);
  if (!box || !input) return false;
  box.textContent = message;
  box.hidden = !message;
  input.closest('.field')?.classList.toggle('invalid', Boolean(message));
  if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  return true;
}

/**
 * Checks every input against its schema property (required, length, range, whole numbers) and
 * marks each invalid one with its own message; returns the number of problems.
 */
export function checkFields(container, schema, labelOf) {
  const required = new Set(schema.required || []);
  let problems = 0;
  for (const el of container.querySelectorAll('[data-key]')) {
    const key = el.dataset.key;
    const prop = (schema.properties || {})[key] || {};
    const label = labelOf(key, prop);
    const value = el.type === 'checkbox' ? el.checked : el.value.trim();
    let message = '';
    if (el.type !== 'checkbox') {
      const numeric = el.dataset.type === 'integer' || el.dataset.type === 'number';
      if (value === '') {
        if (required.has(key)) message = t('fieldRequired', { label });
      } else if (value === MASK && prop) {
        // A stored secret, kept as it is.
      } else if (numeric) {
        const n = Number(value);
        if (!Number.isFinite(n) || (el.dataset.type === 'integer' && !Number.isInteger(n))) message = t('fieldInteger', { label });
        else if (prop.minimum !== undefined && n < prop.minimum) message = t('fieldMin', { label, n: prop.minimum });
        else if (prop.maximum !== undefined && n > prop.maximum) message = t('fieldMax', { label, n: prop.maximum });
      } else {
        const got = [...value].length;
        if (prop.minLength !== undefined && prop.minLength === prop.maxLength && got !== prop.minLength) message = t('fieldLength', { label, n: prop.minLength, got });
        else if (prop.minLength !== undefined && got < prop.minLength) message = t('fieldMinLength', { label, n: prop.minLength, got });
        else if (prop.maxLength !== undefined && got > prop.maxLength) message = t('fieldMaxLength', { label, n: prop.maxLength, got });
      }
    }
    markField(container, key, message);
    if (message) problems += 1;
  }
  return problems;
}

/** Shows a server refusal: each field it names marked with its own message, the whole text above. */
export function showServerError(container, result, err) {
  let marked = 0;
  for (const f of err.fields || []) if (markField(container, f.key, L(f.message))) marked += 1;
  result.replaceChildren(errorBox(err));
  if (marked) container.querySelector('[aria-invalid=true]')?.focus();
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
        ' ', h('a', { href: '#/plugins' }, t('plugins')), h('code', { class: 'code' }, 'PROVIDER_NOT_FOUND')));
    return;
  }
  const schema = provider.schema || {};
  const required = new Set(schema.required || []);
  const secrets = new Set(schema.secret || []);
  const opts = (existing && existing.options) || {};
  const result = h('div', { id: 'form-result', 'aria-live': 'polite' });
  const fields = h('div', { class: 'fields' },
    orderedProperties(schema).map(([k, p]) => field(k, p, required.has(k), opts[k], secrets.has(k))));
  const nameInput = h('input', {
    id: 'int-name', testid: 'int-name', value: existing ? existing.name : L(provider.label), required: true,
    'aria-required': 'true', 'aria-describedby': 'int-name-error',
  });
  const nameError = h('div', { class: 'field-error', id: 'int-name-error', testid: 'field-error-name', hidden: true });
  const enabled = h('input', { id: 'int-enabled', testid: 'int-enabled', type: 'checkbox', checked: existing ? existing.enabled : true });
  const busy = (on) => { for (const b of main.querySelectorAll('.form-buttons button')) b.disabled = on; };
  const labelOf = (key, prop) => L(prop.title) || key;

  /** Every field checked at once: true when all are valid (each invalid one shows why). */
  const checkAll = () => {
    const nameMissing = !nameInput.value.trim();
    nameError.textContent = nameMissing ? t('fieldRequired', { label: t('name') }) : '';
    nameError.hidden = !nameMissing;
    nameInput.closest('.field').classList.toggle('invalid', nameMissing);
    if (nameMissing) nameInput.setAttribute('aria-invalid', 'true'); else nameInput.removeAttribute('aria-invalid');
    const problems = checkFields(fields, schema, labelOf) + (nameMissing ? 1 : 0);
    if (problems) {
      result.replaceChildren(h('div', { class: 'error', testid: 'form-error', role: 'alert' }, t('fieldInvalid')));
      main.querySelector('[aria-invalid=true]')?.focus();
    }
    return problems === 0;
  };

  const save = async () => {
    if (!checkAll()) return;
    busy(true);
    result.replaceChildren();
    const body = { name: nameInput.value.trim(), provider: name, enabled: enabled.checked, options: readOptions(fields) };
    try {
      const saved = existing
        ? await put(`/api/integration/${encodeURIComponent(existing.id)}`, body)
        : await post('/api/integration', body);
      if (saved.setup) sessionStorage.setItem(`xpert.setup.${saved.id}`, JSON.stringify(saved.setup));
      flash('ok', t('saved'));
      location.hash = `#/integrations/${saved.id}`;
    } catch (err) {
      showServerError(fields, result, err);
    } finally { busy(false); }
  };
  const test = async () => {
    if (!checkAll()) return;
    busy(true);
    try {
      const res = await post('/api/integration/test', { provider: name, options: readOptions(fields), id: existing ? existing.id : undefined });
      // The provider says what it checked (the format only, or a real handshake) and what it found.
      const ok = res?.ok !== false;
      const said = L(res?.message) || t(ok ? 'testOk' : 'testFailed');
      result.replaceChildren(h('div', { class: ok ? 'ok' : 'error', testid: ok ? 'test-ok' : 'test-failed' }, said), setupCard(res && res.setup));
    } catch (err) {
      showServerError(fields, result, err);
    } finally { busy(false); }
  };

  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': t('integrations') }, h('a', { href: '#/integrations' }, t('integrations')), ' → ',
      existing ? h('a', { href: `#/integrations/${existing.id}` }, existing.name) : t('newIntegration')),
    h('h1', { testid: 'form-title' }, L(provider.label) || name),
    provider.description ? h('p', { class: 'hint' }, L(provider.description)) : '',
    h('form', { class: 'card', testid: 'integration-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
      h('div', { class: 'field' }, h('label', { for: 'int-name' }, t('name'), h('span', { class: 'req', 'aria-hidden': 'true' }, ' *')), nameInput, nameError),
      h('div', { class: 'field inline' }, enabled, h('label', { for: 'int-enabled' }, t('enabled'))),
      fields,
      provider.helpUrl ? h('p', {}, h('a', { href: provider.helpUrl, target: '_blank', rel: 'noopener noreferrer' }, L(provider.helpLabel) || provider.helpUrl, ' ↗')) : '',
      result,
      h('div', { class: 'row form-buttons' },
        h('button', { class: 'primary', type: 'submit', testid: 'save-integration' }, t('save')),
        h('button', { type: 'button', testid: 'test-integration', onclick: test }, t('test')),
        h('button', { type: 'button', testid: 'cancel-integration', onclick: () => { location.hash = existing ? `#/integrations/${existing.id}` : '#/integrations'; } }, t('cancel')))));
}
