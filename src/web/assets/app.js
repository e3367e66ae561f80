// The host's web UI: hash-routed pages over the JSON API of host-api.md. Plain ES module, no build.

const TEXT = {
  en_US: {
    plugins: 'Plugins', integrations: 'System Integrations', experts: 'Digital Experts', logout: 'Log out',
    login: 'Sign in', token: 'Admin token', tokenHint: 'Printed by xpert-host at first start and stored in its data directory.',
    available: 'Available plugins', installed: 'Installed plugins', install: 'Install', level: 'Level', name: 'Name',
    version: 'Version', abi: 'ABI', status: 'Status', notInstalled: 'not installed', yes: 'yes', no: 'no',
    newIntegration: 'New', provider: 'Provider', enabled: 'Enabled', open: 'Open', delete: 'Delete', edit: 'Edit',
    save: 'Save', test: 'Test', cancel: 'Cancel', setup: 'Setup', callbackUrl: 'Callback URL',
    websocketUrl: 'WebSocket URL', mode: 'Mode', confirmDelete: 'Delete this integration?', saved: 'Saved.',
    testOk: 'Configuration is valid.', noProviders: 'No integration provider is registered. Install the WeCom plugin at tenant level first.',
    none: 'Nothing yet.', search: 'Search', prev: 'Previous', next: 'Next', page: 'Page',
    createExpert: 'Create Digital Expert', agent: 'Agent', create: 'Create', published: 'Published', draft: 'Draft',
    addTrigger: 'Add WeCom Trigger', saveTriggers: 'Save triggers', publish: 'Publish', unpublish: 'Unpublish',
    integration: 'Integration', sessionTimeout: 'Session timeout (s)', summaryWindow: 'Aggregation window (s)',
    remove: 'Remove', checklist: 'Publishing is blocked:', publishedOk: 'Published.', unpublishedOk: 'Unpublished.',
    triggers: 'Triggers', baseUrl: 'Base URL', apiKey: 'API key', model: 'Model', systemPrompt: 'System prompt',
    warnings: 'Warnings', back: 'Back',
  },
  zh_Hans: {
    plugins: '插件', integrations: '系统集成', experts: '数字专家', logout: '退出',
    login: '登录', token: '管理员令牌', tokenHint: '由 xpert-host 首次启动时打印，并保存在数据目录中。',
    available: '可用插件', installed: '已安装插件', install: '安装', level: '级别', name: '名称',
    version: '版本', abi: 'ABI', status: '状态', notInstalled: '未安装', yes: '是', no: '否',
    newIntegration: '新建', provider: '类型', enabled: '启用', open: '打开', delete: '删除', edit: '编辑',
    save: '保存', test: '测试', cancel: '取消', setup: '接入信息', callbackUrl: '回调地址',
    websocketUrl: 'WebSocket 地址', mode: '模式', confirmDelete: '确定删除该集成？', saved: '已保存。',
    testOk: '配置有效。', noProviders: '尚无集成类型。请先在租户级别安装企业微信插件。',
    none: '暂无数据。', search: '搜索', prev: '上一页', next: '下一页', page: '页',
    createExpert: '创建数字专家', agent: '智能体', create: '创建', published: '已发布', draft: '草稿',
    addTrigger: '添加企业微信触发器', saveTriggers: '保存触发器', publish: '发布', unpublish: '取消发布',
    integration: '集成', sessionTimeout: '会话超时（秒）', summaryWindow: '聚合窗口（秒）',
    remove: '移除', checklist: '无法发布：', publishedOk: '已发布。', unpublishedOk: '已取消发布。',
    triggers: '触发器', baseUrl: 'Base URL', apiKey: 'API Key', model: '模型', systemPrompt: '系统提示词',
    warnings: '警告', back: '返回',
  },
};

let lang = localStorage.getItem('xpert.lang') || 'en_US';
const t = (key) => (TEXT[lang] && TEXT[lang][key]) || TEXT.en_US[key] || key;
/** Picks the current language from a label object, or returns a plain string as is. */
const L = (v) => (v && typeof v === 'object' ? v[lang] || v.en_US || v.zh_Hans || '' : v ?? '');

const app = document.getElementById('app');
const notice = document.getElementById('notice');

