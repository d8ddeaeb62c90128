import { esc } from '../report/svg.ts';

/**
 * The dashboard's one page: inline CSS and script, no network but its own `/events` stream
 * (EventSource), so it works behind a proxy with no outside access. The script builds every
 * element with `textContent`, never `innerHTML`, since device ids and reasons come from the log.
 * Elements carry `data-*` attributes that tests and scripts select on.
 */
export function renderPage(title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style></head>
<body>
<header><h1>${esc(title)}</h1><span data-status="connecting">connecting</span> <span class="meta"><span data-records>0</span> records</span></header>
<main>
<section data-section="drifts"><h2>Drift timeline</h2>
<svg data-chart="drift-timeline" width="900" height="160" viewBox="0 0 900 160"></svg>
<ol class="drifts" data-list="drifts"></ol></section>
<section data-section="versions"><h2>Model versions</h2>
<table><thead><tr><th>model</th><th>version</th><th>decision</th><th>metric</th><th>candidate</th><th>production</th><th>p</th><th>reason</th><th>run</th></tr></thead><tbody></tbody></table></section>
<section data-section="accuracy"><h2>Rolling accuracy per version</h2>
<svg data-chart="accuracy" width="900" height="180" viewBox="0 0 900 180"></svg>
<table><thead><tr><th>model</th><th>version</th><th>accuracy</th><th>labelled</th></tr></thead><tbody></tbody></table></section>
<section data-section="devices"><h2>Devices</h2>
<table><thead><tr><th>device</th><th>last seen</th><th>samples/s</th><th>activity</th><th>version</th><th>drift</th></tr></thead><tbody></tbody></table></section>
<section data-section="dead-letters"><h2>Dead letters by reason</h2>
<table><thead><tr><th>reason</th><th>count</th><th>component</th><th>last message</th></tr></thead><tbody></tbody></table></section>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}

const CSS = `
body{font:14px system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{display:flex;gap:1em;align-items:baseline;padding:.5em 1em;background:#123;color:#eee}
h1{font-size:1.2em;margin:0} h2{font-size:1em;margin:.2em 0 .4em}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:1em;padding:1em}
section{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.6em;overflow:auto}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:2px 6px;border-bottom:1px solid #eee}
[data-status=live]{color:#7e7} [data-status=connecting]{color:#fb3}
tr[data-open-drift=true] td{background:#fee} tr[data-event=promoted] td{background:#efe} tr[data-event=rejected] td{color:#933}
ol.drifts{max-height:10em;overflow:auto;margin:0;font-size:12px}
svg{width:100%;height:auto;background:#fcfcfc}
.meta{color:#aaa}
`;

