// Digital Experts: the list and the create form (echo or OpenAI-compatible agent), and the
// detail page where WeCom Triggers are added (fields from the trigger descriptor), saved,
// published (the 422 checklist shown item by item, naming integrations and experts), unpublished
// and the expert deleted (each confirmed in an in-page dialog), and a "Try it" panel that
// streams the expert's answer.

import { get, post, put, del, postStream, ApiError } from '../api.js';
import { h, mount, say, sayError, flash, errorBox, badge, confirmDialog, tableFrame } from '../dom.js';
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
const agentName = (kind) => (kind === 'echo' ? t('agentEcho') : kind === 'openai' ? t('agentOpenai') : kind || '—');

/** Marks one input of the create form invalid with its message ('' clears it). */
function markInput(input, message) {
  const box = document.getElementById(`${input.id}-error`);
  if (box) { box.textContent = message; box.hidden = !message; }
  input.closest('.field')?.classList.toggle('invalid', Boolean(message));
  if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
}

const fieldBox = (id, label, input, required) => h('div', { class: 'field' },
  h('label', { for: id }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : ''), input,
  h('div', { class: 'field-error', id: `${id}-error`, testid: `field-error-${id}`, hidden: true }));

/** Asks, then deletes Digital Expert `x` (a published one is refused by the host: unpublish first). */
async function deleteExpert(x) {
  if (x.published) {
    await confirmDialog({ title: t('deleteXpertTitle', { name: x.name }), body: t('deleteXpertPublished', { name: x.name }), testid: 'dialog' });
    return false;
  }
  const yes = await confirmDialog({ title: t('deleteXpertTitle', { name: x.name }), body: t('deleteXpertBody'), confirm: t('delete') });
  if (!yes) return false;
  try {
    await del(`/api/xpert/${encodeURIComponent(x.id)}`);
    return true;
  } catch (err) { sayError(err); return false; }
}

/** Renders the list of Digital Experts and the create form. */
export async function renderList(main, rerender) {
  const list = await get('/api/xpert');
  const kind = h('select', { id: 'agent-kind', testid: 'agent-kind' },
    h('option', { value: 'echo' }, t('agentEcho')), h('option', { value: 'openai' }, t('agentOpenai')));
  const inputs = Object.fromEntries(OPENAI_FIELDS.map((k) => [k, h('input', {
    id: `agent-${k}`, testid: `agent-${k}`, type: k === 'apiKey' ? 'password' : 'text', autocomplete: 'off',
    placeholder: k === 'baseUrl' ? 'https://api.openai.com/v1' : '', 'aria-describedby': `agent-${k}-error`,
  })]));
  const openaiFields = h('div', { id: 'openai-fields', hidden: true },
    OPENAI_FIELDS.map((k) => fieldBox(`agent-${k}`, t(k), inputs[k], k === 'baseUrl' || k === 'model')));
  kind.addEventListener('change', () => { openaiFields.hidden = kind.value !== 'openai'; });
  const name = h('input', { id: 'xpert-name', testid: 'xpert-name', 'aria-describedby': 'xpert-name-error', 'aria-required': 'true' });
  const result = h('div', { id: 'xpert-result' });
  const create = async () => {
    // Every field checked at once, each with its own message.
    const problems = [];
    const check = (input, message) => { markInput(input, message); if (message) problems.push(input); };
    check(name, name.value.trim() ? '' : t('fieldRequired', { label: t('name') }));
    if (kind.value === 'openai') {
      const base = inputs.baseUrl.value.trim();
      check(inputs.baseUrl, !base ? t('fieldRequired', { label: t('baseUrl') }) : '');
      check(inputs.model, inputs.model.value.trim() ? '' : t('fieldRequired', { label: t('model') }));
    } else {
      for (const k of OPENAI_FIELDS) markInput(inputs[k], '');
    }
    if (problems.length) {
      result.replaceChildren(h('div', { class: 'error', testid: 'xpert-error', role: 'alert' }, t('fieldInvalid')));
      problems[0].focus();
      return;
    }
    const agent = { kind: kind.value };
    if (kind.value === 'openai') {
      for (const k of OPENAI_FIELDS) {
        const v = inputs[k].value.trim();
        if (v) agent[k] = v;
      }
    }
    try {
      const x = await post('/api/xpert', { name: name.value.trim(), agent });
      location.hash = `#/experts/${x.id}`;
    } catch (err) {
      for (const f of err.fields || []) {
        const input = f.key === 'name' ? name : inputs[f.key];
        if (input) markInput(input, L(f.message));
      }
      result.replaceChildren(errorBox(err, 'xpert-error'));
    }
  };
  const remove = async (x) => {
    if (await deleteExpert(x)) { await rerender(); say('ok', t('xpertDeleted', { name: x.name })); }
  };
  const head = [t('name'), t('agent'), t('triggers'), t('status'), t('updated'), h('span', { class: 'sr-only' }, t('delete'))];
  mount(main,
    h('h1', {}, t('experts')),
    h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'create-title', onsubmit: (e) => { e.preventDefault(); create(); } },
      h('h2', { id: 'create-title' }, t('createExpert')),
      fieldBox('xpert-name', t('name'), name, true),
      h('div', { class: 'field' }, h('label', { for: 'agent-kind' }, t('agent')), kind),
      openaiFields, result,
      h('button', { class: 'primary', type: 'submit', testid: 'create-xpert' }, t('create'))),
    tableFrame(h('table', { testid: 'experts-table' },
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, list.length ? list.map((x) => h('tr', { testid: `xpert-row-${x.id}` },
        h('td', {}, h('a', { href: `#/experts/${x.id}` }, x.name)),
        h('td', {}, agentName(x.agent?.kind), x.agent?.model ? ` · ${x.agent.model}` : ''),
        h('td', {}, (x.triggers || []).length),
        h('td', {}, badge(x.published ? t('published') : t('draft'), x.published ? 'ok' : '')),
        h('td', {}, formatDateTime(x.updatedAt)),
        h('td', { class: 'actions' }, h('button', {
          type: 'button', class: 'danger', testid: `delete-xpert-${x.id}`, 'aria-label': `${t('delete')}: ${x.name}`, onclick: () => remove(x),
        }, t('delete')))))
        : h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, t('none'))))), t('experts')));
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

