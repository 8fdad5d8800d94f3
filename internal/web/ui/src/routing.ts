// The rules editor (/settings/routing, docs/ROUTING.md): rules with their conditions and
// targets, pools, teams, territories and limits; save the draft, publish it; simulate a visitor
// and replay the last days with the draft in the editor. The page's frame is rendered by the
// server; this script builds the editor from the routing API. Every element is made with
// createElement and every text set as text.
//
// Each control carries data-path, the JSON path of the configuration it edits, so that an error
// of the API (its "field", e.g. rules[2].when.all[0].value) is shown next to the control it names,
// and data-k, a key stable across renders, so that the focus survives redrawing the editor.

import { api, ApiError, message, setCSRF } from './api';
import { byId, clear, clockTime, h, parseTime, setText, str } from './dom';
import * as M from './routing_model';
import { barChart } from './routing_chart';
import { decisionView, strategyName, TraceLabels } from './routing_trace';

const root = byId('routing');
setCSRF(root.dataset.csrf || '');

// ---- State

let cfg: M.Config | null = null;
let subjects: M.Subject[] = [];
const subjectMap = new Map<string, M.Subject>();
let users: M.User[] = [];
const userMap = new Map<string, M.User>();
let savedJSON = '';
let published = 0;
let unpublished = false;
let updatedAt = 0;
let updatedBy = '';
let busy = false;
let fieldError: { path: string; msg: string } | null = null;

// ---- Elements

const editor = byId('routing-editor');
const rulesEl = byId<HTMLOListElement>('rules');
const rulesEmpty = byId('rules-empty');
const poolsEl = byId<HTMLOListElement>('pools');
const teamsEl = byId<HTMLOListElement>('teams');
const territoriesEl = byId<HTMLOListElement>('territories');
const defaultEl = byId('default-target');
const ringInput = byId<HTMLInputElement>('ring-seconds');
const maxChatsInput = byId<HTMLInputElement>('max-chats');
const ownerTurnInput = byId<HTMLInputElement>('owner-takes-turn');
const saveButton = byId<HTMLButtonElement>('save-draft');
const publishButton = byId<HTMLButtonElement>('publish');
const draftState = byId('draft-state');
const dirtyState = byId('dirty-state');
const banner = byId('routing-banner');
const notice = byId('routing-notice');
const rawJSON = byId('raw-json');
const versionsEl = byId<HTMLOListElement>('versions');
const versionsEmpty = byId('versions-empty');

const countries: { code: string; name: string }[] = Array.from(byId<HTMLSelectElement>('sim-country').options)
  .filter((o) => o.value)
  .map((o) => ({ code: o.value, name: o.textContent || o.value }));
const countryNames = new Map(countries.map((c) => [c.code, c.name]));

// ---- Small builders

let uidN = 0;

function uid(prefix: string): string {
  return prefix + '-' + ++uidN;
}

type Attrs = Record<string, string | number | boolean | null | undefined>;

/** field wraps a control with its label (and a hint): the label names the control. */
function field(label: string, control: HTMLElement, opts: { cls?: string; hint?: string; hiddenLabel?: boolean } = {}): HTMLElement {
  if (!control.id) control.id = uid('f');
  const lab = h('label', { for: control.id, class: opts.hiddenLabel ? 'visually-hidden' : null }, label);
  const box = h('div', { class: 'field' + (opts.cls ? ' ' + opts.cls : '') });
  if (control instanceof HTMLInputElement && control.type == 'checkbox') {
    box.className = 'field check' + (opts.cls ? ' ' + opts.cls : '');
    box.append(control, lab);
  } else {
    box.append(lab, control);
  }
  if (opts.hint) {
    const hid = uid('hint');
    control.setAttribute('aria-describedby', hid);
    box.appendChild(h('p', { class: 'hint', id: hid }, opts.hint));
  }
  return box;
}

/** textInput is an input that keeps the state in step as the admin types (onInput) and redraws on change when asked. */
function textInput(k: string, path: string, value: string, onInput: (v: string) => void, attrs: Attrs = {}, redrawOnChange = false): HTMLInputElement {
  const el = h('input', Object.assign({ type: 'text', 'data-k': k, 'data-path': path, autocomplete: 'off' }, attrs));
  el.value = value;
  el.addEventListener('input', () => {
    onInput(el.value);
    changed();
  });
  if (redrawOnChange) el.addEventListener('change', () => redraw());
  return el;
}

type Option = [string, string] | { group: string; options: [string, string][] };

function selectEl(k: string, path: string, options: Option[], value: string, onChange: (v: string) => void, attrs: Attrs = {}): HTMLSelectElement {
  const el = h('select', Object.assign({ 'data-k': k, 'data-path': path }, attrs));
  let found = false;
  const add = (parent: HTMLElement, o: [string, string]) => {
    const opt = h('option', { value: o[0] }, o[1]);
    if (o[0] == value) {
      opt.selected = true;
      found = true;
    }
    parent.appendChild(opt);
  };
  for (const o of options) {
    if (Array.isArray(o)) add(el, o);
    else {
      const g = h('optgroup', { label: o.group });
      for (const x of o.options) add(g, x);
      el.appendChild(g);
    }
  }
  if (!found && value) {
    const opt = h('option', { value }, value + ' (unknown)');
    opt.selected = true;
    el.insertBefore(opt, el.firstChild);
  }
  el.addEventListener('change', () => {
    onChange(el.value);
    changed();
    redraw();
  });
  return el;
}

function checkbox(k: string, path: string, checked: boolean, onChange: (v: boolean) => void, redrawAfter = true): HTMLInputElement {
  const el = h('input', { type: 'checkbox', 'data-k': k, 'data-path': path });
  el.checked = checked;
  el.addEventListener('change', () => {
    onChange(el.checked);
    changed();
    if (redrawAfter) redraw();
  });
  return el;
}

function button(k: string, label: string, onClick: () => void, attrs: Attrs = {}, cls = 'button small'): HTMLButtonElement {
  const el = h('button', Object.assign({ type: 'button', class: cls, 'data-k': k }, attrs), label);
  el.addEventListener('click', onClick);
  return el;
}

function userName(id: string): string {
  const u = userMap.get(id);
  return u ? u.name : id;
}

// ---- Redrawing

let drawing = false;

/**
 * redraw draws the editor again from the state, keeping the focus (or moving it to focusKey).
 * Removing the focused control fires its change event: a redraw under way ignores it (the state
 * is already up to date).
 */
function redraw(focusKey = ''): void {
  if (!cfg || drawing) return;
  drawing = true;
  try {
    draw(focusKey);
  } finally {
    drawing = false;
  }
}

function draw(focusKey: string): void {
  const a = document.activeElement as HTMLElement | null;
  const k = focusKey || (a && editor.contains(a) ? a.dataset.k || '' : '');
  let sel: [number | null, number | null] | null = null;
  if (!focusKey && a instanceof HTMLInputElement && a.type == 'text') sel = [a.selectionStart, a.selectionEnd];
  renderRules();
  renderTarget(defaultEl, cfg!.def, 'default', 'def', { label: 'Route to' });
  renderPools();
  renderTeams();
  renderTerritories();
  if (fieldError) placeError(fieldError.path, fieldError.msg, false);
  if (k) {
    const el = editor.querySelector<HTMLElement>('[data-k="' + CSS.escape(k) + '"]');
    if (el && !(el as HTMLButtonElement).disabled) {
      el.focus();
      if (sel && el instanceof HTMLInputElement && el.type == 'text') el.setSelectionRange(sel[0], sel[1]);
    }
  }
  renderState();
}

