/** Small inline-SVG charts: no script, no network, readable without JavaScript. */

export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  x0: number;
  x1: number;
}

export const xOf = (f: Frame, t: number) =>
  f.left + ((t - f.x0) / Math.max(1e-9, f.x1 - f.x0)) * (f.width - f.left - f.right);

/** Bottom time axis with about six ticks. */
export function timeAxis(f: Frame): string {
  const span = f.x1 - f.x0;
  const step = niceStep(span / 6);
  const parts: string[] = [];
  const y = f.height - f.bottom;
  parts.push(`<line x1="${f.left}" y1="${y}" x2="${f.width - f.right}" y2="${y}" stroke="#888"/>`);
  for (let t = Math.ceil(f.x0 / step) * step; t <= f.x1 + 1e-9; t += step) {
    const x = xOf(f, t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${y}" x2="${x}" y2="${y + 4}" stroke="#888"/>`);
    parts.push(`<text x="${x}" y="${y + 16}" text-anchor="middle" class="tick">${esc(Math.round(t))} s</text>`);
  }
  return parts.join('');
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

/** Tableau's ten categorical colours: neighbours stay distinguishable. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

export const colour = (index: number): string => PALETTE[index % PALETTE.length];
