// Building DOM nodes safely. Nothing here ever parses HTML: every node is made with
// createElement and every text set with textContent, so text from visitors stays text (C4).

export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined>;

/**
 * h makes an element with attributes and children. An attribute of true is set empty, false,
 * null and undefined are left out; "class" sets the class name. Strings become text nodes.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (v === false || v === null || v === undefined) continue;
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** append adds children (nodes or text) to parent. */
export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c == 'object' ? c : document.createTextNode(String(c)));
  }
}

/** setText sets an element's text only when it changed, so that unchanged text costs nothing. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** clear removes every child of el. */
export function clear(el: Element): void {
  while (el.lastChild) el.removeChild(el.lastChild);
}

/** byId returns the element with the id, or throws: the page's template must have it. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error('beckon: the page has no #' + id);
  return el as T;
}

/** The schemes that become links; every other scheme (javascript:, data:, vbscript:, …) stays text. */
const linkSchemes = ['http:', 'https:', 'mailto:'];

/**
 * safeHref returns the normalised URL of s when it is an absolute http, https (with a host) or
 * mailto URL, and null otherwise.
 */
export function safeHref(s: string): string | null {
  let u: URL;
  try {
    u = new URL(s);
  } catch (e) {
    return null;
  }
  if (linkSchemes.indexOf(u.protocol) < 0) return null;
  if (u.protocol != 'mailto:' && !u.hostname) return null;
  return u.href;
}

// Candidates for links: only text starting with one of the allowed schemes can match.
const urlRE = /\b(?:https?:\/\/|mailto:)[^\s<>"'`]+/gi;
// Punctuation that ends a sentence rather than a URL.
const trailing = /[.,;:!?'")\]}>]+$/;

/**
 * linkify turns text into text nodes and links: http, https and mailto URLs become anchors that
 * open in a new tab without access to this page (rel="noopener noreferrer nofollow"); nothing
 * else becomes markup. Line breaks stay in the text (the CSS shows them with pre-wrap).
 */
export function linkify(text: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  let last = 0;
  urlRE.lastIndex = 0;
  for (let m = urlRE.exec(text); m; m = urlRE.exec(text)) {
    let url = m[0];
    const cut = trailing.exec(url);
    if (cut) {
      // Keep a closing parenthesis that closes one inside the URL (wikipedia-style links).
      let tail = cut[0];
      while (tail.charAt(0) == ')' && count(url.slice(0, url.length - tail.length), '(') > count(url.slice(0, url.length - tail.length), ')')) {
        tail = tail.slice(1);
      }
      url = url.slice(0, url.length - tail.length);
    }
    const href = safeHref(url);
    if (!href || url.length <= 8) continue;
    if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
    const a = h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, url);
    frag.appendChild(a);
    last = m.index + url.length;
    urlRE.lastIndex = last;
  }
  if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
  return frag;
}

function count(s: string, c: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charAt(i) == c) n++;
  return n;
}

const clockFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** parseTime reads an RFC 3339 time; 0 when it is missing or not a time. */
export function parseTime(s: unknown): number {
  if (typeof s != 'string' || !s || s.startsWith('0001-')) return 0;
  const t = Date.parse(s);
  return isNaN(t) ? 0 : t;
}

/** clockTime shows an instant as the time of day, with the date when it is not today. */
export function clockTime(ms: number, now: number = Date.now()): string {
  if (!ms) return '';
  const d = new Date(ms);
  return new Date(now).toDateString() == d.toDateString() ? clockFmt.format(d) : dayFmt.format(d);
}

/** duration shows a span of time compactly: 45s, 3m 12s, 1h 05m, 2d 4h. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
  const hr = Math.floor(m / 60);
  if (hr < 48) return hr + 'h ' + String(m % 60).padStart(2, '0') + 'm';
  return Math.floor(hr / 24) + 'd ' + (hr % 24) + 'h';
}

/** ago shows how long ago an instant was, coarsely: now, 5m, 3h, 2d. */
export function ago(ms: number, now: number = Date.now()): string {
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  if (s < 60) return 'now';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'd';
}

const regionNames = typeof Intl.DisplayNames == 'function' ? new Intl.DisplayNames(['en'], { type: 'region' }) : null;

const countryNames = new Map<string, string>();

/** countryName names an ISO 3166 alpha-2 code in English ("DE" → "Germany"); the code itself when unknown. */
export function countryName(code: string): string {
  if (!code || !/^[A-Z]{2}$/.test(code)) return code || '';
  let name = countryNames.get(code);
  if (name === undefined) {
    try {
      name = (regionNames && regionNames.of(code)) || code;
    } catch (e) {
      name = code;
    }
    countryNames.set(code, name);
  }
  return name;
}

/** str returns v when it is a string, else "". Frames are checked field by field where used. */
export function str(v: unknown): string {
  return typeof v == 'string' ? v : '';
}

/** num returns v when it is a finite number, else 0. */
export function num(v: unknown): number {
  return typeof v == 'number' && isFinite(v) ? v : 0;
}

/** editable reports whether keys typed now go into a text control (shortcuts stay off). */
export function editable(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag == 'TEXTAREA' || tag == 'SELECT') return true;
  if (tag != 'INPUT') return false;
  const type = (el as HTMLInputElement).type;
  return ['checkbox', 'radio', 'button', 'submit', 'reset'].indexOf(type) < 0;
}
