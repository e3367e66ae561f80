// The integration detail page: its setup info and the tabs plugins contribute, rendered
// generically from GET /api/integration/{id}/views — `stats` tabs as a key/value grid, `table`
// tabs with paging, search and sorting — with toolbar and row actions (confirmed in an in-page
// dialog when the action carries a confirm text; the answer's message shown in the chosen
// language; `refresh` reloads). Digital Experts in tables are shown by name.

import { get, post } from '../api.js';
import { h, mount, say, sayError, flash, errorBox, badge, confirmDialog, tableFrame } from '../dom.js';
import { t, L, formatDateTime } from '../i18n.js';
import { setupCard, deleteIntegration } from './integrations.js';

/** Digital Expert names by id, for tables that carry `xpertId`. */
let expertNames = new Map();

const STATE_KINDS = {
  connected: 'ok', running: 'ok', ok: 'ok', connecting: 'warn', reconnecting: 'warn', idle: '', stopped: '',
  disconnected: 'warn', error: 'bad', failed: 'bad', disabled: '',
};

/** A value for display according to its declared type (`datetime`, `status`, `number`, text). */
function display(type, value, key) {
  if (type === 'status' || key === 'state') {
    if (value === null || value === undefined || value === '') return '—';
    return badge(String(value), `state ${STATE_KINDS[String(value).toLowerCase()] ?? ''}`, `badge-${key}`);
  }
  if (type === 'datetime' || type === 'date') return formatDateTime(value);
  if (value === null || value === undefined || value === '') return '—';
  if (key === 'xpertId' && expertNames.has(value)) return h('a', { href: `#/experts/${value}`, title: value }, expertNames.get(value));
  if (typeof value === 'boolean') return value ? t('yes') : t('no');
  if (typeof value === 'object') return L(value) || JSON.stringify(value);
  return String(value);
}

/** Runs a view action; returns true when the tab should reload. */
async function runAction(base, action, targetId) {
  const confirmText = L(action.confirm);
  if (confirmText && !(await confirmDialog({ title: L(action.label) || t('actionConfirmTitle'), body: confirmText, confirm: L(action.label) || t('actionDone') }))) return false;
  try {
    const res = await post(`${base}/actions/${encodeURIComponent(action.key)}`, targetId !== undefined ? { targetId } : {});
    const ok = res?.success !== false;
    say(ok ? 'ok' : 'error', L(res?.message) || (ok ? t('actionDone') : t('actionFailed')));
    return Boolean(res?.refresh);
  } catch (err) {
    sayError(err);
    return false;
  }
}

const actionsOf = (tab, scope) => (Array.isArray(tab.actions) ? tab.actions : [])
  .filter((a) => (a.scope || (tab.kind === 'table' && a.row ? 'row' : 'toolbar')) === scope);

/** A tab's content, kept between reloads (page, search, sort). */
class TabView {
  constructor(integrationId, tab) {
    this.tab = tab;
    this.base = `/api/integration/${encodeURIComponent(integrationId)}/views/${encodeURIComponent(tab.key)}`;
    this.el = h('div', { class: 'tab-body', testid: `tab-body-${tab.key}` });
    this.state = { page: 1, pageSize: Number(tab.pageSize) || 10, search: '', sortBy: '', sortDirection: 'asc' };
    this.timer = null;
    this.loads = 0; // numbers each load; only the newest may render
  }

  /** Reloads the tab. Answers can arrive out of order (a slow poll, quick clicks): an answer
   * to a load that a newer one has superseded is dropped instead of overwriting newer data. */
  async load() {
    const current = ++this.loads;
    const stale = () => current !== this.loads;
    try {
      if (this.tab.kind === 'table') await this.loadTable(stale);
      else await this.loadStats(stale);
    } catch (err) {
      if (!stale()) this.el.replaceChildren(errorBox(err, `tab-error-${this.tab.key}`));
    }
  }

  toolbar(extra = []) {
    const buttons = actionsOf(this.tab, 'toolbar').map((a) => h('button', {
      type: 'button', testid: `action-${this.tab.key}-${a.key}`, class: a.danger || a.confirm ? 'danger' : '',
      onclick: async () => { if (await runAction(this.base, a)) await this.load(); },
    }, L(a.label) || a.key));
    return h('div', { class: 'row toolbar' }, buttons, extra);
  }