function json(): Record<string, unknown> {
  return M.toJSON(cfg!, subjectMap);
}

let changeTimer = 0;

/** changed brings the draft's state, the buttons and the JSON view in line with the editor, soon. */
function changed(): void {
  if (changeTimer) return;
  changeTimer = window.setTimeout(() => {
    changeTimer = 0;
    renderState();
  }, 60);
}

function dirty(): boolean {
  return !!cfg && JSON.stringify(json()) != savedJSON;
}

function renderState(): void {
  if (!cfg) return;
  const d = dirty();
  let state = '';
  let cls = 'badge';
  if (d) {
    state = 'Unsaved changes';
    cls += ' invited';
  } else if (unpublished) {
    state = 'Unpublished changes';
    cls += ' invited';
  } else if (published > 0) {
    state = 'Version ' + published + ' is in force';
    cls += ' active';
  } else {
    state = 'Nothing published: every rep is rung at once';
    cls += ' deactivated';
  }
  setText(draftState, state);
  draftState.className = cls;
  let note = '';
  if (updatedAt) note = 'Draft saved ' + clockTime(updatedAt) + (updatedBy ? ' by ' + userName(updatedBy) : '') + '.';
  if (published > 0 && (d || unpublished)) note += (note ? ' ' : '') + 'Version ' + published + ' is in force.';
  setText(dirtyState, note);
  saveButton.disabled = busy || !d;
  publishButton.disabled = busy || !(d || unpublished);
  const text = JSON.stringify(json(), null, 2);
  if (rawJSON.textContent != text) rawJSON.textContent = text;
}

// ---- Messages

function showBanner(text: string): void {
  setText(banner, text);
  banner.hidden = !text;
  if (text) notice.hidden = true;
}

function showNotice(text: string): void {
  setText(notice, text);
  notice.hidden = !text;
  if (text) banner.hidden = true;
}

function clearInlineError(): void {
  for (const p of Array.from(document.querySelectorAll('.routing-field-error'))) p.remove();
  for (const el of Array.from(document.querySelectorAll('[data-error]'))) {
    el.removeAttribute('data-error');
    el.removeAttribute('aria-invalid');
    const d = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x != 'routing-error');
    if (d.length) el.setAttribute('aria-describedby', d.join(' '));
    else el.removeAttribute('aria-describedby');
  }
}

/** elementFor finds the control or part of the editor for a JSON path, or for the nearest part above it. */
function elementFor(path: string): HTMLElement | null {
  for (let p = path; p; p = M.parentPath(p)) {
    const el = editor.querySelector<HTMLElement>('[data-path="' + CSS.escape(p) + '"]');
    if (el) return el;
  }
  return null;
}

/**
 * placeError shows msg next to the element of path (a control, or the part holding it) and
 * returns whether there was one. With focus, it moves the focus there.
 */
function placeError(path: string, msg: string, focus: boolean): boolean {
  clearInlineError();
  const el = path ? elementFor(path) : null;
  if (!el) return false;
  fieldError = { path, msg };
  const p = h('p', { class: 'field-error routing-field-error', id: 'routing-error' }, msg);
  el.setAttribute('data-error', '');
  const control = el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement;
  if (control) {
    el.setAttribute('aria-invalid', 'true');
    el.setAttribute('aria-describedby', ((el.getAttribute('aria-describedby') || '') + ' routing-error').trim());
    // After the control, or after its field when the label follows it (checkboxes).
    const box = el.parentElement && el.parentElement.classList.contains('check') ? el.parentElement : el;
    box.insertAdjacentElement('afterend', p);
  } else {
    const first = el.firstElementChild;
    if (first && (first.tagName == 'LEGEND' || first.classList.contains('item-head'))) first.insertAdjacentElement('afterend', p);
    else el.insertBefore(p, el.firstChild);
  }
  if (focus) {
    const target = control ? el : (el.querySelector<HTMLElement>('input, select, textarea, button') || el);
    target.scrollIntoView({ block: 'center' });
    target.focus({ preventScroll: true });
  }
  return true;
}

/** describe says where a path is, for people: "Rule 2 “EMEA”", "Pool “Sales”". */
function describe(path: string): string {
  if (!cfg) return '';
  const m = /^(rules|pools|teams|territories)\[(\d+)\]/.exec(path);
  if (m) {
    const i = Number(m[2]);
    const list: { name: string }[] = (cfg as any)[m[1] == 'rules' ? 'rules' : m[1]];
    const name = list[i] ? list[i].name : '';
    const noun = { rules: 'Rule', pools: 'Pool', teams: 'Team', territories: 'Territory' }[m[1]];
    return noun + ' ' + (i + 1) + (name ? ' “' + name + '”' : '');
  }
  if (path.startsWith('default')) return 'When no rule matches';
  if (path == 'ring_seconds') return 'Seconds a rep has to accept';
  if (path == 'max_chats') return 'Open chats a rep may have';
  return path;
}

/** bare is an error of the API without the path its message begins with (the editor shows where). */
function bare(e: unknown): unknown {
  if (e instanceof ApiError && e.field && e.message.startsWith(e.field + ': ')) return new Error(e.message.slice(e.field.length + 2));
  return e;
}

/** fail shows an error of the API: next to its element when its field names one, and in the banner. */
function fail(what: string, e: unknown, prefix = ''): void {
  let path = e instanceof ApiError ? e.field : '';
  if (prefix && path.startsWith(prefix)) path = path.slice(prefix.length);
  else if (prefix) path = '';
  const msg = message(bare(e));
  const placed = placeError(path, msg, true);
  showBanner(what + ' ' + (path ? describe(path) + ': ' : '') + msg + (placed ? ' It is marked below.' : ''));
}

editor.addEventListener('input', (ev) => {
  const t = ev.target as HTMLElement;
  if (fieldError && t && (t.hasAttribute('data-error') || t.closest('[data-error]'))) {
    fieldError = null;
    clearInlineError();
  }
});

// ---- Targets

const kindOptions: [string, string][] = [
  ['pool', 'A pool'],
  ['owner', 'The account owner'],
  ['team', 'A team'],
  ['rep', 'One rep'],
  ['booker', 'The meeting booker'],
  ['capture', 'Email capture'],
];

function poolOptions(blank: string): [string, string][] {
  const out: [string, string][] = [['', blank]];
  for (const p of cfg!.pools) out.push([p.id, p.name || p.id]);
  return out;
}

function chatUserOptions(blank: string, value: string): [string, string][] {
  const out: [string, string][] = [['', blank]];
  for (const u of users) if (u.chats || u.id == value) out.push([u.id, u.name + (u.status == 'invited' ? ' (invited)' : '')]);
  return out;
}

