// Plugins: what the plugin directory holds (with each folder's one-line load error), install at
// a level (then Uninstall, and a pointer to the next step), and what the caller's tenant has
// installed (with the warnings a below-tenant install gives).

import { del, get, post } from '../api.js';
import { h, mount, say, sayError, badge, confirmDialog, tableFrame } from '../dom.js';
import { t, levelName } from '../i18n.js';

const LEVELS = ['tenant', 'organization', 'project', 'personal'];

const table = (testid, label, head, rows, empty = t('none')) => tableFrame(h('table', { testid },
  h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
  h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, empty)))), label);

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
        // The host's warnings are English sentences; the hint above the table says the same in
        // the reader's language.
        say('warn', [`${t('warnings')}:`, t('tenantHint')]);
      } else {
        say('ok', [t('installedOk', { name, level: levelName(level) }),
          h('span', {}, `${t('nextStep')} `, h('a', { href: '#/integrations', testid: 'next-step' }, t('nextCreateIntegration')), ' →')]);
      }
    } catch (err) { sayError(err); }
  };

  const uninstall = async (name) => {
    const yes = await confirmDialog({ title: t('uninstallTitle', { name }), body: t('uninstallBody'), confirm: t('uninstall') });
    if (!yes) return;
    try {
      await del(`/api/plugins/${encodeURIComponent(name)}`);
      await rerender();
      say('ok', t('uninstalledOk', { name }));
    } catch (err) { sayError(err); }
  };

  const availableRows = available.map((p) => {
    const mine = byName[p.name];
    const level = h('select', { testid: `level-${p.name}`, 'aria-label': `${t('level')}: ${p.name}` },
      LEVELS.map((l) => h('option', { value: l, selected: l === (mine?.level || 'tenant') }, levelName(l))));
    const actions = p.error ? '' : h('div', { class: 'row' }, level,
      h('button', { type: 'button', class: mine ? '' : 'primary', testid: `install-${p.name}`, onclick: () => install(p.name, level.value) },
        mine ? t('changeLevel') : t('install')),
      mine ? h('button', { type: 'button', class: 'danger', testid: `uninstall-available-${p.name}`, onclick: () => uninstall(p.name) }, t('uninstall')) : '');
    return h('tr', { testid: `plugin-${p.name}` },
      h('td', {}, h('strong', {}, p.name)), h('td', {}, p.version || '—'), h('td', {}, p.abiVersion ?? '—'),
      h('td', {}, p.error
        ? h('span', { class: 'error inline', testid: `plugin-error-${p.name}` }, p.error)
        : p.installed || mine
          ? badge(`${t('installedAt')} · ${levelName(mine?.level || p.level)}`, mine?.level === 'tenant' ? 'ok' : 'warn')
          : badge(t('notInstalled'))),
      h('td', {}, actions));
  });

  const installedRows = installed.map((p) => h('tr', { testid: `installed-${p.name}` },
    h('td', {}, h('strong', {}, p.name)), h('td', {}, p.version), h('td', {}, badge(levelName(p.level), p.level === 'tenant' ? 'ok' : 'warn')),
    h('td', {}, (p.providers || []).join(', ') || '—'), h('td', {}, (p.triggers || []).join(', ') || '—'),
    h('td', { class: 'warnings' }, (p.warnings || []).length ? h('div', { class: 'warn-text' }, t('tenantHint')) : '—'),
    h('td', {}, h('button', { type: 'button', class: 'danger', testid: `uninstall-${p.name}`, onclick: () => uninstall(p.name) }, t('uninstall')))));

  mount(main,
    h('h1', {}, t('plugins')),
    h('p', { class: 'hint' }, t('tenantHint')),
    h('h2', {}, t('available')),
    table('available-table', t('available'), [t('name'), t('version'), t('abi'), t('status'), h('span', { class: 'sr-only' }, t('install'))], availableRows),
    h('h2', {}, t('installed')),
    table('installed-table', t('installed'), [t('name'), t('version'), t('level'), t('providers'), t('triggerKinds'), t('warnings'), h('span', { class: 'sr-only' }, t('uninstall'))], installedRows));
}
