// The routing configuration as the rules editor holds it (docs/ROUTING.md), and its conversion to
// and from the JSON the API takes. The editor keeps what the admin typed (numbers as text, lists
// as text) so that a refused draft keeps their edits; toJSON writes the configuration and the same
// path helpers tell the editor which element stands for which JSON path of an error's "field".

import { str } from './dom';

/** A subject conditions may compare, as GET /api/v1/routing/subjects lists it. */
export interface Subject {
  name: string;
  label: string;
  group: string;
  kind: string;
  options: string[];
  ops: Op[];
}

/** An operator of a subject: its name, its label for people and its value's shape. */
export interface Op {
  name: string;
  label: string;
  value: 'none' | 'one' | 'list' | 'range';
}

/** A user of the workspace, for member lists and rep pickers. */
export interface User {
  id: string;
  name: string;
  role: string;
  status: string;
  chats: boolean; // active and not meetings-only: routing may ring them
}

let keys = 0;

/** key returns a new key for an item of the editor, stable across renders. */
export function key(): number {
  return ++keys;
}

export interface Target {
  kind: string;
  pool: string;
  team: string;
  user: string;
  fallback: Target | null;
}

export interface Member {
  user: string;
  weight: string;
}

export interface Pool {
  key: number;
  id: string;
  fresh: boolean; // made in this editor and never saved: its id follows its name
  name: string;
  strategy: string;
  members: Member[];
  maxChats: string;
  fallback: Target | null;
}

export interface Team {
  key: number;
  id: string;
  fresh: boolean;
  name: string;
  members: string[];
}

export interface Territory {
  key: number;
  name: string;
  countries: string;
}

export interface Rule {
  key: number;
  id: string;
  fresh: boolean;
  name: string;
  disabled: boolean;
  when: Group;
  then: Target;
}

export interface Config {
  territories: Territory[];
  teams: Team[];
  pools: Pool[];
  rules: Rule[];
  def: Target;
  ringSeconds: string;
  maxChats: string;
  ownerTakesTurn: boolean;
}

/** A group of conditions: all (or any) of its items hold; not negates it. */
export interface Group {
  t: 'group';
  key: number;
  any: boolean;
  not: boolean;
  items: Cond[];
}

/** A comparison of a subject. Its value is kept as typed: text (and text2 for a range), bool, or picks. */
export interface Cmp {
  t: 'cmp';
  key: number;
  not: boolean;
  subject: string;
  op: string;
  text: string;
  text2: string;
  bool: boolean;
  picks: string[];
}

/** A part of a condition the editor cannot show, kept as it was. */
export interface Raw {
  t: 'raw';
  key: number;
  json: unknown;
}

export type Cond = Group | Cmp | Raw;

// ---- Reading the API's JSON

function obj(v: unknown): Record<string, any> {
  return v && typeof v == 'object' && !Array.isArray(v) ? (v as Record<string, any>) : {};
}