/** targetView edits a target and its fallback chain; k names it for the focus, path is its JSON path. */
function targetView(t: M.Target, path: string, k: string, opts: { label: string; onRemove?: () => void; depth?: number }): HTMLElement {
  const depth = opts.depth || 0;
  const box = h('div', { class: 'target' + (depth ? ' fallback' : ''), 'data-path': path });
  const row = h('div', { class: 'target-row' });
  row.appendChild(
    field(opts.label, selectEl(k + ':kind', path + '.kind', kindOptions, t.kind, (v) => {
      t.kind = v;
      if (M.terminal(v)) t.fallback = null;
    })),
  );
  if (t.kind == 'pool') {
    row.appendChild(field('Pool', selectEl(k + ':pool', path + '.pool', poolOptions(cfg!.pools.length ? 'Choose a pool' : 'No pools yet: add one below'), t.pool, (v) => (t.pool = v))));
  } else if (t.kind == 'owner') {
    row.appendChild(
      field('Owner’s turn counts in pool', selectEl(k + ':pool', path + '.pool', poolOptions('No pool'), t.pool, (v) => (t.pool = v)), {
        hint: 'Only with “uses the owner’s round-robin turn” (Ringing and limits).',
      }),
    );
  } else if (t.kind == 'team') {
    const opts2: [string, string][] = [['', cfg!.teams.length ? 'Choose a team' : 'No teams yet: add one below']];
    for (const tm of cfg!.teams) opts2.push([tm.id, tm.name || tm.id]);
    row.appendChild(field('Team', selectEl(k + ':team', path + '.team', opts2, t.team, (v) => (t.team = v))));
  } else if (t.kind == 'rep') {
    row.appendChild(field('Rep', selectEl(k + ':user', path + '.user', chatUserOptions('Choose a rep', t.user), t.user, (v) => (t.user = v))));
  }
  if (opts.onRemove) row.appendChild(button(k + ':remove', 'Remove this fallback', opts.onRemove, { class: 'button small subtle target-remove' }));
  box.appendChild(row);
  if (M.terminal(t.kind)) return box;
  if (t.fallback) {
    const fb = h('div', { class: 'target-fallback' }, h('p', { class: 'hint' }, 'If nobody there can take the visitor:'));
    fb.appendChild(
      targetView(t.fallback, path + '.fallback', k + ':fb', {
        label: 'Then route to',
        depth: depth + 1,
        onRemove: () => {
          t.fallback = t.fallback && t.fallback.fallback ? t.fallback.fallback : null;
          changed();
          redraw(k + ':addfb');
        },
      }),
    );
    box.appendChild(fb);
  } else if (depth < 9) {
    const hint = t.kind == 'pool' ? 'Without one, the pool’s own fallback applies, then email capture.' : 'Without one, the visitor is offered email capture.';
    box.appendChild(
      h('div', { class: 'target-add' },
        button(k + ':addfb', 'Add a fallback', () => {
          t.fallback = M.newTarget(cfg!.pools.length ? 'pool' : 'booker');
          changed();
          redraw(k + ':fb:kind');
        }),
        h('span', { class: 'hint' }, ' ' + hint),
      ),
    );
  }
  return box;
}

function renderTarget(into: HTMLElement, t: M.Target, path: string, k: string, opts: { label: string }): void {
  clear(into);
  into.appendChild(targetView(t, path, k, opts));
}

// ---- Conditions

function subjectOptions(current: string): Option[] {
  const groups = new Map<string, [string, string][]>();
  for (const s of subjects) {
    let g = groups.get(s.group);
    if (!g) {
      g = [];
      groups.set(s.group, g);
    }
    g.push([s.name, s.label]);
  }
  const out: Option[] = [];
  if (current && !subjectMap.has(current)) out.push([current, current + ' (not a subject any more)']);
  for (const [group, options] of groups) out.push({ group, options });
  return out;
}

/** choices returns what a subject's value may be chosen from: options, territories, users or countries. */
function choices(sub: M.Subject | undefined): [string, string][] {
  if (!sub) return [];
  switch (sub.kind) {
    case 'picklist':
      return sub.options.map((o) => [o, o]);
    case 'territory':
      return cfg!.territories.filter((t) => t.name.trim()).map((t) => [t.name.trim(), t.name.trim()]);
    case 'user':
      return users.map((u) => [u.id, u.name]);
    case 'country':
      return countries.map((c) => [c.code, c.name + ' (' + c.code + ')']);
  }
  return [];
}

function adaptValue(c: M.Cmp, from: string, to: string): void {
  if (from == to) return;
  if (to == 'list' && from == 'one') {
    if (c.text.trim() && !c.picks.length) c.picks = [c.text.trim()];
  } else if (to == 'one' && from == 'list') {
    if (c.picks.length) c.text = c.picks[0];
    else c.text = M.splitList(c.text, true)[0] || '';
  }
}

function valueControl(c: M.Cmp, sub: M.Subject | undefined, inner: string): HTMLElement | null {
  const k = 'c:' + c.key;
  const vpath = inner + '.value';
  const kind = sub ? sub.kind : 'text';
  const shape = M.shapeOf(sub, c.op);
  switch (shape) {
    case 'none':
      return null;
    case 'range':
      return h('div', { class: 'cond-range' },
        field('From', textInput(k + ':lo', vpath + '[0]', c.text, (v) => (c.text = v), { type: 'number', step: 'any', class: 'cond-num' }), { hiddenLabel: true }),
        h('span', { class: 'muted' }, 'and'),
        field('To', textInput(k + ':hi', vpath + '[1]', c.text2, (v) => (c.text2 = v), { type: 'number', step: 'any', class: 'cond-num' }), { hiddenLabel: true }),
      );
    case 'list': {
      if (M.pickKind(kind)) {
        const opts = choices(sub);
        for (const p of c.picks) if (!opts.some((o) => o[0] == p)) opts.push([p, p + ' (unknown)']);
        const fs = h('fieldset', { class: 'cond-picks', 'data-path': vpath }, h('legend', { class: 'visually-hidden' }, 'Values'));
        if (!opts.length) fs.appendChild(h('p', { class: 'hint' }, kind == 'territory' ? 'No territories yet: add them below.' : 'Nothing to choose from.'));
        for (const [v, label] of opts) {
          const i = c.picks.indexOf(v);
          const cb = checkbox(k + ':pick:' + v, i >= 0 ? vpath + '[' + i + ']' : '', i >= 0, (on) => {
            const j = c.picks.indexOf(v);
            if (on && j < 0) c.picks.push(v);
            if (!on && j >= 0) c.picks.splice(j, 1);
          });
          if (i < 0) cb.removeAttribute('data-path');
          fs.appendChild(field(label, cb));
        }
        return fs;
      }
      const codes = kind == 'country';
      return field(codes ? 'Country codes' : 'Values', textInput(k + ':text', vpath, c.text, (v) => (c.text = v), { class: 'cond-text', placeholder: codes ? 'DE, AT, CH' : 'one, another' }), {
        hiddenLabel: true,
        hint: codes ? 'ISO codes, separated by commas or spaces' : 'Separated by commas',
      });
    }
  }
  if (kind == 'bool') {
    return field('Value', selectEl(k + ':bool', vpath, [['true', 'yes'], ['false', 'no']], c.bool ? 'true' : 'false', (v) => (c.bool = v == 'true')), { hiddenLabel: true });
  }
  if (kind == 'number') {
    return field('Value', textInput(k + ':text', vpath, c.text, (v) => (c.text = v), { type: 'number', step: 'any', class: 'cond-num' }), { hiddenLabel: true });
  }
  if (kind == 'picklist' || kind == 'user' || kind == 'country') {
    const opts: [string, string][] = [['', 'Choose…']].concat(choices(sub)) as [string, string][];
    return field('Value', selectEl(k + ':sel', vpath, opts, c.text, (v) => {
      c.text = v;
      c.picks = v ? [v] : [];
    }), { hiddenLabel: true });
  }
  return field('Value', textInput(k + ':text', vpath, c.text, (v) => (c.text = v), { class: 'cond-text', placeholder: c.op == 'matches' ? '*/pricing*' : '' }), { hiddenLabel: true });
}