/** Runs in the browser: keep it plain ES2020 with no imports. */
const SCRIPT = `
const SVG='http://www.w3.org/2000/svg';
const COLOURS=['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#17becf'];
function el(tag,attrs,...kids){const e=tag.startsWith('svg:')?document.createElementNS(SVG,tag.slice(4)):document.createElement(tag);
 for(const [k,v] of Object.entries(attrs||{})) if(v!==null&&v!==undefined) e.setAttribute(k,String(v));
 for(const k of kids) e.append(k instanceof Node?k:document.createTextNode(k===null||k===undefined?'':String(k)));return e;}
const time=(t)=>new Date(t).toISOString().replace('T',' ').slice(0,19);
const num=(x,d=3)=>x===null||x===undefined?'':Number(x).toFixed(d);
function body(section){return document.querySelector('[data-section="'+section+'"] tbody');}
function fill(section,rows){body(section).replaceChildren(...rows);}
function driftChart(s){const svg=document.querySelector('[data-chart="drift-timeline"]');svg.replaceChildren();
 const ds=s.drifts;if(!ds.length)return;const devices=[...new Set(ds.map(d=>d.device))].sort();
 const t0=Math.min(...ds.map(d=>d.time)),t1=Math.max(t0+1,...ds.map(d=>d.time));
 const row=Math.min(24,130/devices.length);
 devices.forEach((d,i)=>svg.append(el('svg:text',{x:4,y:14+i*row,'font-size':10},d)));
 for(const d of ds){const x=110+(d.time-t0)/(t1-t0)*770,y=10+devices.indexOf(d.device)*row;
  const c=el('svg:circle',{class:'drift-marker',cx:x.toFixed(1),cy:y.toFixed(1),r:4,fill:d.kind==='concept'?'#d62728':'#ff7f0e','data-device':d.device,'data-feature':d.feature});
  c.append(el('svg:title',{},d.device+' '+(d.feature||d.kind)+' '+time(d.time)));svg.append(c);}
 svg.append(el('svg:text',{x:110,y:155,'font-size':10},time(t0)),el('svg:text',{x:770,y:155,'font-size':10},time(t1)));}
function accuracyChart(s){const svg=document.querySelector('[data-chart="accuracy"]');svg.replaceChildren();
 const pts=s.accuracy.flatMap(a=>a.points.map(p=>p.time));const deps=s.deployments.filter(d=>d.event==='succeeded');
 const all=pts.concat(deps.map(d=>d.time));if(!all.length)return;const t0=Math.min(...all),t1=Math.max(t0+1,...all);
 const x=(t)=>(30+(t-t0)/(t1-t0)*860).toFixed(1),y=(a)=>(170-a*160).toFixed(1);
 svg.append(el('svg:line',{x1:30,y1:170,x2:890,y2:170,stroke:'#888'}),el('svg:text',{x:2,y:14,'font-size':10},'1.0'),el('svg:text',{x:2,y:170,'font-size':10},'0'));
 for(const d of deps){const l=el('svg:line',{class:'deployment-marker','data-version':d.version,x1:x(d.time),x2:x(d.time),y1:5,y2:170,stroke:'#555','stroke-dasharray':'3 3'});
  l.append(el('svg:title',{},'deployed v'+d.version+' '+time(d.time)));svg.append(l);}
 s.accuracy.forEach((a,i)=>{if(!a.points.length)return;svg.append(el('svg:polyline',{'data-accuracy-line':a.version,fill:'none','stroke-width':2,
  stroke:COLOURS[i%COLOURS.length],points:a.points.map(p=>x(p.time)+','+y(p.accuracy)).join(' ')}));});}
function render(s){
 document.querySelector('[data-records]').textContent=String(s.records);
 driftChart(s);
 document.querySelector('[data-list="drifts"]').replaceChildren(...s.drifts.slice(0,100).map(d=>el('li',{'data-drift':'','data-device':d.device,'data-feature':d.feature,'data-kind':d.kind},
  time(d.time)+' '+d.device+' '+d.kind+' '+(d.feature||'')+(d.activity?' ('+d.activity+')':''))));
 fill('versions',s.versions.map(v=>el('tr',{'data-model':v.model,'data-version':v.version,'data-event':v.event},
  el('td',{},v.model),el('td',{},v.version),el('td',{},v.event),el('td',{},v.metric),el('td',{},num(v.candidate)),el('td',{},num(v.production)),
  el('td',{},num(v.pValue,4)),el('td',{},v.reason||''),el('td',{},v.link?el('a',{href:v.link,'data-mlflow':'',target:'_blank',rel:'noopener'},v.runId):v.runId))));
 accuracyChart(s);
 fill('accuracy',s.accuracy.map(a=>el('tr',{'data-accuracy-version':a.version,'data-model':a.model},el('td',{},a.model),el('td',{},a.version),el('td',{},num(a.accuracy)),el('td',{},a.labelled))));
 fill('devices',s.devices.map(d=>el('tr',{'data-device':d.device,'data-open-drift':d.openDrift},el('td',{},d.device),el('td',{},time(d.lastSeen)),
  el('td',{'data-rate':d.samplesPerSecond},num(d.samplesPerSecond,1)),
  el('td',{'data-activity':''},d.activity||''),el('td',{},d.version===null?'':d.version),
  el('td',{},d.openDrift?'open since '+time(d.lastDrift):d.lastDrift!==null&&d.lastCalibration!==null&&d.lastCalibration>d.lastDrift?'calibrated '+time(d.lastCalibration):''))));
 fill('dead-letters',s.deadLetters.map(d=>el('tr',{'data-reason':d.reason,'data-count':d.count},el('td',{},d.reason),el('td',{},d.count),el('td',{},d.component),el('td',{},d.lastMessage))));}
const status=document.querySelector('[data-status]');
const source=new EventSource('events');
source.addEventListener('state',(e)=>{status.dataset.status='live';status.textContent='live';render(JSON.parse(e.data));});
source.onerror=()=>{status.dataset.status='connecting';status.textContent='reconnecting';};
`;