  async loadStats(stale) {
    const data = await get(`${this.base}/data`);
    if (stale()) return;
    const item = (data && (data.item || data)) || {};
    const items = Array.isArray(this.tab.items) && this.tab.items.length
      ? this.tab.items
      : Object.keys(item).map((key) => ({ key }));
    this.el.replaceChildren(this.toolbar(),
      h('div', { class: 'stats', testid: `stats-${this.tab.key}` }, items.map((it) => h('div', { class: 'stat', testid: `stat-${it.key}` },
        h('div', { class: 'k' }, L(it.label || it.title) || it.key),
        h('div', { class: 'v' }, display(it.type, item[it.key], it.key))))));
    this.schedule();
  }

  /** Stats tabs with `pollSeconds` refresh themselves while they are on screen. */
  schedule() {
    clearTimeout(this.timer);
    const seconds = Number(this.tab.pollSeconds);
    if (!(seconds > 0)) return;
    this.timer = setTimeout(() => { if (this.el.isConnected) this.load(); }, seconds * 1000);
  }

  async loadTable(stale) {
    const s = this.state;
    const tab = this.tab;
    const q = new URLSearchParams({ page: s.page, pageSize: s.pageSize });
    if (s.search) q.set('search', s.search);
    if (s.sortBy) { q.set('sortBy', s.sortBy); q.set('sortDirection', s.sortDirection); }
    const data = await get(`${this.base}/data?${q}`);
    if (stale()) return;
    const rows = Array.isArray(data?.items) ? data.items : [];
    const total = Number(data?.total ?? rows.length) || 0;
    const pages = Math.max(1, Math.ceil(total / s.pageSize));
    const columns = Array.isArray(tab.columns) && tab.columns.length
      ? tab.columns.map((c) => (typeof c === 'string' ? { key: c } : c))
      : Object.keys(rows[0] || {}).map((key) => ({ key }));
    const rowActions = actionsOf(tab, 'row');
    const rowKey = tab.rowKey || 'id';
    const reload = () => this.load();

    const search = tab.searchable === false ? '' : h('input', {
      type: 'search', class: 'search', testid: `search-${tab.key}`, placeholder: t('search'), value: s.search, 'aria-label': t('search'),
    });
    if (search) search.addEventListener('change', () => { s.search = search.value.trim(); s.page = 1; reload(); });

    const header = h('tr', {}, columns.map((c) => {
      const sortable = c.sortable !== false;
      const arrow = s.sortBy === c.key ? (s.sortDirection === 'asc' ? ' ▲' : ' ▼') : '';
      const title = L(c.label || c.title) || c.key;
      const sort = () => {
        s.sortDirection = s.sortBy === c.key && s.sortDirection === 'asc' ? 'desc' : 'asc';
        s.sortBy = c.key;
        s.page = 1;
        reload();
      };
      return h('th', {
        scope: 'col', class: sortable ? 'sortable' : '', testid: `th-${tab.key}-${c.key}`,
        'aria-sort': s.sortBy === c.key ? (s.sortDirection === 'asc' ? 'ascending' : 'descending') : undefined,
        onclick: sortable ? (e) => { if (e.target === e.currentTarget) sort(); } : undefined,
      }, sortable ? h('button', { type: 'button', class: 'sort', onclick: sort }, title, arrow) : title);
    }), rowActions.length ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('actionConfirmTitle'))) : '');

    const body = rows.map((row, i) => h('tr', { testid: `row-${tab.key}-${row[rowKey] ?? i}` },
      // A plugin may send words for a code beside it as `<key>Text` ({en_US, zh_Hans}): shown instead.
      columns.map((c) => {
        const words = row[`${c.key}Text`];
        return h('td', {}, words && typeof words === 'object' ? L(words) : display(c.type, row[c.key], c.key));
      }),
      rowActions.length ? h('td', { class: 'actions' }, rowActions.map((a) => h('button', {
        type: 'button', class: a.confirm ? 'danger' : '', testid: `row-action-${tab.key}-${a.key}`,
        onclick: async () => { if (await runAction(this.base, a, row[rowKey])) await reload(); },
      }, L(a.label) || a.key))) : ''));

    const sizes = [...new Set([10, 20, 50, s.pageSize])].sort((a, b) => a - b);
    const size = h('select', { testid: `page-size-${tab.key}`, 'aria-label': t('pageSize') }, sizes.map((n) => h('option', { value: n, selected: n === s.pageSize }, n)));
    size.addEventListener('change', () => { s.pageSize = Number(size.value); s.page = 1; reload(); });

    this.el.replaceChildren(this.toolbar([search]),
      tableFrame(h('table', { testid: `table-${tab.key}` }, h('thead', {}, header),
        h('tbody', {}, body.length ? body : h('tr', {}, h('td', { colspan: columns.length + (rowActions.length ? 1 : 0), class: 'empty' }, t('none'))))), L(tab.title) || tab.key),
      h('div', { class: 'row pager' },
        h('button', { type: 'button', testid: `prev-${tab.key}`, disabled: s.page <= 1, onclick: () => { s.page -= 1; reload(); } }, t('prev')),
        h('span', { testid: `page-${tab.key}` }, t('pageOf', { page: s.page, pages, total })),
        h('button', { type: 'button', testid: `next-${tab.key}`, disabled: s.page >= pages, onclick: () => { s.page += 1; reload(); } }, t('next')),
        h('label', { class: 'inline-label' }, t('pageSize'), ' ', size)));
  }
}