function cmpRow(c: M.Cmp, path: string, parent: M.Group): HTMLElement {
  const inner = M.innerPath(path, c.not);
  const sub = subjectMap.get(c.subject);
  const k = 'c:' + c.key;
  const li = h('li', { class: 'cond-row', 'data-path': inner });
  li.appendChild(
    field('Not', checkbox(k + ':not', path, c.not, (v) => (c.not = v)), { cls: 'cond-not' }),
  );
  li.appendChild(
    field('Subject', selectEl(k + ':subject', inner + '.subject', subjectOptions(c.subject), c.subject, (v) => {
      const from = M.shapeOf(sub, c.op);
      const ns = subjectMap.get(v);
      const oldKind = sub ? sub.kind : '';
      c.subject = v;
      if (ns && !ns.ops.some((o) => o.name == c.op)) c.op = ns.ops.length ? ns.ops[0].name : c.op;
      if (ns && ns.kind != oldKind) {
        c.text = '';
        c.text2 = '';
        c.picks = [];
        c.bool = true;
      } else adaptValue(c, from, M.shapeOf(ns, c.op));
    }), { hiddenLabel: true, cls: 'cond-subject' }),
  );
  const ops: [string, string][] = sub ? sub.ops.map((o) => [o.name, o.label]) : [[c.op, c.op]];
  li.appendChild(
    field('Operator', selectEl(k + ':op', inner + '.op', ops, c.op, (v) => {
      const from = M.shapeOf(sub, c.op);
      c.op = v;
      adaptValue(c, from, M.shapeOf(sub, v));
    }), { hiddenLabel: true, cls: 'cond-op' }),
  );
  const v = valueControl(c, sub, inner);
  if (v) {
    v.classList.add('cond-value');
    li.appendChild(v);
  }
  li.appendChild(
    button(k + ':remove', 'Remove', () => {
      const i = parent.items.indexOf(c);
      if (i >= 0) parent.items.splice(i, 1);
      changed();
      redraw();
    }, { 'aria-label': 'Remove this condition', class: 'button small subtle cond-remove' }),
  );
  return li;
}

function rawRow(r: M.Raw, path: string, parent: M.Group): HTMLElement {
  return h('li', { class: 'cond-row cond-raw', 'data-path': path },
    h('code', null, JSON.stringify(r.json)),
    button('c:' + r.key + ':remove', 'Remove', () => {
      const i = parent.items.indexOf(r);
      if (i >= 0) parent.items.splice(i, 1);
      changed();
      redraw();
    }, { 'aria-label': 'Remove this condition', class: 'button small subtle cond-remove' }),
  );
}

function firstSubject(): M.Subject | undefined {
  return subjectMap.get('geo.country') || subjects[0];
}

/** groupView edits a group: all or any of its items, negated or not; top is a rule's whole condition. */
function groupView(g: M.Group, path: string, parent: M.Group | null): HTMLElement {
  const isBare = !parent && M.bare(g);
  const inner = isBare ? path : M.innerPath(path, g.not);
  const k = 'g:' + g.key;
  const box = h('div', { class: 'cond-group' + (parent ? ' nested' : ''), 'data-path': inner });
  const head = h('div', { class: 'cond-head item-head' });
  head.appendChild(
    field(parent ? 'This group matches when' : 'Matches visitors when', selectEl(k + ':any', '', [['all', 'all of these hold'], ['any', 'any of these holds']], g.any ? 'any' : 'all', (v) => (g.any = v == 'any'))),
  );
  head.lastElementChild!.querySelector('select')!.removeAttribute('data-path');
  head.appendChild(field(g.any ? 'Negate: none of these holds' : 'Negate: not all of these hold', checkbox(k + ':not', path, g.not, (v) => (g.not = v)), { cls: 'cond-not' }));
  if (parent) {
    head.appendChild(
      button(k + ':remove', 'Remove group', () => {
        const i = parent.items.indexOf(g);
        if (i >= 0) parent.items.splice(i, 1);
        changed();
        redraw();
      }, { class: 'button small subtle' }),
    );
  }
  box.appendChild(head);
  const ol = h('ol', { class: 'cond-items', 'data-path': isBare ? path + '.items' : inner + (g.any ? '.any' : '.all') });
  g.items.forEach((item, i) => {
    const p = isBare ? path : M.itemPath(inner, g, i);
    if (item.t == 'cmp') ol.appendChild(cmpRow(item, p, g));
    else if (item.t == 'raw') ol.appendChild(rawRow(item, p, g));
    else ol.appendChild(h('li', { class: 'cond-nested' }, groupView(item, p, g)));
  });
  box.appendChild(ol);
  if (!g.items.length) box.appendChild(h('p', { class: 'hint cond-empty' }, parent ? 'An empty group: add a condition or remove it.' : 'No conditions: this rule matches every visitor.'));
  box.appendChild(
    h('div', { class: 'cond-add' },
      button(k + ':addcmp', 'Add a condition', () => {
        const s = firstSubject();
        const c = M.newCmp(s ? s.name : '', s && s.ops.length ? s.ops[0].name : 'eq');
        g.items.push(c);
        changed();
        redraw('c:' + c.key + ':subject');
      }),
      button(k + ':addgroup', 'Add a group', () => {
        const ng = M.newGroup(!g.any);
        const s = firstSubject();
        ng.items.push(M.newCmp(s ? s.name : '', s && s.ops.length ? s.ops[0].name : 'eq'));
        g.items.push(ng);
        changed();
        redraw('g:' + ng.key + ':any');
      }),
    ),
  );
  return box;
}

// ---- Rules

function renderRules(): void {
  clear(rulesEl);
  const rules = cfg!.rules;
  rules.forEach((r, i) => rulesEl.appendChild(ruleCard(r, i, rules.length)));
  rulesEmpty.hidden = rules.length > 0;
}

function moveRule(r: M.Rule, by: number, k: string): void {
  const rules = cfg!.rules;
  const i = rules.indexOf(r);
  const j = i + by;
  if (i < 0 || j < 0 || j >= rules.length) return;
  rules.splice(i, 1);
  rules.splice(j, 0, r);
  changed();
  // Keep the focus on the button pressed, or on the other one at the end of the list.
  let focus = k;
  if (j == 0 && by < 0) focus = 'r:' + r.key + ':down';
  if (j == rules.length - 1 && by > 0) focus = 'r:' + r.key + ':up';
  redraw(focus);
  announce('Rule “' + (r.name || r.id) + '” is now number ' + (j + 1) + '.');
}

