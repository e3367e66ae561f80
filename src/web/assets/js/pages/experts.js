// Digital Experts: the list and the create form (echo or OpenAI-compatible agent), and the
// detail page where WeCom Triggers are added (fields from the trigger descriptor), saved,
// published (the 422 checklist shown item by item) and unpublished.

import { get, post, put, ApiError } from '../api.js';
import { h, mount, say, errorBox, badge } from '../dom.js';
import { t, L, formatDateTime } from '../i18n.js';
import { orderedProperties } from './integrations.js';

const OPENAI_FIELDS = ['baseUrl', 'apiKey', 'model', 'systemPrompt'];

/** Used when the server offers no trigger descriptor endpoint (GET /api/xpert/triggers). */
const FALLBACK_TRIGGER = {
  name: 'wecom',
  label: { en_US: 'WeCom Trigger', zh_Hans: '企业微信触发器' },
  configSchema: {
    type: 'object',
    required: ['enabled', 'integrationId'],
    properties: {
      enabled: { type: 'boolean', default: true, title: { en_US: 'Enabled', zh_Hans: '启用' } },
      integrationId: { type: 'string', title: { en_US: 'WeCom Integration', zh_Hans: '企业微信集成' },
        'x-ui': { component: 'integrationSelect', providers: ['wecom', 'wecom_long'] } },
      sessionTimeoutSeconds: { type: 'integer', default: 3600, minimum: 1, title: { en_US: 'Session Timeout (s)', zh_Hans: '会话超时（秒）' } },
      summaryWindowSeconds: { type: 'integer', default: 0, minimum: 0, title: { en_US: 'Message Aggregation Window (s)', zh_Hans: '消息聚合窗口（秒）' } },
    },
  },
};

const stateBadge = (x) => badge(x.published ? t('published') : t('draft'), x.published ? 'ok' : '', 'xpert-state');

/** Renders the list of Digital Experts and the create form. */
export async function renderList(main) {
  const list = await get('/api/xpert');
  const kind = h('select', { id: 'agent-kind', testid: 'agent-kind' },
    h('option', { value: 'echo' }, 'echo'), h('option', { value: 'openai' }, 'openai (OpenAI-compatible)'));
  const openaiFields = h('div', { id: 'openai-fields', hidden: true },
    OPENAI_FIELDS.map((k) => h('div', { class: 'field' },
      h('label', { for: `agent-${k}` }, t(k), k === 'baseUrl' || k === 'model' ? h('span', { class: 'req' }, ' *') : ''),
      h('input', { id: `agent-${k}`, testid: `agent-${k}`, type: k === 'apiKey' ? 'password' : 'text', autocomplete: 'off',
        placeholder: k === 'baseUrl' ? 'https://api.openai.com/v1' : '' }))));
  kind.addEventListener('change', () => { openaiFields.hidden = kind.value !== 'openai'; });
  const name = h('input', { id: 'xpert-name', testid: 'xpert-name' });
  const result = h('div', { id: 'xpert-error' });
  const create = async () => {
    const agent = { kind: kind.value };
    if (kind.value === 'openai') {
      for (const k of OPENAI_FIELDS) {
        const v = document.getElementById(`agent-${k}`).value.trim();
        if (v) agent[k] = v;
      }
    }
    try {
      const x = await post('/api/xpert', { name: name.value.trim(), agent });
      location.hash = `#/experts/${x.id}`;
    } catch (err) { result.replaceChildren(errorBox(err, 'xpert-error')); }
  };
  const head = [t('name'), t('agent'), t('triggers'), t('status'), t('updated')];
  mount(main, 
    h('h1', {}, t('experts')),
    h('form', { class: 'card', novalidate: true, onsubmit: (e) => { e.preventDefault(); create(); } },
      h('h2', {}, t('createExpert')),
      h('div', { class: 'field' }, h('label', { for: 'xpert-name' }, t('name'), h('span', { class: 'req' }, ' *')), name),
      h('div', { class: 'field' }, h('label', { for: 'agent-kind' }, t('agent')), kind),
      openaiFields, result,
      h('button', { class: 'primary', type: 'submit', testid: 'create-xpert' }, t('create'))),
    h('table', { testid: 'experts-table' },
      h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))),
      h('tbody', {}, list.length ? list.map((x) => h('tr', { testid: `xpert-row-${x.id}` },
        h('td', {}, h('a', { href: `#/experts/${x.id}` }, x.name)),
        h('td', {}, x.agent?.kind || '—', x.agent?.model ? ` · ${x.agent.model}` : ''),
        h('td', {}, (x.triggers || []).length),
        h('td', {}, badge(x.published ? t('published') : t('draft'), x.published ? 'ok' : '')),
        h('td', {}, formatDateTime(x.updatedAt))))
        : h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, t('none'))))));
}

