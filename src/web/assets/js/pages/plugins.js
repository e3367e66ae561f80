// Plugins: what the plugin directory holds (with each folder's one-line load error), install at
// a level, and what the caller's tenant has installed (with the warnings a below-tenant install
// gives), each with Uninstall.

import { del, get, post } from '../api.js';
import { h, mount, say, badge } from '../dom.js';
import { t, levelName } from '../i18n.js';

const LEVELS = ['tenant', 'organization', 'project', 'personal'];

const table = (testid, head, rows, empty = t('none')) => h('table', { testid },
  h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))),
  h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, empty))));

/** Renders the Plugins page into `main`. */
export async function render(main, rerender) {
  const [available, installed] = await Promise.all([get('/api/plugins/available'), get('/api/plugins')]);
  const byName = Object.fromEntries(installed.map((p) => [p.name, p]));

  const install = async (name, level) => {
    try {
      const res = await post('/api/plugins/install', { name, level });
      const warnings = res.warnings || [];
      await rerender();
      if (warnings.length) {
        say('warn', [`${t('warnings')}:`, ...warnings]);
      } else {
        say('ok', t('installedOk', { name, level: levelName(level) }));
      }
    } catch (err) { say('error', err.message); }
  };

  const uninstall = async (name) => {
    if (!window.confirm(t('confirmUninstall', { name }))) return;
    try {
      await del(`/api/plugins/${encodeURIComponent(name)}`);
      await rerender();
      say('ok', t('uninstalledOk', { name }));
    } catch (err) { say('error', err.message); }
  };

  const availableRows = available.map((p) => {
    const level = h('select', { testid: `level-${p.name}`, 'aria-label': t('level') },
      LEVELS.map((l) => h('option', { value: l, selected: l === (byName[p.name]?.level || 'tenant') }, levelName(l))));
    return h('tr', { testid: `plugin-${p.name}` },
      h('td', {}, h('strong', {}, p.name)), h('td', {}, p.version || '—'), h('td', {}, p.abiVersion ?? '—'),
      h('td', {}, p.error
        ? h('span', { class: 'error inline', testid: `plugin-error-${p.name}` }, p.error)
        : p.installed || byName[p.name]
          ? badge(`${t('installedAt')} · ${levelName(byName[p.name]?.level || p.level)}`, byName[p.name]?.level === 'tenant' ? 'ok' : 'warn')
          : badge(t('notInstalled'))),
      h('td', {}, p.error ? '' : h('div', { class: 'row' }, level,
        h('button', { class: 'primary', testid: `install-${p.name}`, onclick: () => install(p.name, level.value) }, t('install')))));
  });

  const installedRows = installed.map((p) => h('tr', { testid: `installed-${p.name}` },
    h('td', {}, h('strong', {}, p.name)), h('td', {}, p.version), h('td', {}, badge(levelName(p.level), p.level === 'tenant' ? 'ok' : 'warn')),
    h('td', {}, (p.providers || []).join(', ') || '—'), h('td', {}, (p.triggers || []).join(', ') || '—'),
    h('td', { class: 'warnings' }, (p.warnings || []).map((w) => h('div', { class: 'warn-text' }, w))),
    h('td', {}, h('button', { class: 'danger', testid: `uninstall-${p.name}`, onclick: () => uninstall(p.name) }, t('uninstall')))));

  mount(main, 
    h('h1', {}, t('plugins')),
    h('p', { class: 'hint' }, t('tenantHint')),
    h('h2', {}, t('available')),
    table('available-table', [t('name'), t('version'), t('abi'), t('status'), ''], availableRows),
    h('h2', {}, t('installed')),
    table('installed-table', [t('name'), t('version'), t('level'), t('providers'), t('triggerKinds'), t('warnings'), ''], installedRows));
}
