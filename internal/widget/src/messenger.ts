// The messenger, /js/messenger.<hash>.js: injected by the loader after first paint. It says hello
// to the Beckon server, keeps the visitor's cookie (M4), replays and serves the beckon(...) API
// (M2), renders the chat (ui.ts), keeps the session alive, and reports to Google Analytics (M5).
import type { Call, Stub } from './handoff';
import { backoff, req, Res, retryable, wait } from './net';
import { Consent, store } from './store';
import { createUI, Msg, Settings, UI } from './ui';

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
  let convId = '';
  let lastSeq = 0;
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
  async function call(path: string, body?: unknown): Promise<Res> {
    const used = token;
    let r = await req(api + path, used, body);
    if (r.s == 401 && used && !(r.j && r.j.error && r.j.error.field == 'signature')) {
      if (!renewing && token == used) {
        token = '';
        renewing = hello().then(() => {
          renewing = null;
        });
      }
      if (renewing) await renewing;
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
    if (r.j.conversation && r.j.conversation.id) convId = r.j.conversation.id;
    save();
    if (!ui) mount(!!(saved && saved.o));
    session();
    const todo = waiting;
    waiting = [];
    for (const f of todo) await f();
  }

  // The chat.
  function mount(reopen: boolean) {
    ui = createUI({ base: cfg!.b, s: settings, send: say, toggle });
    if (reopen && w.innerWidth > 480) ui.open(false);
  }
  function toggle(open: boolean) {
    save();
    emit(open ? 'open' : 'close', {});
    if (open) {
      if (convId && !loaded) history();
      poll();
    }
  }
  function teardown() {
    if (ui) ui.destroy();
    ui = null;
    clearInterval(beatTimer);
    clearInterval(pollTimer);
    clearTimeout(retryTimer);
    beatTimer = pollTimer = 0;
    outbox.length = 0;
    loaded = false;
    seen = {};
  }

  let loaded = false;
  async function history() {
    loaded = true;
    if (!ui) return;
    ui.busy(true);
    const r = await call('messages?after=0');
    if (ui) ui.busy(false);
    if (r.s == 200 && r.j && Array.isArray(r.j.messages)) for (const m of r.j.messages) got(m, false);
  }
  function got(m: Msg & { id: string; seq: number }, live: boolean) {
    if (!m || typeof m.text != 'string' || seen[m.id] || !ui) return;
    seen[m.id] = 1;
    if (m.seq > lastSeq) lastSeq = m.seq;
    ui.add(m, m.author == 'visitor');
    if (live) emit('message', { ...m, conversation_id: convId });
  }

  // Polling for replies every 3 s while the panel is open, the page visible and a conversation
  // exists (live sockets come later). A poll that overlaps a send is dropped, so that the
  // visitor's own message never shows twice.
  let pollTimer = 0;
  let gen = 0;
  function poll() {
    if (!pollTimer && ui && ui.isOpen() && convId) {
      pollTimer = w.setInterval(async () => {
        if (!ui || !ui.isOpen()) {
          clearInterval(pollTimer);
          pollTimer = 0;
          return;
        }
        if (sending || document.visibilityState != 'visible' || !loaded) return;
        const g = gen;
        const r = await call('messages?after=' + lastSeq);
        if (g == gen && r.s == 200 && r.j && Array.isArray(r.j.messages)) {
          for (const m of r.j.messages) got(m, true);
        }
      }, 3000);
    }
  }

  // Sending: one message at a time, in order, each with a client_id so that retries are
  // idempotent; failures that may pass are retried with backoff, forever, while the page lives.
  interface Out {
    id: string;
    text: string;
    view: ReturnType<UI['add']>;
    n: number;
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
    const view = ui.add({ author: 'visitor', text: t }, true);
    view.status('Sending…');
    outbox.push({ id: clientId(), text: t, view, n: 0 });
    pump();
    return true;
  }
  async function pump() {
    const o = outbox[0];
    if (sending || !o) return;
    sending = true;
    gen++;
    clearTimeout(retryTimer);
    const r = await call('messages', { text: o.text, client_id: o.id });
    sending = false;
    if (outbox[0] != o) return; // torn down meanwhile
    const j = r.j;
    if ((r.s == 201 || r.s == 200) && j && j.message) {
      outbox.shift();
      o.view.status('');
      const m = j.message;
      seen[m.id] = 1;
      if (m.seq > lastSeq) lastSeq = m.seq;
      if (j.conversation_id) convId = j.conversation_id;
      if (!convId) convId = 'conversation';
      loaded = true; // a conversation this page started has no history to load
      if (j.first && !started[convId]) {
        started[convId] = 1;
        ga('Conversation Started');
      }
      emit('message', { ...m, conversation_id: convId });
      captured('chat', Array.isArray(j.fields_captured) ? j.fields_captured : [], '');
      poll();
    } else if (retryable(r.s)) {
      const delay = backoff(r, o.n++);
      o.view.status('Not delivered yet. Retrying…', () => pump());
      retryTimer = w.setTimeout(pump, delay);
      return;
    } else {
      outbox.shift();
      o.view.status('Not sent: ' + errText(r));
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

  // Sessions (V1): a heartbeat every 60 s while the page is visible; leave on pagehide.
  let beat = 0;
  let beatTimer = 0;
  let live = false;
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
    if (live) return;
    live = true;
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState == 'visible' && Date.now() - beat >= 60000) heartbeat();
    });
    w.addEventListener('pageshow', (e) => {
      if (e.persisted) heartbeat(); // back from the back/forward cache
    });
    w.addEventListener('pagehide', () => {
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
