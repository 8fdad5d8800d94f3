// The inbox (/inbox): streams with counts, the chosen stream's conversations, the open
// conversation with its composer, and the visitor beside it. The page is rendered by the server
// first; this script takes it over and keeps it live through the rep socket (docs/REALTIME.md)
// and the conversations API. Visitors' text is only ever set as text (C4).

import { api, ApiError, clientID, message } from './api';
import { Alert, ToastAction } from './alerts';
import { ago, append, byId, clear, clockTime, countryName, duration, editable, h, linkify, num, parseTime, setText, str } from './dom';
import {
  before,
  Card,
  Conversation,
  inStream,
  isParticipant,
  isWaiting,
  Message,
  readCard,
  readConversation,
  readMessage,
  streams,
} from './model';
import { Rep, startRep } from './rep';
import { decisionView, outcomeText } from './routing_trace';
import { Frame } from './socket';

const root = byId('inbox');
const me = root.dataset.user || '';
const admin = root.dataset.admin == 'true';

// State.
let stream = root.dataset.stream || 'waiting';
let current = root.dataset.conv || '';
const convs = new Map<string, Conversation>();
let list: string[] = [];
let next = '';
const counts: Record<string, number> = {};
const messages = new Map<string, Map<number, Message>>(); // by conversation, by seq
const pending = new Map<string, Message & { conv: string }>(); // by client id
const lastSeq = new Map<string, number>(); // the highest seq the socket delivered, per followed conversation
const historyLoaded = new Set<string>();
const readSent = new Map<string, number>();
const cards = new Map<string, Card>();
let typingSentAt = 0;
let typingOn = false;

// Elements.
const listEl = byId<HTMLOListElement>('conv-list');
const listEmpty = byId('list-empty');
const listHeading = byId('list-heading');
const moreButton = byId<HTMLButtonElement>('list-more');
const convEmpty = byId('conv-empty');
const convBox = byId('conv');
const convTitle = byId('conv-title');
const convSub = byId('conv-sub');
const msgList = byId<HTMLOListElement>('messages');
const typingEl = byId('typing');
const composer = byId<HTMLFormElement>('composer');
const textarea = byId<HTMLTextAreaElement>('composer-text');
const sendButton = byId<HTMLButtonElement>('composer-send');
const composerNote = byId('composer-note');
const visitorBox = byId('visitor-panel');
const visitorFields = byId('visitor-fields');
const visitorLink = byId<HTMLAnchorElement>('visitor-link');
const acts = {
  accept: byId<HTMLButtonElement>('act-accept'),
  transfer: byId<HTMLButtonElement>('act-transfer'),
  invite: byId<HTMLButtonElement>('act-invite'),
  leave: byId<HTMLButtonElement>('act-leave'),
  close: byId<HTMLButtonElement>('act-close'),
  reopen: byId<HTMLButtonElement>('act-reopen'),
  transcript: byId<HTMLButtonElement>('act-transcript'),
};

const rep: Rep = startRep(root, {
  alertActions: (a: Alert): ToastAction[] => {
    if (!a.conv) return [];
    const out: ToastAction[] = [{ label: 'Open', run: () => openFromAlert(a) }];
    if (a.stream == 'waiting') out.push({ label: 'Accept', run: () => accept(a.conv) });
    return out;
  },
  openConversation: (conv) => select(conv, true),
  // A new message in the conversation on screen needs no alert: the rep sees it arrive.
  quiet: (a: Alert) => a.stream != 'waiting' && !!a.conv && a.conv == current && document.visibilityState == 'visible',
});
const socket = rep.socket;

function openFromAlert(a: Alert): void {
  if (a.stream == 'waiting' && stream != 'waiting') setStream('waiting');
  select(a.conv, true);
}

// ---- Names

function visitorName(c: Conversation): string {
  const card = cards.get(c.visitor_id);
  const name = c.visitor.name || (card && card.name) || c.visitor.email || (card && card.email);
  if (name) return name;
  const country = card && card.country;
  return country ? 'Visitor from ' + countryName(country) : 'Visitor';
}

function authorName(c: Conversation | undefined, m: Message): string {
  switch (m.author) {
    case 'visitor':
      return c ? visitorName(c) : 'Visitor';
    case 'rep':
      return m.name || 'Rep';
    case 'bot':
      return m.name || 'Bot';
  }
  return '';
}

// ---- Streams and the list

function streamLabel(key: string): string {
  const s = streams.find((x) => x.key == key);
  return s ? s.label : key;
}

function renderCounts(): void {
  for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>('.streams a[data-stream]'))) {
    const key = a.dataset.stream || '';
    if (key == stream) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
    const c = a.querySelector('.count');
    if (c && key in counts) setText(c, String(counts[key]));
  }
}

function url(): string {
  const q = new URLSearchParams();
  q.set('stream', stream);
  if (current) q.set('c', current);
  return '/inbox?' + q.toString();
}

function setStream(key: string): void {
  if (!streams.some((s) => s.key == key) || key == stream) return;
  stream = key;
  list = [];
  next = '';
  history.replaceState(null, '', url());
  setText(listHeading, streamLabel(key));
  renderCounts();
  renderList();
  loadList();
}

