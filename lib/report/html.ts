/**
 * renderReport(): one self-contained HTML page (inline CSS and SVG; no scripts, fonts, images or
 * network references) presenting a ReportData: a header with the model and machine, then the
 * sections whose data is present, each a figure with a caption and the table of its numbers.
 * Every string that comes from the data is escaped.
 */
import { fmtBytes, fmtDate, fmtInt, fmtMs, fmtPct, fmtRatio, fmtSi, fmtSig } from './format.js';
import { barChart, escapeXml as h, groupedBarChart, linePlot, PALETTE, stackedBarChart, type AxisSpec } from './svg.js';
import type { ReportAccuracy, ReportData, ReportLatency, ReportLayer, ReportPlan, ReportSize } from './types.js';
import { validateReportData } from './validate.js';

/** A table cell: plain text (escaped here), or text with a muted second line, right-aligned when numeric. */
type Cell = string | { text: string; sub?: string; num?: boolean; html?: string };

/** `html` in a cell is trusted markup built in this file from escaped parts. */
function cell(tag: 'td' | 'th', v: Cell, scope = ''): string {
  if (typeof v === 'string') return `<${tag}${scope}>${h(v)}</${tag}>`;
  const cls = v.num ? ' class="num"' : '';
  const body = v.html ?? h(v.text);
  const sub = v.sub ? `<span class="sub">${h(v.sub)}</span>` : '';
  return `<${tag}${cls}${scope}>${body}${sub}</${tag}>`;
}

function table(caption: string, head: Cell[], rows: Cell[][], foot?: Cell[]): string {
  const thead = `<thead><tr>${head.map((c) => cell('th', c, ' scope="col"')).join('')}</tr></thead>`;
  const tbody = `<tbody>${rows.map((r) => `<tr>${r.map((c, i) => cell(i === 0 ? 'th' : 'td', c, i === 0 ? ' scope="row"' : '')).join('')}</tr>`).join('')}</tbody>`;
  const tfoot = foot ? `<tfoot><tr>${foot.map((c, i) => cell(i === 0 ? 'th' : 'td', c, i === 0 ? ' scope="row"' : '')).join('')}</tr></tfoot>` : '';
  // the caption sits outside the scrolling wrapper so it wraps to the page width, not the table's
  return `<p class="tcap">${h(caption)}</p><div class="table-wrap"><table>${thead}${tbody}${tfoot}</table></div>`;
}

const num = (text: string, sub?: string): Cell => ({ text, num: true, ...(sub === undefined ? {} : { sub }) });

/** Unicode minus for negative differences, explicit plus for positive ones. */
function signed(v: number, digits: number): string {
  const s = Math.abs(v).toFixed(digits);
  return Number(s) === 0 ? `±${s}` : v < 0 ? `−${s}` : `+${s}`;
}

/** Charts are drawn at the page's content width (CSS scales them down on narrow screens). */
const CHART_WIDTH = 960;

interface Section {
  id: string;
  title: string;
  html: string;
}