function ruleCard(r: M.Rule, i: number, n: number): HTMLElement {
  const p = 'rules[' + i + ']';
  const k = 'r:' + r.key;
  const li = h('li', { class: 'rule card' + (r.disabled ? ' disabled' : ''), 'data-path': p });
  const title = r.name || 'Rule ' + (i + 1);
  const name = textInput(k + ':name', p + '.name', r.name, (v) => {
    r.name = v;
    if (r.fresh) {
      r.id = M.uniqueSlug(v, 'rule', cfg!.rules.filter((x) => x != r).map((x) => x.id));
      const idEl = li.querySelector('.item-id');
      if (idEl) setText(idEl, 'Id: ' + r.id);
    }
  }, { maxlength: 100, class: 'rule-name' });
  li.appendChild(
    h('div', { class: 'item-head rule-head' },
      h('span', { class: 'rule-num', 'aria-hidden': 'true' }, String(i + 1)),
      field('Rule ' + (i + 1) + ' name', name, { cls: 'grow' }),
      field('Enabled', checkbox(k + ':enabled', p + '.disabled', !r.disabled, (v) => (r.disabled = !v))),
      h('div', { class: 'item-actions', role: 'group', 'aria-label': 'Rule ' + (i + 1) },
        button(k + ':up', 'Move up', () => moveRule(r, -1, k + ':up'), { disabled: i == 0, 'aria-label': 'Move “' + title + '” up' }),
        button(k + ':down', 'Move down', () => moveRule(r, 1, k + ':down'), { disabled: i == n - 1, 'aria-label': 'Move “' + title + '” down' }),
        button(k + ':delete', 'Delete', () => {
          cfg!.rules.splice(cfg!.rules.indexOf(r), 1);
          changed();
          const next = cfg!.rules[Math.min(i, cfg!.rules.length - 1)];
          redraw(next ? 'r:' + next.key + ':name' : 'add-rule');
          if (!next) byId('add-rule').focus();
          announce('Rule “' + title + '” deleted.');
        }, { 'aria-label': 'Delete “' + title + '”', class: 'button small danger' }),
      ),
    ),
  );
  li.appendChild(h('p', { class: 'hint item-id', 'data-path': p + '.id' }, 'Id: ' + r.id));
  const when = h('fieldset', { class: 'rule-when' }, h('legend', { class: 'label' }, 'When'));
  when.appendChild(groupView(r.when, p + '.when', null));
  li.appendChild(when);
  const then = h('fieldset', { class: 'rule-then' }, h('legend', { class: 'label' }, 'Then'));
  then.appendChild(targetView(r.then, p + '.then', k + ':then', { label: 'Route to' }));
  li.appendChild(then);
  return li;
}

// ---- Pools, teams, territories

/** renameRefs points every target naming pool (or team) old at new. */
function renameRefs(kind: 'pool' | 'team', old: string, now: string): void {
  if (old == now) return;
  const walk = (t: M.Target | null) => {
    for (let x = t, n = 0; x && n < 60; x = x.fallback, n++) {
      if (kind == 'pool' && x.pool == old && (x.kind == 'pool' || x.kind == 'owner')) x.pool = now;
      if (kind == 'team' && x.team == old && x.kind == 'team') x.team = now;
    }
  };
  for (const r of cfg!.rules) walk(r.then);
  for (const p of cfg!.pools) walk(p.fallback);
  walk(cfg!.def);
}

function renderPools(): void {
  clear(poolsEl);
  cfg!.pools.forEach((p, i) => poolsEl.appendChild(poolCard(p, i)));
}

function poolCard(pool: M.Pool, i: number): HTMLElement {
  const p = 'pools[' + i + ']';
  const k = 'p:' + pool.key;
  const li = h('li', { class: 'pool card', 'data-path': p });
  const name = textInput(k + ':name', p + '.name', pool.name, (v) => {
    pool.name = v;
    if (pool.fresh) {
      const old = pool.id;
      pool.id = M.uniqueSlug(v, 'pool', cfg!.pools.filter((x) => x != pool).map((x) => x.id));
      renameRefs('pool', old, pool.id);
      const idEl = li.querySelector('.item-id');
      if (idEl) setText(idEl, 'Id: ' + pool.id);
    }
  }, { maxlength: 100 }, true);
  li.appendChild(
    h('div', { class: 'item-head' },
      field('Pool name', name, { cls: 'grow' }),
      h('div', { class: 'item-actions' },
        button(k + ':delete', 'Remove pool', () => {
          cfg!.pools.splice(cfg!.pools.indexOf(pool), 1);
          changed();
          redraw('add-pool');
          byId('add-pool').focus();
        }, { class: 'button small danger', 'aria-label': 'Remove pool “' + (pool.name || pool.id) + '”' }),
      ),
    ),
  );
  li.appendChild(h('p', { class: 'hint item-id', 'data-path': p + '.id' }, 'Id: ' + pool.id));
  const broadcast = pool.strategy == 'broadcast';
  li.appendChild(
    h('div', { class: 'pool-row' },
      field('Strategy', selectEl(k + ':strategy', p + '.strategy', [['round_robin', 'Round robin'], ['least_busy', 'Least busy'], ['broadcast', 'Broadcast (ring all, first to accept)']], pool.strategy, (v) => (pool.strategy = v))),
      field('Open chats a member may have', textInput(k + ':max', p + '.max_chats', pool.maxChats, (v) => (pool.maxChats = v), { type: 'number', min: 1, max: 50, step: 1, placeholder: cfg!.maxChats || '3', class: 'short' }), {
        hint: 'Empty: the limit under Ringing and limits.',
      }),
    ),
  );
  const fs = h('fieldset', { class: 'members', 'data-path': p + '.members' }, h('legend', { class: 'label' }, 'Members'));
  if (!broadcast) fs.appendChild(h('p', { class: 'hint' }, 'Weight: a member of weight 2 gets twice the turns of a member of weight 1 (1 to 100; empty is 1).'));
  const grid = h('div', { class: 'member-grid' });
  const shown = new Set<string>();
  const row = (id: string, label: string) => {
    shown.add(id);
    const j = pool.members.findIndex((m) => m.user == id);
    const m = j >= 0 ? pool.members[j] : null;
    const mp = p + '.members[' + j + ']';
    const cb = checkbox(k + ':m:' + id, mp + '.user_id', !!m, (on) => {
      const at = pool.members.findIndex((x) => x.user == id);
      if (on && at < 0) pool.members.push({ user: id, weight: '' });
      if (!on && at >= 0) pool.members.splice(at, 1);
    });
    if (!m) cb.removeAttribute('data-path');
    const r = h('div', { class: 'member' + (m ? ' on' : '') }, field(label, cb));
    if (m) r.setAttribute('data-path', mp);
    if (m && !broadcast) {
      r.appendChild(field('Weight of ' + label, textInput(k + ':w:' + id, mp + '.weight', m.weight, (v) => (m.weight = v), { type: 'number', min: 1, max: 100, step: 1, placeholder: '1', class: 'weight' }), { hiddenLabel: true, cls: 'member-weight' }));
    }
    grid.appendChild(r);
  };
  for (const u of users) if (u.chats || pool.members.some((m) => m.user == u.id)) row(u.id, u.name + (u.status == 'invited' ? ' (invited)' : u.chats ? '' : ' (cannot chat)'));
  for (const m of pool.members) if (!shown.has(m.user)) row(m.user, 'Unknown user ' + m.user);
  if (!grid.firstChild) grid.appendChild(h('p', { class: 'hint' }, 'Nobody in this workspace can take chats yet.'));
  fs.appendChild(grid);
  li.appendChild(fs);
  const fb = h('div', { class: 'pool-fallback', 'data-path': p + '.fallback' }, h('p', { class: 'label' }, 'When no member can take the visitor'));
  if (pool.fallback) {
    fb.appendChild(targetView(pool.fallback, p + '.fallback', k + ':fb', {
      label: 'Route to',
      depth: 1,
      onRemove: () => {
        pool.fallback = null;
        changed();
        redraw(k + ':addfb');
      },
    }));
  } else {
    fb.appendChild(
      h('div', { class: 'target-add' },
        button(k + ':addfb', 'Add a fallback', () => {
          pool.fallback = M.newTarget('booker');
          changed();
          redraw(k + ':fb:kind');
        }),
        h('span', { class: 'hint' }, ' Without one, the visitor is offered email capture.'),
      ),
    );
  }
  li.appendChild(fb);
  return li;
}

function renderTeams(): void {
  clear(teamsEl);
  cfg!.teams.forEach((t, i) => teamsEl.appendChild(teamCard(t, i)));
}

