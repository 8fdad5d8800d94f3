// Live View (/live, SPEC V5): the visitors on the site now, from the rep socket's "live" frames
// (a snapshot, then upserts and removals). Frames are applied to a Map as they come and drawn
// once per animation frame; the table is windowed — only the rows in view (and a few around
// them) exist in the DOM, keyed by visitor and updated in place — so thousands of visitors
// scroll and update smoothly.

import { api, clientID, message } from './api';
import { Alert, ToastAction } from './alerts';
import { byId, countryName, duration, h, parseTime, setText, str, num } from './dom';
import { startRep } from './rep';
import { Frame } from './socket';

interface Row {
  id: string;
  session_id: string;
  name: string;
  email: string;
  company: string;
  title: string;
  page_url: string;
  page_title: string;
  started_at: number;
  last_seen_at: number;
  country: string;
  device: string;
  target_account: boolean;
  conversation_id: string;
  returning: boolean;
  page_views: number;
  hay: string; // lower-case text the search looks in
  v: number; // version: bumped on every change, so a drawn row knows it is stale
}

let version = 0;

function readRow(j: any): Row {
  const r: Row = {
    id: str(j.id),
    session_id: str(j.session_id),
    name: str(j.name),
    email: str(j.email),
    company: str(j.company),
    title: str(j.title),
    page_url: str(j.page_url),
    page_title: str(j.page_title),
    started_at: parseTime(j.started_at),
    last_seen_at: parseTime(j.last_seen_at),
    country: str(j.country),
    device: str(j.device),
    target_account: j.target_account === true,
    conversation_id: str(j.conversation_id),
    returning: j.returning === true,
    page_views: num(j.page_views),
    hay: '',
    v: ++version,
  };
  r.hay = [r.name, r.email, r.company, r.title, r.page_url, r.page_title, countryName(r.country)].join('\n').toLowerCase();
  return r;
}

const root = byId('live');
const rep = startRep(root, {
  alertActions: (a: Alert): ToastAction[] => (a.conv ? [{ label: 'Open', run: () => openConversation(a.conv) }] : []),
  openConversation: (conv) => openConversation(conv),
});
const socket = rep.socket;

function openConversation(conv: string): void {
  location.href = '/inbox?' + new URLSearchParams({ stream: 'mine', c: conv }).toString();
}

// ---- State

const rows = new Map<string, Row>();
/** order holds every visitor id, newest arrival first (stable: a visit's start never changes). */
let order: string[] = [];
/** shown holds the ids that pass the filters, in order. */
let shown: string[] = [];
let queue: Frame[] = [];
let scheduled = false;
let filterTarget = false;
let filterText = '';
let snapshotSeen = false;

const scroller = byId('live-scroll');
const tbody = byId<HTMLTableSectionElement>('live-rows');
const countEl = byId('live-count');
const emptyEl = byId('live-empty');
const table = byId<HTMLTableElement>('live-table');
const columns = table.tHead ? table.tHead.rows[0].cells.length : 8;
const topPad = h('tr', { class: 'spacer', 'aria-hidden': 'true' }, h('td', { colspan: columns }));
const bottomPad = h('tr', { class: 'spacer', 'aria-hidden': 'true' }, h('td', { colspan: columns }));
let rowHeight = 0;
/** drawn maps each visitor id in the DOM to its row element. */
const drawn = new Map<string, HTMLTableRowElement>();
const spare: HTMLTableRowElement[] = [];
const overscan = 8;