/** The trigger descriptors; the built-in WeCom one when the server has no such endpoint. */
async function descriptors() {
  try {
    const list = await get('/api/xpert/triggers');
    return { list: Array.isArray(list) ? list : [], fallback: false };
  } catch (err) {
    if (err instanceof ApiError && [404, 405].includes(err.status)) return { list: [FALLBACK_TRIGGER], fallback: true };
    throw err;
  }
}

/** One input of a trigger's config, rendered from its schema property. */
function triggerField(key, prop, required, value, integrations) {
  const testid = `trigger-${key}`;
  const type = prop.type || 'string';
  let input;
  if (prop['x-ui']?.component === 'integrationSelect') {
    const kinds = prop['x-ui'].providers;
    const options = integrations.filter((i) => !Array.isArray(kinds) || kinds.includes(i.provider));
    input = h('select', { testid },
      h('option', { value: '' }, '—'),
      options.map((i) => h('option', { value: i.id, selected: i.id === value }, `${i.name} (${i.provider})`)),
      value && !options.some((i) => i.id === value) ? h('option', { value, selected: true }, value) : '');
  } else if (Array.isArray(prop.enum)) {
    input = h('select', { testid }, prop.enum.map((v) => h('option', { value: v, selected: v === value }, L(prop.enumLabels?.[v]) || v)));
  } else if (type === 'boolean') {
    input = h('input', { type: 'checkbox', testid, checked: value ?? prop.default ?? false });
  } else {
    const numeric = type === 'integer' || type === 'number';
    input = h('input', { testid, type: numeric ? 'number' : 'text', value: value ?? prop.default ?? '', min: prop.minimum, max: prop.maximum });
  }
  input.dataset.key = key;
  input.dataset.type = type;
  const label = h('span', {}, L(prop.title) || key, required ? h('span', { class: 'req' }, ' *') : '');
  const hint = prop.description ? h('div', { class: 'hint' }, L(prop.description)) : '';
  return type === 'boolean'
    ? h('div', { class: 'field' }, h('label', { class: 'inline' }, input, ' ', label), hint)
    : h('div', { class: 'field' }, h('label', {}, label, input), hint);
}

function readConfig(row) {
  const config = {};
  for (const el of row.querySelectorAll('[data-key]')) {
    const key = el.dataset.key;
    if (el.type === 'checkbox') config[key] = el.checked;
    else if (el.dataset.type === 'integer' || el.dataset.type === 'number') { if (el.value !== '') config[key] = Number(el.value); }
    else config[key] = el.value;
  }
  return config;
}