function teamCard(team: M.Team, i: number): HTMLElement {
  const p = 'teams[' + i + ']';
  const k = 't:' + team.key;
  const li = h('li', { class: 'team card', 'data-path': p });
  const name = textInput(k + ':name', p + '.name', team.name, (v) => {
    team.name = v;
    if (team.fresh) {
      const old = team.id;
      team.id = M.uniqueSlug(v, 'team', cfg!.teams.filter((x) => x != team).map((x) => x.id));
      renameRefs('team', old, team.id);
      const idEl = li.querySelector('.item-id');
      if (idEl) setText(idEl, 'Id: ' + team.id);
    }
  }, { maxlength: 100 }, true);
  li.appendChild(
    h('div', { class: 'item-head' },
      field('Team name', name, { cls: 'grow' }),
      h('div', { class: 'item-actions' },
        button(k + ':delete', 'Remove team', () => {
          cfg!.teams.splice(cfg!.teams.indexOf(team), 1);
          changed();
          redraw('add-team');
          byId('add-team').focus();
        }, { class: 'button small danger', 'aria-label': 'Remove team “' + (team.name || team.id) + '”' }),
      ),
    ),
  );
  li.appendChild(h('p', { class: 'hint item-id', 'data-path': p + '.id' }, 'Id: ' + team.id));
  const fs = h('fieldset', { class: 'members', 'data-path': p + '.members' }, h('legend', { class: 'label' }, 'Members'));
  const grid = h('div', { class: 'member-grid' });
  const shown = new Set<string>();
  const row = (id: string, label: string) => {
    shown.add(id);
    const j = team.members.indexOf(id);
    const cb = checkbox(k + ':m:' + id, p + '.members[' + j + ']', j >= 0, (on) => {
      const at = team.members.indexOf(id);
      if (on && at < 0) team.members.push(id);
      if (!on && at >= 0) team.members.splice(at, 1);
    });
    if (j < 0) cb.removeAttribute('data-path');
    grid.appendChild(h('div', { class: 'member' + (j >= 0 ? ' on' : '') }, field(label, cb)));
  };
  for (const u of users) if (u.chats || team.members.indexOf(u.id) >= 0) row(u.id, u.name + (u.chats ? '' : ' (cannot chat)'));
  for (const m of team.members) if (!shown.has(m)) row(m, 'Unknown user ' + m);
  fs.appendChild(grid);
  li.appendChild(fs);
  return li;
}

function renderTerritories(): void {
  clear(territoriesEl);
  cfg!.territories.forEach((t, i) => {
    const p = 'territories[' + i + ']';
    const k = 'y:' + t.key;
    territoriesEl.appendChild(
      h('li', { class: 'territory card', 'data-path': p },
        h('div', { class: 'item-head territory-row' },
          field('Territory name', textInput(k + ':name', p + '.name', t.name, (v) => (t.name = v), { maxlength: 100, placeholder: 'EMEA' }, true)),
          field('Countries', textInput(k + ':countries', p + '.countries', t.countries, (v) => (t.countries = v), { placeholder: 'DE, AT, CH', class: 'code' }), {
            cls: 'grow',
            hint: 'ISO codes, separated by commas or spaces.',
          }),
          h('div', { class: 'item-actions' },
            button(k + ':delete', 'Remove', () => {
              cfg!.territories.splice(cfg!.territories.indexOf(t), 1);
              changed();
              redraw('add-territory');
              byId('add-territory').focus();
            }, { class: 'button small danger', 'aria-label': 'Remove territory “' + (t.name || String(i + 1)) + '”' }),
          ),
        ),
      ),
    );
  });
}

// ---- Adding

byId('add-rule').addEventListener('click', () => {
  if (!cfg) return;
  const name = 'New rule';
  const then = cfg.pools.length ? Object.assign(M.newTarget('pool'), { pool: cfg.pools[0].id }) : M.newTarget('capture');
  const r: M.Rule = { key: M.key(), id: M.uniqueSlug(name, 'rule', cfg.rules.map((x) => x.id)), fresh: true, name, disabled: false, when: M.newGroup(), then };
  cfg.rules.push(r);
  changed();
  redraw('r:' + r.key + ':name');
  const input = editor.querySelector<HTMLInputElement>('[data-k="r:' + r.key + ':name"]');
  if (input) input.select();
});

byId('add-pool').addEventListener('click', () => {
  if (!cfg) return;
  const name = 'New pool';
  const p: M.Pool = { key: M.key(), id: M.uniqueSlug(name, 'pool', cfg.pools.map((x) => x.id)), fresh: true, name, strategy: 'round_robin', members: [], maxChats: '', fallback: null };
  cfg.pools.push(p);
  changed();
  redraw('p:' + p.key + ':name');
  const input = editor.querySelector<HTMLInputElement>('[data-k="p:' + p.key + ':name"]');
  if (input) input.select();
});

byId('add-team').addEventListener('click', () => {
  if (!cfg) return;
  const name = 'New team';
  const t: M.Team = { key: M.key(), id: M.uniqueSlug(name, 'team', cfg.teams.map((x) => x.id)), fresh: true, name, members: [] };
  cfg.teams.push(t);
  changed();
  redraw('t:' + t.key + ':name');
  const input = editor.querySelector<HTMLInputElement>('[data-k="t:' + t.key + ':name"]');
  if (input) input.select();
});

byId('add-territory').addEventListener('click', () => {
  if (!cfg) return;
  const t: M.Territory = { key: M.key(), name: '', countries: '' };
  cfg.territories.push(t);
  changed();
  redraw('y:' + t.key + ':name');
});

// ---- Limits

ringInput.addEventListener('input', () => {
  if (cfg) cfg.ringSeconds = ringInput.value;
  changed();
});
maxChatsInput.addEventListener('input', () => {
  if (cfg) cfg.maxChats = maxChatsInput.value;
  changed();
});
ownerTurnInput.addEventListener('change', () => {
  if (cfg) cfg.ownerTakesTurn = ownerTurnInput.checked;
  changed();
});

function renderLimits(): void {
  ringInput.value = cfg!.ringSeconds;
  ringInput.placeholder = '30';
  maxChatsInput.value = cfg!.maxChats;
  maxChatsInput.placeholder = '3';
  ownerTurnInput.checked = cfg!.ownerTakesTurn;
}

// ---- Loading, saving, publishing

const announcer = h('div', { class: 'visually-hidden', 'aria-live': 'polite' });
root.appendChild(announcer);

function announce(text: string): void {
  setText(announcer, '');
  window.setTimeout(() => setText(announcer, text), 30);
}

/** applyDraft shows a draft as GET or PUT /api/v1/routing/config answers it. */
function applyDraft(d: any): void {
  cfg = M.readConfig(d && d.config);
  published = typeof d.published_version == 'number' ? d.published_version : 0;
  unpublished = d.unpublished === true;
  updatedAt = parseTime(d.updated_at);
  updatedBy = str(d.updated_by);
  savedJSON = JSON.stringify(json());
  renderLimits();
  redraw();
  renderState();
}

function setBusy(on: boolean): void {
  busy = on;
  renderState();
}

async function save(): Promise<boolean> {
  if (!cfg || busy) return false;
  setBusy(true);
  fieldError = null;
  clearInlineError();
  showBanner('');
  try {
    const d = await api('PUT', '/api/v1/routing/config', json());
    applyDraft(d);
    showNotice('The draft is saved. Publish it to put it in force.');
    return true;
  } catch (e) {
    fail('The draft was not saved.', e);
    return false;
  } finally {
    setBusy(false);
  }
}