function cmp(a: Row, b: Row): number {
  return b.started_at - a.started_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** insertAt is where row belongs in order (binary search). */
function insertAt(r: Row): number {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(rows.get(order[mid])!, r) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function removeFromOrder(r: Row): void {
  const at = insertAt(r);
  if (order[at] == r.id) order.splice(at, 1);
  else {
    const i = order.indexOf(r.id);
    if (i >= 0) order.splice(i, 1);
  }
}

function passes(r: Row): boolean {
  return (!filterTarget || r.target_account) && (!filterText || r.hay.indexOf(filterText) >= 0);
}

/** apply applies one frame to the state and reports whether the order or the set changed. */
function apply(f: Frame): boolean {
  const list = Array.isArray(f.visitors) ? f.visitors.filter((x: any) => x && typeof x == 'object' && str(x.id)) : [];
  switch (f.op) {
    case 'snapshot': {
      rows.clear();
      for (const x of list) {
        const r = readRow(x);
        rows.set(r.id, r);
      }
      order = Array.from(rows.keys());
      order.sort((a, b) => cmp(rows.get(a)!, rows.get(b)!));
      snapshotSeen = true;
      return true;
    }
    case 'upsert': {
      let changed = false;
      for (const x of list) {
        const r = readRow(x);
        const old = rows.get(r.id);
        if (old && old.started_at == r.started_at) {
          rows.set(r.id, r);
          changed = changed || passes(old) != passes(r);
          continue;
        }
        if (old) removeFromOrder(old);
        rows.set(r.id, r);
        order.splice(insertAt(r), 0, r.id);
        changed = true;
      }
      return changed;
    }
    case 'remove': {
      let changed = false;
      for (const x of list) {
        const old = rows.get(str(x.id));
        if (!old) continue;
        removeFromOrder(old);
        rows.delete(old.id);
        changed = true;
      }
      return changed;
    }
  }
  return false;
}

function refilter(): void {
  shown = filterTarget || filterText ? order.filter((id) => passes(rows.get(id)!)) : order.slice();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(flush);
}

/** flush applies every queued frame and draws once. */
function flush(): void {
  scheduled = false;
  const t0 = performance.now();
  const frames = queue;
  queue = [];
  let changed = false;
  for (const f of frames) changed = apply(f) || changed;
  if (changed) refilter();
  draw();
  const ms = performance.now() - t0;
  try {
    performance.measure('beckon-live-batch', { start: t0, duration: ms, detail: { frames: frames.length, rows: rows.size } } as any);
  } catch (e) {
    // User Timing without options (older browsers): no measurement.
  }
}

// ---- Drawing

function cells(tr: HTMLTableRowElement): HTMLTableCellElement[] {
  return Array.from(tr.cells);
}

function makeRow(): HTMLTableRowElement {
  const tr = spare.pop();
  if (tr) return tr;
  const who = h('td', { class: 'live-who' },
    h('a', { class: 'live-name', href: '#' }),
    h('span', { class: 'live-sub' }, h('span', { class: 'live-badges' }), h('span', { class: 'live-email' })));
  const company = h('td', { class: 'live-company' }, h('span', { class: 'live-main' }), h('span', { class: 'live-sub' }));
  const page = h('td', { class: 'live-page' }, h('span', { class: 'live-main' }), h('span', { class: 'live-sub' }));
  const time = h('td', { class: 'live-time num' });
  const views = h('td', { class: 'live-views num' });
  const where = h('td', { class: 'live-where' }, h('span', { class: 'live-main' }), h('span', { class: 'live-sub' }));
  const action = h('td', { class: 'live-action' }, h('button', { type: 'button', class: 'button small live-chat' }, 'Chat'),
    h('a', { class: 'button small live-open', href: '#' }, 'Open chat'));
  return h('tr', { class: 'live-row' }, who, company, page, time, views, where, action);
}

function fill(tr: HTMLTableRowElement, r: Row, index: number): void {
  tr.setAttribute('aria-rowindex', String(index + 2)); // the header is row 1
  if (tr.dataset.id == r.id && tr.dataset.v == String(r.v)) return;
  tr.dataset.id = r.id;
  tr.dataset.v = String(r.v);
  const [who, company, page, , views, where, action] = cells(tr);
  const name = who.children[0] as HTMLAnchorElement;
  const label = r.name || r.email || (r.country ? 'Visitor from ' + countryName(r.country) : 'Anonymous visitor');
  setText(name, label);
  name.href = '/visitors/' + encodeURIComponent(r.id);
  const sub = who.children[1] as HTMLElement;
  const badges = sub.children[0] as HTMLElement;
  const want = (r.target_account ? 't' : '') + (r.conversation_id ? 'c' : '') + (r.returning ? 'r' : '');
  if (badges.dataset.b != want) {
    badges.dataset.b = want;
    while (badges.firstChild) badges.removeChild(badges.firstChild);
    if (r.target_account) badges.appendChild(h('span', { class: 'badge target' }, 'Target account'));
    if (r.conversation_id) badges.appendChild(h('span', { class: 'badge chatting' }, 'In conversation'));
    if (r.returning) badges.appendChild(h('span', { class: 'badge returning' }, 'Returning'));
  }
  setText(sub.children[1], r.name && r.email ? r.email : '');
  setText(company.children[0], r.company);
  setText(company.children[1], r.title);
  setText(page.children[0], r.page_title || r.page_url);
  setText(page.children[1], r.page_title ? r.page_url : '');
  page.title = r.page_url;
  setText(views, String(r.page_views));
  setText(where.children[0], countryName(r.country));
  setText(where.children[1], r.device);
  const chat = action.children[0] as HTMLButtonElement;
  const open = action.children[1] as HTMLAnchorElement;
  chat.hidden = !!r.conversation_id;
  chat.setAttribute('aria-label', 'Chat with ' + label);
  open.hidden = !r.conversation_id;
  if (r.conversation_id) open.href = '/inbox?' + new URLSearchParams({ stream: 'live', c: r.conversation_id }).toString();
  tickRow(tr, r, Date.now());
}

function tickRow(tr: HTMLTableRowElement, r: Row, now: number): void {
  setText(tr.cells[3], r.started_at ? duration(now - r.started_at) : '');
}

function measure(): void {
  if (rowHeight) return;
  const probe = makeRow();
  tbody.appendChild(probe);
  rowHeight = probe.getBoundingClientRect().height || 56;
  probe.remove();
  spare.push(probe);
}

/** draw shows the rows in view (and overscan) and pads the rest with two spacer rows. */
function draw(): void {
  measure();
  const total = shown.length;
  const view = scroller.clientHeight || 600;
  const head = table.tHead ? table.tHead.getBoundingClientRect().height : 0;
  const top = Math.max(0, scroller.scrollTop - head);
  let start = Math.max(0, Math.floor(top / rowHeight) - overscan);
  let end = Math.min(total, Math.ceil((top + view) / rowHeight) + overscan);
  if (start > end) start = end;
  const keep = new Set<string>();
  for (let i = start; i < end; i++) keep.add(shown[i]);
  for (const [id, tr] of drawn) {
    if (!keep.has(id)) {
      tr.remove();
      drawn.delete(id);
      spare.push(tr);
    }
  }
  topPad.style.height = start * rowHeight + 'px';
  bottomPad.style.height = (total - end) * rowHeight + 'px';
  if (topPad.parentNode != tbody) tbody.insertBefore(topPad, tbody.firstChild);
  let at: Element | null = topPad.nextElementSibling;
  for (let i = start; i < end; i++) {
    const id = shown[i];
    let tr = drawn.get(id);
    if (!tr) {
      tr = makeRow();
      drawn.set(id, tr);
    }
    fill(tr, rows.get(id)!, i);
    if (tr != at) tbody.insertBefore(tr, at);
    else at = at.nextElementSibling;
  }
  if (tbody.lastElementChild != bottomPad) tbody.appendChild(bottomPad);
  table.setAttribute('aria-rowcount', String(total + 1));
  const n = rows.size;
  setText(countEl, !snapshotSeen ? 'Connecting…' : n == total ? n + (n == 1 ? ' visitor' : ' visitors') + ' on the site' : total + ' of ' + n + ' visitors shown');
  emptyEl.hidden = !snapshotSeen || total > 0;
  setText(emptyEl, n == 0 ? 'Nobody is on the site right now.' : 'No visitor matches the filters.');
}

// ---- Input

socket.onOpen(() => socket.send({ t: 'live', on: true }));
socket.on('live', (f: Frame) => {
  queue.push(f);
  schedule();
});
scroller.addEventListener('scroll', schedule, { passive: true });
window.addEventListener('resize', () => {
  rowHeight = 0;
  schedule();
});

const target = byId<HTMLInputElement>('filter-target');
const search = byId<HTMLInputElement>('filter-search');
target.addEventListener('change', () => {
  filterTarget = target.checked;
  refilter();
  scroller.scrollTop = 0;
  schedule();
});
let searchTimer = 0;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = window.setTimeout(() => {
    filterText = search.value.trim().toLowerCase();
    refilter();
    scroller.scrollTop = 0;
    schedule();
  }, 120);
});