/** Numbers figures in page order. */
class Figures {
  private n = 0;
  figure(svg: string, caption: string): string {
    this.n++;
    return `<figure><div class="chart-wrap">${svg}</div><figcaption><strong>Figure ${this.n}.</strong> ${h(caption)}</figcaption></figure>`;
  }
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

function summarySection(items: Array<{ label: string; value: string }>): string {
  const cards = items.map((it) => `<div class="card"><div class="value">${h(it.value)}</div><div class="label">${h(it.label)}</div></div>`);
  return `<div class="cards">${cards.join('')}</div>`;
}

/** An accuracy in percent with its spread: "89.21% ± 0.09". */
function accText(p: { accuracy: number; std?: number }): string {
  return `${p.accuracy.toFixed(2)}%${p.std !== undefined ? ` ± ${p.std.toFixed(2)}` : ''}`;
}

function accuracySection(a: ReportAccuracy, figs: Figures): string {
  const series = a.series.filter((s) => s.points.length > 0);
  // table columns: sparsities equal to 0.01 % share one (a measured 0.89996 sits under 90 %)
  const col = (sp: number) => Math.round(sp * 1e4) / 1e4;
  const sparsities = [...new Set(series.flatMap((s) => s.points.map((p) => col(p.sparsity))))].sort((x, y) => x - y);
  const maxS = sparsities.length > 0 ? sparsities[sparsities.length - 1]! : 0;
  // past 90 % the interesting differences are at 95, 98, 99 %: spread them on a log scale of the kept fraction
  const logKept = maxS > 0.9;
  const x: AxisSpec = logKept
    ? { label: 'sparsity (fraction of weights removed; log scale of the kept fraction)', scale: 'sparsity', ticks: [0, ...sparsities] }
    : { label: 'sparsity (fraction of weights removed)', min: 0, max: 1, format: (v) => fmtPct(v, 0) };
  const hasStd = series.some((s) => s.points.some((p) => (p.std ?? 0) > 0)) || (a.dense?.std ?? 0) > 0;
  const svg = linePlot({
    width: CHART_WIDTH,
    height: 400,
    title: 'Test accuracy against sparsity',
    x,
    y: { label: 'test accuracy (%)' },
    series: series.map((s) => ({
      label: s.method,
      points: s.points.map((p) => ({ x: p.sparsity, y: p.accuracy, ...(p.std === undefined ? {} : { err: p.std }) })),
    })),
    refLines: a.dense
      ? [{ y: a.dense.accuracy, label: `dense ${accText(a.dense)}`, ...(a.dense.std ? { band: a.dense.std } : {}) }]
      : [],
    pointTip: (s, p) => `${s.label} at ${fmtPct(p.x, 1)} sparsity: ${accText({ accuracy: p.y, ...(p.err === undefined ? {} : { std: p.err }) })}`,
  });
  const caption =
    'Test accuracy against the fraction of weights removed, one curve per method' +
    (hasStd ? '; error bars show ± 1 standard deviation over seeds' : '') +
    (a.dense ? `; the dashed line is the dense model${a.dense.std ? ' (band ± 1 standard deviation)' : ''}` : '') +
    (logKept ? '. The horizontal axis is logarithmic in the kept fraction 1 − sparsity.' : '.');
  let out = figs.figure(svg, caption);
  if (sparsities.length > 0) {
    const rows = series.map((s) => [
      s.method,
      ...sparsities.map((sp) => {
        const p = s.points.find((q) => col(q.sparsity) === sp);
        if (!p) return num('—');
        return num(accText(p), a.dense ? `${signed(p.accuracy - a.dense.accuracy, 2)} vs dense` : undefined);
      }),
    ]);
    const dense = a.dense ? ` Dense model: ${accText(a.dense)}.` : '';
    out += table(`Test accuracy (%) by method and sparsity.${dense}`, ['method', ...sparsities.map((sp) => num(`${Number((sp * 100).toFixed(2))}%`))], rows);
  }
  return out;
}

function layersSection(layers: ReportLayer[], figs: Figures): string {
  const svg = barChart({
    width: CHART_WIDTH,
    title: 'Sparsity per layer',
    bars: layers.map((l) => ({ label: l.name, value: l.sparsity * 100, note: `${fmtPct(l.sparsity, 1)} · ${l.structure}` })),
    axis: { label: 'sparsity (% of weights removed)', min: 0, max: 100, format: (v) => `${v}%` },
  });
  let out = figs.figure(svg, 'Fraction of weights removed in each prunable layer, with the structure of its mask.');
  const flops = (v: number | null) => (v === null ? '—' : fmtSi(v));
  const rows = layers.map((l) => [
    l.name,
    { text: l.shape.join(' × '), html: `<span class="mono">${h(l.shape.join(' × '))}</span>` },
    num(fmtInt(l.size)),
    num(fmtInt(l.nnz)),
    num(fmtPct(l.sparsity, 2)),
    l.structure,
    num(flops(l.flopsDense)),
    num(flops(l.flopsSparse)),
    num(l.flopsDense !== null && l.flopsSparse !== null && l.flopsSparse > 0 ? fmtRatio(l.flopsDense / l.flopsSparse) : '—'),
  ]);
  const size = layers.reduce((a, l) => a + l.size, 0);
  const nnz = layers.reduce((a, l) => a + l.nnz, 0);
  const traced = layers.every((l) => l.flopsDense !== null && l.flopsSparse !== null);
  const fd = traced ? layers.reduce((a, l) => a + l.flopsDense!, 0) : null;
  const fs = traced ? layers.reduce((a, l) => a + l.flopsSparse!, 0) : null;
  const foot: Cell[] = [
    'total',
    '',
    num(fmtInt(size)),
    num(fmtInt(nnz)),
    num(size > 0 ? fmtPct(1 - nnz / size, 2) : '—'),
    '',
    num(flops(fd)),
    num(flops(fs)),
    num(fd !== null && fs !== null && fs > 0 ? fmtRatio(fd / fs) : '—'),
  ];
  out += table(
    'Per-layer weights, kept weights and FLOPs per sample (a multiply-add counts 2).',
    ['layer', 'weight shape', num('weights'), num('kept'), num('sparsity'), 'structure', num('FLOPs dense'), num('FLOPs sparse'), num('reduction')],
    rows,
    foot,
  );
  return out;
}

function sizeSection(s: ReportSize, figs: Figures): string {
  const keys = [
    { key: 'dense', label: 'dense fp32 weights', color: '#8c8c8c' },
    { key: 'values', label: 'kept values', color: PALETTE[0]! },
    { key: 'index', label: 'sparsity pattern (index)', color: PALETTE[1]! },
    { key: 'other', label: 'other (header, architecture, biases)', color: PALETTE[2]! },
    { key: 'bound', label: 'entropy bound', color: PALETTE[4]! },
  ];
  // plot in one binary unit so the ticks fall on round numbers of it (200 KiB, not 244 KiB)
  const largest = Math.max(s.denseBytes, s.fileBytes, s.valuesBytes + s.indexBytes + s.otherBytes, s.entropyBoundBytes);
  const [unit, unitName] = largest >= 2 * 1024 ** 3 ? [1024 ** 3, 'GiB'] : largest >= 2 * 1024 ** 2 ? [1024 ** 2, 'MiB'] : largest >= 2048 ? [1024, 'KiB'] : [1, 'bytes'];
  const svg = stackedBarChart({
    width: CHART_WIDTH,
    title: 'Model size breakdown',
    keys,
    axis: { label: `size (${unitName})`, format: (v) => (unit === 1 ? fmtInt(v) : `${fmtSig(v)}`) },
    valueFormat: (v) => fmtBytes(v * unit),
    bars: [
      { label: 'dense fp32', segments: [{ key: 'dense', value: s.denseBytes / unit }], note: fmtBytes(s.denseBytes) },
      {
        label: 'model file',
        segments: [
          { key: 'values', value: s.valuesBytes / unit },
          { key: 'index', value: s.indexBytes / unit },
          { key: 'other', value: s.otherBytes / unit },
        ],
        note: fmtBytes(s.fileBytes),
      },
      { label: 'entropy bound', segments: [{ key: 'bound', value: s.entropyBoundBytes / unit }], note: fmtBytes(s.entropyBoundBytes) },
    ],
  });
  const parts = s.valuesBytes + s.indexBytes + s.otherBytes;
  const mismatch = parts !== s.fileBytes ? ` The parts add up to ${fmtInt(parts)} bytes, the file has ${fmtInt(s.fileBytes)}.` : '';
  let out = figs.figure(
    svg,
    `Bytes of the dense float32 weights, of the compact model file split into its parts, and the information-theoretic lower bound for the same values and pattern.${mismatch}`,
  );
  const ratio = (b: number) => (b > 0 ? fmtRatio(s.denseBytes / b) : '—');
  const share = (b: number) => (s.fileBytes > 0 ? fmtPct(b / s.fileBytes, 1) : '—');
  const row = (label: string, b: number, inFile: boolean): Cell[] => [label, num(fmtInt(b)), num(fmtBytes(b)), num(ratio(b)), num(inFile ? share(b) : '')];
  out += table(
    `Sizes in bytes; compression is dense fp32 bytes divided by the row's bytes.${s.entropyBoundBytes > 0 ? ` The file is ${fmtRatio(s.fileBytes / s.entropyBoundBytes)} the entropy bound.` : ''}`,
    ['item', num('bytes'), num('size'), num('compression'), num('share of file')],
    [
      row('dense fp32 weights', s.denseBytes, false),
      row('model file', s.fileBytes, true),
      row('· kept values', s.valuesBytes, true),
      row('· sparsity pattern (index)', s.indexBytes, true),
      row('· other', s.otherBytes, true),
      row('entropy bound', s.entropyBoundBytes, false),
    ],
  );
  return out;
}

function latencySection(lat: ReportLatency[], figs: Figures): string {
  const rowsData = [...lat].sort((a, b) => a.batch - b.batch);
  const hasOrt = rowsData.some((r) => r.ortMs !== undefined);
  const all = rowsData.flatMap((r) => [r.denseMs, r.sparseMs, ...(r.ortMs === undefined ? [] : [r.ortMs])]).filter((v) => v > 0);
  // batch 1 and batch 256 differ by orders of magnitude: a linear axis would flatten the small batches
  const logY = all.length > 0 && Math.max(...all) / Math.min(...all) > 30;
  const series = [
    { label: 'dense (sparsenn)', color: '#8c8c8c' },
    { label: 'sparse plan (sparsenn)', color: PALETTE[0]! },
    ...(hasOrt ? [{ label: 'onnxruntime-node', color: PALETTE[1]! }] : []),
  ];
  const svg = groupedBarChart({
    width: CHART_WIDTH,
    title: 'Latency per forward pass by batch size',
    series,
    groups: rowsData.map((r) => ({ label: `batch ${r.batch}`, values: [r.denseMs, r.sparseMs, ...(hasOrt ? [r.ortMs ?? null] : [])] })),
    axis: { label: `latency (ms${logY ? ', log scale' : ''})`, scale: logY ? 'log' : 'linear' },
    groupAxisLabel: 'batch size (samples per forward pass)',
    valueFormat: (v) => fmtSig(v),
  });
  let out = figs.figure(
    svg,
    `Median latency of one forward pass, dense model vs the compiled sparse plan${hasOrt ? ' vs onnxruntime-node on the same model' : ''}; lower is better.${logY ? ' The vertical axis is logarithmic.' : ''}`,
  );
  const rows = rowsData.map((r) => [
    num(fmtInt(r.batch)),
    num(fmtMs(r.denseMs)),
    num(fmtMs(r.sparseMs)),
    ...(hasOrt ? [num(r.ortMs === undefined ? '—' : fmtMs(r.ortMs))] : []),
    num(r.sparseMs > 0 ? fmtRatio(r.denseMs / r.sparseMs) : '—'),
    ...(hasOrt ? [num(r.ortMs !== undefined && r.sparseMs > 0 ? fmtRatio(r.ortMs / r.sparseMs) : '—')] : []),
    num(r.sparseMs > 0 ? fmtSi(r.batch / (r.sparseMs / 1000)) : '—'),
  ]);
  out += table(
    'Median milliseconds per forward pass; speed-up is the peer time divided by the sparse plan time (above 1× the sparse plan is faster).',
    [num('batch'), num('dense'), num('sparse plan'), ...(hasOrt ? [num('onnxruntime')] : []), num('speed-up vs dense'), ...(hasOrt ? [num('speed-up vs ort')] : []), num('samples/s (sparse)')],
    rows,
  );
  return out;
}

/** Batch-size keys in numeric order (non-numeric keys after, alphabetically). */
function batchKeys(plan: ReportPlan): string[] {
  const keys = new Set<string>();
  for (const l of plan.layers) for (const k of Object.keys(l.formats)) keys.add(k);
  return [...keys].sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
    if (Number.isFinite(na)) return -1;
    if (Number.isFinite(nb)) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

function planSection(plan: ReportPlan): string {
  let out = '';
  if (plan.layers.length > 0) {
    const batches = batchKeys(plan);
    const rows = plan.layers.map((l) => {
      const name: Cell = { text: l.name, ...(l.fused.length > 0 ? { sub: `+ ${l.fused.join(', ')}` } : {}) };
      const shape = `${l.groups > 1 ? `${l.groups} × ` : ''}${l.rows} × ${l.cols}`;
      const perBatch = batches.map((b): Cell => {
        const f = l.formats[b];
        if (f === undefined) return '—';
        const t = l.timings[b] ?? {};
        const chosen = t[f];
        const others = Object.entries(t)
          .filter(([k]) => k !== f)
          .sort((p, q) => p[1] - q[1])
          .map(([k, v]) => `${k} ${fmtSig(v)}`)
          .join(' · ');
        const main = `<span class="fmt">${h(f)}</span>${chosen !== undefined ? ` ${h(fmtMs(chosen))}` : Object.keys(t).length === 0 ? ' <span class="muted">(forced)</span>' : ''}`;
        return { text: f, html: main, ...(others ? { sub: `${others} ms` } : {}) };
      });
      return [name, { text: shape, html: `<span class="mono">${h(shape)}</span>` }, num(fmtPct(l.density, 1)), ...perBatch];
    });
    out += table(
      'Format chosen for each product layer at each expected batch size, with its median time; the other formats timed are listed beneath (ms).',
      ['layer', 'matrix', num('density'), ...batches.map((b) => (Number.isFinite(Number(b)) ? `batch ${b}` : b))],
      rows,
    );
  }
  if (plan.steps.length > 0) {
    out += `<h3>Steps (${fmtInt(plan.steps.length)}, in run order)</h3><ol class="steps">${plan.steps.map((s) => `<li><code>${h(s)}</code></li>`).join('')}</ol>`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Page
// ---------------------------------------------------------------------------------------------

const CSS = `
:root{--fg:#1b2230;--muted:#5b6473;--line:#e1e4e9;--panel:#f6f7f9;--accent:#0063a0}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#fff;color:var(--fg);font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.page{max-width:1040px;margin:0 auto;padding:32px 24px 48px}
.masthead{border-bottom:2px solid var(--fg);padding-bottom:18px}
.eyebrow{margin:0 0 4px;font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted)}
h1{margin:0 0 6px;font-size:30px;line-height:1.2;font-weight:650;overflow-wrap:anywhere}
.lede{margin:0 0 16px;max-width:72ch;color:var(--muted)}
dl.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px 24px;margin:14px 0 0}
dl.meta div{min-width:0}
dl.meta dt{font-size:11.5px;letter-spacing:.05em;text-transform:uppercase;color:var(--muted)}
dl.meta dd{margin:0;font-weight:500;overflow-wrap:anywhere}
nav.toc{margin:14px 0 0;font-size:14px}
nav.toc a{display:inline-block;margin:0 16px 4px 0;color:var(--accent);text-decoration:none}
nav.toc a:hover{text-decoration:underline}
section{margin-top:40px}
h2{margin:0 0 14px;padding-bottom:6px;border-bottom:1px solid var(--line);font-size:21px;font-weight:650}
h3{margin:20px 0 8px;font-size:16px;font-weight:600}
figure{margin:0 0 14px}
/* below ~600 px a chart would shrink past legibility: keep it readable and let it scroll */
.chart-wrap{overflow-x:auto}
svg.chart{display:block;width:100%;min-width:600px;max-width:960px;height:auto}
figcaption{margin-top:6px;max-width:85ch;font-size:13px;color:var(--muted)}
.table-wrap{overflow-x:auto;margin:6px 0 0}
table{width:100%;border-collapse:collapse;font-size:14px;font-variant-numeric:tabular-nums}
.tcap{margin:14px 0 6px;font-size:13px;color:var(--muted)}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{border-bottom:2px solid var(--line);font-size:11.5px;font-weight:600;letter-spacing:.04em;text-transform:uppercase;color:var(--muted);white-space:nowrap}
tbody th,tfoot th{font-weight:600}
tbody th{min-width:12em;overflow-wrap:anywhere}
td .mono{white-space:nowrap}
.num{text-align:right;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
tfoot th,tfoot td{border-top:2px solid var(--line);font-weight:600}
.sub{display:block;font-size:12px;font-weight:400;color:var(--muted)}
.muted{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px}
.card{padding:12px 14px;border:1px solid var(--line);border-radius:8px;background:var(--panel)}
.card .value{font-size:22px;font-weight:650;line-height:1.25;overflow-wrap:anywhere}
.card .label{margin-top:2px;font-size:13px;color:var(--muted)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:13px}
.fmt{display:inline-block;padding:0 6px;border-radius:4px;background:#e6f0f7;color:#004a78;font-weight:600}
ol.steps{margin:0;padding-left:2.2em;columns:18em 3;column-gap:28px;font-size:13px}
ol.steps li{break-inside:avoid}
ul.notes{margin:0;padding-left:1.3em}
ul.notes li{margin:4px 0}
footer{margin-top:48px;padding-top:12px;border-top:1px solid var(--line);font-size:12px;color:var(--muted)}
@media (max-width:640px){.page{padding:20px 14px 32px}h1{font-size:24px}th,td{padding:5px 6px}}
@media print{
  @page{margin:14mm}
  body{font-size:10.5pt}
  .page{max-width:none;padding:0}
  nav.toc{display:none}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  figure,tr,.card{break-inside:avoid}
  h2,h3{break-after:avoid}
  .table-wrap,.chart-wrap{overflow:visible}
  svg.chart{min-width:0}
  tbody tr:nth-child(even){background:none}
  section{margin-top:24px}
}
`;

function header(d: ReportData): string {
  const m = d.model;
  const meta: Array<[string, string]> = [
    ['Model', m.name],
    ['Parameters', fmtInt(m.parameters)],
    ['Sample shape', m.sampleShape.length > 0 ? m.sampleShape.join(' × ') : 'scalar'],
    ['CPU', d.machine.cpu],
    ['Kernels', `${d.machine.isa}, ${fmtInt(d.machine.threads)} thread${d.machine.threads === 1 ? '' : 's'}`],
    ['Node.js', d.machine.node],
    ['sparsenn', d.machine.sparsenn],
    ['Generated', d.generatedAt],
  ];
  const items = meta.map(([k, v]) => `<div><dt>${h(k)}</dt><dd>${k === 'Generated' ? `<time datetime="${h(v)}">${h(fmtDate(v))}</time>` : h(v)}</dd></div>`);
  return (
    `<header class="masthead"><p class="eyebrow">sparsenn report</p><h1>${h(d.title)}</h1>` +
    (m.description ? `<p class="lede">${h(m.description)}</p>` : '') +
    `<dl class="meta">${items.join('')}</dl></header>`
  );
}

/**
 * Renders the report as one self-contained HTML document. Sections whose data is absent or
 * empty are left out. Throws SparsennTypeError / IndexRangeError for malformed data (see
 * validateReportData).
 */
export function renderReport(data: ReportData): string {
  validateReportData(data);
  const figs = new Figures();
  const sections: Section[] = [];
  if (data.summary && data.summary.length > 0) sections.push({ id: 'summary', title: 'Summary', html: summarySection(data.summary) });
  if (data.accuracy && (data.accuracy.series.some((s) => s.points.length > 0) || data.accuracy.dense))
    sections.push({ id: 'accuracy', title: 'Accuracy vs sparsity', html: accuracySection(data.accuracy, figs) });
  if (data.layers && data.layers.length > 0) sections.push({ id: 'layers', title: 'Per-layer sparsity', html: layersSection(data.layers, figs) });
  if (data.size) sections.push({ id: 'size', title: 'Model size', html: sizeSection(data.size, figs) });
  if (data.latency && data.latency.length > 0) sections.push({ id: 'latency', title: 'Latency', html: latencySection(data.latency, figs) });
  if (data.plan && (data.plan.layers.length > 0 || data.plan.steps.length > 0)) sections.push({ id: 'plan', title: 'Inference plan', html: planSection(data.plan) });
  if (data.notes && data.notes.length > 0) sections.push({ id: 'notes', title: 'Notes', html: `<ul class="notes">${data.notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul>` });

  const nav = sections.length > 1 ? `<nav class="toc" aria-label="Sections">${sections.map((s) => `<a href="#${s.id}">${h(s.title)}</a>`).join('')}</nav>` : '';
  const body = sections.map((s) => `<section id="${s.id}" aria-labelledby="${s.id}-h"><h2 id="${s.id}-h">${h(s.title)}</h2>${s.html}</section>`).join('\n');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // defence in depth: even if something slipped past the escaping, the page may load and run nothing
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<meta name="generator" content="sparsenn ${h(data.machine.sparsenn)}">`,
    `<title>${h(data.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<div class="page">',
    header(data),
    nav,
    `<main>${body}</main>`,
    `<footer>Generated by sparsenn ${h(data.machine.sparsenn)} on ${h(fmtDate(data.generatedAt))}. This page is self-contained: it loads nothing and runs no scripts.</footer>`,
    '</div>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