function arr(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

function numText(v: unknown): string {
  return typeof v == 'number' && isFinite(v) && v != 0 ? String(v) : typeof v == 'string' ? v : '';
}

/** readTarget reads a target; null for null or a missing one. */
export function readTarget(v: unknown): Target | null {
  if (!v || typeof v != 'object') return null;
  const o = obj(v);
  return { kind: str(o.kind), pool: str(o.pool), team: str(o.team), user: str(o.user), fallback: readTarget(o.fallback) };
}

/** newTarget returns a target of kind. */
export function newTarget(kind: string): Target {
  return { kind, pool: '', team: '', user: '', fallback: null };
}

/** readConfig reads a configuration as GET /api/v1/routing/config answers it (its "config"). */
export function readConfig(v: unknown): Config {
  const o = obj(v);
  return {
    territories: arr(o.territories).map((t) => ({ key: key(), name: str(obj(t).name), countries: arr(obj(t).countries).map(String).join(', ') })),
    teams: arr(o.teams).map((t) => {
      const x = obj(t);
      return { key: key(), id: str(x.id), fresh: false, name: str(x.name), members: arr(x.members).map(String) };
    }),
    pools: arr(o.pools).map((p) => {
      const x = obj(p);
      return {
        key: key(),
        id: str(x.id),
        fresh: false,
        name: str(x.name),
        strategy: str(x.strategy) || 'round_robin',
        members: arr(x.members).map((m) => ({ user: str(obj(m).user_id), weight: numText(obj(m).weight) })),
        maxChats: numText(x.max_chats),
        fallback: readTarget(x.fallback),
      };
    }),
    rules: arr(o.rules).map((r) => {
      const x = obj(r);
      return {
        key: key(),
        id: str(x.id),
        fresh: false,
        name: str(x.name),
        disabled: x.disabled === true,
        when: readWhen(x.when),
        then: readTarget(x.then) || newTarget('capture'),
      };
    }),
    def: readTarget(o.default) || newTarget('capture'),
    ringSeconds: numText(o.ring_seconds),
    maxChats: numText(o.max_chats),
    ownerTakesTurn: o.owner_takes_turn === true,
  };
}

/** newGroup returns an empty group. */
export function newGroup(any = false): Group {
  return { t: 'group', key: key(), any, not: false, items: [] };
}

/** newCmp returns a comparison of subject with op. */
export function newCmp(subject: string, op: string): Cmp {
  return { t: 'cmp', key: key(), not: false, subject, op, text: '', text2: '', bool: true, picks: [] };
}

/** readWhen reads a rule's condition into a group: nothing (every visitor) is an empty group. */
export function readWhen(v: unknown): Group {
  if (v === null || v === undefined || (typeof v == 'object' && !Array.isArray(v) && Object.keys(v as object).length == 0)) return newGroup();
  const c = readCond(v, false, 0);
  if (c.t == 'group') return c;
  const g = newGroup();
  g.items.push(c);
  return g;
}

function readCond(v: unknown, not: boolean, depth: number): Cond {
  const o = obj(v);
  const ks = Object.keys(o);
  if (depth < 40 && ks.length == 1 && (ks[0] == 'all' || ks[0] == 'any') && Array.isArray(o[ks[0]])) {
    const g = newGroup(ks[0] == 'any');
    g.not = not;
    g.items = o[ks[0]].map((x: unknown) => readCond(x, false, depth + 1));
    return g;
  }
  if (depth < 40 && ks.length == 1 && ks[0] == 'not' && o.not && typeof o.not == 'object') return readCond(o.not, !not, depth + 1);
  if (typeof o.subject == 'string' && typeof o.op == 'string' && ks.every((k) => k == 'subject' || k == 'op' || k == 'value')) {
    const c = newCmp(o.subject, o.op);
    c.not = not;
    const val = o.value;
    if (Array.isArray(val)) {
      c.picks = val.map((x) => String(x));
      c.text = c.picks.join(', ');
      if (o.op == 'between') {
        c.text = val.length > 0 ? String(val[0]) : '';
        c.text2 = val.length > 1 ? String(val[1]) : '';
      }
    } else if (typeof val == 'boolean') {
      c.bool = val;
    } else if (typeof val == 'number' || typeof val == 'string') {
      c.text = String(val);
      c.picks = [String(val)];
    }
    return c;
  }
  return { t: 'raw', key: key(), json: not ? { not: v } : v };
}

// ---- Shapes of values

/** Kinds whose values are chosen from a list (checkboxes for "any of"). */
export function pickKind(kind: string): boolean {
  return kind == 'picklist' || kind == 'territory' || kind == 'user';
}

/** shapeOf returns the value shape of op for subject (guessed from the op's name when unknown). */
export function shapeOf(sub: Subject | undefined, op: string): Op['value'] {
  const o = sub && sub.ops.find((x) => x.name == op);
  if (o) return o.value;
  if (op == 'exists' || op == 'not_exists') return 'none';
  if (op == 'in' || op == 'not_in') return 'list';
  if (op == 'between') return 'range';
  return 'one';
}

/** number reads a typed number: the number, or what was typed (the server then says why it is not one). */
function number(text: string): number | string {
  const t = text.trim();
  if (t != '' && isFinite(Number(t))) return Number(t);
  return t;
}

/** integer reads a typed whole number: 0 when empty. */
function integer(text: string): number | string {
  const t = text.trim();
  if (t == '') return 0;
  return isFinite(Number(t)) ? Number(t) : t;
}

/** splitList splits a typed list: on commas and line breaks, or on white space too for codes. */
export function splitList(text: string, codes: boolean): string[] {
  return text
    .split(codes ? /[\s,;]+/ : /[,\n]+/)
    .map((s) => s.trim())
    .filter((s) => s != '');
}

// ---- Writing the API's JSON, and the paths of its parts

/** bare reports whether a rule's top group is written as its one item (a comparison, or what the editor keeps as it is). */
export function bare(g: Group): boolean {
  return !g.any && !g.not && g.items.length == 1 && g.items[0].t != 'group';
}

/** innerPath is the path of what a negated part holds: path.not when negated. */
export function innerPath(path: string, not: boolean): string {
  return not ? path + '.not' : path;
}

/** itemPath is the path of a group's item i, where inner is the group's (inner) path. */
export function itemPath(inner: string, g: Group, i: number): string {
  return inner + (g.any ? '.any[' : '.all[') + i + ']';
}

function cmpJSON(c: Cmp, subjects: Map<string, Subject>): unknown {
  const sub = subjects.get(c.subject);
  const out: Record<string, unknown> = { subject: c.subject, op: c.op };
  const kind = sub ? sub.kind : '';
  switch (shapeOf(sub, c.op)) {
    case 'none':
      break;
    case 'range':
      out.value = [number(c.text), number(c.text2)];
      break;
    case 'list':
      out.value = pickKind(kind) ? c.picks.slice() : splitList(c.text, kind == 'country');
      break;
    default:
      if (kind == 'number') out.value = number(c.text);
      else if (kind == 'bool') out.value = c.bool;
      else out.value = c.text;
  }
  return c.not ? { not: out } : out;
}

function condJSON(c: Cond, subjects: Map<string, Subject>): unknown {
  if (c.t == 'raw') return c.json;
  if (c.t == 'cmp') return cmpJSON(c, subjects);
  const g: Record<string, unknown> = {};
  g[c.any ? 'any' : 'all'] = c.items.map((x) => condJSON(x, subjects));
  return c.not ? { not: g } : g;
}

/** whenJSON writes a rule's condition: undefined (every visitor) for an empty top group. */
export function whenJSON(g: Group, subjects: Map<string, Subject>): unknown {
  if (!g.items.length && !g.not) return undefined;
  if (bare(g)) return condJSON(g.items[0], subjects);
  return condJSON(g, subjects);
}

/** targetJSON writes a target, with only the reference its kind takes. */
export function targetJSON(t: Target, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: t.kind };
  if ((t.kind == 'pool' || t.kind == 'owner') && t.pool) out.pool = t.pool;
  if (t.kind == 'pool' && !t.pool) out.pool = '';
  if (t.kind == 'team') out.team = t.team;
  if (t.kind == 'rep') out.user = t.user;
  if (t.fallback && !terminal(t.kind) && depth < 50) out.fallback = targetJSON(t.fallback, depth + 1);
  return out;
}