/** Renders the detail page of integration `id`, opening tab `tabKey` (or the first). */
export async function render(main, id, tabKey) {
  const enc = encodeURIComponent(id);
  const [integration, tabsAnswer, provs, xperts] = await Promise.all([
    get(`/api/integration/${enc}`),
    get(`/api/integration/${enc}/views`).catch((err) => ({ error: err })),
    get('/api/integration/providers').catch(() => []),
    get('/api/xpert').catch(() => []),
  ]);
  expertNames = new Map((Array.isArray(xperts) ? xperts : []).map((x) => [x.id, x.name]));
  const provider = provs.find((p) => p.name === integration.provider);
  let setup = integration.setup;
  const stashed = sessionStorage.getItem(`xpert.setup.${id}`);
  if (!setup && stashed) { try { setup = JSON.parse(stashed); } catch { setup = null; } }

  const tabs = Array.isArray(tabsAnswer) ? [...tabsAnswer].sort((a, b) => (a.order ?? 0) - (b.order ?? 0)) : [];
  const views = new Map(tabs.map((tab) => [tab.key, new TabView(id, tab)]));
  const content = h('div', { class: 'tab-content', id: 'tab-panel', role: 'tabpanel', testid: 'tab-content' });
  const tabBar = h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('integrations'), testid: 'tabs' });
  const open = async (key) => {
    for (const b of tabBar.children) {
      const here = b.dataset.key === key;
      b.classList.toggle('active', here);
      b.setAttribute('aria-selected', String(here));
      b.tabIndex = here ? 0 : -1;
    }
    const view = views.get(key);
    content.replaceChildren(view.el);
    content.setAttribute('aria-labelledby', `tab-${key}`);
    if (location.hash.startsWith(`#/integrations/${id}`)) history.replaceState(null, '', `#/integrations/${id}/tab/${key}`);
    await view.load();
  };
  for (const tab of tabs) {
    const b = h('button', {
      type: 'button', role: 'tab', id: `tab-${tab.key}`, testid: `tab-${tab.key}`, 'aria-controls': 'tab-panel',
      'aria-selected': 'false', onclick: () => open(tab.key),
    }, L(tab.title) || tab.key);
    b.dataset.key = tab.key;
    tabBar.append(b);
  }
  // Arrow keys move between tabs, as in any tab list.
  tabBar.addEventListener('keydown', (e) => {
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
    const buttons = [...tabBar.children];
    const at = buttons.indexOf(document.activeElement);
    const next = e.key === 'Home' ? 0 : e.key === 'End' ? buttons.length - 1
      : (at + (e.key === 'ArrowRight' ? 1 : -1) + buttons.length) % buttons.length;
    buttons[next].focus();
    open(buttons[next].dataset.key);
    e.preventDefault();
  });
  const remove = async () => {
    if (await deleteIntegration(integration)) {
      flash('ok', t('deleted', { name: integration.name }));
      location.hash = '#/integrations';
    }
  };

  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': t('integrations') }, h('a', { href: '#/integrations' }, t('integrations')), ' → ', integration.name),
    h('div', { class: 'row between' },
      h('h1', { testid: 'integration-title' }, integration.name, ' ',
        badge(provider ? L(provider.label) : integration.provider, 'provider'), ' ',
        badge(integration.enabled ? t('enabled') : t('disabled'), integration.enabled ? 'ok' : '', 'integration-enabled')),
      h('div', { class: 'row' },
        h('a', { class: 'button', testid: 'edit-integration', href: `#/integrations/${id}/edit` }, t('edit')),
        h('button', { type: 'button', class: 'danger', testid: 'delete-integration', onclick: remove }, t('delete')))),
    setupCard(setup),
    tabsAnswer.error ? errorBox(tabsAnswer.error, 'tabs-error') : '',
    tabs.length ? [tabBar, content] : (tabsAnswer.error ? '' : h('p', { class: 'hint' }, t('noTabs'))));
  if (tabs.length) await open(views.has(tabKey) ? tabKey : tabs[0].key);
}