let listSeq = 0;

/** loadList fetches the stream's first page (or, with more, the next) and the counts. */
async function loadList(more = false): Promise<void> {
  const mySeq = ++listSeq;
  const want = stream;
  const q = new URLSearchParams({ stream: want, limit: '100' });
  if (more && next) q.set('before', next);
  let j: any;
  try {
    j = await api('GET', '/api/v1/conversations?' + q.toString());
  } catch (e) {
    if (!more) rep.toasts.show({ key: 'list', title: 'The conversations could not be loaded', body: message(e), kind: 'error' });
    return;
  }
  if (mySeq != listSeq || want != stream) return; // a newer load is on its way
  const ids: string[] = more ? list.slice() : [];
  for (const x of Array.isArray(j.conversations) ? j.conversations : []) {
    if (!x || typeof x != 'object') continue;
    const c = readConversation(x, convs.get(str(x.id)));
    if (!c.id) continue;
    convs.set(c.id, c);
    if (ids.indexOf(c.id) < 0) ids.push(c.id);
  }
  list = ids;
  next = str(j.next);
  if (j.counts && typeof j.counts == 'object') {
    for (const k of Object.keys(j.counts)) counts[k] = num(j.counts[k]);
  }
  renderCounts();
  renderList();
  loadCards(list.map((id) => convs.get(id)!.visitor_id));
  if (want == 'mine') followMine();
  if (current) renderConv();
}

let refreshTimer = 0;

/** refreshSoon reloads the list and counts shortly, once for a burst of changes. */
function refreshSoon(): void {
  if (refreshTimer) return;
  refreshTimer = window.setTimeout(() => {
    refreshTimer = 0;
    loadList();
    if (stream != 'mine') loadMine();
  }, 300);
}

function item(c: Conversation, li?: HTMLLIElement): HTMLLIElement {
  if (!li) {
    li = h('li', { class: 'conv-row', 'data-id': c.id });
    const a = h(
      'a',
      { class: 'conv-item', href: '#' },
      h('span', { class: 'conv-top' }, h('span', { class: 'conv-name' }), h('span', { class: 'conv-time' })),
      h('span', { class: 'conv-company' }),
      h('span', { class: 'conv-preview' }),
    );
    li.appendChild(a);
  }
  const a = li.firstElementChild as HTMLAnchorElement;
  const q = new URLSearchParams({ stream, c: c.id });
  a.setAttribute('href', '/inbox?' + q.toString());
  if (c.id == current) a.setAttribute('aria-current', 'true');
  else a.removeAttribute('aria-current');
  const mine = c.participants.find((p) => p.user_id == me && p.present);
  const unread = !!mine && c.last_seq > mine.read_seq && c.id != current;
  li.classList.toggle('unread', unread);
  li.classList.toggle('waiting', isWaiting(c));
  setText(a.querySelector('.conv-name')!, visitorName(c) + (unread ? ' •' : ''));
  const card = cards.get(c.visitor_id);
  setText(a.querySelector('.conv-company')!, c.visitor.company || (card && card.company) || '');
  const lm = c.last_message;
  setText(a.querySelector('.conv-preview')!, lm ? (lm.author == 'rep' ? (lm.name ? lm.name.split(' ')[0] + ': ' : 'Rep: ') : '') + lm.text : '');
  const t = a.querySelector('.conv-time') as HTMLElement;
  if (isWaiting(c)) {
    t.dataset.since = String(c.waiting_since);
    t.dataset.kind = 'waiting';
  } else {
    t.dataset.since = String(c.status == 'closed' ? c.closed_at : c.updated_at);
    t.dataset.kind = 'ago';
  }
  tickOne(t, Date.now());
  return li;
}

/**
 * renderList brings the list in line with the state: items are keyed by conversation, updated in
 * place, and moved only when out of place, so that live updates shift nothing that did not change.
 */
function renderList(): void {
  const have = new Map<string, HTMLLIElement>();
  for (const li of Array.from(listEl.children) as HTMLLIElement[]) {
    const id = li.dataset.id || '';
    if (list.indexOf(id) < 0 || !convs.has(id)) li.remove();
    else have.set(id, li);
  }
  let at: Element | null = listEl.firstElementChild;
  for (const id of list) {
    const c = convs.get(id);
    if (!c) continue;
    const li = item(c, have.get(id));
    if (li != at) listEl.insertBefore(li, at);
    else at = at.nextElementSibling;
  }
  const s = streams.find((x) => x.key == stream);
  listEmpty.hidden = list.length > 0;
  setText(listEmpty, s ? s.empty : '');
  moreButton.hidden = !next;
}

/** place updates a conversation that changed, in the list and, when open, in the view. */
function place(c: Conversation): void {
  const idx = list.indexOf(c.id);
  const belongs = inStream(c, stream, me);
  if (idx >= 0 && !belongs) list.splice(idx, 1);
  if (idx < 0 && belongs) {
    let at = list.length;
    for (let i = 0; i < list.length; i++) {
      const o = convs.get(list[i]);
      if (o && before(c, o, stream)) {
        at = i;
        break;
      }
    }
    list.splice(at, 0, c.id);
    loadCards([c.visitor_id]);
  }
  renderList();
  if (c.id == current) renderConv();
}