// Time on site ticks for the rows in view only.
setInterval(() => {
  const now = Date.now();
  for (const [id, tr] of drawn) {
    const r = rows.get(id);
    if (r) tickRow(tr, r, now);
  }
}, 1000);

// ---- Starting a conversation

const dialog = byId<HTMLDialogElement>('chat-dialog');
const chatForm = byId<HTMLFormElement>('chat-form');
const chatText = byId<HTMLTextAreaElement>('chat-text');
const chatTitle = byId('chat-title');
const chatSubmit = byId<HTMLButtonElement>('chat-submit');
let chatWith = '';

tbody.addEventListener('click', (ev) => {
  const b = (ev.target as Element).closest('button.live-chat');
  if (!b) return;
  const tr = b.closest('tr') as HTMLTableRowElement;
  const r = rows.get(tr.dataset.id || '');
  if (!r) return;
  chatWith = r.id;
  setText(chatTitle, 'Chat with ' + (r.name || r.email || (r.country ? 'a visitor from ' + countryName(r.country) : 'this visitor')));
  chatText.value = '';
  dialog.showModal();
  chatText.focus();
});
byId('chat-cancel').addEventListener('click', () => dialog.close());
chatText.addEventListener('keydown', (ev) => {
  if (ev.key == 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    chatForm.requestSubmit();
  }
});
chatForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = chatText.value.trim();
  if (!text || !chatWith) return;
  chatSubmit.disabled = true;
  try {
    const j = await api('POST', '/api/v1/visitors/' + encodeURIComponent(chatWith) + '/conversations', { text, client_id: clientID() });
    const conv = str(j && (j.id || (j.conversation && j.conversation.id)));
    dialog.close();
    if (conv) openConversation(conv);
  } catch (e) {
    rep.toasts.show({ title: 'The conversation did not start', body: message(e), kind: 'error' });
  } finally {
    chatSubmit.disabled = false;
  }
});

socket.start();
draw();
