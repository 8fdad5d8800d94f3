// The routing report (/routing/report, R6): for a period, the decisions by outcome, each pool's
// offers per member as a bar chart with its fairness figures (max − min and the Gini
// coefficient), and the offers per rep. The page's frame is rendered by the server; this script
// reads GET /api/v1/routing/report and draws the rest. Every text is set as text.

import { api, message, setCSRF } from './api';
import { byId, clear, h, setText, str } from './dom';
import { barChart } from './routing_chart';
import { strategyName } from './routing_trace';

const root = byId('routing-report');
setCSRF(root.dataset.csrf || '');

const form = byId<HTMLFormElement>('period');
const fromInput = byId<HTMLInputElement>('period-from');
const toInput = byId<HTMLInputElement>('period-to');
const errorEl = byId('report-error');
const stateEl = byId('report-state');
const outcomesEl = byId('report-outcomes');
const poolsEl = byId('report-pools');
const repsEl = byId('report-reps');

/** day writes a local date as YYYY-MM-DD. */
function day(d: Date): string {
  return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
}

/** localDay reads YYYY-MM-DD as the start of that day in the browser's time zone. */
function localDay(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return isNaN(d.getTime()) ? null : d;
}

if (!fromInput.value || !toInput.value) {
  const now = new Date();
  const from = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 29);
  if (!toInput.value) toInput.value = day(now);
  if (!fromInput.value) fromInput.value = day(from);
}

const outcomeNames: [string, string][] = [
  ['offer', 'Offered to reps'],
  ['booker', 'Meeting booker'],
  ['capture', 'Email capture'],
];

function table(caption: string, heads: string[], rows: (string | number)[][]): HTMLElement {
  const body = h('tbody');
  for (const r of rows) {
    const tr = h('tr');
    r.forEach((c, i) => tr.appendChild(i == 0 ? h('th', { scope: 'row' }, String(c)) : h('td', { class: 'num' }, String(c))));
    body.appendChild(tr);
  }
  const head = h('tr');
  heads.forEach((x, i) => head.appendChild(h('th', { scope: 'col', class: i ? 'num' : null }, x)));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'report-table' }, h('caption', { class: 'visually-hidden' }, caption), h('thead', null, head), body));
}

function render(rep: any): void {
  clear(outcomesEl);
  const dec = (rep && rep.decisions) || {};
  let total = 0;
  for (const [k] of outcomeNames) total += Number(dec[k]) || 0;
  outcomesEl.appendChild(h('div', { class: 'stat' }, h('dt', null, 'Decisions'), h('dd', null, String(total))));
  for (const [k, label] of outcomeNames) outcomesEl.appendChild(h('div', { class: 'stat stat-' + k }, h('dt', null, label), h('dd', null, String(Number(dec[k]) || 0))));

  clear(poolsEl);
  const pools: any[] = Array.isArray(rep && rep.pools) ? rep.pools : [];
  if (!pools.length) poolsEl.appendChild(h('p', { class: 'muted' }, 'No pools: the routing in force has none, and none placed visitors in this period.'));
  for (const p of pools) {
    const name = str(p.name) || str(p.id);
    const members: any[] = Array.isArray(p.members) ? p.members : [];
    const card = h('section', { class: 'card report-pool', 'data-pool': str(p.id), 'aria-label': 'Pool ' + name },
      h('h3', null, name, str(p.strategy) ? h('span', { class: 'hint' }, ' · ' + strategyName(str(p.strategy))) : null),
      h('dl', { class: 'stats small' },
        h('div', { class: 'stat' }, h('dt', null, 'Visitors placed'), h('dd', null, String(Number(p.placed) || 0))),
        h('div', { class: 'stat' }, h('dt', null, 'Max − min'), h('dd', { class: 'pool-spread' }, String(Number(p.max_minus_min) || 0))),
        h('div', { class: 'stat' }, h('dt', null, 'Gini'), h('dd', { class: 'pool-gini' }, (Number(p.gini) || 0).toFixed(2))),
      ),
    );
    if (members.length) {
      card.appendChild(barChart(members.map((m) => ({ label: str(m.name) || str(m.user_id), value: Number(m.offers) || 0, key: str(m.user_id), title: (str(m.name) || str(m.user_id)) + ': ' + (Number(m.offers) || 0) + ' offers' })), 'Offers per member of pool ' + name));
      card.appendChild(table('Offers per member of pool ' + name, ['Member', 'Offers'], members.map((m) => [str(m.name) || str(m.user_id), Number(m.offers) || 0])));
    } else {
      card.appendChild(h('p', { class: 'muted' }, 'This pool has no members.'));
    }
    poolsEl.appendChild(card);
  }

  clear(repsEl);
  const reps: any[] = Array.isArray(rep && rep.reps) ? rep.reps : [];
  if (!reps.length) {
    repsEl.appendChild(h('p', { class: 'muted' }, 'Nobody was offered a visitor in this period.'));
  } else {
    const card = h('div', { class: 'card' });
    card.appendChild(barChart(reps.map((r) => ({ label: str(r.name) || str(r.user_id), value: Number(r.offers) || 0, key: str(r.user_id) })), 'Offers per rep'));
    card.appendChild(table('Offers and assignments per rep', ['Rep', 'Offers', 'Accepted'], reps.map((r) => [str(r.name) || str(r.user_id), Number(r.offers) || 0, Number(r.accepted) || 0])));
    repsEl.appendChild(card);
  }
}

let seq = 0;

async function load(): Promise<void> {
  const from = localDay(fromInput.value);
  const toDay = localDay(toInput.value);
  errorEl.hidden = true;
  if (!from || !toDay) {
    setText(errorEl, 'Choose the first and the last day of the period.');
    errorEl.hidden = false;
    return;
  }
  if (from > toDay) {
    setText(errorEl, 'The first day comes after the last.');
    errorEl.hidden = false;
    fromInput.setAttribute('aria-invalid', 'true');
    fromInput.focus();
    return;
  }
  fromInput.removeAttribute('aria-invalid');
  const to = new Date(toDay.getFullYear(), toDay.getMonth(), toDay.getDate() + 1);
  const q = new URLSearchParams({ from: from.toISOString().replace(/\.\d{3}Z$/, 'Z'), to: to.toISOString().replace(/\.\d{3}Z$/, 'Z') });
  history.replaceState(null, '', '/routing/report?' + new URLSearchParams({ from: fromInput.value, to: toInput.value }).toString());
  const mine = ++seq;
  setText(stateEl, 'Loading…');
  try {
    const rep = await api('GET', '/api/v1/routing/report?' + q.toString());
    if (mine != seq) return;
    render(rep);
    setText(stateEl, 'From ' + from.toLocaleDateString() + ' to ' + toDay.toLocaleDateString() + ', both included.');
  } catch (e) {
    if (mine != seq) return;
    setText(stateEl, '');
    setText(errorEl, 'The report could not be loaded: ' + message(e));
    errorEl.hidden = false;
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  load();
});

load();
