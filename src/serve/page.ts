// The live page of `sluice serve`: one self-contained document (inline CSS and script, nothing
// fetched from elsewhere) that draws every job from the server's event stream. Text from the
// store (job names, errors) goes in through textContent only, never as markup.

const STYLE = `
:root { color-scheme: light dark; --muted: #777; --bar: #2f7d4f; --bad: #b3261e; --warn: #9a6700; --line: #8884; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 1200px; }
header { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.3rem; margin: 0; }
.muted { color: var(--muted); }
#conn.down { color: var(--bad); }
#error { color: var(--bad); }
section.job { border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
section.job h2 { font-size: 1.1rem; margin: 0 0 .3rem; }
.bar { height: 10px; background: var(--line); border-radius: 5px; overflow: hidden; margin: .4rem 0; }
.bar > div { height: 100%; background: var(--bar); }
dl { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap: .2rem 1rem; margin: .4rem 0; }
dt { color: var(--muted); font-size: .8rem; } dd { margin: 0; font-variant-numeric: tabular-nums; font-weight: 600; }
dd.bad { color: var(--bad); }
table { border-collapse: collapse; width: 100%; margin: .3rem 0; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .15rem .5rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; font-size: .8rem; color: var(--muted); }
tr.stale td { color: var(--warn); } tr.left td { color: var(--muted); }
h3 { font-size: .9rem; margin: .6rem 0 .2rem; }
ul { margin: .2rem 0; padding-left: 1.2rem; } li { margin: .1rem 0; }
code { font-size: .85rem; }
`;

/** Runs in the browser: plain ES2020, no framework. */
const SCRIPT = `
const $ = (tag, attrs, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
};
const n = (v) => (v === null || v === undefined ? '-' : Math.round(v).toLocaleString('en-US'));
const bytes = (v) => {
  const u = ['B', 'KB', 'MB', 'GB', 'TB']; let i = 0;
  while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
  return (v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)) + ' ' + u[i];
};
const dur = (s) => {
  if (s === null || s === undefined || !isFinite(s)) return '-';
  s = Math.round(s);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
  return Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
};
const time = (ms) => new Date(ms).toISOString().slice(11, 19);
const ago = (at, now) => dur(Math.max(0, (now - at) / 1000)) + ' ago';

function fact(label, value, field, bad) {
  return [$('dt', {}, label), $('dd', { 'data-field': field, class: bad ? 'bad' : '' }, value)];
}

function table(head, rows) {
  return $('table', {}, $('thead', {}, $('tr', {}, ...head.map((h) => $('th', {}, h)))),
    $('tbody', {}, ...rows));
}

function jobSection(j, now) {
  const i = j.items;
  const pct = i.total > 0 ? (i.done * 100) / i.total : 0;
  const s = $('section', { class: 'job', 'data-job': j.job });
  s.append($('h2', {}, j.job, ' ', $('span', { class: 'muted' }, j.task + ' · ' + j.source)));
  const bar = $('div', { class: 'bar', title: pct.toFixed(1) + ' % done' }, $('div', {}));
  bar.firstChild.style.width = pct.toFixed(2) + '%';
  s.append(bar);
  s.append($('dl', {},
    ...fact('done', n(i.done), 'done'), ...fact('of', n(i.total) + (j.listingComplete ? '' : ' (listing)'), 'total'),
    ...fact('pending', n(i.pending), 'pending'), ...fact('leased', n(i.leased), 'leased'),
    ...fact('failed', n(i.failed), 'failed', i.failed > 0), ...fact('records', n(j.records), 'records'),
    ...fact('bytes', bytes(j.bytes.done) + ' / ' + bytes(j.bytes.total), 'bytes'),
    ...fact('rate', j.rate === null ? '-' : j.rate.toFixed(1) + ' items/s', 'rate'),
    ...fact('ETA', dur(j.etaSeconds), 'eta'),
    ...fact('concurrency', j.concurrency === null ? '-' : n(j.concurrency), 'concurrency')));
  if (j.workers.length > 0) {
    s.append($('h3', {}, 'workers'), table(['owner', 'host', 'done', 'leased', 'records', 'items/s', 'last seen'],
      j.workers.map((w) => $('tr', { class: w.stale ? 'stale' : w.left ? 'left' : '', 'data-worker': w.owner },
        $('td', {}, w.owner), $('td', {}, w.host), $('td', {}, n(w.done)), $('td', {}, n(w.leased)),
        $('td', {}, n(w.records)), $('td', {}, w.rate.toFixed(2)),
        $('td', {}, ago(w.lastSeen, now) + (w.stale ? ' (stale)' : w.left ? ' (left)' : ''))))));
  }
  if (j.events.length > 0) {
    s.append($('h3', {}, 'latest decisions'), $('ul', { 'data-field': 'events' },
      ...j.events.slice(0, 8).map((e) => $('li', {}, $('span', { class: 'muted' }, time(e.at) + ' run #' + e.run + ' '), e.message))));
  }
  if (j.failures.length > 0) {
    s.append($('h3', {}, 'failures' + (i.failed > j.failures.length ? ' (first ' + j.failures.length + ')' : '')),
      $('ul', { 'data-field': 'failures' }, ...j.failures.map((f) =>
        $('li', {}, $('code', {}, f.id), ': ' + f.error + ' (after ' + f.attempts + ' attempts)'))));
  }
  if (j.runs.length > 0) {
    s.append($('h3', {}, 'runs'), table(['run', 'started', 'took', 'outcome', 'items', 'failed', 'by'],
      j.runs.map((r) => $('tr', {}, $('td', {}, '#' + r.id), $('td', {}, new Date(r.startedAt).toISOString().replace('T', ' ').slice(0, 19)),
        $('td', {}, r.endedAt ? dur((r.endedAt - r.startedAt) / 1000) : 'running'), $('td', {}, r.outcome || '-'),
        $('td', {}, n(r.stats.processed)), $('td', {}, n(r.stats.failed)), $('td', {}, r.owner)))));
  }
  return s;
}

function render(snap) {
  document.getElementById('store').textContent = snap.store;
  document.getElementById('updated').textContent = 'read ' + time(snap.at) + ' UTC';
  document.getElementById('error').textContent = snap.error ? 'cannot read the store: ' + snap.error : '';
  const jobs = document.getElementById('jobs');
  jobs.replaceChildren(...(snap.jobs.length > 0 ? snap.jobs.map((j) => jobSection(j, snap.at))
    : [$('p', { class: 'muted' }, 'no jobs in this store yet')]));
  document.body.dataset.eventId = String(lastId);
}

let lastId = '';
const conn = document.getElementById('conn');
const source = new EventSource('events');
source.addEventListener('snapshot', (e) => { lastId = e.lastEventId; render(JSON.parse(e.data)); });
source.addEventListener('open', () => { conn.textContent = 'live'; conn.className = ''; });
source.addEventListener('error', () => { conn.textContent = 'reconnecting…'; conn.className = 'down'; });
`;

export function renderPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sluice</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><h1>sluice</h1><span class="muted" id="store"></span><span class="muted" id="updated"></span><span id="conn">connecting…</span></header>
<p id="error"></p>
<main id="jobs"></main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}
