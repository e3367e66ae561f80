// Tiny DOM helpers: an element builder and the page-wide notice line.

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

/**
 * Shows a page-wide message (`kind`: 'ok', 'warn' or 'error'; `text` a string or a list of
 * lines); an empty text clears it.
 */
export function say(kind, text) {
  const box = notice();
  if (!text || (Array.isArray(text) && !text.length)) { box.replaceChildren(); return; }
  const body = Array.isArray(text) ? h('div', {}, text.map((line) => h('div', {}, line))) : text;
  box.replaceChildren(h('div', { class: kind, testid: `notice-${kind}` }, body,
    h('button', { class: 'close', 'aria-label': '×', onclick: () => box.replaceChildren() }, '×')));
}

/** An inline error box for an API error: message plus its code. */
export function errorBox(err, testid = 'form-error') {
  return h('div', { class: 'error', testid, role: 'alert' }, err.message, err.code ? h('code', { class: 'code' }, err.code) : '');
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
