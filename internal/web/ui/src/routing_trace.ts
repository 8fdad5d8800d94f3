// Showing a routing decision and why (R4): its outcome, the summary routing wrote, the rules it
// evaluated (the comparison that failed last) and each target tried with its candidates and why
// they were skipped. Used by the simulate panel of the rules editor and by the inbox's "Why this
// rep?" panel. Every text is set as text.

import { Child, h, num, str } from './dom';

/** Labels for the trace: subject and operator names as people read them, when known. */
export interface TraceLabels {
  subject?: (name: string) => string;
  op?: (subject: string, op: string) => string;
}

const kindNames: Record<string, string> = {
  owner: 'Account owner',
  pool: 'Pool',
  team: 'Team',
  rep: 'Rep',
  booker: 'Meeting booker',
  capture: 'Email capture',
};

const strategyNames: Record<string, string> = {
  round_robin: 'round robin',
  broadcast: 'broadcast',
  least_busy: 'least busy',
  owner: 'account owner',
  rep: 'one rep',
  team: 'team',
};

const resultNames: Record<string, string> = {
  placed: 'placed the visitor',
  nobody: 'nobody could take the visitor',
  terminal: 'ends the chain',
};

function arr(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

/** strategyName names a strategy for people ("round robin"). */
export function strategyName(s: string): string {
  return strategyNames[s] || s;
}

/** chosenNames returns the names of the users a decision offered the visitor to. */
export function chosenNames(d: any): string[] {
  const trace = (d && d.trace) || {};
  const ids: string[] = arr(trace.chosen).length ? arr(trace.chosen).map(String) : arr(d && (d.offer || d.offered)).map(String);
  const names = new Map<string, string>();
  for (const t of arr(trace.targets)) for (const c of arr(t && t.candidates)) if (c && str(c.user_id)) names.set(str(c.user_id), str(c.name) || str(c.user_id));
  return ids.map((id) => names.get(id) || id);
}

/** outcomeText says what a decision did: "Rings Dana Lee", "Offers email capture". */
export function outcomeText(d: any): string {
  switch (str(d && d.outcome)) {
    case 'offer': {
      const names = chosenNames(d);
      if (!names.length) return 'Rings a rep';
      if (names.length == 1) return 'Rings ' + names[0];
      return 'Rings ' + names.slice(0, -1).join(', ') + ' and ' + names[names.length - 1] + ' at once';
    }
    case 'booker':
      return 'Offers the meeting booker';
    case 'capture':
      return 'Offers email capture';
  }
  return 'No decision';
}

/** stepText says one comparison routing evaluated, e.g. "Country DE is any of DE, AT". */
export function stepText(s: any, labels?: TraceLabels): string {
  const subject = str(s.subject);
  const name = labels && labels.subject ? labels.subject(subject) : subject;
  const got = s.known === true ? str(s.got) : '(unknown)';
  let op = labels && labels.op ? labels.op(subject, str(s.op)) : str(s.op).replace(/_/g, ' ');
  if (str(s.fact) && str(s.fact) != subject) op += ' (its country)';
  const want = str(s.want);
  return name + ' ' + got + ' · ' + op + (want ? ' ' + want : '');
}

/** ruleList shows the rules a decision evaluated, in order, with their comparisons. */
export function ruleList(rules: any[], labels?: TraceLabels): HTMLOListElement {
  const ol = h('ol', { class: 'trace-rules' });
  for (const r of rules) {
    if (!r || typeof r != 'object') continue;
    let state = 'no match';
    let cls = 'failed';
    if (r.matched === true) {
      state = 'matched';
      cls = 'matched';
    } else if (r.disabled === true) {
      state = 'disabled';
      cls = 'skipped';
    } else if (str(r.broken)) {
      state = 'skipped: ' + str(r.broken);
      cls = 'skipped';
    }
    const steps = arr(r.steps);
    const li = h('li', { class: 'trace-rule ' + cls }, h('span', { class: 'trace-rule-name' }, str(r.name) || str(r.id) || 'Rule'), ' ', h('span', { class: 'badge trace-state' }, state));
    if (steps.length) {
      const ul = h('ul', { class: 'trace-steps' });
      steps.forEach((s, i) => {
        if (!s || typeof s != 'object') return;
        const failing = r.matched !== true && i == steps.length - 1;
        ul.appendChild(
          h('li', { class: 'trace-step' + (s.held === true ? ' held' : ' not-held') + (failing ? ' failing' : '') },
            stepText(s, labels), ' ', h('span', { class: 'trace-held' }, s.held === true ? '✓ holds' : '✗ does not hold'), failing ? h('span', { class: 'visually-hidden' }, ' (why the rule did not match)') : null),
        );
      });
      li.appendChild(ul);
    } else if (cls != 'skipped') {
      li.appendChild(h('p', { class: 'hint' }, r.matched === true ? 'No conditions: it matches every visitor.' : ''));
    }
    ol.appendChild(li);
  }
  return ol;
}

/** targetTitle names a target tried: "Pool EMEA sales (round robin)". */
export function targetTitle(t: any): string {
  const kind = str(t.kind);
  let s = kindNames[kind] || kind;
  const name = str(t.name) || str(t.pool) || str(t.team) || str(t.user);
  if (name && kind != 'booker' && kind != 'capture') s += ' ' + name;
  if (str(t.strategy)) s += ' (' + strategyName(str(t.strategy)) + ')';
  return s;
}

/** candidateTable shows a target's candidates: who was chosen, who could, who was skipped and why. */
export function candidateTable(t: any): HTMLElement | null {
  const cands = arr(t.candidates);
  if (!cands.length) return null;
  const body = h('tbody');
  for (const c of cands) {
    if (!c || typeof c != 'object') continue;
    let result: Child;
    if (c.chosen === true) result = h('span', { class: 'badge active' }, 'chosen');
    else if (str(c.skip)) result = h('span', { class: 'skip-reason' }, 'skipped: ' + (str(c.reason) || str(c.skip)));
    else result = h('span', { class: 'muted' }, 'could take it');
    body.appendChild(
      h('tr', { class: 'candidate' + (c.chosen === true ? ' chosen' : '') + (str(c.skip) ? ' skipped' : ''), 'data-user': str(c.user_id), 'data-skip': str(c.skip) },
        h('td', { class: 'candidate-name' }, str(c.name) || str(c.user_id)),
        h('td', { class: 'candidate-result' }, result),
        h('td', { class: 'num' }, num(c.load) + ' of ' + num(c.cap)),
      ),
    );
  }
  if (num(t.more) > 0) body.appendChild(h('tr', null, h('td', { colspan: 3, class: 'muted' }, 'and ' + num(t.more) + ' more')));
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'candidates' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Rep'), h('th', { scope: 'col' }, 'Result'), h('th', { scope: 'col', class: 'num' }, 'Open chats'))),
      body,
    ),
  );
}

