// Tiny DOM helpers: an element builder, the page-wide notice line (messages that clear
// themselves), error boxes in the reader's language, an in-page confirmation dialog, copy
// buttons and scrolling table frames.

import { t, errorText } from './i18n.js';

/**
 * Builds an element: `h('button', {class: 'primary', testid: 'save', onclick}, 'text', child, [more])`.
 * `on*` attributes become listeners, `testid` becomes `data-testid`, `true` sets a bare attribute,
 * `false`/`null`/`undefined` leave it out; children may be nodes, strings, numbers or arrays.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'testid') el.dataset.testid = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === '') continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const notice = () => document.getElementById('notice');
let noticeTimer = null;

/** How long a notice stays before it clears itself, by kind (errors stay until closed or the page changes). */
const NOTICE_MS = { ok: 6000, warn: 15000 };

/**
 * Shows a page-wide message (`kind`: 'ok', 'warn' or 'error'; `text` a string, a node or a list
 * of lines); an empty text clears it. A newer message replaces the older one, success and
 * warning messages clear themselves, and navigating or switching the language clears them all,
 * so a notice never contradicts the page.
 */
export function say(kind, text) {
  const box = notice();
  clearTimeout(noticeTimer);
  if (!text || (Array.isArray(text) && !text.length)) { box.replaceChildren(); return; }
  const body = Array.isArray(text) ? h('div', {}, text.map((line) => h('div', {}, line))) : h('div', {}, text);
  box.replaceChildren(h('div', { class: kind, testid: `notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, body,
    h('button', { type: 'button', class: 'close', 'aria-label': t('close'), title: t('close'), onclick: () => box.replaceChildren() }, '×')));
  if (NOTICE_MS[kind]) noticeTimer = setTimeout(() => box.replaceChildren(), NOTICE_MS[kind]);
}

/** An API error as a notice, in the reader's language. */
export const sayError = (err) => say('error', errorText(err));

/** An inline error box for an API error: its words in the reader's language, its code small beside them. */
export function errorBox(err, testid = 'form-error') {
  return h('div', { class: 'error', testid, role: 'alert' }, errorText(err),
    err.code && err.code !== 'NETWORK' ? h('code', { class: 'code', title: 'code' }, err.code) : '');
}

/** A yes/no-style badge. */
export const badge = (text, kind = '', testid) => h('span', { class: `badge ${kind}`.trim(), testid }, text);

let pending = null;

/** Keeps a message for the page the app navigates to next (the notice is cleared on navigation). */
export function flash(kind, text) { pending = [kind, text]; }

/** Clears the notice, showing the flashed message if there is one. */
export function showFlash() {
  say(...(pending || ['', '']));
  pending = null;
}

/** Replaces `el`'s content with `children` (nested arrays and empty values allowed, as in `h`). */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * A table in a frame that scrolls sideways by itself on narrow screens (the page never does);
 * the frame is focusable and named (`label`), so it can be scrolled with the keyboard.
 */
export const tableFrame = (table, label) => h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': label }, table);

/**
 * An in-page confirmation dialog (a modal `<dialog>`: focus stays inside, Escape cancels, focus
 * returns to where it was). Resolves true when confirmed. `body` says what will happen.
 */
export function confirmDialog({ title, body, confirm, danger = true, cancel = t('dialogCancel'), testid = 'dialog' }) {
  return new Promise((resolve) => {
    const before = document.activeElement;
    const titleId = `dialog-title-${Date.now()}`;
    const bodyId = `${titleId}-body`;
    let answered = false;
    const finish = (yes) => {
      if (answered) return;
      answered = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      if (before && before.isConnected && typeof before.focus === 'function') before.focus();
      resolve(yes);
    };
    const ok = confirm
      ? h('button', { type: 'button', class: danger ? 'danger-solid' : 'primary', testid: `${testid}-confirm`, onclick: () => finish(true) }, confirm)
      : '';
    const no = h('button', { type: 'button', testid: `${testid}-cancel`, onclick: () => finish(false) }, confirm ? cancel : t('close'));
    const dialog = h('dialog', { class: 'dialog', testid, 'aria-labelledby': titleId, 'aria-describedby': bodyId },
      h('h2', { id: titleId }, title),
      h('div', { id: bodyId, class: 'dialog-body' }, body),
      h('div', { class: 'row dialog-buttons' }, no, ok));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); finish(false); });
    document.body.append(dialog);
    dialog.showModal();
    // The safe choice has the focus: Enter on an unread dialog cancels.
    no.focus();
  });
}

/** A button that copies `value` to the clipboard and says so. */
export function copyButton(value, testid) {
  const copy = async () => {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(value);
      else {
        const area = h('textarea', { 'aria-hidden': 'true', style: 'position:fixed;top:-100px;opacity:0' });
        area.value = value;
        document.body.append(area);
        area.select();
        const done = document.execCommand('copy');
        area.remove();
        if (!done) throw new Error('copy refused');
      }
      say('ok', t('copied'));
    } catch {
      say('warn', t('copyFailed'));
    }
  };
  return h('button', { type: 'button', class: 'small', testid, onclick: copy, 'data-copy': value }, t('copy'));
}