function tickOne(t: HTMLElement, now: number): void {
  const since = Number(t.dataset.since || 0);
  if (!since) {
    setText(t, '');
    return;
  }
  if (t.dataset.kind == 'waiting') {
    setText(t, duration(now - since));
    t.setAttribute('title', 'Waiting since ' + clockTime(since, now));
  } else {
    setText(t, ago(since, now));
    t.setAttribute('title', clockTime(since, now));
  }
}

function tick(): void {
  const now = Date.now();
  for (const t of Array.from(listEl.querySelectorAll<HTMLElement>('.conv-time'))) tickOne(t, now);
  if (current) {
    const c = convs.get(current);
    if (c && isWaiting(c)) setText(convSub, 'Waiting for a rep for ' + duration(now - c.waiting_since));
  }
}

// ---- Visitor cards

const cardsAsked = new Set<string>();

async function loadCards(ids: string[], force = false): Promise<void> {
  const want = Array.from(new Set(ids.filter((id) => id && (force || !cardsAsked.has(id))))).slice(0, 100);
  if (!want.length) return;
  for (const id of want) cardsAsked.add(id);
  let j: any;
  try {
    j = await api('GET', '/visitors/cards?ids=' + encodeURIComponent(want.join(',')));
  } catch (e) {
    for (const id of want) cardsAsked.delete(id);
    return;
  }
  const got = j && j.cards && typeof j.cards == 'object' ? j.cards : {};
  for (const id of Object.keys(got)) cards.set(id, readCard(got[id]));
  for (const id of list) {
    const c = convs.get(id);
    const li = c && (listEl.querySelector('li[data-id="' + CSS.escape(id) + '"]') as HTMLLIElement | null);
    if (c && li && got[c.visitor_id]) item(c, li);
  }
  if (current) {
    const c = convs.get(current);
    if (c && got[c.visitor_id]) {
      renderVisitor(c);
      setText(convTitle, visitorName(c));
    }
  }
}

function renderVisitor(c: Conversation): void {
  const card = cards.get(c.visitor_id);
  clear(visitorFields);
  const row = (label: string, value: Node | string) => {
    if (!value) return;
    append(visitorFields, [h('dt', null, label), h('dd', null, value)]);
  };
  row('Name', (card && card.name) || c.visitor.name);
  const email = (card && card.email) || c.visitor.email;
  if (email) {
    row('Email', h('span', null, email, ' ', card && card.email_verified ? h('span', { class: 'badge active' }, 'verified') : h('span', { class: 'badge deactivated' }, 'not verified')));
  }
  row('Company', (card && card.company) || c.visitor.company);
  row('Title', card ? card.title : '');
  row('Country', card && card.country ? countryName(card.country) : '');
  if (card && card.page_url) {
    const page = h('span', { class: 'visitor-page' });
    page.appendChild(linkify(card.page_url));
    if (card.page_title) page.appendChild(h('span', { class: 'muted visitor-page-title' }, card.page_title));
    row(card.on_site ? 'On page' : 'Last page', page);
  }
  if (!visitorFields.firstChild) append(visitorFields, [h('dt', null, 'Visitor'), h('dd', null, 'Nothing known yet')]);
  visitorLink.href = '/visitors/' + encodeURIComponent(c.visitor_id);
  visitorLink.hidden = false;
  visitorBox.hidden = false;
}

// ---- Why this rep? The conversation's routing decisions (R4)

const whyBox = byId<HTMLDetailsElement>('why');
const whyBody = byId('why-body');
const whyShort = byId('why-short');
const whyCache = new Map<string, any[]>();
let whySeq = 0;
let whyTimer = 0;

/** loadWhy reads a conversation's routing decisions and shows them when it is the open one. */
async function loadWhy(id: string): Promise<void> {
  const mine = ++whySeq;
  let recs: any[];
  try {
    const j = await api('GET', '/api/v1/conversations/' + encodeURIComponent(id) + '/routing');
    recs = Array.isArray(j && j.decisions) ? j.decisions : [];
  } catch (e) {
    return; // routing is not available here, or the conversation is gone: nothing to explain
  }
  whyCache.set(id, recs);
  if (mine == whySeq && id == current) renderWhy();
}

/** whySoon reloads the open conversation's decisions shortly (a reroute may have added one). */
function whySoon(): void {
  clearTimeout(whyTimer);
  whyTimer = window.setTimeout(() => current && loadWhy(current), 500);
}

