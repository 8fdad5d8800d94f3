// The messenger, /js/messenger.<hash>.js: injected by the loader after first paint. It says hello
// to the Beckon server, keeps the visitor's cookie (M4), replays and serves the beckon(...) API
// (M2), renders the chat (ui.ts), keeps the session alive, and reports to Google Analytics (M5).
// The chat runs over the visitor socket (live.ts, docs/REALTIME.md), or over HTTP posts and
// polling where the socket cannot connect.
import type { Call, Stub } from './handoff';
import { Frame, live, Live } from './live';
import { backoff, req, Res, retryable, wait } from './net';
import { Consent, store } from './store';
import { createUI, Msg, Settings, UI, View } from './ui';

type Handler = (detail: unknown) => void;
type Fields = Record<string, string>;

((w: Window) => {
  const stub = w.beckon;
  const cfg = stub && stub.c;
  if (!stub || !cfg || stub.m) return;

  const api = cfg.b + '/m/v1/';
  const cookies = store(cfg.s, cfg.d);
  const handlers: Record<string, Handler[]> = {};
  const warned: Record<string, 1> = {};
  let seen: Record<string, 1> = {};
  const started: Record<string, 1> = {};
  const emails: Record<string, 1> = {};

  const optedOut = cookies.optedOut();
  const saved = optedOut ? null : cookies.read();
  let token = saved ? saved.t : '';
  let consent: Consent = optedOut ? 'denied' : saved ? saved.c : '';
  let settings: Settings = {};
  let bot = false;
  let ui: UI | null = null;
  let lastUrl = '';
  let chain: Promise<unknown> = Promise.resolve();
  let waiting: Array<() => Promise<void>> = []; // identify/saveFormData made before consent

  const warn = (m: string) => {
    if (warned[m]) return;
    warned[m] = 1;
    try {
      console.warn('Beckon: ' + m);
    } catch (e) {
      // no console
    }
  };
  const emit = (ev: string, detail: unknown) => {
    for (const h of handlers[ev] || []) {
      try {
        h(detail);
      } catch (e) {
        setTimeout(() => {
          throw e; // the integrator's error, reported as theirs, without stopping us
        });
      }
    }
  };
  const ga = (action: string) => {
    try {
      (w.dataLayer = w.dataLayer || []).push({ event: 'ga_event', category: 'Beckon', action });
      if (typeof w.gtag == 'function') w.gtag('event', action, { event_category: 'Beckon' });
    } catch (e) {
      // a page's dataLayer that is not an array
    }
  };
  const days = () => settings.cookie_days || 395;
  const save = () => {
    if (token && consent != 'denied') cookies.write({ t: token, o: ui && ui.isOpen() ? 1 : 0, c: consent }, days());
  };
  const errText = (r: Res): string =>
    (r.j && r.j.error && typeof r.j.error.message == 'string' && r.j.error.message) || 'status ' + r.s;

  // call sends a request as the visitor. A refused visitor token (401, unless the error is about
  // an identify call's signature) gets one fresh hello, which issues a new token, shared by the
  // requests that were refused meanwhile; then the request is tried once more.
  let renewing: Promise<void> | null = null;
  const renew = (used: string): Promise<void> => {
    if (!renewing && token == used) {
      token = '';
      renewing = hello().then(() => {
        renewing = null;
      });
    }
    return renewing || Promise.resolve();
  };
  async function call(path: string, body?: unknown): Promise<Res> {
    const used = token;
    let r = await req(api + path, used, body);
    if (r.s == 401 && used && !(r.j && r.j.error && r.j.error.field == 'signature')) {
      await renew(used);
      // (A page view needs no second try: the new hello recorded the page.)
      if (token && token != used && path != 'page') r = await req(api + path, token, body);
    }
    return r;
  }
  // send is call with up to three tries for failures that may pass.
  async function send(path: string, body: unknown): Promise<Res> {
    for (let n = 0; ; n++) {
      const r = await call(path, body);
      if (!retryable(r.s) || n == 2) return r;
      await wait(backoff(r, n));
    }
  }

  const pageInfo = (referrer: string) => ({
    url: location.href.slice(0, 2048),
    title: document.title.slice(0, 300),
    referrer: referrer.slice(0, 2048),
  });

  async function hello(): Promise<void> {
    let tz = '';
    try {
      tz = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    } catch (e) {
      // no Intl
    }
    const body = {
      site_id: cfg!.s,
      visitor_token: token || undefined,
      page: pageInfo(document.referrer),
      time_zone: tz,
      language: navigator.language || '',
      screen: { w: screen.width, h: screen.height },
      webdriver: navigator.webdriver === true,
      consent,
    };
    let r: Res;
    for (let n = 0; ; n++) {
      r = await req(api + 'hello', '', body);
      if (!retryable(r.s) || n == 2) break;
      await wait(backoff(r, n + 1));
    }
    if (r.s != 200 || !r.j) {
      // Down or blocked: stay silent. Refused: tell the integrator why, once.
      if (r.s >= 400 && r.s < 500) warn(`the server refused this page (${errText(r)})`);
      return;
    }
    settings = r.j.settings || {};
    lastUrl = location.href;
    bot = !!r.j.bot;
    // A refusal holds even if a server records it anyway: no token kept, nothing shown.
    token = (!bot && consent != 'denied' && r.j.visitor_token) || '';
    if (!token) {
      // Consent required and not given (or refused), or a bot: nothing is stored, nothing shown.
      cookies.clear();
      return;
    }
    const c = r.j.conversation;
    if (c && typeof c.id == 'string' && !convId) {
      // Its history loads over HTTP when it is needed; the socket follows it from last_seq on.
      convId = c.id;
      seqs[convId] = +c.last_seq || 0;
    }
    save();
    if (!ui) mount(!!(saved && saved.o));
    session();
    connect();
    const todo = waiting;
    waiting = [];
    for (const f of todo) await f();
  }

  // The chat. Each conversation the messenger follows has its highest seq in seqs (the "after"
  // of a new subscription); every message shows once, by conversation and seq, and in seq order:
  // the socket sends them so, and messages that arrive before the history of the conversation
  // hello named has loaded wait for it.
  let convId = '';
  let seqs: Record<string, number> = {};
  let shown: Record<string, 1> = {};
  let mineAt: Record<string, 1> = {}; // the visitor's own messages, shown since they were sent
  let others: Record<string, number> = {}; // per conversation, the seq of the last reply
  let readAt: Record<string, number> = {};
  let loaded = false; // convId's history is shown (or it has none to load)
  let loading = false;
  let held: Array<[string, Msg]> = [];
  let ended = false; // convId was closed: the next message starts a new conversation
  let unread = 0;
  let last: { c: string; seq: number; view: View } | null = null; // the visitor's last message
  let sock: Live | null = null;
  let mode = typeof WebSocket == 'function' ? 'ws' : 'http';
  let hideTimer = 0;
  let typeTimer = 0;
  let typedAt = 0;

  function mount(reopen: boolean) {
    ui = createUI({ base: cfg!.b, s: settings, send: say, toggle, typing });
    if (reopen && w.innerWidth > 480) ui.open(false);
  }
  function toggle(open: boolean) {
    save();
    emit(open ? 'open' : 'close', {});
    if (open) {
      unread = 0;
      if (ui) ui.badge(0);
      history();
      poll();
      read();
    }
  }
  function teardown() {
    if (ui) ui.destroy();
    ui = null;
    if (sock) sock.stop();
    sock = null;
    clearInterval(beatTimer);
    clearInterval(pollTimer);
    clearTimeout(retryTimer);
    clearTimeout(hideTimer);
    for (const o of outbox) clearTimeout(o.timer);
    beatTimer = pollTimer = 0;
    outbox.length = 0;
    convId = '';
    seqs = {};
    shown = {};
    mineAt = {};
    others = {};
    readAt = {};
    seen = {};
    held = [];
    loaded = loading = ended = false;
    unread = 0;
    last = null;
    mode = typeof WebSocket == 'function' ? 'ws' : 'http';
  }

  // The socket: open while the visitor has a token and the page is visible (closed after 60 s
  // hidden), so that replies, and conversations a rep starts, arrive at once.
  function connect() {
    if (!token || typeof WebSocket != 'function' || document.visibilityState == 'hidden') return;
    if (!sock) {
      sock = live(cfg!.b.replace(/^http/, 'ws') + '/m/v1/socket?site=' + encodeURIComponent(cfg!.s), {
        token: () => token,
        frame,
        renew: () =>
          renew(token).then(() => {
            if (!token && sock) sock.stop();
          }),
        fail() {
          // Blocked (a proxy that refuses upgrades, say) or down: HTTP until it works again.
          mode = 'http';
          pump();
          poll();
        },
      });
    }
    sock!.start();
  }
  const ws = (f: object) => !!sock && mode == 'ws' && sock.send(f);

  function frame(f: Frame) {
    const c: string = typeof f.conv == 'string' ? f.conv : '';
    switch (f.t) {
      case 'ready': {
        mode = 'ws';
        clearInterval(pollTimer);
        pollTimer = 0;
        const cv = f.conversation;
        if (cv && typeof cv.id == 'string' && !(cv.id in seqs)) current(cv.id);
        for (const k in seqs) ws({ t: 'sub', conv: k, after: seqs[k] });
        for (const o of outbox) o.sent = false; // unacknowledged: again, with the same ids
        pump();
        read();
        return;
      }
      case 'msg': {
        if (!c) return;
        if (!(c in seqs)) current(c); // a conversation the server follows for us
        if (c == convId && !loaded) {
          held.push([c, f]);
          history();
        } else got(c, f, true);
        return;
      }
      case 'ack': {
        const o = outbox.filter((x) => x.id == f.id)[0];
        // (The visitor's first message of a conversation is its number 1.)
        if (o && c && typeof f.seq == 'number') done(o, c, f.seq, f.first != null ? !!f.first : f.seq == 1);
        captured('chat', Array.isArray(f.fields_captured) ? f.fields_captured : [], '');
        return;
      }
      case 'error': {
        const o = outbox.filter((x) => x.id == f.id)[0];
        if (!o) return;
        const again = f.code == 'too_many_requests' || f.code == 'unavailable';
        o.sent = false;
        o.failed = true;
        const retry = () => {
          clearTimeout(o.timer);
          o.failed = false;
          o.view.status('Sending…');
          pump();
        };
        o.view.status(again ? 'Not delivered yet. Retrying…' : 'Not sent: ' + (f.message || f.code), retry);
        if (again) o.timer = w.setTimeout(retry, backoff({ s: 0, j: 0, r: 0 }, o.n++));
        return;
      }
      case 'typing':
        if (f.author == 'rep' && c == convId && ui) {
          clearTimeout(typeTimer);
          ui.typing(f.on ? (typeof f.name == 'string' && f.name.split(' ')[0]) || '' : null);
          if (f.on) typeTimer = w.setTimeout(() => ui && ui.typing(null), 6000);
        }
        return;
      case 'read':
        if (f.author == 'rep' && last && last.c == c && f.seq >= last.seq) last.view.status('Seen');
        return;
      case 'conv': {
        const cv = f.conv;
        if (!cv || typeof cv.id != 'string') return;
        const closed = cv.status == 'closed';
        // One the visitor did not start here: a rep's, or another tab's.
        if (!(cv.id in seqs) && !closed) current(cv.id);
        if (cv.id != convId || closed == ended || !ui) return;
        ended = closed;
        if (closed) {
          ui.typing(null);
          ui.ended(async (email, hp) => {
            const r = await send('transcript', { conversation_id: cv.id, email, hp });
            return r.s == 202 || r.s == 200 ? '' : 'Not sent: ' + errText(r);
          });
        }
      }
    }
  }

  // current makes c the conversation the panel shows and new messages go to, and follows it
  // from its beginning when it is new.
  function current(c: string) {
    if (c != convId) {
      convId = c;
      loaded = true;
      ended = false;
    }
    if (!(c in seqs)) {
      seqs[c] = 0;
      ws({ t: 'sub', conv: c, after: 0 });
    }
  }

  async function history() {
    if (loaded || loading || !convId) return;
    loading = true;
    const c = convId;
    if (ui) ui.busy(true);
    const r = await call('messages?after=0');
    loading = false;
    loaded = true;
    if (ui) ui.busy(false);
    if (r.s == 200 && r.j && Array.isArray(r.j.messages) && (r.j.conversation_id || c) == c) {
      for (const m of r.j.messages) got(c, m, false);
    }
    const h = held;
    held = [];
    for (const [k, m] of h) got(k, m, true);
    read();
  }

  // got shows a message of conversation c from the server, unless it shows already; fresh ones
  // (not history) are announced to the page's handlers.
  function got(c: string, r: Msg, fresh: boolean) {
    if (!r || typeof r.text != 'string' || typeof r.seq != 'number' || !ui) return;
    // The socket's names (name, at) and HTTP's (author_name, created_at), as the page's
    // message event has them.
    const seq = r.seq;
    const m: Msg = {
      id: r.id,
      seq,
      author: r.author,
      author_name: r.author_name || r.name,
      text: r.text,
      created_at: r.created_at || r.at,
    };
    if (seq > (seqs[c] || 0)) seqs[c] = seq;
    const k = c + ' ' + seq;
    if (shown[k] || (m.id && seen[m.id])) return;
    shown[k] = 1;
    if (m.id) seen[m.id] = 1;
    const mine = m.author == 'visitor';
    if (fresh && m.author != 'system') emit('message', { ...m, conversation_id: c });
    if (mineAt[k]) return;
    if (mine && fresh) {
      // Its echo came before its ack.
      const o = outbox.filter((x) => x.sent && x.text == m.text)[0];
      if (o) return done(o, c, seq, seq == 1);
    }
    const view = ui.add(m, mine);
    if (mine) last = { c, seq, view };
    else if (m.author != 'system') {
      others[c] = seq;
      if (fresh) {
        clearTimeout(typeTimer);
        ui.typing(null);
        if (!ui.isOpen()) ui.badge(++unread);
      }
    }
    if (fresh) read();
  }

  // read tells the server the visitor has seen the replies, while the panel is open and visible.
  function read() {
    const c = convId;
    if (ui && ui.isOpen() && document.visibilityState == 'visible' && (others[c] || 0) > (readAt[c] || 0)) {
      if (ws({ t: 'read', conv: c, seq: seqs[c] })) readAt[c] = seqs[c];
    }
  }

  // typing tells the rep the visitor is typing, at most every 3 s, and when they stop.
  function typing(on: boolean) {
    const now = Date.now();
    if (!convId || ended || (on ? now - typedAt < 3000 : !typedAt)) return;
    if (ws({ t: 'typing', conv: convId, on })) typedAt = on ? now : 0;
  }

  // Polling for replies every 3 s, over HTTP when the socket cannot connect, while the panel is
  // open, the page visible and a conversation exists. A poll that overlaps a send is dropped, so
  // that the visitor's own message never shows twice.
  let pollTimer = 0;
  let gen = 0;
  function poll() {
    if (mode == 'http' && !pollTimer && ui && ui.isOpen() && convId) {
      pollTimer = w.setInterval(async () => {
        if (!ui || !ui.isOpen() || mode != 'http') {
          clearInterval(pollTimer);
          pollTimer = 0;
          return;
        }
        if (sending || document.visibilityState != 'visible' || !loaded) return;
        const g = gen;
        const c = convId;
        const r = await call('messages?after=' + (seqs[c] || 0));
        if (g == gen && r.s == 200 && r.j && Array.isArray(r.j.messages)) {
          const to = r.j.conversation_id || c;
          if (to != c) return current(to); // a new conversation: polled from its start next time
          for (const m of r.j.messages) got(c, m, true);
        }
      }, 3000);
    }
  }

  // Sending: each message with a client id, so that retries are idempotent. Over the socket they
  // go at once and stay "Sending…" until acknowledged, and go again after a reconnect. Over HTTP
  // they go one at a time, in order; failures that may pass are retried with backoff, forever,
  // while the page lives.
  interface Out {
    id: string;
    text: string;
    view: View;
    n: number;
    sent?: boolean; // over the current socket
    failed?: boolean; // refused: waits for the visitor's retry (or its timer)
    timer?: number;
  }
  const outbox: Out[] = [];
  let sending = false;
  let retryTimer = 0;
  const clientId = () => {
    const b = new Uint8Array(16);
    try {
      crypto.getRandomValues(b);
    } catch (e) {
      for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
    }
    return Array.prototype.map.call(b, (x: number) => (x | 256).toString(16).slice(1)).join('');
  };
  function say(text: string): boolean {
    const t = text.trim();
    if (!ui || !t) return false;
    ui.notice('');
    typing(false);
    const view = ui.add({ author: 'visitor', text: t }, true);
    view.status('Sending…');
    outbox.push({ id: clientId(), text: t, view, n: 0 });
    pump();
    return true;
  }
  // done: o is stored as message seq of conversation c.
  function done(o: Out, c: string, seq: number, first: boolean) {
    const i = outbox.indexOf(o);
    if (i >= 0) outbox.splice(i, 1);
    clearTimeout(o.timer);
    o.view.status('');
    mineAt[c + ' ' + seq] = 1;
    if (last && last.view != o.view) last.view.status('');
    last = { c, seq, view: o.view };
    current(c);
    if (first && !started[c]) {
      started[c] = 1;
      ga('Conversation Started');
    }
  }
  async function pump() {
    if (mode == 'ws') {
      for (const o of outbox) {
        if (!o.sent && !o.failed && ws({ t: 'send', id: o.id, conv: ended ? undefined : convId || undefined, text: o.text })) o.sent = true;
      }
      return;
    }
    const o = outbox.filter((x) => !x.failed)[0];
    if (sending || !o) return;
    sending = true;
    gen++;
    clearTimeout(retryTimer);
    const r = await call('messages', { text: o.text, client_id: o.id });
    sending = false;
    if (outbox.indexOf(o) < 0) return pump(); // acknowledged over the socket, or torn down
    const j = r.j;
    if ((r.s == 201 || r.s == 200) && j && j.message) {
      const m = j.message;
      if (m.id) seen[m.id] = 1;
      done(o, j.conversation_id || convId || 'conversation', m.seq, !!j.first);
      emit('message', { ...m, conversation_id: convId });
      captured('chat', Array.isArray(j.fields_captured) ? j.fields_captured : [], '');
      poll();
    } else if (retryable(r.s)) {
      const delay = backoff(r, o.n++);
      o.view.status('Not delivered yet. Retrying…', () => pump());
      retryTimer = w.setTimeout(pump, delay);
      return;
    } else {
      o.failed = true;
      o.view.status('Not sent: ' + errText(r), () => {
        o.failed = false;
        o.view.status('Sending…');
        pump();
      });
    }
    pump();
  }

  // Fields: identify and saveFormData.
  function captured(source: string, names: string[], email: string) {
    if (!names.length) return;
    emit('field captured', { source, fields: names });
    const key = email.toLowerCase() || source + Math.random();
    if (names.indexOf('email') >= 0 && !emails[key]) {
      emails[key] = 1;
      ga('Email Captured');
    }
  }
  async function fields(kind: 'identify' | 'form', f: unknown, opts: unknown): Promise<void> {
    if (!f || typeof f != 'object') return warn(`${kind == 'form' ? 'saveFormData' : kind} needs an object of fields`);
    const out: Fields = {};
    for (const [k, v] of Object.entries(f as object)) {
      if (v != null && typeof v != 'object' && typeof v != 'function' && String(v) !== '') out[k] = String(v).slice(0, 1000);
    }
    if (!token) {
      // Before consent (or before hello succeeded): keep it in memory until storing is allowed.
      if (consent != 'denied' && !bot) waiting.push(() => fields(kind, f, opts));
      return;
    }
    const body: { fields: Fields; signature?: string } = { fields: out };
    const sig = opts && (opts as { signature?: unknown }).signature;
    if (kind == 'identify' && typeof sig == 'string') body.signature = sig;
    const r = await send(kind, body);
    if (r.s != 200) return warn(`${kind == 'form' ? 'saveFormData' : kind} was refused (${errText(r)})`);
    if (r.j && typeof r.j.visitor_token == 'string' && r.j.visitor_token) {
      token = r.j.visitor_token;
      save();
    }
    const names = r.j && Array.isArray(r.j.fields_captured) ? r.j.fields_captured : Object.keys(out);
    captured(kind, names, out.email || '');
  }

  // SPA route changes. The URL hello or the last page call recorded is not recorded twice.
  async function page(): Promise<void> {
    if (!token || location.href == lastUrl) return;
    const referrer = lastUrl;
    lastUrl = location.href;
    await send('page', pageInfo(referrer));
  }

  async function setConsent(granted: boolean): Promise<void> {
    if (granted) {
      cookies.optIn();
      const was = consent;
      consent = 'granted';
      if (token) {
        save();
        if (was != 'granted') await send('consent', { granted: true });
      } else if (!bot) {
        await hello();
      }
      return;
    }
    if (token) await send('consent', { granted: false });
    consent = 'denied';
    token = '';
    waiting = [];
    teardown();
    cookies.clear();
    cookies.optOut(days());
  }

  // Sessions (V1): a heartbeat every 60 s while the page is visible; leave on pagehide. The
  // socket closes after 60 s hidden and on pagehide (which keeps the page fit for the
  // back/forward cache), and opens again when the page shows.
  let beat = 0;
  let beatTimer = 0;
  let listening = false;
  function heartbeat() {
    if (!token) return;
    beat = Date.now();
    req(api + 'heartbeat', token, {});
  }
  function session() {
    beat = Date.now();
    if (!beatTimer) {
      beatTimer = w.setInterval(() => {
        if (document.visibilityState == 'visible') heartbeat();
      }, 60000);
    }
    if (listening) return;
    listening = true;
    document.addEventListener('visibilitychange', () => {
      clearTimeout(hideTimer);
      if (document.visibilityState == 'visible') {
        if (Date.now() - beat >= 60000) heartbeat();
        connect();
        read();
      } else {
        hideTimer = w.setTimeout(() => sock && sock.stop(), 60000);
      }
    });
    w.addEventListener('pageshow', (e) => {
      if (e.persisted) {
        heartbeat(); // back from the back/forward cache
        connect();
      }
    });
    w.addEventListener('pagehide', () => {
      if (sock) sock.stop();
      try {
        if (token && navigator.sendBeacon) navigator.sendBeacon(api + 'leave', JSON.stringify({ visitor_token: token }));
      } catch (e) {
        // nothing to do while the page goes away
      }
    });
  }

  // The API. Network verbs run one after another, in call order, after hello.
  const queue = (f: () => Promise<void> | void) => {
    chain = chain.then(f).catch(() => {});
  };
  function run(verb: unknown, args: unknown[]) {
    const [a, b] = args;
    switch (verb) {
      case 'on':
      case 'off':
        if (typeof a != 'string' || typeof b != 'function') return warn(`${verb} needs an event name and a function`);
        if (verb == 'on') (handlers[a] = handlers[a] || []).push(b as Handler);
        else handlers[a] = (handlers[a] || []).filter((h) => h !== b);
        return;
      case 'page':
        return queue(page);
      case 'identify':
        return queue(() => fields('identify', a, b));
      case 'saveFormData':
        return queue(() => fields('form', a, null));
      case 'consent':
        if (typeof a != 'boolean') return warn('consent needs true or false');
        return queue(() => setConsent(a));
      case 'open':
      case 'close':
        return queue(() => {
          if (ui) verb == 'open' ? ui.open(true) : ui.close();
        });
      case 'showExperience':
      case 'showFormExperience':
        return warn(`${verb} is not available yet`);
      default:
        warn(`unknown command ${JSON.stringify(String(verb))}`);
    }
  }

  const pending: Call[] = stub.q || [];
  const beckon = function () {
    const args = Array.prototype.slice.call(arguments);
    try {
      run(args[0], args.slice(1));
    } catch (e) {
      // never throw into the page
    }
  } as Stub;
  beckon.c = cfg;
  beckon.m = 1;
  beckon.q = [];
  w.beckon = beckon;

  queue(hello);
  for (const c of pending) beckon(...Array.prototype.slice.call(c));
})(window);
