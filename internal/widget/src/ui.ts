// The launcher and the chat panel, inside a closed shadow root on one fixed-position host, so
// that the page's CSS and scripts cannot reach them. Everything the server or the visitor sends
// is set with textContent: nothing is ever parsed as HTML. Links in replies become anchors built
// with DOM calls, and only for http, https and mailto URLs.

/** Messenger settings from hello (docs/MESSENGER-PROTOCOL.md). */
export interface Settings {
  color?: string;
  position?: string;
  launcher_text?: string;
  z_index?: number;
  greeting?: string;
  title?: string;
  subtitle?: string;
  consent_required?: boolean;
  cookie_days?: number;
}

/** A chat message as the server sends it (over the socket, with name and at). */
export interface Msg {
  id?: string;
  seq?: number;
  author: string;
  author_name?: string;
  name?: string;
  text: string;
  created_at?: string;
  at?: string;
}

/** One rendered message whose delivery status can change. */
export interface View {
  status(text: string, retry?: () => void): void;
}

export interface UI {
  open(focus: boolean): void;
  close(): void;
  isOpen(): boolean;
  /** Shows a message: the visitor's own (mine), a reply, or a system line (author "system"). */
  add(m: Msg, mine: boolean): View;
  busy(b: boolean): void;
  notice(text: string): void;
  /** Shows "<name> is typing…"; null hides it. */
  typing(name: string | null): void;
  /** The number of unread replies on the launcher; 0 hides it. */
  badge(n: number): void;
  /** Shows that the conversation ended, with an offer to email its transcript: mail sends it and resolves to an error text, '' when it worked. */
  ended(mail: (email: string, hp: string) => Promise<string>): void;
  destroy(): void;
}

export interface Options {
  base: string;
  s: Settings;
  /** Sends the text; false keeps it in the input. */
  send(text: string): boolean;
  toggle(open: boolean): void;
  /** The visitor is typing (on input) or stopped (on blur). */
  typing(on: boolean): void;
}

const SVG = 'http://www.w3.org/2000/svg';
const ICON_CHAT =
  'M12 3.5c-5 0-9 3.4-9 7.7 0 2.2 1 4.1 2.7 5.5l-.9 3.4c-.1.5.4.9.8.6l3.8-2c.8.2 1.7.3 2.6.3 5 0 9-3.4 9-7.8S17 3.5 12 3.5z';
const ICON_CLOSE = 'M6.5 6.5l11 11M17.5 6.5l-11 11';
const ICON_DOWN = 'M6.5 9.5l5.5 5.5 5.5-5.5';
const ICON_SEND = 'M12 19V6M6.5 11.5L12 6l5.5 5.5';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function icon(d: string, cls: string, filled?: boolean): SVGSVGElement {
  const s = document.createElementNS(SVG, 'svg');
  const p = document.createElementNS(SVG, 'path');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('class', 'bk-icon ' + cls);
  s.setAttribute('aria-hidden', 'true');
  s.setAttribute('focusable', 'false');
  p.setAttribute('d', d);
  if (filled) {
    p.setAttribute('fill', 'currentColor');
  } else {
    p.setAttribute('fill', 'none');
    p.setAttribute('stroke', 'currentColor');
    p.setAttribute('stroke-width', '2.2');
    p.setAttribute('stroke-linecap', 'round');
    p.setAttribute('stroke-linejoin', 'round');
  }
  s.appendChild(p);
  return s;
}

// Only these schemes become links; anything else (javascript:, data:, …) stays text.
const LINK = /\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi;