function renderWhy(): void {
  const recs = current ? whyCache.get(current) : undefined;
  clear(whyBody);
  if (!recs || !recs.length) {
    whyBox.hidden = true;
    setText(whyShort, '');
    return;
  }
  whyBox.hidden = false;
  setText(whyShort, '· ' + outcomeText(recs[recs.length - 1]));
  recs.forEach((r, i) => {
    const attempt = num(r && r.attempt) || i + 1;
    const at = parseTime(r && r.created_at);
    const heading = attempt <= 1 ? 'First routing' : 'Reroute ' + (attempt - 1) + ': the reps rung before did not answer';
    const version = num(r && r.version);
    const meta = [at ? clockTime(at) : '', version ? 'routing version ' + version : 'built-in routing'].filter((x) => x).join(' · ');
    whyBody.appendChild(decisionView(r, { heading, meta, compact: true }));
  });
}

// ---- The open conversation

function msgsOf(conv: string): Map<number, Message> {
  let m = messages.get(conv);
  if (!m) {
    m = new Map();
    messages.set(conv, m);
  }
  return m;
}

/** select opens a conversation. */
async function select(id: string, focusList = false): Promise<void> {
  if (!id) return;
  if (typingOn && current && current != id) sendTyping(false);
  current = id;
  history.replaceState(null, '', url());
  for (const a of Array.from(listEl.querySelectorAll('a.conv-item'))) {
    const li = a.parentElement as HTMLLIElement;
    if (li.dataset.id == id) a.setAttribute('aria-current', 'true');
    else a.removeAttribute('aria-current');
    if (li.dataset.id == id && focusList) (a as HTMLElement).focus();
  }
  renderList(); // the opened conversation is no longer unread
  let c = convs.get(id);
  if (!c) {
    try {
      c = readConversation(await api('GET', '/api/v1/conversations/' + encodeURIComponent(id)));
      convs.set(c.id, c);
    } catch (e) {
      if (current == id) {
        current = '';
        history.replaceState(null, '', url());
        renderConv();
        rep.toasts.show({ title: 'That conversation could not be opened', body: message(e), kind: 'error' });
      }
      return;
    }
    if (current != id) return;
  }
  // The conversation the server rendered stays on screen until its history is loaded here,
  // then is drawn again the same way (with links), so that nothing flickers.
  const adopt = !adopted && id == root.dataset.conv && !!msgList.querySelector('li[data-seq]');
  adopted = true;
  if (!adopt) renderMessages(true);
  renderConv();
  renderWhy();
  loadCards([c.visitor_id], true);
  loadWhy(id);
  follow(id);
  loadHistory(id, adopt).then(() => {
    if (adopt && current == id) renderMessages(true);
  });
}

let adopted = false;

/** follow subscribes to a conversation's messages, resuming after the last one delivered. */
function follow(id: string): void {
  if (!lastSeq.has(id)) {
    const c = convs.get(id);
    // The open conversation from its start (the socket sends the history); one followed in the
    // background (My conversations) from now.
    lastSeq.set(id, id == current ? 0 : c ? c.last_seq : 0);
    if (id == current) historyLoaded.add(id);
  }
  socket.send({ t: 'sub', conv: id, after: lastSeq.get(id) || 0 });
}

/**
 * loadHistory reads the stored messages through the API when the socket cannot send them: it is
 * down, or the conversation was followed from a later message.
 */
async function loadHistory(id: string, force = false): Promise<void> {
  if (historyLoaded.has(id) && socket.isOpen && !force) return;
  let after = 0;
  for (let page = 0; page < 20; page++) {
    let j: any;
    try {
      j = await api('GET', '/api/v1/conversations/' + encodeURIComponent(id) + '/messages?after=' + after + '&limit=500');
    } catch (e) {
      return;
    }
    const got: Message[] = (Array.isArray(j.messages) ? j.messages : []).map(readMessage).filter((m: Message) => m.seq > 0);
    for (const m of got) addMessage(id, m, false);
    if (got.length) after = got[got.length - 1].seq;
    if (got.length < 500) break;
  }
  historyLoaded.add(id);
  // What the API gave is every message up to after: a resume needs only what follows.
  if (lastSeq.has(id) && after > (lastSeq.get(id) || 0)) lastSeq.set(id, after);
}

/** addMessage stores a message of a conversation and shows it when that one is open. */
function addMessage(conv: string, m: Message, live: boolean): void {
  const map = msgsOf(conv);
  if (map.has(m.seq)) return;
  map.set(m.seq, m);
  const c = convs.get(conv);
  if (c) {
    if (m.seq > c.last_seq) c.last_seq = m.seq;
    if (!c.last_message || m.seq >= c.last_message.seq) c.last_message = m;
  }
  if (conv != current) {
    if (c && list.indexOf(conv) >= 0) {
      const li = listEl.querySelector('li[data-id="' + CSS.escape(conv) + '"]') as HTMLLIElement | null;
      if (li) item(c, li);
    }
    return;
  }
  const stick = nearBottom();
  insertMessage(m);
  if (live && m.author != 'system' && !(m.author == 'rep' && m.name == rep.userName)) {
    rep.announce(authorName(c, m) + ': ' + m.text);
  }
  if (m.author == 'visitor') hideTyping();
  if (stick) scrollDown();
  if (c && list.indexOf(conv) >= 0) {
    const li = listEl.querySelector('li[data-id="' + CSS.escape(conv) + '"]') as HTMLLIElement | null;
    if (li) item(c, li);
  }
  markRead();
  renderSeen();
}