/** terminal reports whether a target kind ends a chain (it takes no fallback). */
export function terminal(kind: string): boolean {
  return kind == 'booker' || kind == 'capture';
}

/** toJSON writes the configuration as PUT /api/v1/routing/config takes it. */
export function toJSON(c: Config, subjects: Map<string, Subject>): Record<string, unknown> {
  return {
    territories: c.territories.map((t) => ({ name: t.name, countries: splitList(t.countries, true) })),
    teams: c.teams.map((t) => ({ id: t.id, name: t.name, members: t.members.slice() })),
    pools: c.pools.map((p) => {
      const o: Record<string, unknown> = {
        id: p.id,
        name: p.name,
        strategy: p.strategy,
        members: p.members.map((m) => {
          const w = p.strategy == 'broadcast' ? 0 : integer(m.weight);
          return w === 0 ? { user_id: m.user } : { user_id: m.user, weight: w };
        }),
      };
      const mc = integer(p.maxChats);
      if (mc !== 0) o.max_chats = mc;
      if (p.fallback) o.fallback = targetJSON(p.fallback);
      return o;
    }),
    rules: c.rules.map((r) => {
      const o: Record<string, unknown> = { id: r.id, name: r.name };
      if (r.disabled) o.disabled = true;
      const w = whenJSON(r.when, subjects);
      if (w !== undefined) o.when = w;
      o.then = targetJSON(r.then);
      return o;
    }),
    default: targetJSON(c.def),
    ring_seconds: integer(c.ringSeconds),
    max_chats: integer(c.maxChats),
    owner_takes_turn: c.ownerTakesTurn,
  };
}

// ---- Ids

/** slug makes an id from a name: lower-case letters, digits and dashes, at most 48 bytes. */
export function slug(name: string, fallback: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');
  return s || fallback;
}

/** uniqueSlug makes an id from a name that none of taken holds ("emea", "emea-2", …). */
export function uniqueSlug(name: string, fallback: string, taken: string[]): string {
  const base = slug(name, fallback);
  let id = base;
  for (let i = 2; taken.indexOf(id) >= 0; i++) id = base + '-' + i;
  return id;
}

// ---- Error paths

/** parentPath drops the last part of a JSON path ("rules[2].when.all[0]" → "rules[2].when"); "" at the top. */
export function parentPath(path: string): string {
  const m = /(\.[A-Za-z0-9_]+|\[(?:[0-9]+|"(?:[^"\\]|\\.)*"[^\]]*)\])$/.exec(path);
  if (!m) return '';
  return path.slice(0, path.length - m[0].length);
}

// ---- The API's answers

/** readSubjects reads GET /api/v1/routing/subjects. */
export function readSubjects(j: unknown): Subject[] {
  return arr(obj(j).subjects).map((s) => {
    const x = obj(s);
    return {
      name: str(x.name),
      label: str(x.label) || str(x.name),
      group: str(x.group),
      kind: str(x.kind),
      options: arr(x.options).map(String),
      ops: arr(x.ops).map((o) => ({ name: str(obj(o).name), label: str(obj(o).label) || str(obj(o).name), value: (str(obj(o).value) || 'one') as Op['value'] })),
    };
  });
}

/** readUsers reads GET /api/v1/users, keeping who is not deactivated. */
export function readUsers(j: unknown): User[] {
  const out: User[] = [];
  for (const u of arr(obj(j).data)) {
    const x = obj(u);
    const id = str(x.id);
    if (!id) continue;
    const name = (str(x.first_name) + ' ' + str(x.last_name)).trim() || str(x.email) || id;
    const status = str(x.status);
    out.push({ id, name, role: str(x.role), status, chats: x.active !== false && status != 'deactivated' && str(x.role) != 'meetings_only' });
  }
  return out;
}