/** Appends t to p as text, with its http, https and mailto URLs as anchors. */
function linkify(p: HTMLElement, t: string) {
  let at = (LINK.lastIndex = 0);
  for (let m; (m = LINK.exec(t)); ) {
    const u = m[0].replace(/[.,;:!?'")\]}>]+$/, '');
    const a = el('a', '', u);
    a.href = u;
    // What the browser made of it: one of the three schemes, and the one the text names.
    if (!/^(https?|mailto):$/.test(a.protocol) || u.toLowerCase().indexOf(a.protocol)) continue;
    a.rel = 'noopener noreferrer nofollow';
    a.target = '_blank';
    p.append(t.slice(at, m.index), a);
    at = LINK.lastIndex = m.index + u.length;
  }
  p.append(t.slice(at));
}

function button(cls: string, label: string, ...kids: Node[]): HTMLButtonElement {
  const b = el('button', cls);
  b.type = 'button';
  if (label) b.setAttribute('aria-label', label);
  for (const k of kids) b.appendChild(k);
  return b;
}

/** The text colour that reads best on a background of hex colour c (#rgb or #rrggbb). */
function ink(c: string): string {
  const hex = c.length == 4 ? c.replace(/\w/g, '$&$&') : c;
  const lin = (i: number) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(1) + 0.7152 * lin(3) + 0.0722 * lin(5);
  // contrast against white (1.05 / (l + .05)) versus against near-black (#111, l ≈ .0056)
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.0556 ? '#fff' : '#111';
}

export function createUI(o: Options): UI {
  const d = document;
  const s = o.s;
  const color = /^#([\da-f]{3}|[\da-f]{6})$/i.test(s.color || '') ? s.color! : '#3b5bdb';
  const z = Math.max(0, Math.min(2147483647, Math.floor(Number(s.z_index) || 2147483000)));
  const title = s.title || s.launcher_text || 'Chat';

  const host = d.createElement('beckon-messenger');
  // The :host rule reads --bk-z; an important inline declaration beats any page rule.
  host.style.setProperty('--bk-z', String(z), 'important');
  const root = host.attachShadow({ mode: 'closed' });

  const wrap = el('div', 'bk ' + (s.position == 'left' ? 'bk-left' : 'bk-right'));
  wrap.style.setProperty('--bk-c', color);
  wrap.style.setProperty('--bk-t', ink(color));

  // The panel.
  const panel = el('div', 'bk-panel');
  panel.id = 'bk-panel';
  panel.hidden = true;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-labelledby', 'bk-title');
  const head = el('div', 'bk-head');
  const avatar = el('div', 'bk-avatar', title.trim().charAt(0).toUpperCase());
  avatar.setAttribute('aria-hidden', 'true');
  const titles = el('div', 'bk-titles');
  const h = el('h2', 'bk-title', title);
  h.id = 'bk-title';
  titles.appendChild(h);
  if (s.subtitle) titles.appendChild(el('p', 'bk-sub', s.subtitle));
  const x = button('bk-x', 'Close chat', icon(ICON_DOWN, 'bk-i-down'));
  head.append(avatar, titles, x);

  const list = el('div', 'bk-list');
  list.setAttribute('role', 'log');
  list.setAttribute('aria-live', 'polite');
  list.setAttribute('aria-label', 'Messages');
  list.tabIndex = 0;
  // "Riley is typing…", under the list and out of the log's announcements.
  const typing = el('p', 'bk-typing');
  typing.setAttribute('aria-hidden', 'true');
  typing.hidden = true;

  const note = el('p', 'bk-note');
  note.setAttribute('role', 'status');

  const compose = el('div', 'bk-compose');
  const input = el('textarea', 'bk-input');
  input.rows = 1;
  input.maxLength = 4000;
  input.placeholder = 'Write a message…';
  input.setAttribute('aria-label', 'Message');
  const send = button('bk-send', 'Send message', icon(ICON_SEND, 'bk-i-send'));
  compose.append(input, send);
  const foot = el('p', 'bk-foot', 'Powered by Beckon');
  panel.append(head, list, typing, note, compose, foot);

  // The launcher.
  const launcher = button('bk-launcher', '', icon(ICON_CHAT, 'bk-i-chat', true), icon(ICON_CLOSE, 'bk-i-close'));
  launcher.setAttribute('aria-controls', 'bk-panel');
  launcher.setAttribute('aria-expanded', 'false');
  const ltext = (s.launcher_text || '').trim();
  if (ltext) {
    launcher.appendChild(el('span', 'bk-ltext', ltext));
    launcher.classList.add('bk-pill');
  }
  const badge = el('span', 'bk-badge');
  badge.setAttribute('aria-hidden', 'true');
  badge.hidden = true;
  launcher.appendChild(badge);
  let unread = 0;
  const label = () => {
    const on = isOpen();
    const n = unread ? `, ${unread} unread` : '';
    if (on || !ltext || n) launcher.setAttribute('aria-label', on ? 'Close chat' : (ltext || 'Open chat') + n);
    else launcher.removeAttribute('aria-label');
    launcher.setAttribute('aria-expanded', String(on));
  };
  wrap.append(panel, launcher);

  // Styles: a constructed stylesheet where the browser has them (allowed under a CSP without
  // 'unsafe-inline'), else a <link> to the same CSS on the Beckon server, and the panel waits
  // for it so that nothing unstyled ever shows.
  let mount = (): void => {
    root.appendChild(wrap);
  };
  try {
    const sheet = new CSSStyleSheet();
    // The z-index goes into the sheet too: a page script can overwrite the host's inline style.
    sheet.replaceSync(__CSS__ + `:host{z-index:${z}!important}`);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    const link = el('link');
    link.rel = 'stylesheet';
    link.href = o.base + '/js/messenger.' + __CSS_HASH__ + '.css';
    const m = mount;
    mount = () => {};
    link.onload = m;
    root.appendChild(link);
  }
  mount();
  label();
  d.documentElement.appendChild(host);

  function isOpen(): boolean {
    return !panel.hidden;
  }
  function open(focus: boolean) {
    if (isOpen()) return;
    panel.hidden = false;
    wrap.classList.add('bk-open');
    label();
    list.scrollTop = list.scrollHeight;
    if (focus) input.focus();
    o.toggle(true);
  }
  function close() {
    if (!isOpen()) return;
    const inside = panel.contains(root.activeElement);
    panel.hidden = true;
    wrap.classList.remove('bk-open');
    label();
    if (inside) launcher.focus();
    o.toggle(false);
  }
  function grow() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 120) + 'px';
  }
  function submit() {
    const t = input.value;
    if (!t.trim()) return;
    if (o.send(t)) {
      input.value = '';
      grow();
    }
    input.focus();
  }

  launcher.addEventListener('click', () => (isOpen() ? close() : open(true)));
  x.addEventListener('click', close);
  send.addEventListener('click', submit);
  input.addEventListener('input', () => {
    grow();
    if (input.value.trim()) o.typing(true);
  });
  input.addEventListener('blur', () => o.typing(false));
  input.addEventListener('keydown', (e) => {
    if (e.key == 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  wrap.addEventListener('keydown', (e) => {
    if (e.key == 'Escape' && isOpen()) {
      e.stopPropagation();
      close();
      launcher.focus();
    }
  });

  let last: { author: string; name: string } | null = null;
  if (s.greeting) add({ author: 'bot', text: s.greeting }, false);

  // put adds a row at the end of the list (or only changed the last), and keeps the end in
  // view when the visitor was near it (or wrote the row).
  function put(row: HTMLElement | null, mine: boolean) {
    const near = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    if (row) list.appendChild(row);
    if (mine || near) list.scrollTop = list.scrollHeight;
  }

  function add(m: Msg, mine: boolean): View {
    const sys = m.author == 'system';
    const name = mine || sys ? '' : m.author_name || '';
    const row = el('div', 'bk-msg ' + (sys ? 'bk-sys' : mine ? 'bk-me' : 'bk-them'));
    const cont = last && last.author == m.author && last.name == name;
    if (cont) row.classList.add('bk-cont');
    if (name && !cont) row.appendChild(el('div', 'bk-name', name));
    last = sys ? null : { author: m.author, name };
    const bubble = el('div', sys ? '' : 'bk-bubble');
    // For screen readers, who said it; the bubble's side says it to the eye.
    if (!sys) bubble.appendChild(el('span', 'bk-sr', mine ? 'You: ' : (name || title) + ': '));
    if (mine || sys) bubble.append(m.text);
    else linkify(bubble, m.text);
    row.appendChild(bubble);
    const st = el('div', 'bk-status');
    row.appendChild(st);
    put(row, mine);
    return {
      status(text, retry) {
        st.textContent = text;
        if (!row.nextSibling) put(null, false);
        row.classList.toggle('bk-fail', !!retry || /^Not sent/.test(text));
        if (retry) {
          const b = button('bk-retry', '');
          b.textContent = 'Retry now';
          b.addEventListener('click', retry);
          st.append(' ', b);
        }
      },
    };
  }

  return {
    open,
    close,
    isOpen,
    add,
    busy: (b) => list.setAttribute('aria-busy', String(b)),
    notice(text) {
      note.textContent = text;
    },
    typing(name) {
      typing.textContent = name == null ? '' : (name || title) + ' is typing…';
      typing.hidden = name == null;
    },
    badge(n) {
      unread = n;
      badge.textContent = n > 9 ? '9+' : String(n);
      badge.hidden = !n;
      label();
    },
    ended(mail) {
      const row = el('div', 'bk-msg bk-sys bk-end');
      const offer = button('bk-link', '');
      offer.textContent = 'Email me the transcript';
      row.append(el('div', '', 'This conversation has ended'), offer);
      last = null;
      put(row, false);
      offer.addEventListener('click', () => {
        const form = el('form', 'bk-mail');
        const email = el('input', 'bk-email');
        email.type = 'email';
        email.required = true;
        email.autocomplete = 'email';
        email.placeholder = 'you@example.com';
        email.setAttribute('aria-label', 'Your email address');
        // A honeypot: hidden from people and screen readers; bots that fill every field fill it.
        const trap = el('input', 'bk-hp');
        trap.name = 'website';
        trap.tabIndex = -1;
        trap.autocomplete = 'off';
        trap.setAttribute('aria-hidden', 'true');
        const go = button('bk-link', '');
        go.type = 'submit';
        go.textContent = 'Send';
        const st = el('div', 'bk-status');
        st.setAttribute('role', 'status');
        form.append(email, trap, go);
        offer.replaceWith(form, st);
        email.focus();
        form.addEventListener('submit', async (e) => {
          e.preventDefault();
          const to = email.value.trim();
          go.disabled = true;
          const err = await mail(to, trap.value);
          go.disabled = false;
          st.textContent = err || `We'll email the transcript to ${to}.`;
          if (!err) form.remove();
        });
      });
    },
    destroy: () => host.remove(),
  };
}