function nearBottom(): boolean {
  return msgList.scrollHeight - msgList.scrollTop - msgList.clientHeight < 80;
}

function scrollDown(): void {
  msgList.scrollTop = msgList.scrollHeight;
}

function messageEl(m: Message): HTMLLIElement {
  const c = convs.get(current);
  const mine = m.author == 'rep' && (!!m.client || m.name == rep.userName);
  const li = h('li', { class: 'msg msg-' + (m.author || 'system') + (mine ? ' msg-mine' : '') + (m.seq ? '' : ' pending') + (m.failed ? ' failed' : '') });
  if (m.seq) li.dataset.seq = String(m.seq);
  if (m.client) li.dataset.client = m.client;
  const time = m.at ? h('time', { datetime: new Date(m.at).toISOString() }, clockTime(m.at)) : null;
  if (m.author == 'system') {
    li.appendChild(h('p', { class: 'msg-text' }, m.text));
    if (time) li.appendChild(time);
    return li;
  }
  li.appendChild(h('div', { class: 'msg-meta' }, h('span', { class: 'msg-author' }, authorName(c, m)), ' ', time));
  const text = h('p', { class: 'msg-text' });
  text.appendChild(linkify(m.text));
  li.appendChild(text);
  if (!m.seq && !m.failed) li.appendChild(h('p', { class: 'msg-state' }, 'Sending…'));
  if (m.failed) {
    const retry = h('button', { type: 'button', class: 'button small' }, 'Retry');
    retry.addEventListener('click', () => resend(m.client || ''));
    li.appendChild(h('p', { class: 'msg-state' }, 'Not sent: ' + m.failed + ' ', retry));
  }
  return li;
}

/** insertMessage puts a message's element in seq order (pending ones last). */
function insertMessage(m: Message): void {
  const el = messageEl(m);
  if (m.seq) {
    // A message this page sent, now stored: replace its pending element.
    if (m.client) {
      const old = msgList.querySelector('li[data-client="' + CSS.escape(m.client) + '"]:not([data-seq])');
      if (old) old.remove();
    }
    let at: Element | null = null;
    for (let n = msgList.lastElementChild; n; n = n.previousElementSibling) {
      const s = Number((n as HTMLElement).dataset.seq || 0);
      if (s && s < m.seq) break;
      if (s && s == m.seq) return;
      at = n;
    }
    // Pending ones stay after every stored message.
    while (at && !(at as HTMLElement).dataset.seq) at = at.nextElementSibling;
    msgList.insertBefore(el, at);
  } else {
    const old = m.client && msgList.querySelector('li[data-client="' + CSS.escape(m.client) + '"]:not([data-seq])');
    if (old) old.replaceWith(el);
    else msgList.appendChild(el);
  }
}

function renderMessages(scroll: boolean): void {
  clear(msgList);
  hideTyping();
  if (!current) return;
  const all = Array.from(msgsOf(current).values()).sort((a, b) => a.seq - b.seq);
  for (const m of all) msgList.appendChild(messageEl(m));
  for (const p of pending.values()) if (p.conv == current) msgList.appendChild(messageEl(p));
  renderSeen();
  if (scroll) scrollDown();
}

/** renderSeen marks the last rep message the visitor has read. */
function renderSeen(): void {
  const old = msgList.querySelector('.seen');
  const c = convs.get(current);
  let target: HTMLElement | null = null;
  if (c && c.visitor_read_seq > 0) {
    for (let n = msgList.lastElementChild as HTMLElement | null; n; n = n.previousElementSibling as HTMLElement | null) {
      const s = Number(n.dataset.seq || 0);
      if (s && s <= c.visitor_read_seq && (n.classList.contains('msg-rep') || n.classList.contains('msg-bot'))) {
        target = n;
        break;
      }
    }
  }
  if (old && old.parentElement == target) return;
  if (old) old.remove();
  if (target) target.appendChild(h('p', { class: 'seen' }, 'Seen'));
}

function renderConv(): void {
  const c = current ? convs.get(current) : undefined;
  convEmpty.hidden = !!c;
  convBox.hidden = !c;
  if (!c) {
    visitorBox.hidden = true;
    whyBox.hidden = true;
    return;
  }
  setText(convTitle, visitorName(c));
  const present = isParticipant(c, me);
  const owner = c.assignee_id == me;
  const guest = present && !owner;
  const open = c.status == 'open';
  const waiting = isWaiting(c);
  let sub = '';
  if (waiting) sub = 'Waiting for a rep for ' + duration(Date.now() - c.waiting_since);
  else if (!open) sub = 'Closed ' + (c.closed_at ? clockTime(c.closed_at) : '');
  else {
    const who = c.participants.filter((p) => p.present).map((p) => (p.user_id == me ? 'you' : p.name));
    sub = who.length ? 'With ' + who.join(', ') : 'Open';
  }
  setText(convSub, sub);
  acts.accept.hidden = !waiting;
  acts.transfer.hidden = !open || waiting || !(owner || admin);
  acts.invite.hidden = !open || waiting || !(present || admin);
  acts.leave.hidden = !open || !guest;
  acts.close.hidden = !open || !(present || admin || waiting);
  acts.reopen.hidden = open;
  acts.transcript.hidden = false;
  const canWrite = open && present;
  textarea.disabled = !canWrite;
  sendButton.disabled = !canWrite;
  setText(
    composerNote,
    canWrite
      ? 'Enter to send · Shift+Enter for a new line'
      : waiting
        ? 'Accept the conversation to reply.'
        : !open
          ? 'This conversation is closed. Reopen it to reply.'
          : 'Only the reps in this conversation can reply. Ask them to invite you.',
  );
  renderVisitor(c);
  renderSeen();
}