/** Builds an element: h('button', {class: 'primary', onclick}, 'text', child…). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'testid') el.dataset.testid = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function say(kind, text) {
  notice.replaceChildren(text ? h('div', { class: kind, testid: `notice-${kind}` }, text) : '');
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Calls the API with the stored token; a 401 sends the user to the sign-in form. */
async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${localStorage.getItem('xpert.token') || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (resp.status === 401) { showLogin(); throw new ApiError(401, data); }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

function showLogin() {
  app.replaceChildren(h('div', { class: 'card' },
    h('h1', {}, t('login')),
    h('label', { for: 'token' }, t('token')),
    h('input', { id: 'token', type: 'password', testid: 'token-input', autocomplete: 'off' }),
    h('p', { class: 'hint' }, t('tokenHint')),
    h('button', { class: 'primary', testid: 'login-button', onclick: () => {
      localStorage.setItem('xpert.token', document.getElementById('token').value.trim());
      say('', '');
      render();
    } }, t('login'))));
}

// ---------------------------------------------------------------- Plugins

async function pluginsPage() {
  const [available, installed] = await Promise.all([api('GET', '/api/plugins/available'), api('GET', '/api/plugins')]);
  const levels = ['tenant', 'organization', 'project', 'personal'];
  const rows = available.map((p) => h('tr', { testid: `plugin-${p.name}` },
    h('td', {}, p.name), h('td', {}, p.version), h('td', {}, p.abiVersion),
    h('td', {}, p.error ? h('span', { class: 'error' }, p.error) : (p.installed ? t('yes') : t('notInstalled'))),
    h('td', {}, p.error ? '' : h('div', { class: 'row' },
      h('select', { testid: `level-${p.name}` }, levels.map((l) => h('option', { value: l, selected: l === 'tenant' }, l))),
      h('button', { class: 'primary', testid: `install-${p.name}`, onclick: async (e) => {
        const level = e.target.parentElement.querySelector('select').value;
        try {
          const res = await api('POST', '/api/plugins/install', { name: p.name, level });
          say(res.warnings && res.warnings.length ? 'error' : 'ok', res.warnings && res.warnings.length
            ? `${t('warnings')}: ${res.warnings.join(' ')}` : `${p.name}: ${level}`);
          render();
        } catch (err) { say('error', err.message); }
      } }, t('install'))))));
  const installedRows = installed.map((p) => h('tr', { testid: `installed-${p.name}` },
    h('td', {}, p.name), h('td', {}, p.version), h('td', {}, p.level),
    h('td', {}, (p.providers || []).join(', ')), h('td', {}, (p.warnings || []).join(' '))));
  app.replaceChildren(
    h('h1', {}, t('plugins')),
    h('h2', {}, t('available')),
    h('table', {}, h('tr', {}, [t('name'), t('version'), t('abi'), t('status'), '']
      .map((c) => h('th', {}, c))), rows.length ? rows : h('tr', {}, h('td', {}, t('none')))),
    h('h2', {}, t('installed')),
    h('table', { testid: 'installed-table' }, h('tr', {}, [t('name'), t('version'), t('level'), t('provider'), t('warnings')]
      .map((c) => h('th', {}, c))), installedRows.length ? installedRows : h('tr', {}, h('td', {}, t('none')))));
}

// ---------------------------------------------------------------- Integrations

async function integrationsPage() {
  const [providers, list] = await Promise.all([api('GET', '/api/integration/providers'), api('GET', '/api/integration')]);
  const byName = Object.fromEntries(providers.map((p) => [p.name, p]));
  app.replaceChildren(
    h('h1', {}, t('integrations')),
    providers.length
      ? h('div', { class: 'row' }, providers.map((p) => h('button', { class: 'primary', testid: `new-${p.name}`,
        onclick: () => { location.hash = `#/integrations/new/${p.name}`; } }, `${t('newIntegration')}: ${L(p.label)}`)))
      : h('p', { class: 'error', testid: 'no-providers' }, t('noProviders')),
    h('table', { testid: 'integrations-table' },
      h('tr', {}, [t('name'), t('provider'), t('enabled'), ''].map((c) => h('th', {}, c))),
      list.length ? list.map((i) => h('tr', { testid: `integration-row-${i.id}` },
        h('td', {}, h('a', { href: `#/integrations/${i.id}` }, i.name)),
        h('td', {}, byName[i.provider] ? L(byName[i.provider].label) : i.provider),
        h('td', {}, i.enabled ? t('yes') : t('no')),
        h('td', {}, h('button', { class: 'danger', onclick: async () => {
          if (!confirm(t('confirmDelete'))) return;
          try { await api('DELETE', `/api/integration/${i.id}`); render(); } catch (err) { say('error', err.message); }
        } }, t('delete'))))) : h('tr', {}, h('td', {}, t('none')))));
}

/** Renders one schema field. Secrets are password inputs; a stored secret shows as ******. */
function field(key, prop, required, value, secret) {
  const id = `opt-${key}`;
  let input;
  if (Array.isArray(prop.enum)) {
    input = h('select', { id, testid: id }, h('option', { value: '' }, '—'),
      prop.enum.map((v) => h('option', { value: v, selected: value === v }, L(prop.enumLabels && prop.enumLabels[v]) || v)));
  } else if (prop.type === 'boolean') {
    input = h('input', { id, testid: id, type: 'checkbox', checked: value ?? prop.default ?? false });
  } else {
    const password = secret || (prop['x-ui'] && prop['x-ui'].component === 'password');
    input = h('input', { id, testid: id, type: password ? 'password' : (prop.type === 'integer' || prop.type === 'number' ? 'number' : 'text'),
      value: value ?? '', placeholder: prop.default !== undefined ? String(prop.default) : '', autocomplete: 'off' });
  }
  input.dataset.key = key;
  input.dataset.type = prop.type || 'string';
  return h('div', {},
    h('label', { for: id }, L(prop.title) || key, required ? h('span', { class: 'req' }, ' *') : ''),
    input,
    prop.description ? h('div', { class: 'hint' }, L(prop.description)) : '');
}

function readOptions(form) {
  const options = {};
  for (const el of form.querySelectorAll('[data-key]')) {
    const key = el.dataset.key;
    if (el.type === 'checkbox') { options[key] = el.checked; continue; }
    if (el.value === '') continue;
    options[key] = (el.dataset.type === 'integer' || el.dataset.type === 'number') ? Number(el.value) : el.value;
  }
  return options;
}

function setupCard(setup) {
  if (!setup) return '';
  return h('div', { class: 'card', testid: 'setup' },
    h('h2', {}, t('setup')),
    setup.callbackUrl ? h('p', {}, `${t('callbackUrl')}: `, h('code', { testid: 'callback-url' }, setup.callbackUrl)) : '',
    setup.websocketUrl ? h('p', {}, `${t('websocketUrl')}: `, h('code', { testid: 'websocket-url' }, setup.websocketUrl)) : '',
    setup.mode ? h('p', {}, `${t('mode')}: `, h('code', {}, setup.mode)) : '',
    (setup.hints || []).map((x) => h('p', { class: 'hint' }, x)));
}

async function integrationForm(providerName, existing) {
  const providers = await api('GET', '/api/integration/providers');
  const provider = providers.find((p) => p.name === providerName);
  if (!provider) { app.replaceChildren(h('p', { class: 'error' }, t('noProviders'))); return; }
  const schema = provider.schema || {};
  const required = new Set(schema.required || []);
  const secrets = new Set(schema.secret || []);
  const opts = (existing && existing.options) || {};
  const form = h('div', { class: 'card', testid: 'integration-form' },
    h('label', { for: 'int-name' }, t('name')),
    h('input', { id: 'int-name', testid: 'int-name', value: existing ? existing.name : L(provider.label) }),
    h('label', {}, h('input', { id: 'int-enabled', type: 'checkbox', checked: existing ? existing.enabled : true, style: 'min-width:0' }), ' ', t('enabled')),
    Object.entries(schema.properties || {}).map(([k, p]) => field(k, p, required.has(k), opts[k], secrets.has(k))),
    provider.helpUrl ? h('p', { class: 'hint' }, h('a', { href: provider.helpUrl, target: '_blank', rel: 'noopener' }, L(provider.helpLabel) || provider.helpUrl)) : '',
    h('div', { id: 'form-result' }),
    h('div', { class: 'row' },
      h('button', { class: 'primary', testid: 'save-integration', onclick: async () => {
        const body = { name: document.getElementById('int-name').value, provider: providerName,
          enabled: document.getElementById('int-enabled').checked, options: readOptions(form) };
        try {
          const saved = existing
            ? await api('PUT', `/api/integration/${existing.id}`, body)
            : await api('POST', '/api/integration', body);
          say('ok', t('saved'));
          location.hash = `#/integrations/${saved.id}`;
        } catch (err) { document.getElementById('form-result').replaceChildren(h('div', { class: 'error', testid: 'form-error' }, err.message)); }
      } }, t('save')),
      h('button', { testid: 'test-integration', onclick: async () => {
        try {
          const res = await api('POST', '/api/integration/test', { provider: providerName, options: readOptions(form), id: existing && existing.id });
          document.getElementById('form-result').replaceChildren(h('div', { class: 'ok', testid: 'test-ok' }, t('testOk')), setupCard(res.setup));
        } catch (err) { document.getElementById('form-result').replaceChildren(h('div', { class: 'error', testid: 'form-error' }, err.message)); }
      } }, t('test')),
      h('button', { onclick: () => history.back() }, t('cancel'))));
  app.replaceChildren(h('h1', {}, `${L(provider.label)}`), form);
}

/** One plugin tab: stats (key/value grid) or table (paging, search, sort, row actions). */
async function renderTab(integrationId, tab, container, state) {
  const base = `/api/integration/${integrationId}/views/${tab.key}`;
  const runAction = async (action, targetId) => {
    const confirmText = L(action.confirm);
    if (confirmText && !confirm(confirmText)) return;
    try {
      const res = await api('POST', `${base}/actions/${action.key}`, targetId ? { targetId } : {});
      say(res.success ? 'ok' : 'error', L(res.message) || (res.success ? 'OK' : 'Failed'));
      if (res.refresh) await renderTab(integrationId, tab, container, state);
    } catch (err) { say('error', err.message); }
  };
  const toolbar = (tab.actions || []).filter((a) => (a.scope || 'toolbar') === 'toolbar')
    .map((a) => h('button', { testid: `action-${tab.key}-${a.key}`, onclick: () => runAction(a) }, L(a.label) || a.key));
  if (tab.kind === 'stats') {
    const data = await api('GET', `${base}/data`);
    const item = data.item || {};
    const fmt = (it, v) => {
      if (v === null || v === undefined || v === '') return '—';
      if (it.type === 'datetime') return new Date(v).toLocaleString(lang === 'zh_Hans' ? 'zh-CN' : 'en-US');
      if (it.type === 'status') return h('span', { class: `badge ${v}` }, v);
      return String(v);
    };
    container.replaceChildren(h('div', { class: 'row' }, toolbar),
      h('div', { class: 'stats', testid: `stats-${tab.key}` }, (tab.items || []).map((it) =>
        h('div', { class: 'stat', testid: `stat-${it.key}` }, h('div', { class: 'k' }, L(it.label) || it.key), h('div', { class: 'v' }, fmt(it, item[it.key]))))));
    return;
  }
  const q = new URLSearchParams({ page: state.page, pageSize: state.pageSize });
  if (state.search) q.set('search', state.search);
  if (state.sortBy) { q.set('sortBy', state.sortBy); q.set('sortDirection', state.sortDirection); }
  const data = await api('GET', `${base}/data?${q}`);
  const rowActions = (tab.actions || []).filter((a) => a.scope === 'row');
  const columns = tab.columns || [];
  const search = h('input', { testid: `search-${tab.key}`, placeholder: t('search'), value: state.search || '', style: 'min-width:14rem' });
  search.addEventListener('change', () => { state.search = search.value; state.page = 1; renderTab(integrationId, tab, container, state); });
  const header = h('tr', {}, columns.map((c) => h('th', { class: 'sortable', onclick: () => {
    state.sortDirection = state.sortBy === c.key && state.sortDirection === 'asc' ? 'desc' : 'asc';
    state.sortBy = c.key;
    renderTab(integrationId, tab, container, state);
  } }, L(c.label) || c.key, state.sortBy === c.key ? (state.sortDirection === 'asc' ? ' ▲' : ' ▼') : '')), rowActions.length ? h('th', {}) : '');
  const rows = (data.items || []).map((row) => h('tr', {}, columns.map((c) => h('td', {}, row[c.key] ?? '—')),
    rowActions.length ? h('td', {}, rowActions.map((a) => h('button', { onclick: () => runAction(a, row[tab.rowKey || 'id']) }, L(a.label) || a.key))) : ''));
  const pages = Math.max(1, Math.ceil((data.total || 0) / state.pageSize));
  container.replaceChildren(h('div', { class: 'row' }, toolbar, search),
    h('table', { testid: `table-${tab.key}` }, header, rows.length ? rows : h('tr', {}, h('td', { colspan: columns.length + 1 }, t('none')))),
    h('div', { class: 'row' },
      h('button', { disabled: state.page <= 1, onclick: () => { state.page -= 1; renderTab(integrationId, tab, container, state); } }, t('prev')),
      h('span', { testid: `page-${tab.key}` }, `${t('page')} ${state.page} / ${pages} (${data.total || 0})`),
      h('button', { disabled: state.page >= pages, onclick: () => { state.page += 1; renderTab(integrationId, tab, container, state); } }, t('next'))));
}

async function integrationDetail(id) {
  const [integration, tabs] = await Promise.all([api('GET', `/api/integration/${id}`), api('GET', `/api/integration/${id}/views`)]);
  const container = h('div', { testid: 'tab-content' });
  const tabButtons = tabs.map((tab, i) => h('button', { testid: `tab-${tab.key}`, class: i === 0 ? 'active' : '', onclick: (e) => {
    for (const b of e.target.parentElement.children) b.classList.remove('active');
    e.target.classList.add('active');
    renderTab(id, tab, container, { page: 1, pageSize: tab.pageSize || 10 }).catch((err) => say('error', err.message));
  } }, L(tab.title) || tab.key));
  app.replaceChildren(
    h('h1', { testid: 'integration-title' }, integration.name, ' ', h('span', { class: 'badge' }, integration.provider)),
    h('div', { class: 'row' },
      h('button', { testid: 'edit-integration', onclick: () => { location.hash = `#/integrations/${id}/edit`; } }, t('edit')),
      h('button', { onclick: () => { location.hash = '#/integrations'; } }, t('back'))),
    setupCard(integration.setup),
    h('div', { class: 'tabs', testid: 'tabs' }, tabButtons),
    container);
  if (tabs.length) await renderTab(id, tabs[0], container, { page: 1, pageSize: tabs[0].pageSize || 10 });
}

// ---------------------------------------------------------------- Digital Experts

async function expertsPage() {
  const list = await api('GET', '/api/xpert');
  const kind = h('select', { id: 'agent-kind', testid: 'agent-kind' }, h('option', { value: 'echo' }, 'echo'), h('option', { value: 'openai' }, 'openai'));
  const openaiFields = h('div', { id: 'openai-fields', style: 'display:none' },
    ['baseUrl', 'apiKey', 'model', 'systemPrompt'].map((k) => h('div', {}, h('label', { for: `agent-${k}` }, t(k)),
      h('input', { id: `agent-${k}`, type: k === 'apiKey' ? 'password' : 'text' }))));
  kind.addEventListener('change', () => { openaiFields.style.display = kind.value === 'openai' ? '' : 'none'; });
  app.replaceChildren(
    h('h1', {}, t('experts')),
    h('div', { class: 'card' }, h('h2', {}, t('createExpert')),
      h('label', { for: 'xpert-name' }, t('name')), h('input', { id: 'xpert-name', testid: 'xpert-name' }),
      h('label', { for: 'agent-kind' }, t('agent')), kind, openaiFields,
      h('div', { id: 'xpert-error' }),
      h('button', { class: 'primary', testid: 'create-xpert', onclick: async () => {
        const agent = { kind: kind.value };
        if (kind.value === 'openai') for (const k of ['baseUrl', 'apiKey', 'model', 'systemPrompt']) agent[k] = document.getElementById(`agent-${k}`).value;
        try {
          const x = await api('POST', '/api/xpert', { name: document.getElementById('xpert-name').value, agent });
          location.hash = `#/experts/${x.id}`;
        } catch (err) { document.getElementById('xpert-error').replaceChildren(h('div', { class: 'error' }, err.message)); }
      } }, t('create'))),
    h('table', { testid: 'experts-table' }, h('tr', {}, [t('name'), t('agent'), t('status')].map((c) => h('th', {}, c))),
      list.length ? list.map((x) => h('tr', {}, h('td', {}, h('a', { href: `#/experts/${x.id}` }, x.name)), h('td', {}, x.agent.kind),
        h('td', {}, x.published ? t('published') : t('draft')))) : h('tr', {}, h('td', {}, t('none')))));
}

async function expertDetail(id) {
  const [x, integrations] = await Promise.all([api('GET', `/api/xpert/${id}`), api('GET', '/api/integration')]);
  const wecom = integrations.filter((i) => i.provider === 'wecom' || i.provider === 'wecom_long');
  const list = h('div', { testid: 'triggers' });
  const addRow = (config = {}) => {
    const row = h('div', { class: 'card trigger' },
      h('label', {}, t('integration')),
      h('select', { class: 'trigger-integration', testid: 'trigger-integration' }, h('option', { value: '' }, '—'),
        wecom.map((i) => h('option', { value: i.id, selected: i.id === config.integrationId }, `${i.name} (${i.provider})`))),
      h('label', {}, h('input', { class: 'trigger-enabled', type: 'checkbox', checked: config.enabled ?? true, style: 'min-width:0' }), ' ', t('enabled')),
      h('label', {}, t('sessionTimeout')), h('input', { class: 'trigger-timeout', type: 'number', value: config.sessionTimeoutSeconds ?? 3600 }),
      h('label', {}, t('summaryWindow')), h('input', { class: 'trigger-window', type: 'number', value: config.summaryWindowSeconds ?? 0 }),
      h('p', {}, h('button', { class: 'danger', onclick: (e) => e.target.closest('.trigger').remove() }, t('remove'))));
    list.append(row);
  };
  for (const trig of x.triggers || []) if (trig.provider === 'wecom') addRow(trig.config);
  const result = h('div', { testid: 'publish-result' });
  const collect = () => [...list.querySelectorAll('.trigger')].map((row) => ({ provider: 'wecom', config: {
    enabled: row.querySelector('.trigger-enabled').checked,
    integrationId: row.querySelector('.trigger-integration').value,
    sessionTimeoutSeconds: Number(row.querySelector('.trigger-timeout').value),
    summaryWindowSeconds: Number(row.querySelector('.trigger-window').value),
  } }));
  const save = async () => api('PUT', `/api/xpert/${id}/triggers`, collect());
  app.replaceChildren(
    h('h1', { testid: 'xpert-title' }, x.name, ' ', h('span', { class: 'badge', testid: 'xpert-state' }, x.published ? t('published') : t('draft'))),
    h('h2', {}, t('triggers')), list,
    h('div', { class: 'row' },
      h('button', { testid: 'add-trigger', onclick: () => addRow() }, t('addTrigger')),
      h('button', { testid: 'save-triggers', onclick: async () => {
        try { await save(); say('ok', t('saved')); } catch (err) { say('error', err.message); }
      } }, t('saveTriggers')),
      h('button', { class: 'primary', testid: 'publish', onclick: async () => {
        try {
          await save();
          await api('POST', `/api/xpert/${id}/publish`);
          say('ok', t('publishedOk'));
          await expertDetail(id);
        } catch (err) {
          const items = (err.body && err.body.checklist) || [];
          result.replaceChildren(h('div', { class: 'error', testid: 'checklist' }, items.length ? t('checklist') : err.message,
            h('ul', {}, items.map((c) => h('li', { testid: `check-${c.code}` }, h('code', {}, c.code), ' ', c.message)))));
        }
      } }, t('publish')),
      h('button', { testid: 'unpublish', onclick: async () => {
        try { await api('POST', `/api/xpert/${id}/unpublish`); say('ok', t('unpublishedOk')); await expertDetail(id); } catch (err) { say('error', err.message); }
      } }, t('unpublish'))),
    result);
}

// ---------------------------------------------------------------- Router

async function render() {
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  if (!localStorage.getItem('xpert.token')) { showLogin(); return; }
  const parts = (location.hash || '#/plugins').slice(2).split('/');
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${parts[0]}`);
  try {
    if (parts[0] === 'integrations' && parts[1] === 'new') await integrationForm(parts[2]);
    else if (parts[0] === 'integrations' && parts[1] && parts[2] === 'edit') {
      const existing = await api('GET', `/api/integration/${parts[1]}`);
      await integrationForm(existing.provider, existing);
    } else if (parts[0] === 'integrations' && parts[1]) await integrationDetail(parts[1]);
    else if (parts[0] === 'integrations') await integrationsPage();
    else if (parts[0] === 'experts' && parts[1]) await expertDetail(parts[1]);
    else if (parts[0] === 'experts') await expertsPage();
    else await pluginsPage();
    app.dataset.ready = location.hash;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) say('error', err.message);
  }
}

document.getElementById('lang').value = lang;
document.getElementById('lang').addEventListener('change', (e) => { lang = e.target.value; localStorage.setItem('xpert.lang', lang); render(); });
document.getElementById('logout').addEventListener('click', () => { localStorage.removeItem('xpert.token'); render(); });
window.addEventListener('hashchange', () => { say('', ''); render(); });
render();