/** Renders Digital Expert `id`: agent, triggers, publish and unpublish. */
export async function renderDetail(main, id, rerender) {
  const enc = encodeURIComponent(id);
  const [x, integrations, desc] = await Promise.all([
    get(`/api/xpert/${enc}`),
    get('/api/integration').catch(() => []),
    descriptors(),
  ]);
  const byName = Object.fromEntries(desc.list.map((d) => [d.name, d]));
  const wecom = byName.wecom || FALLBACK_TRIGGER;
  const schema = wecom.configSchema || FALLBACK_TRIGGER.configSchema;
  const required = new Set(schema.required || []);
  const list = h('div', { class: 'triggers', testid: 'triggers' });
  const others = (x.triggers || []).filter((tr) => tr.provider !== 'wecom');
  const empty = h('p', { class: 'hint', testid: 'no-triggers' }, t('noTriggers'));

  const addRow = (config = {}) => {
    empty.remove();
    const row = h('div', { class: 'card trigger', testid: 'trigger' },
      h('div', { class: 'row between' }, h('strong', {}, L(wecom.label) || 'WeCom Trigger'),
        h('button', { type: 'button', class: 'danger', testid: 'remove-trigger', onclick: () => row.remove() }, t('remove'))),
      wecom.description ? h('p', { class: 'hint' }, L(wecom.description)) : '',
      h('div', { class: 'fields grid' }, orderedProperties(schema)
        .map(([k, p]) => triggerField(k, p, required.has(k), config[k], integrations))));
    list.append(row);
  };
  for (const tr of x.triggers || []) if (tr.provider === 'wecom') addRow(tr.config || {});
  if (!list.children.length) list.append(empty);

  const collect = () => [...others, ...[...list.querySelectorAll('.trigger')].map((row) => ({ provider: 'wecom', config: readConfig(row) }))];
  const result = h('div', { testid: 'publish-result', 'aria-live': 'polite' });
  const saveTriggers = () => put(`/api/xpert/${enc}/triggers`, collect());

  const publish = async () => {
    result.replaceChildren();
    try {
      await saveTriggers();
      await post(`/api/xpert/${enc}/publish`);
      await rerender();
      say('ok', t('publishedOk'));
    } catch (err) {
      const items = (err.body && Array.isArray(err.body.checklist) && err.body.checklist) || [];
      if (!items.length) { result.replaceChildren(errorBox(err, 'publish-error')); return; }
      result.replaceChildren(h('div', { class: 'error', testid: 'checklist', role: 'alert' },
        h('div', {}, t('checklist'), err.code ? h('code', { class: 'code' }, err.code) : ''),
        h('ul', {}, items.map((c) => h('li', { testid: `check-${c.code}`, class: `level-${c.level || 'error'}` },
          badge(c.level || 'error', c.level === 'warning' ? 'warn' : 'bad'), ' ', h('code', {}, c.code), ' ', L(c.message))))));
      result.scrollIntoView({ block: 'nearest' });
    }
  };
  const unpublish = async () => {
    try { await post(`/api/xpert/${enc}/unpublish`); await rerender(); say('ok', t('unpublishedOk')); } catch (err) { say('error', err.message); }
  };

  const agent = x.agent || {};
  mount(main, 
    h('div', { class: 'crumbs' }, h('a', { href: '#/experts' }, t('experts')), ' → ', x.name),
    h('h1', { testid: 'xpert-title' }, x.name, ' ', stateBadge(x)),
    h('div', { class: 'card kvs' },
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('id')), h('code', {}, x.id)),
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('agent')), h('span', { testid: 'xpert-agent' }, agent.kind || '—')),
      agent.baseUrl ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('baseUrl')), h('code', {}, agent.baseUrl)) : '',
      agent.model ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('model')), h('span', {}, agent.model)) : '',
      agent.apiKey ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('apiKey')), h('code', { testid: 'xpert-api-key' }, '******')) : ''),
    h('h2', {}, t('triggers')),
    desc.list.length || desc.fallback ? '' : h('div', { class: 'error', testid: 'trigger-missing' }, t('triggerNotRegistered')),
    integrations.some((i) => i.provider === 'wecom' || i.provider === 'wecom_long') ? ''
      : h('p', { class: 'hint' }, t('noIntegrations'), ' ', h('a', { href: '#/integrations' }, t('integrations'))),
    list,
    h('div', { class: 'row' },
      h('button', { testid: 'add-trigger', onclick: () => addRow() }, `+ ${t('addTrigger')}`),
      h('button', { testid: 'save-triggers', onclick: async () => {
        result.replaceChildren();
        try { await saveTriggers(); say('ok', t('saved')); } catch (err) { result.replaceChildren(errorBox(err, 'publish-error')); }
      } }, t('saveTriggers')),
      h('button', { class: 'primary', testid: 'publish', onclick: publish }, t('publish')),
      x.published ? h('button', { testid: 'unpublish', onclick: unpublish }, t('unpublish')) : ''),
    result);
}