// ---- Sending, typing, read receipts

function send(): void {
  const text = textarea.value.trim();
  if (!text || !current || textarea.disabled) return;
  const m: Message & { conv: string } = { seq: 0, id: '', author: 'rep', name: rep.userName, text, at: Date.now(), client: clientID(), conv: current };
  pending.set(m.client!, m);
  textarea.value = '';
  sendTyping(false);
  insertMessage(m);
  scrollDown();
  deliver(m);
}

function deliver(m: Message & { conv: string }): void {
  if (socket.send({ t: 'send', id: m.client, conv: m.conv, text: m.text })) return;
  // The socket is down: the API stores it just the same (the client id keeps it once).
  api('POST', '/api/v1/conversations/' + encodeURIComponent(m.conv) + '/messages', { text: m.text, client_id: m.client })
    .then((j) => stored(m.client!, num(j && j.seq), readMessage(j || {})))
    .catch((e) => {
      if (e instanceof ApiError && e.status == 0) return; // resent when the socket is back
      failed(m.client!, message(e));
    });
}

function resend(client: string): void {
  const m = pending.get(client);
  if (!m) return;
  m.failed = undefined;
  if (m.conv == current) insertMessage(m);
  deliver(m);
}

/** stored turns a pending message into the stored message number seq. */
function stored(client: string, seq: number, from?: Message): void {
  const m = pending.get(client);
  if (!m || !seq) return;
  pending.delete(client);
  const done: Message = { ...m, seq, id: (from && from.id) || m.id, at: (from && from.at) || m.at };
  const map = msgsOf(m.conv);
  if (map.has(seq)) {
    // The socket delivered it first: drop the pending element.
    const old = msgList.querySelector('li[data-client="' + CSS.escape(client) + '"]:not([data-seq])');
    if (old) old.remove();
    const el = msgList.querySelector('li[data-seq="' + seq + '"]');
    if (el) el.classList.add('msg-mine');
    return;
  }
  addMessage(m.conv, done, false);
}

function failed(client: string, why: string): void {
  const m = pending.get(client);
  if (!m) return;
  m.failed = why;
  if (m.conv == current) insertMessage(m);
}

function sendTyping(on: boolean): void {
  if (!current) return;
  if (on) {
    const now = Date.now();
    if (typingOn && now - typingSentAt < 2500) return;
    if (socket.send({ t: 'typing', conv: current, on: true })) {
      typingOn = true;
      typingSentAt = now;
    }
  } else if (typingOn) {
    socket.send({ t: 'typing', conv: current, on: false });
    typingOn = false;
  }
}

/** markRead tells the server the rep has read the open conversation, when the page is visible. */
function markRead(): void {
  if (!current || document.visibilityState != 'visible') return;
  const c = convs.get(current);
  if (!c || !isParticipant(c, me)) return;
  let max = 0;
  for (const s of msgsOf(current).keys()) max = Math.max(max, s);
  if (max <= (readSent.get(current) || 0)) return;
  if (socket.send({ t: 'read', conv: current, seq: max })) {
    readSent.set(current, max);
    const p = c.participants.find((x) => x.user_id == me);
    if (p) p.read_seq = Math.max(p.read_seq, max);
  }
}

let typingTimer = 0;

function showTyping(name: string): void {
  setText(typingEl, name + ' is typing…');
  clearTimeout(typingTimer);
  typingTimer = window.setTimeout(hideTyping, 6000);
}

function hideTyping(): void {
  clearTimeout(typingTimer);
  setText(typingEl, '');
}

// ---- Actions

async function act(path: string, body: unknown, done: string): Promise<Conversation | null> {
  try {
    const j = await api('POST', path, body);
    let c: Conversation | null = null;
    if (j && typeof j == 'object' && str(j.id)) {
      c = readConversation(j, convs.get(str(j.id)));
      convs.set(c.id, c);
      place(c);
    }
    if (done) rep.toasts.show({ title: done });
    refreshSoon();
    return c;
  } catch (e) {
    const title = e instanceof ApiError && e.status == 409 ? 'That can’t be done right now' : 'That did not work';
    rep.toasts.show({ title, body: message(e), kind: 'error' });
    return null;
  }
}

function convPath(id: string, action: string): string {
  return '/api/v1/conversations/' + encodeURIComponent(id) + '/' + action;
}

