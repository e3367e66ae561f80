//! The chat page: pick a bot and a user, type as that user, watch the bot's bubbles stream.

/// The page, served at `/` (plain HTML and JavaScript over the control API; no build step).
pub const CHAT_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>wecom-sim chat</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:0;background:#ededed}
header{background:#2b2b2b;color:#fff;padding:.6rem 1rem;display:flex;gap:.8rem;align-items:center;flex-wrap:wrap}
header input,header select{padding:.3rem}
#log{padding:1rem;display:flex;flex-direction:column;gap:.6rem;max-width:760px;margin:0 auto;min-height:60vh}
.b{max-width:75%;padding:.55rem .8rem;border-radius:8px;white-space:pre-wrap;box-shadow:0 1px 1px #0001}
.user{align-self:flex-end;background:#95ec69}.bot{align-self:flex-start;background:#fff}
.thinking{color:#666;font-style:italic}.card{border:1px solid #ddd}.card h4{margin:.2rem 0}
.card button{margin:.3rem .3rem 0 0}form{display:flex;gap:.5rem;max-width:760px;margin:0 auto;padding:1rem}
form input{flex:1;min-width:0;padding:.5rem}.meta{font-size:.75rem;color:#6b6b6b}
html,body{max-width:100%;overflow-wrap:anywhere}
@media (max-width:600px){header{padding:.5rem .7rem;gap:.5rem}header label{display:flex;gap:.3rem;align-items:center}
header input{width:7.5rem}#log{padding:.7rem}.b{max-width:88%}form{padding:.7rem}}
.undelivered{opacity:.8;border:1px dashed #c0392b}.undelivered .meta{color:#c0392b}.undelivered button{margin-left:.5rem}
</style></head><body>
<header><strong>wecom-sim</strong>
<label>Bot <select id="bot" data-testid="bot"></select></label>
<label>User <input id="user" data-testid="user" value="alice" size="10"></label>
<label>Group chatid <input id="group" data-testid="group" placeholder="(single chat)" size="12"></label>
<span id="conn" data-testid="conn"></span></header>
<div id="log" data-testid="log"></div>
<form id="f"><input id="msg" data-testid="msg" placeholder="Type a message" aria-label="Message" autocomplete="off"><button data-testid="send">Send</button></form>
<script>
const $ = (id) => document.getElementById(id);
const chatKey = () => $('group').value.trim() || $('user').value.trim();
async function post(path, body) {
  const r = await fetch(path, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)});
  return r.json();
}
async function bots() {
  const list = await (await fetch('/sim/bots')).json();
  const sel = $('bot'), cur = sel.value;
  sel.replaceChildren(...list.map(b => { const o = document.createElement('option'); o.value = b.botId; o.textContent = b.botId + (b.connected ? ' ●' : ' ○'); return o; }));
  if (cur) sel.value = cur;
  const b = list.find(x => x.botId === sel.value);
  $('conn').textContent = b ? (b.connected ? 'connected' : 'not connected') : 'no bot';
}
// Messages the simulator could not deliver (bot offline, …): kept and shown, never dropped.
let undelivered = [];
async function send(text, earlier) {
  const to = earlier || {bot: $('bot').value, user: $('user').value.trim(), group: $('group').value.trim() || null};
  let r;
  try {
    const resp = await fetch('/sim/messages', {method: 'POST', headers: {'content-type': 'application/json'},
      body: JSON.stringify({botId: to.bot, userId: to.user, chatId: to.group, text})});
    r = await resp.json().catch(() => ({}));
    if (!resp.ok && !r.error) r.error = 'HTTP ' + resp.status;
  } catch (e) { r = {error: String(e)}; }
  if (earlier) undelivered = undelivered.filter(u => u !== earlier);
  if (r.error) undelivered.push({...to, text, error: r.error});
  refresh();
}
function undeliveredBubble(u) {
  const d = document.createElement('div');
  d.className = 'b user undelivered'; d.dataset.testid = 'undelivered'; d.textContent = u.text;
  const m = document.createElement('div'); m.className = 'meta'; m.textContent = 'not delivered: ' + u.error;
  const b = document.createElement('button'); b.type = 'button'; b.textContent = 'Retry'; b.dataset.testid = 'retry';
  b.onclick = () => send(u.text, u);
  m.append(b); d.append(m);
  return d;
}
function card(c) {
  const d = document.createElement('div');
  const h = document.createElement('h4'); h.textContent = (c.main_title && c.main_title.title) || c.card_type || 'card'; d.append(h);
  if (c.main_title && c.main_title.desc) { const p = document.createElement('div'); p.textContent = c.main_title.desc; d.append(p); }
  for (const btn of (c.button_list || [])) {
    const b = document.createElement('button'); b.textContent = btn.text;
    b.onclick = () => post('/sim/events', {botId: $('bot').value, userId: $('user').value.trim(), chatId: $('group').value.trim() || null,
      eventtype: 'template_card_event', taskId: c.task_id, eventKey: btn.key});
    d.append(b);
  }
  for (const j of (c.jump_list || [])) {
    const b = document.createElement('button'); b.textContent = j.title;
    b.onclick = () => j.question ? send(j.question) : (j.url && window.open(j.url));
    d.append(b);
  }
  return d;
}
function quoteText(q) {
  const p = q[q.msgtype] || {};
  return p.content || (p.msg_item ? p.msg_item.map(i => (i.text && i.text.content) || '[image]').join(' ') : '[' + q.msgtype + ']');
}
async function refresh() {
  if (!$('bot').value) return;
  const bot = $('bot').value, key = chatKey();
  const list = await (await fetch('/sim/transcript?botId=' + encodeURIComponent(bot) + '&chatId=' + encodeURIComponent(key))).json();
  const pending = undelivered.filter(u => u.bot === bot && (u.group || u.user) === key).map(undeliveredBubble);
  $('log').replaceChildren(...list.map(m => {
    const d = document.createElement('div');
    d.className = 'b ' + m.from + (m.card ? ' card' : '');
    d.dataset.testid = 'bubble';
    d.dataset.kind = m.kind;
    if (m.card) d.append(card(m.card));
    else if (m.kind === 'stream' && !m.finished && !m.text.replace(/<think>|<\/think>/g, '').trim()) { d.classList.add('thinking'); d.textContent = 'thinking…'; }
    else d.textContent = m.text.replace(/<think>[\s\S]*?<\/think>/g, '');
    if (m.kind === 'stream') { const s = document.createElement('div'); s.className = 'meta'; s.textContent = m.finished ? 'done' : 'streaming…'; d.append(s); }
    if (m.media_id) { const s = document.createElement('div'); s.className = 'meta'; s.textContent = m.kind + ' · ' + m.media_id; d.append(s); }
    if (m.quote) { const q = document.createElement('div'); q.className = 'meta'; q.textContent = '“' + quoteText(m.quote) + '”'; d.prepend(q); }
    return d;
  }), ...pending);
}
$('f').onsubmit = async (e) => { e.preventDefault(); const t = $('msg').value; if (!t) return; $('msg').value = ''; await send(t); };
bots(); setInterval(bots, 2000); setInterval(refresh, 300);
</script></body></html>"#;