let fieldSeq = 0;

/** One input of a trigger's config, rendered from its schema property. */
function triggerField(key, prop, required, value, integrations, providerLabels) {
  const testid = `trigger-${key}`;
  const id = `trigger-${key}-${++fieldSeq}`;
  const type = prop.type || 'string';
  let input;
  let note = '';
  if (prop['x-ui']?.component === 'integrationSelect') {
    const kinds = prop['x-ui'].providers;
    const options = integrations.filter((i) => !Array.isArray(kinds) || kinds.includes(i.provider));
    const dangling = value && !options.some((i) => i.id === value);
    input = h('select', { id, testid, 'aria-describedby': dangling ? `${id}-note` : undefined, 'aria-invalid': dangling ? 'true' : undefined },
      h('option', { value: '' }, '—'),
      options.map((i) => h('option', { value: i.id, selected: i.id === value }, `${i.name} (${L(providerLabels[i.provider]) || i.provider})`)),
      dangling ? h('option', { value, selected: true }, t('danglingIntegration')) : '');
    if (dangling) note = h('div', { class: 'field-error', id: `${id}-note`, testid: 'trigger-dangling' }, t('danglingHint'));
  } else if (Array.isArray(prop.enum)) {
    input = h('select', { id, testid }, prop.enum.map((v) => h('option', { value: v, selected: v === value }, L(prop.enumLabels?.[v]) || v)));
  } else if (type === 'boolean') {
    input = h('input', { id, type: 'checkbox', testid, checked: value ?? prop.default ?? false });
  } else {
    const numeric = type === 'integer' || type === 'number';
    input = h('input', { id, testid, type: numeric ? 'number' : 'text', value: value ?? prop.default ?? '', min: prop.minimum, max: prop.maximum });
  }
  input.dataset.key = key;
  input.dataset.type = type;
  const label = [L(prop.title) || key, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : ''];
  const hint = prop.description ? h('div', { class: 'hint' }, L(prop.description)) : '';
  return type === 'boolean'
    ? h('div', { class: 'field inline' }, input, h('label', { for: id }, label), hint)
    : h('div', { class: `field${note ? ' invalid' : ''}` }, h('label', { for: id }, label), input, note, hint);
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

/** The "Try it" panel: a message box whose answers stream in as the agent writes them. */
function tryPanel(x) {
  let conversationId = null;
  let running = null;
  const log = h('div', { class: 'chat-log', testid: 'try-log', 'aria-live': 'polite' });
  const input = h('input', { id: 'try-input', testid: 'try-input', autocomplete: 'off' });
  const send = h('button', { class: 'primary', type: 'submit', testid: 'try-send' }, t('send'));
  const reset = h('button', { type: 'button', testid: 'try-new', onclick: () => {
    if (running) running.abort();
    conversationId = null;
    log.replaceChildren();
  } }, t('newConversation'));
  const ask = async () => {
    const text = input.value.trim();
    if (!text || running) return;
    input.value = '';
    log.append(h('div', { class: 'bubble mine' }, h('span', { class: 'who' }, `${t('you')}: `), text));
    const answer = h('span', { testid: 'try-answer' });
    const bubble = h('div', { class: 'bubble theirs', 'aria-busy': 'true' }, h('span', { class: 'who' }, `${x.name}: `), answer);
    const status = h('div', { class: 'hint', testid: 'try-status' }, t('answering'));
    log.append(bubble, status);
    running = new AbortController();
    send.disabled = true;
    try {
      await postStream(`/api/xpert/${encodeURIComponent(x.id)}/chat/stream`, { input: text, conversationId }, (line) => {
        if (line.type === 'conversation') conversationId = line.conversationId;
        else if (line.type === 'text') answer.textContent += line.text;
        else if (line.type === 'end') {
          status.textContent = line.status === 'success' ? '' : t('runFailed', { error: line.error || line.status });
          status.className = line.status === 'success' ? 'hint' : 'error';
        }
      }, running.signal);
      if (status.textContent === t('answering')) status.textContent = '';
    } catch (err) {
      if (err.name !== 'AbortError') status.replaceWith(errorBox(err, 'try-error'));
    } finally {
      bubble.removeAttribute('aria-busy');
      if (!status.textContent) status.remove();
      running = null;
      send.disabled = false;
      input.focus();
    }
  };
  return h('section', { class: 'card try', testid: 'try-it', 'aria-labelledby': 'try-title' },
    h('h2', { id: 'try-title' }, t('tryIt')),
    h('p', { class: 'hint' }, t('tryHint')),
    log,
    h('form', { class: 'row try-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); ask(); } },
      h('label', { for: 'try-input', class: 'sr-only' }, t('message')), input, send, reset));
}

/** Renders Digital Expert `id`: agent, triggers, publish, unpublish, delete and Try it. */
export async function renderDetail(main, id, rerender) {
  const enc = encodeURIComponent(id);
  const [x, integrations, desc, provs] = await Promise.all([
    get(`/api/xpert/${enc}`),
    get('/api/integration').catch(() => []),
    descriptors(),
    get('/api/integration/providers').catch(() => []),
  ]);
  const providerLabels = Object.fromEntries((provs || []).map((p) => [p.name, p.label]));
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
      h('div', { class: 'row between' }, h('h3', { class: 'plain' }, L(wecom.label) || 'WeCom Trigger'),
        h('button', { type: 'button', class: 'danger', testid: 'remove-trigger', onclick: () => row.remove() }, t('remove'))),
      wecom.description ? h('p', { class: 'hint' }, L(wecom.description)) : '',
      h('div', { class: 'fields grid' }, orderedProperties(schema)
        .map(([k, p]) => triggerField(k, p, required.has(k), config[k], integrations, providerLabels))));
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
        h('div', {}, t('checklist')),
        h('ul', {}, items.map((c) => h('li', { testid: `check-${c.code}`, class: `level-${c.level || 'error'}` },
          badge(c.level === 'warning' ? t('checklistLevelWarning') : t('checklistLevelError'), c.level === 'warning' ? 'warn' : 'bad'), ' ',
          L(c.localized) || L(c.message), ' ', h('code', { class: 'code' }, c.code))))));
      result.scrollIntoView({ block: 'nearest' });
    }
  };
  const unpublish = async () => {
    const yes = await confirmDialog({ title: t('unpublishTitle', { name: x.name }), body: t('unpublishBody'), confirm: t('unpublish') });
    if (!yes) return;
    try { await post(`/api/xpert/${enc}/unpublish`); await rerender(); say('ok', t('unpublishedOk')); } catch (err) { sayError(err); }
  };
  const remove = async () => {
    if (await deleteExpert(x)) { flash('ok', t('xpertDeleted', { name: x.name })); location.hash = '#/experts'; }
  };

  const agent = x.agent || {};
  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': t('experts') }, h('a', { href: '#/experts' }, t('experts')), ' → ', x.name),
    h('div', { class: 'row between' },
      h('h1', { testid: 'xpert-title' }, x.name, ' ', stateBadge(x)),
      h('button', { type: 'button', class: 'danger', testid: 'delete-xpert', onclick: remove }, t('delete'))),
    h('div', { class: 'card kvs' },
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('id')), h('code', {}, x.id)),
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('agent')), h('span', { testid: 'xpert-agent', 'data-kind': agent.kind || '' }, agentName(agent.kind))),
      agent.baseUrl ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('baseUrl')), h('code', {}, agent.baseUrl)) : '',
      agent.model ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('model')), h('span', {}, agent.model)) : '',
      agent.apiKey ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('apiKey')), h('code', { testid: 'xpert-api-key' }, '******')) : ''),
    h('h2', {}, t('triggers')),
    desc.list.length || desc.fallback ? '' : h('div', { class: 'error', testid: 'trigger-missing' }, t('triggerNotRegistered')),
    integrations.some((i) => i.provider === 'wecom' || i.provider === 'wecom_long') ? ''
      : h('p', { class: 'hint' }, t('noIntegrations'), ' ', h('a', { href: '#/integrations' }, t('integrations'))),
    list,
    h('div', { class: 'row' },
      h('button', { type: 'button', testid: 'add-trigger', onclick: () => addRow() }, `+ ${t('addTrigger')}`),
      h('button', { type: 'button', testid: 'save-triggers', onclick: async () => {
        result.replaceChildren();
        try { await saveTriggers(); say('ok', t('saved')); } catch (err) { result.replaceChildren(errorBox(err, 'publish-error')); }
      } }, t('saveTriggers')),
      h('button', { type: 'button', class: 'primary', testid: 'publish', onclick: publish }, t('publish')),
      x.published ? h('button', { type: 'button', testid: 'unpublish', onclick: unpublish }, t('unpublish')) : ''),
    result,
    tryPanel(x));
}