async function accept(id: string): Promise<void> {
  const c = await act(convPath(id, 'accept'), undefined, '');
  if (!c) return;
  rep.toasts.remove('waiting:' + id);
  if (stream == 'waiting') setStream('mine');
  await select(id);
  textarea.focus();
}

// The dialog that picks a colleague to transfer to or invite.
const pickDialog = byId<HTMLDialogElement>('pick-dialog');
const pickForm = byId<HTMLFormElement>('pick-form');
const pickTitle = byId('pick-title');
const pickUser = byId<HTMLSelectElement>('pick-user');
const pickSubmit = byId<HTMLButtonElement>('pick-submit');
let pickAction = '';

async function pick(action: 'transfer' | 'invite'): Promise<void> {
  const c = convs.get(current);
  if (!c) return;
  let users: any[] = [];
  try {
    const j = await api('GET', '/api/v1/users');
    users = Array.isArray(j && j.data) ? j.data : [];
  } catch (e) {
    rep.toasts.show({ title: 'The team could not be loaded', body: message(e), kind: 'error' });
    return;
  }
  const present = new Set(c.participants.filter((p) => p.present).map((p) => p.user_id));
  const reps = users.filter((u) => u && str(u.status) == 'active' && str(u.role) != 'meetings_only' && str(u.id) != me && !present.has(str(u.id)));
  clear(pickUser);
  for (const u of reps) {
    const name = (str(u.first_name) + ' ' + str(u.last_name)).trim() || str(u.email);
    pickUser.appendChild(h('option', { value: str(u.id) }, name));
  }
  pickAction = action;
  setText(pickTitle, action == 'transfer' ? 'Transfer the conversation' : 'Invite a colleague');
  setText(pickSubmit, action == 'transfer' ? 'Transfer' : 'Invite');
  pickSubmit.disabled = reps.length == 0;
  if (!reps.length) pickUser.appendChild(h('option', { value: '' }, 'No other active rep'));
  pickDialog.showModal();
  pickUser.focus();
}

pickForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = current;
  const user = pickUser.value;
  const name = pickUser.selectedOptions[0] ? pickUser.selectedOptions[0].textContent || '' : '';
  pickDialog.close();
  if (!user || !id) return;
  act(convPath(id, pickAction), { user_id: user }, pickAction == 'transfer' ? 'Transferred to ' + name + '.' : name + ' is invited.');
});
byId('pick-cancel').addEventListener('click', () => pickDialog.close());

// The transcript dialog.
const transcriptDialog = byId<HTMLDialogElement>('transcript-dialog');
const transcriptEmail = byId<HTMLInputElement>('transcript-email');
byId<HTMLFormElement>('transcript-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const email = transcriptEmail.value.trim();
  transcriptDialog.close();
  if (current) act(convPath(current, 'transcript'), email ? { email } : {}, 'The transcript is on its way' + (email ? ' to ' + email : '') + '.');
});
byId('transcript-cancel').addEventListener('click', () => transcriptDialog.close());

acts.accept.addEventListener('click', () => current && accept(current));
acts.transfer.addEventListener('click', () => pick('transfer'));
acts.invite.addEventListener('click', () => pick('invite'));
acts.leave.addEventListener('click', () => current && act(convPath(current, 'leave'), undefined, 'You left the conversation.'));
acts.close.addEventListener('click', () => current && act(convPath(current, 'close'), undefined, 'Conversation closed.'));
acts.reopen.addEventListener('click', () => current && act(convPath(current, 'reopen'), undefined, 'Conversation reopened.'));
acts.transcript.addEventListener('click', () => {
  const c = convs.get(current);
  const card = c && cards.get(c.visitor_id);
  transcriptEmail.value = (card && card.email) || (c && c.visitor.email) || '';
  transcriptDialog.showModal();
  transcriptEmail.focus();
});

// ---- Composer

textarea.addEventListener('keydown', (ev) => {
  if (ev.key == 'Enter' && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
    ev.preventDefault();
    send();
  }
});
textarea.addEventListener('input', () => sendTyping(textarea.value.trim() != ''));
textarea.addEventListener('blur', () => sendTyping(false));
composer.addEventListener('submit', (ev) => {
  ev.preventDefault();
  send();
});

// ---- The list and streams: clicks

listEl.addEventListener('click', (ev) => {
  const a = (ev.target as Element).closest('a.conv-item');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || (ev as MouseEvent).button) return;
  ev.preventDefault();
  select((a.parentElement as HTMLElement).dataset.id || '');
});
for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>('.streams a[data-stream]'))) {
  a.addEventListener('click', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    ev.preventDefault();
    setStream(a.dataset.stream || '');
  });
}
moreButton.addEventListener('click', () => loadList(true));

// ---- Keyboard shortcuts

const shortcuts = byId<HTMLDialogElement>('shortcuts-dialog');
byId('shortcuts-button').addEventListener('click', () => shortcuts.showModal());
byId('shortcuts-close').addEventListener('click', () => shortcuts.close());
let goPending = 0;

