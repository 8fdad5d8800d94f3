// A horizontal bar chart in SVG, built with createElementNS (no markup parsed, no inline style:
// the console's stylesheet colours it through its classes), for the routing report and replay.

const svgNS = 'http://www.w3.org/2000/svg';

/** A bar: its label, its value, and what its tooltip says. */
export interface Bar {
  label: string;
  value: number;
  title?: string;
  key?: string;
}

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(svgNS, tag);
  for (const k of Object.keys(attrs)) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined) e.textContent = text;
  return e;
}

let charts = 0;

/** clip shortens a label to n characters, with an ellipsis. */
function clip(s: string, n: number): string {
  const cs = Array.from(s);
  return cs.length > n ? cs.slice(0, n - 1).join('') + '…' : s;
}

const width = 640;
const labelWidth = 180;
const valueWidth = 56;
const row = 30;
const barHeight = 18;
const top = 8;

/**
 * barChart draws one bar per item, scaled to the largest value, with its label on the left and
 * its value at its end. title names the chart for screen readers (role="img"); each bar has a
 * tooltip. A chart of only zeros draws empty bars.
 */
export function barChart(bars: Bar[], title: string): SVGSVGElement {
  const id = 'rchart-' + ++charts;
  const height = top * 2 + Math.max(1, bars.length) * row;
  const svg = el('svg', { class: 'rchart', viewBox: '0 0 ' + width + ' ' + height, width, height, role: 'img', 'aria-labelledby': id, preserveAspectRatio: 'xMinYMin meet' });
  svg.appendChild(el('title', { id }, title));
  const max = bars.reduce((m, b) => Math.max(m, b.value), 0);
  const span = width - labelWidth - valueWidth - 12;
  svg.appendChild(el('line', { class: 'rchart-axis', x1: labelWidth, x2: labelWidth, y1: top / 2, y2: height - top / 2 }));
  bars.forEach((b, i) => {
    const y = top + i * row;
    const w = max > 0 ? Math.round((b.value / max) * span * 10) / 10 : 0;
    const g = el('g', { class: 'rchart-row' });
    const label = el('text', { class: 'rchart-label', x: labelWidth - 8, y: y + row / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, clip(b.label, 26));
    label.appendChild(el('title', {}, b.label));
    g.appendChild(label);
    const rect = el('rect', { class: 'rchart-bar', x: labelWidth, y: y + (row - barHeight) / 2, width: w, height: barHeight, rx: 3, 'data-value': b.value });
    if (b.key) rect.setAttribute('data-key', b.key);
    rect.appendChild(el('title', {}, b.title || b.label + ': ' + b.value));
    g.appendChild(rect);
    g.appendChild(el('text', { class: 'rchart-value', x: labelWidth + w + 6, y: y + row / 2, 'dominant-baseline': 'middle' }, String(b.value)));
    svg.appendChild(g);
  });
  return svg;
}
