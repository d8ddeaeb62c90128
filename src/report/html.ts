import { colour, esc, type Frame, timeAxis, xOf } from './svg.ts';
import type { ReportData, ReportVersion } from './types.ts';

const MAX_FEATURE_ROWS = 24;

/**
 * The run report: one self-contained HTML file (inline CSS and SVG, no
 * script, no network). Elements carry data-* attributes so that tests, and
 * anyone scripting over reports, can count what was drawn.
 */
export function renderReport(data: ReportData): string {
  const end = Math.max(
    1,
    ...data.accuracy.map((a) => a.time),
    ...data.drifts.map((d) => d.time),
    ...data.deployments.map((d) => d.time),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(data.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style></head>
<body>
<h1>${esc(data.title)}</h1>
<p class="meta">written ${esc(data.generatedAt)}</p>
<dl class="facts">${Object.entries(data.facts)
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`)
    .join('')}</dl>
<h2>Drift timeline</h2>
${driftTimeline(data, end)}
<h2>Rolling accuracy of the predictions</h2>
${accuracyChart(data, end)}
<h2>Model versions</h2>
<div class="versions">${data.versions.map(versionCard).join('\n')}</div>
</body></html>
`;
}

function driftTimeline(data: ReportData, end: number): string {
  const counts = new Map<string, number>();
  for (const d of data.drifts) {
    const name = d.feature ?? 'error rate (concept drift)';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const rows = [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_FEATURE_ROWS)
    .map(([name]) => name);
  const rowOf = new Map(rows.map((r, i) => [r, i]));
  const f: Frame = {
    width: 960,
    height: 60 + rows.length * 18,
    left: 230,
    right: 20,
    top: 20,
    bottom: 30,
    x0: 0,
    x1: end,
  };
  const devices = [...new Set(data.drifts.map((d) => d.device))].sort();
  const deviceColour = new Map(devices.map((d, i) => [d, colour(i)]));
  const parts: string[] = [];
  rows.forEach((name, i) => {
    parts.push(
      `<text x="${f.left - 6}" y="${f.top + i * 18 + 12}" text-anchor="end" class="label">${esc(name)}</text>`,
    );
  });
  if (data.driftStart !== null) parts.push(startLine(f, data.driftStart));
  let drawn = 0;
  for (const d of data.drifts) {
    const row = rowOf.get(d.feature ?? 'error rate (concept drift)');
    if (row === undefined) continue;
    drawn++;
    const x = xOf(f, d.time).toFixed(1);
    parts.push(
      `<circle class="drift-marker" cx="${x}" cy="${f.top + row * 18 + 8}" r="4" fill="${deviceColour.get(d.device)}" data-device="${esc(d.device)}"><title>${esc(d.device)} · ${esc(d.feature ?? 'error rate')} · ${esc(d.activity ?? '')} · ${d.time.toFixed(1)} s</title></circle>`,
    );
  }
  parts.push(timeAxis(f));
  const legend = devices
    .map((d) => `<span class="key"><i style="background:${deviceColour.get(d)}"></i>${esc(d)}</span>`)
    .join(' ');
  const hidden = data.drifts.length - drawn;
  return `<figure><svg data-chart="drift-timeline" data-markers="${drawn}" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="drift events by feature over time">${parts.join('')}</svg>
<figcaption>${data.drifts.length} drift events on ${devices.length} devices${hidden > 0 ? ` (${hidden} on less frequent features not drawn)` : ''}. ${legend}</figcaption></figure>`;
}

function startLine(f: Frame, t: number): string {
  const x = xOf(f, t).toFixed(1);
  return `<line class="drift-start" x1="${x}" y1="${f.top - 10}" x2="${x}" y2="${f.height - f.bottom}" stroke="#c33" stroke-dasharray="4 3"/><text x="${x}" y="${f.top - 12}" class="tick" fill="#c33">drift injected</text>`;
}

function accuracyChart(data: ReportData, end: number): string {
  const f: Frame = { width: 960, height: 280, left: 50, right: 20, top: 24, bottom: 30, x0: 0, x1: end };
  const y = (a: number) => f.top + (1 - a) * (f.height - f.top - f.bottom);
  const parts: string[] = [];
  for (const a of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${f.left}" y1="${y(a)}" x2="${f.width - f.right}" y2="${y(a)}" stroke="#eee"/>`);
    parts.push(`<text x="${f.left - 6}" y="${y(a) + 4}" text-anchor="end" class="tick">${a * 100} %</text>`);
  }
  if (data.driftStart !== null) parts.push(startLine(f, data.driftStart));
  const byVersion = new Map<number, { time: number; accuracy: number }[]>();
  for (const p of data.accuracy) {
    const list = byVersion.get(p.version) ?? [];
    list.push(p);
    byVersion.set(p.version, list);
  }
  for (const [version, points] of byVersion) {
    const d = points.map((p) => `${xOf(f, p.time).toFixed(1)},${y(p.accuracy).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline class="accuracy-line" data-version="${version}" points="${d}" fill="none" stroke="${colour(version - 1)}" stroke-width="2"/>`,
    );
  }
  for (const dep of data.deployments) {
    const x = xOf(f, dep.time).toFixed(1);
    parts.push(
      `<g class="deployment-marker" data-version="${dep.version}" data-event="${esc(dep.event)}"><line x1="${x}" y1="${f.top}" x2="${x}" y2="${f.height - f.bottom}" stroke="#333" stroke-width="1.5"/><text x="${x}" y="${f.top - 6}" text-anchor="middle" class="tick">v${dep.version} ${esc(dep.event)}</text></g>`,
    );
  }
  parts.push(timeAxis(f));
  const legend = [...byVersion.keys()]
    .map((v) => `<span class="key"><i style="background:${colour(v - 1)}"></i>predicted by v${v}</span>`)
    .join(' ');
  return `<figure><svg data-chart="accuracy" data-versions="${byVersion.size}" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="rolling accuracy over time">${parts.join('')}</svg>
<figcaption>Rolling accuracy of predictions whose windows carried a label; vertical lines mark deployments. ${legend}</figcaption></figure>`;
}

function versionCard(v: ReportVersion): string {
  const metrics = Object.entries(v.metrics)
    .filter(([k]) => !k.includes('_'))
    .map(([k, val]) => `<tr><th>${esc(k)}</th><td>${val.toFixed(4)}</td></tr>`)
    .join('');
  const m = v.metrics;
  const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(x * 100).toFixed(1)} %`);
  // The gate's estimate next to what the version then did live, on windows it never trained on.
  const gateLive = `<p class="gate-live" data-gate="${m.gate_estimate_accuracy ?? ''}" data-live="${m.live_accuracy ?? ''}">gate estimate ${pct(m.gate_estimate_accuracy)}${m.gate_p_value === undefined ? '' : ` (McNemar p ${m.gate_p_value.toPrecision(2)} on ${m.gate_windows} windows)`} · live ${m.live_accuracy === undefined ? 'not measured (never served labelled windows)' : `${pct(m.live_accuracy)} over its first ${m.live_windows} windows`}</p>`;
  const lineage = v.lineage
    ? `<p class="lineage">${v.lineage.records} records of <code>${esc(v.lineage.topic)}</code>: ${v.lineage.ranges
        .map((r) => `p${r.partition} [${r.fromOffset}, ${r.toOffset}] (${r.records})`)
        .join(', ')}<br><code>${esc(v.lineage.digest)}</code></p>`
    : '';
  return `<section class="version" data-version="${v.version}" data-promoted="${v.promoted}">
<h3>v${v.version} ${v.promoted ? '<span class="badge">promoted</span>' : '<span class="badge no">not promoted</span>'}</h3>
<p>${esc(v.candidate)} — ${esc(v.reason)}</p>
${gateLive}
<table class="metrics">${metrics}</table>
${v.confusion ? confusionTable(v.confusion) : ''}
${lineage}
</section>`;
}

function confusionTable(c: { classes: string[]; matrix: number[][] }): string {
  const max = Math.max(1, ...c.matrix.flat());
  const head = c.classes.map((k, i) => `<th title="${esc(k)}">${i + 1}</th>`).join('');
  const rows = c.matrix
    .map(
      (row, i) =>
        `<tr><th>${i + 1} ${esc(c.classes[i])}</th>${row
          .map((n) => `<td style="background:rgba(40,90,200,${(n / max).toFixed(3)})">${n}</td>`)
          .join('')}</tr>`,
    )
    .join('');
  return `<table class="confusion"><caption>confusion (rows true, columns predicted)</caption><tr><th></th>${head}</tr>${rows}</table>`;
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}.meta{color:#777}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}.facts dt{color:#666}.facts dd{margin:0}
svg{width:100%;height:auto;background:#fff;border:1px solid #ddd}.tick{font-size:11px;fill:#555}.label{font-size:11px;fill:#333}
figcaption{color:#555;font-size:12px;margin-top:4px}.key{margin-right:8px;white-space:nowrap}.key i{display:inline-block;width:10px;height:10px;margin-right:3px;border-radius:2px}
.versions{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:12px}.version{border:1px solid #ddd;padding:8px 12px;border-radius:6px}
.badge{font-size:12px;background:#2a7;color:#fff;padding:1px 6px;border-radius:8px}.badge.no{background:#999}
table{border-collapse:collapse;margin:6px 0}td,th{padding:2px 6px;font-size:12px;text-align:right}.confusion td{min-width:28px;border:1px solid #eee}
.lineage{font-size:12px;color:#555;word-break:break-all}`;