function move(by: number): void {
  if (!list.length) return;
  let i = list.indexOf(current);
  i = i < 0 ? (by > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, i + by));
  select(list[i], true);
}

document.addEventListener('keydown', (ev) => {
  if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key == 'Escape' && ev.target == textarea) {
    textarea.blur();
    const a = listEl.querySelector('a[aria-current="true"]') as HTMLElement | null;
    (a || listEl).focus();
    return;
  }
  if (editable(ev.target) || document.querySelector('dialog[open]')) return;
  if (goPending) {
    const to = streams.find((s) => s.go == ev.key);
    goPending = 0;
    if (to) {
      ev.preventDefault();
      setStream(to.key);
      return;
    }
  }
  switch (ev.key) {
    case 'j':
      move(1);
      break;
    case 'k':
      move(-1);
      break;
    case 'a': {
      const c = convs.get(current);
      if (c && isWaiting(c)) accept(c.id);
      break;
    }
    case '/':
    case 'i':
      // After this key's events: the key itself must not land in the composer.
      if (!textarea.disabled) setTimeout(() => textarea.focus(), 0);
      break;
    case 'g':
      goPending = window.setTimeout(() => (goPending = 0), 1500);
      break;
    case '?':
      shortcuts.showModal();
      break;
    default:
      return;
  }
  ev.preventDefault();
});

// ---- Frames

socket.onOpen(() => {
  // Resume every followed conversation after the last message it delivered.
  for (const [id, after] of lastSeq) socket.send({ t: 'sub', conv: id, after });
  if (current && !lastSeq.has(current)) follow(current);
  for (const p of pending.values()) if (!p.failed) deliver(p);
  loadList();
  loadMine();
  markRead();
});

socket.on('msg', (f: Frame) => {
  const conv = str(f.conv);
  const m = readMessage(f);
  if (!conv || !m.seq) return;
  if (m.seq > (lastSeq.get(conv) || 0)) lastSeq.set(conv, m.seq);
  addMessage(conv, m, true);
});

socket.on('ack', (f: Frame) => stored(str(f.id), num(f.seq)));

socket.on('error', (f: Frame) => {
  const id = str(f.id);
  if (id && pending.has(id)) {
    if (str(f.code) == 'too_many_requests') {
      setTimeout(() => resend(id), 1500);
      return;
    }
    failed(id, str(f.message) || 'refused');
  }
});

socket.on('typing', (f: Frame) => {
  if (str(f.conv) != current) return;
  if (f.on === true) showTyping(str(f.name) || (str(f.author) == 'visitor' ? visitorName(convs.get(current)!) : 'A colleague'));
  else hideTyping();
});

socket.on('read', (f: Frame) => {
  const c = convs.get(str(f.conv));
  if (!c) return;
  if (str(f.author) == 'visitor') {
    c.visitor_read_seq = Math.max(c.visitor_read_seq, num(f.seq));
    if (c.id == current) renderSeen();
  }
});

socket.on('conv', (f: Frame) => {
  if (!f.conv || typeof f.conv != 'object') return;
  const prev = convs.get(str(f.conv.id));
  const c = readConversation(f.conv, prev);
  if (!c.id) return;
  if (prev) c.visitor_read_seq = Math.max(c.visitor_read_seq, prev.visitor_read_seq);
  convs.set(c.id, c);
  place(c);
  if (c.id == current) whySoon();
  // Follow new conversations of mine in the background; stop following those I left.
  if (c.status == 'open' && isParticipant(c, me)) {
    if (!lastSeq.has(c.id)) follow(c.id);
  } else if (c.id != current && lastSeq.has(c.id)) {
    socket.send({ t: 'unsub', conv: c.id });
    lastSeq.delete(c.id);
  }
  refreshSoon();
});

// ---- My conversations, followed in the background for their previews and unread marks

async function loadMine(): Promise<void> {
  try {
    const j = await api('GET', '/api/v1/conversations?stream=mine&limit=100');
    for (const x of Array.isArray(j.conversations) ? j.conversations : []) {
      if (!x || typeof x != 'object') continue;
      const c = readConversation(x, convs.get(str(x.id)));
      if (c.id) convs.set(c.id, c);
    }
    if (j.counts && typeof j.counts == 'object') {
      for (const k of Object.keys(j.counts)) counts[k] = num(j.counts[k]);
      renderCounts();
    }
    followMine();
  } catch (e) {
    // The next refresh tries again.
  }
}

function followMine(): void {
  for (const c of convs.values()) {
    if (c.status == 'open' && isParticipant(c, me) && !lastSeq.has(c.id)) follow(c.id);
  }
}

// ---- Start

document.addEventListener('visibilitychange', markRead);
window.addEventListener('focus', markRead);
setInterval(tick, 1000);
// Previews of conversations nobody here follows change without a frame: refresh now and then.
setInterval(() => {
  if (document.visibilityState == 'visible') loadList();
}, 30000);
socket.start();
setText(listHeading, streamLabel(stream));
renderCounts();
if (current) select(current);
else renderConv();
loadList();