async function publish(): Promise<void> {
  if (!cfg || busy) return;
  if (dirty() && !(await save())) return;
  setBusy(true);
  showBanner('');
  try {
    const v = await api('POST', '/api/v1/routing/publish');
    published = typeof v.version == 'number' ? v.version : published + 1;
    unpublished = false;
    showNotice('Version ' + published + ' is published: routing follows it from now on.');
    loadVersions();
  } catch (e) {
    fail('The draft was not published.', e);
  } finally {
    setBusy(false);
  }
}

saveButton.addEventListener('click', () => {
  save();
});
publishButton.addEventListener('click', () => {
  publish();
});
// Ctrl+S (or ⌘S) saves the draft.
document.addEventListener('keydown', (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && ev.key == 's') {
    ev.preventDefault();
    if (dirty()) save();
  }
});
window.addEventListener('beforeunload', (ev) => {
  if (dirty()) {
    ev.preventDefault();
    ev.returnValue = '';
  }
});

// ---- Versions

async function loadVersions(): Promise<void> {
  let j: any;
  try {
    j = await api('GET', '/api/v1/routing/versions');
  } catch (e) {
    return;
  }
  const vs: any[] = Array.isArray(j && j.versions) ? j.versions : [];
  clear(versionsEl);
  versionsEmpty.hidden = vs.length > 0;
  vs.forEach((v, i) => {
    const n = typeof v.version == 'number' ? v.version : 0;
    const at = parseTime(v.published_at);
    const pre = h('pre', { class: 'raw-json', tabindex: 0 });
    const details = h('details', { class: 'version-json' }, h('summary', null, 'JSON'), pre);
    let loaded: unknown = null;
    const get = async (): Promise<unknown> => {
      if (loaded) return loaded;
      const x = await api('GET', '/api/v1/routing/versions/' + n);
      loaded = x && x.config;
      return loaded;
    };
    details.addEventListener('toggle', () => {
      if (!details.open || pre.textContent) return;
      get()
        .then((c) => (pre.textContent = JSON.stringify(c, null, 2)))
        .catch((e) => (pre.textContent = message(e)));
    });
    const restore = button('v:' + n + ':restore', 'Load into the editor', () => {
      if (dirty() && !window.confirm('Replace the unsaved changes in the editor with version ' + n + '?')) return;
      get()
        .then((c) => {
          const keep = savedJSON;
          cfg = M.readConfig(c);
          savedJSON = keep;
          fieldError = null;
          renderLimits();
          redraw();
          showNotice('Version ' + n + ' is in the editor. Save it as the draft, then publish it, to put it back in force.');
        })
        .catch((e) => showBanner(message(e)));
    }, { 'aria-label': 'Load version ' + n + ' into the editor' });
    versionsEl.appendChild(
      h('li', { class: 'version' },
        h('div', { class: 'version-head' },
          h('strong', null, 'Version ' + n),
          i == 0 ? h('span', { class: 'badge active' }, 'in force') : null,
          h('span', { class: 'hint' }, 'published ' + (at ? clockTime(at) : '') + (str(v.published_by) ? ' by ' + userName(str(v.published_by)) : '')),
          restore,
        ),
        details,
      ),
    );
  });
}

// ---- Import

const importText = byId<HTMLTextAreaElement>('import-json');
const importError = byId('import-error');
byId('import-apply').addEventListener('click', () => {
  let v: unknown;
  try {
    v = JSON.parse(importText.value);
  } catch (e) {
    setText(importError, 'This is not JSON: ' + message(e));
    importError.hidden = false;
    importText.setAttribute('aria-invalid', 'true');
    importText.focus();
    return;
  }
  if (!v || typeof v != 'object' || Array.isArray(v)) {
    setText(importError, 'A routing configuration is a JSON object.');
    importError.hidden = false;
    importText.setAttribute('aria-invalid', 'true');
    return;
  }
  importError.hidden = true;
  importText.removeAttribute('aria-invalid');
  cfg = M.readConfig(v);
  fieldError = null;
  renderLimits();
  redraw();
  showNotice('The JSON is in the editor. Save the draft to check it.');
});

// ---- Simulate

const simForm = byId<HTMLFormElement>('sim-form');
const simResult = byId('sim-result');
const simReps = byId('sim-reps');
const simOwner = byId<HTMLSelectElement>('sim-owner');
const simPrev = byId<HTMLSelectElement>('sim-previous-rep');

function fillSimForm(): void {
  for (const sel of [simOwner, simPrev]) {
    while (sel.options.length > 1) sel.remove(1);
    for (const u of users) sel.appendChild(h('option', { value: u.id }, u.name));
  }
  clear(simReps);
  for (const u of users) {
    if (!u.chats) continue;
    const sel = h('select', { id: 'sim-rep-' + u.id, 'data-user': u.id, class: 'compact' },
      h('option', { value: '' }, 'as now'),
      h('option', { value: 'available' }, 'available'),
      h('option', { value: 'away' }, 'away'),
      h('option', { value: 'offline' }, 'offline'),
    );
    simReps.appendChild(h('div', { class: 'sim-rep' }, h('label', { for: sel.id }, u.name), sel));
  }
  if (!simReps.firstChild) simReps.appendChild(h('p', { class: 'hint' }, 'Nobody in this workspace can take chats yet.'));
}

function val(id: string): string {
  return byId<HTMLInputElement>(id).value.trim();
}

function checked(id: string): boolean {
  return byId<HTMLInputElement>(id).checked;
}

const labels: TraceLabels = {
  subject: (name) => {
    const s = subjectMap.get(name);
    return s ? s.label : name;
  },
  op: (subject, op) => {
    const s = subjectMap.get(subject);
    const o = s && s.ops.find((x) => x.name == op);
    return o ? o.label : op.replace(/_/g, ' ');
  },
};

function simError(text: string): void {
  clear(simResult);
  simResult.appendChild(h('p', { class: 'notice error', role: 'alert' }, text));
}

async function simulate(): Promise<void> {
  const fields: Record<string, string> = {};
  const lines = byId<HTMLTextAreaElement>('sim-fields').value.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      simError('Line ' + (i + 1) + ' of the other fields is not key=value.');
      byId('sim-fields').focus();
      return;
    }
    fields[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  if (val('sim-email')) fields.email = val('sim-email');
  if (val('sim-company')) fields.company = val('sim-company');
  const visitor: Record<string, unknown> = {
    fields,
    session: { page_url: val('sim-page-url'), referrer: val('sim-referrer'), utm_source: val('sim-utm-source'), utm_medium: val('sim-utm-medium'), utm_campaign: val('sim-utm-campaign') },
    country: byId<HTMLSelectElement>('sim-country').value,
    target: checked('sim-target'),
    owner_present: checked('sim-owner-present') || !!simOwner.value,
    previous_rep: simPrev.value,
    returning: checked('sim-returning'),
  };
  const size = val('sim-company-size');
  if (size) {
    if (!isFinite(Number(size))) {
      simError('The company size must be a number.');
      return;
    }
    visitor.company_size = Number(size);
  }
  const reps: Record<string, unknown> = {};
  for (const sel of Array.from(simReps.querySelectorAll<HTMLSelectElement>('select[data-user]'))) {
    const u = userMap.get(sel.dataset.user || '');
    if (!u || !sel.value) continue;
    reps[u.id] = { status: sel.value };
  }
  const draft = (simForm.querySelector('input[name="sim-with"]:checked') as HTMLInputElement | null)?.value != 'published';
  const body: Record<string, unknown> = { visitor, owner: simOwner.value, reps };
  if (draft && cfg) body.config = json();
  const run = byId<HTMLButtonElement>('sim-run');
  run.disabled = true;
  clear(simResult);
  simResult.appendChild(h('p', { class: 'hint' }, 'Simulating…'));
  try {
    const res = await api('POST', '/api/v1/routing/simulate', body);
    clear(simResult);
    const label = str(res && res.config);
    const meta = label == 'request' ? 'with the draft in the editor' : label == 'default' ? 'with the built-in routing (nothing published)' : label ? 'with ' + label : '';
    simResult.appendChild(decisionView(res && res.decision, { heading: 'Result', meta, labels }));
  } catch (e) {
    if (e instanceof ApiError && e.field.startsWith('config')) {
      fail('The draft in the editor has a problem.', e, 'config.');
      simError('The draft in the editor has a problem: ' + message(bare(e)) + ' It is marked in the editor.');
    } else {
      simError('The simulation failed: ' + message(e));
    }
  } finally {
    run.disabled = false;
  }
}

simForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  simulate();
});

// ---- Replay

const replayForm = byId<HTMLFormElement>('replay-form');
const replayResult = byId('replay-result');

function pct(x: number): string {
  return Math.round(x * 1000) / 10 + '%';
}

function compareTable(caption: string, rows: [string, string, string][], heads: [string, string, string]): HTMLElement {
  const body = h('tbody');
  for (const r of rows) body.appendChild(h('tr', null, h('th', { scope: 'row' }, r[0]), h('td', { class: 'num' }, r[1]), h('td', { class: 'num' }, r[2])));
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'compare' },
      h('caption', null, caption),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, heads[0]), h('th', { scope: 'col', class: 'num' }, heads[1]), h('th', { scope: 'col', class: 'num' }, heads[2]))),
      body,
    ),
  );
}

function renderReplay(rep: any, days: number): void {
  clear(replayResult);
  const tried = (rep && rep.tried) || {};
  const actual = (rep && rep.actual) || {};
  const n = typeof rep.decisions == 'number' ? rep.decisions : 0;
  if (!n) {
    replayResult.appendChild(h('p', { class: 'hint' }, 'No visitor was routed in the last ' + days + (days == 1 ? ' day' : ' days') + ': there is nothing to replay.'));
    return;
  }
  replayResult.appendChild(
    h('p', null, n + (n == 1 ? ' visitor' : ' visitors') + ' routed from ' + clockTime(parseTime(rep.from)) + ' to ' + clockTime(parseTime(rep.to)) + (rep.truncated ? ' (the most recent ones only)' : '') + '.'),
  );
  const heads: [string, string, string] = ['', 'Draft', 'In force'];
  const oc = (r: any, k: string) => String((r.outcomes && r.outcomes[k]) || 0);
  replayResult.appendChild(
    compareTable('Outcomes', [['Offered to reps', oc(tried, 'offer'), oc(actual, 'offer')], ['Meeting booker', oc(tried, 'booker'), oc(actual, 'booker')], ['Email capture', oc(tried, 'capture'), oc(actual, 'capture')]], ['Outcome', 'Draft', 'In force']),
  );
  const pools = new Map<string, { name: string; strategy: string }>();
  for (const r of [tried, actual]) for (const id of Object.keys(r.pools || {})) if (!pools.has(id)) pools.set(id, { name: str(r.pools[id].name) || id, strategy: str(r.pools[id].strategy) });
  for (const [id, info] of pools) {
    const a = (tried.pools || {})[id];
    const b = (actual.pools || {})[id];
    const names = new Map<string, string>();
    for (const p of [a, b]) for (const m of (p && p.members) || []) names.set(str(m.user_id), str(m.name) || userName(str(m.user_id)));
    const count = (p: any, u: string) => {
      const m = p && (p.members || []).find((x: any) => str(x.user_id) == u);
      return m ? m.offers + ' (' + pct(m.share || 0) + ')' : '—';
    };
    const rows: [string, string, string][] = Array.from(names).map(([u, name]) => [name, count(a, u), count(b, u)]);
    rows.push(['Visitors placed', a ? String(a.placed) : '—', b ? String(b.placed) : '—']);
    rows.push(['Max − min', a ? String(a.max_minus_min) : '—', b ? String(b.max_minus_min) : '—']);
    rows.push(['Gini', a ? Number(a.gini || 0).toFixed(2) : '—', b ? Number(b.gini || 0).toFixed(2) : '—']);
    replayResult.appendChild(compareTable('Pool ' + info.name + (info.strategy ? ' (' + strategyName(info.strategy) + ')' : ''), rows, heads));
    if (a && Array.isArray(a.members) && a.members.length) {
      replayResult.appendChild(barChart(a.members.map((m: any) => ({ label: str(m.name) || userName(str(m.user_id)), value: Number(m.offers) || 0, key: str(m.user_id) })), 'Offers per member of pool ' + info.name + ' with the draft'));
    }
  }
  const repIDs = new Set<string>([...Object.keys(tried.reps || {}), ...Object.keys(actual.reps || {})]);
  const repRows: [string, string, string][] = Array.from(repIDs)
    .map((u): [string, string, string] => [userName(u), String((tried.reps || {})[u] || 0), String((actual.reps || {})[u] || 0)])
    .sort((x, y) => Number(y[1]) - Number(x[1]) || x[0].localeCompare(y[0]));
  if (repRows.length) replayResult.appendChild(compareTable('Offers per rep', repRows, ['Rep', 'Draft', 'In force']));
}

replayForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!cfg) return;
  const days = Number(byId<HTMLInputElement>('replay-days').value) || 7;
  const run = byId<HTMLButtonElement>('replay-run');
  run.disabled = true;
  clear(replayResult);
  replayResult.appendChild(h('p', { class: 'hint' }, 'Replaying…'));
  try {
    renderReplay(await api('POST', '/api/v1/routing/replay', { days, config: json() }), days);
  } catch (e) {
    clear(replayResult);
    if (e instanceof ApiError && e.field.startsWith('config')) fail('The draft in the editor has a problem.', e, 'config.');
    replayResult.appendChild(h('p', { class: 'notice error', role: 'alert' }, 'The replay failed: ' + message(e)));
  } finally {
    run.disabled = false;
  }
});

// ---- Start

async function start(): Promise<void> {
  try {
    const [d, s, u] = await Promise.all([api('GET', '/api/v1/routing/config'), api('GET', '/api/v1/routing/subjects'), api('GET', '/api/v1/users')]);
    subjects = M.readSubjects(s);
    for (const x of subjects) subjectMap.set(x.name, x);
    users = M.readUsers(u);
    for (const x of users) userMap.set(x.id, x);
    fillSimForm();
    applyDraft(d);
    editor.hidden = false;
  } catch (e) {
    showBanner('The routing configuration could not be loaded: ' + message(e));
    setText(draftState, 'Not loaded');
    return;
  }
  loadVersions();
}

// Country codes typed in lists show their names as a tooltip.
editor.addEventListener('focusout', (ev) => {
  const t = ev.target as HTMLElement;
  if (t instanceof HTMLInputElement && (t.dataset.path || '').endsWith('.countries')) {
    const names = M.splitList(t.value, true).map((c) => countryNames.get(c.toUpperCase()) || c + '?');
    t.title = names.join(', ');
  }
});

start();