/** targetList shows the targets a decision tried along the fallback chain. */
export function targetList(targets: any[]): HTMLOListElement {
  const ol = h('ol', { class: 'trace-targets' });
  for (const t of targets) {
    if (!t || typeof t != 'object') continue;
    const li = h('li', { class: 'trace-target ' + str(t.result) },
      h('p', { class: 'trace-target-title' }, h('strong', null, targetTitle(t)), ' — ', resultNames[str(t.result)] || str(t.result)),
    );
    if (str(t.note)) li.appendChild(h('p', { class: 'hint' }, 'Tried as ' + str(t.note) + '.'));
    const table = candidateTable(t);
    if (table) li.appendChild(table);
    ol.appendChild(li);
  }
  return ol;
}

/**
 * decisionView shows a decision: outcome, summary, the rules evaluated and the targets tried.
 * With compact, the rules and targets are folded away (the inbox's panel).
 */
export function decisionView(d: any, opts: { heading?: string; meta?: string; compact?: boolean; labels?: TraceLabels } = {}): HTMLElement {
  const trace = (d && d.trace) || {};
  const box = h('div', { class: 'decision' });
  if (opts.heading) box.appendChild(h('h3', { class: 'decision-heading' }, opts.heading));
  box.appendChild(h('p', { class: 'decision-outcome outcome-' + str(d && d.outcome) }, h('strong', null, outcomeText(d)), opts.meta ? h('span', { class: 'hint' }, ' · ' + opts.meta) : null));
  if (str(trace.summary)) box.appendChild(h('p', { class: 'decision-summary' }, str(trace.summary)));
  const rules = arr(trace.rules);
  const targets = arr(trace.targets);
  const rulesPart = rules.length ? ruleList(rules, opts.labels) : h('p', { class: 'hint' }, 'No rule was evaluated.');
  const targetsPart = targets.length ? targetList(targets) : null;
  if (opts.compact) {
    if (targetsPart) box.appendChild(h('details', { class: 'decision-more' }, h('summary', null, 'Candidates'), targetsPart));
    box.appendChild(h('details', { class: 'decision-more' }, h('summary', null, 'Rules checked (' + rules.length + ')'), rulesPart));
  } else {
    box.appendChild(h('h4', null, 'Rules checked'));
    box.appendChild(rulesPart);
    if (targetsPart) {
      box.appendChild(h('h4', null, 'Who was considered'));
      box.appendChild(targetsPart);
    }
  }
  return box;
}
