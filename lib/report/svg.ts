/**
 * Small SVG chart primitives for the HTML report: a line plot (several series, markers, ± error
 * bars, reference lines), a bar chart (horizontal or vertical), a horizontal stacked bar chart
 * and a grouped bar chart, on linear, log or "sparsity" axes.
 *
 * Each function returns one `<svg>` element as a string, meant to be inlined in HTML (no xmlns,
 * no ids, no scripts, no external references), with a viewBox so CSS can scale it to the page
 * width. Every string that reaches the markup goes through {@link escapeXml}; labels too long
 * for their slot are shortened with an ellipsis and the full text kept in a `<title>` tooltip.
 */
import { fmtSi, fmtSig } from './format.js';

/** Escapes text for XML/HTML content and (double- or single-quoted) attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Colour-blind-safe palette (Okabe & Ito), yellow left out for contrast on white. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#E69F00', '#CC79A7', '#56B4E9', '#7f7f7f', '#000000'];

/** Nominal font size of chart text (px in viewBox units). */
const FONT = 12;
/** Average glyph advance of the sans-serif stack as a fraction of the font size (layout estimate). */
const CHAR = 0.6;
const FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

/** Estimated rendered width of `s` in px. */
export function textWidth(s: string, size = FONT): number {
  return Array.from(s).length * size * CHAR;
}

/** `s`, or its prefix plus "…" when it would be wider than `maxPx`. */
export function fitText(s: string, maxPx: number, size = FONT): string {
  if (textWidth(s, size) <= maxPx) return s;
  const chars = Array.from(s);
  const keep = Math.max(1, Math.floor(maxPx / (size * CHAR)) - 1);
  return chars.slice(0, keep).join('') + '…';
}

/** A coordinate for an attribute: one decimal, no exponent. */
function c(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/** A `<text>` element; shortened to `maxPx` when given, with the full text as tooltip. */
function text(x: number, y: number, s: string, attrs = '', maxPx?: number, size = FONT): string {
  const shown = maxPx === undefined ? s : fitText(s, maxPx, size);
  const tip = shown === s ? '' : `<title>${escapeXml(s)}</title>`;
  const sz = size === FONT ? '' : ` font-size="${size}"`;
  return `<text x="${c(x)}" y="${c(y)}"${sz}${attrs ? ` ${attrs}` : ''}>${tip}${escapeXml(shown)}</text>`;
}

function svgOpen(width: number, height: number, title: string): string {
  return (
    `<svg class="chart" viewBox="0 0 ${c(width)} ${c(height)}" width="${c(width)}" height="${c(height)}" role="img" ` +
    `aria-label="${escapeXml(title)}" font-family="${escapeXml(FONT_FAMILY)}" font-size="${FONT}" fill="#222">` +
    `<title>${escapeXml(title)}</title>`
  );
}

// ---------------------------------------------------------------------------------------------
// Axes and scales
// ---------------------------------------------------------------------------------------------

/**
 * How values map to positions. `linear` and `log` (base 10) are the usual; `sparsity` places a
 * fraction s at -log10(1 - s), so 50 %, 90 %, 99 % sit evenly apart (the kept fraction on a log
 * scale), which is how pruning results are usually read.
 */
export type ScaleKind = 'linear' | 'log' | 'sparsity';

/** An axis: its title, scale and optional fixed domain, tick positions and tick format. */
export interface AxisSpec {
  /** Axis title. */
  label: string;
  /** Default 'linear'. */
  scale?: ScaleKind;
  /** Domain bounds; taken from the data (rounded to nice values) when absent. */
  min?: number;
  max?: number;
  /** Tick positions; chosen automatically when absent (ticks outside the domain are dropped). */
  ticks?: number[];
  /** Tick label text; a compact default per scale when absent. */
  format?: (v: number) => string;
}

/** A resolved scale: value → pixel, with its ticks and their labels. */
export interface Scale {
  kind: ScaleKind;
  domain: [number, number];
  ticks: number[];
  map(v: number): number;
  label(v: number): string;
}

/** Smallest number of decimals that shows `step` exactly (0.25 → 2). */
function decimalsOf(step: number): number {
  let d = 0;
  while (d < 12 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6 * Math.max(1, step * 10 ** d)) d++;
  return d;
}

/** A 1, 2, 2.5 or 5 × 10^k step that cuts `span` into about `count` intervals. */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  const f = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
  return f * p;
}

/** The nearest 1, 2 or 5 × 10^k at or below (down) / at or above (up) a positive v. */
function snap125(v: number, dir: 'up' | 'down'): number {
  const e = Math.floor(Math.log10(v));
  const cands = [-1, 0, 1].flatMap((d) => [1, 2, 5].map((m) => Number((m * 10 ** (e + d)).toPrecision(12))));
  const ok = cands.filter((x) => (dir === 'up' ? x >= v * (1 - 1e-9) : x <= v * (1 + 1e-9)));
  return dir === 'up' ? Math.min(...ok) : Math.max(...ok);
}

const SPARSITY_FLOOR = 1e-4;
const sparsityT = (v: number) => -Math.log10(Math.max(1 - v, SPARSITY_FLOOR));
const SPARSITY_TICKS = [0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999];

/**
 * Resolves an axis for `values` onto the pixel range [r0, r1] (r1 < r0 for a y axis).
 * `includeZero` forces 0 into a linear domain (bar charts).
 */
export function makeScale(axis: AxisSpec, values: number[], r0: number, r1: number, tickCount = 5, includeZero = false): Scale {
  const kind = axis.scale ?? 'linear';
  const finite = values.filter((v) => Number.isFinite(v) && (kind !== 'log' || v > 0));
  let lo = axis.min ?? (finite.length > 0 ? Math.min(...finite) : kind === 'log' ? 1 : 0);
  let hi = axis.max ?? (finite.length > 0 ? Math.max(...finite) : kind === 'log' ? 10 : 1);
  let ticks: number[];
  let fmt: (v: number) => string;
  let t: (v: number) => number;

  if (kind === 'log') {
    if (!(lo > 0)) lo = hi > 0 ? hi / 10 : 1;
    if (!(hi > lo)) hi = lo * 10;
    // bars need room below the smallest value (their baseline is the domain's bottom), so a
    // bar chart's domain starts at a power of ten; otherwise both ends snap to 1, 2, 5 × 10^k
    if (axis.min === undefined) lo = includeZero ? 10 ** Math.floor(Math.log10(lo) + 1e-9) : snap125(lo, 'down');
    if (axis.max === undefined) hi = snap125(hi, 'up');
    if (!(hi > lo)) hi = lo * 10;
    const decades = Math.log10(hi / lo);
    const mults = decades <= 3.01 ? [1, 2, 5] : [1];
    ticks = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mults) {
        const v = Number((m * 10 ** e).toPrecision(12));
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
      }
    }
    fmt = (v) => (Math.abs(v) >= 1000 ? fmtSi(v).replace(' ', '') : fmtSig(v));
    t = Math.log10;
  } else if (kind === 'sparsity') {
    if (axis.min === undefined) lo = Math.min(0, lo);
    if (axis.max === undefined) hi = Math.min(1 - SPARSITY_FLOOR, hi);
    if (!(hi > lo)) hi = Math.min(1 - SPARSITY_FLOOR, lo + 0.5);
    ticks = SPARSITY_TICKS.filter((v) => v >= lo - 1e-12 && v <= hi + 1e-12);
    fmt = (v) => `${Number((v * 100).toFixed(1))}%`;
    t = sparsityT;
  } else {
    if (includeZero) {
      if (axis.min === undefined) lo = Math.min(0, lo);
      if (axis.max === undefined) hi = Math.max(0, hi);
    }
    if (!(hi > lo)) {
      // one distinct value: widen around it (or upwards from a forced zero)
      const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
      if (axis.max === undefined) hi = lo + pad;
      if (axis.min === undefined && !(includeZero && lo === 0)) lo -= pad;
      if (!(hi > lo)) hi = lo + pad;
    }
    const step = niceStep(hi - lo, tickCount);
    if (axis.min === undefined) lo = Math.floor(lo / step + 1e-9) * step;
    if (axis.max === undefined) hi = Math.ceil(hi / step - 1e-9) * step;
    const d = decimalsOf(step);
    ticks = [];
    for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++) ticks.push(Number((k * step).toFixed(d)));
    fmt = (v) => (Math.abs(v) >= 1e4 ? fmtSi(v).replace(' ', '') : v.toFixed(d));
    t = (v) => v;
  }
  if (axis.ticks) ticks = axis.ticks.filter((v) => Number.isFinite(v) && v >= lo - 1e-12 && v <= hi + 1e-12 && (kind !== 'log' || v > 0));
  const t0 = t(lo);
  const span = t(hi) - t0 || 1;
  return {
    kind,
    domain: [lo, hi],
    ticks,
    map: (v: number) => r0 + ((t(kind === 'log' ? Math.max(v, lo) : v) - t0) / span) * (r1 - r0),
    label: axis.format ?? fmt,
  };
}

/** Gridlines and tick labels of a vertical (y) axis spanning x0..x1. */
function yAxis(s: Scale, x0: number, x1: number): string {
  const out: string[] = [];
  for (const v of s.ticks) {
    const y = s.map(v);
    out.push(`<line x1="${c(x0)}" y1="${c(y)}" x2="${c(x1)}" y2="${c(y)}" stroke="#e3e3e3"/>`);
    out.push(text(x0 - 6, y + 4, s.label(v), 'text-anchor="end" fill="#555"'));
  }
  return out.join('');
}

/** Gridlines and tick labels of a horizontal (x) axis spanning y0..y1 (labels below y1). */
function xAxis(s: Scale, y0: number, y1: number): string {
  const out: string[] = [];
  let lastRight = -Infinity;
  for (const v of [...s.ticks].sort((a, b) => a - b)) {
    const x = s.map(v);
    out.push(`<line x1="${c(x)}" y1="${c(y0)}" x2="${c(x)}" y2="${c(y1)}" stroke="#e3e3e3"/>`);
    // ticks that crowd (98 % next to 99 %) keep their gridline but drop a label that would overlap
    const w = textWidth(s.label(v));
    if (x - w / 2 < lastRight + 4) continue;
    lastRight = x + w / 2;
    out.push(text(x, y1 + 16, s.label(v), 'text-anchor="middle" fill="#555"'));
  }
  return out.join('');
}

function tickLabelWidth(s: Scale): number {
  return Math.max(0, ...s.ticks.map((v) => textWidth(s.label(v))));
}

// ---------------------------------------------------------------------------------------------
// Legend and markers
// ---------------------------------------------------------------------------------------------

type MarkerShape = 'circle' | 'square' | 'triangle' | 'diamond';
const SHAPES: MarkerShape[] = ['circle', 'square', 'triangle', 'diamond'];

function marker(shape: MarkerShape, x: number, y: number, color: string, r = 4, tip = ''): string {
  let tag: string;
  let attrs: string;
  switch (shape) {
    case 'circle':
      [tag, attrs] = ['circle', `cx="${c(x)}" cy="${c(y)}" r="${r}"`];
      break;
    case 'square':
      [tag, attrs] = ['rect', `x="${c(x - r)}" y="${c(y - r)}" width="${2 * r}" height="${2 * r}"`];
      break;
    case 'triangle':
      [tag, attrs] = ['path', `d="M${c(x)} ${c(y - r * 1.2)}L${c(x + r * 1.1)} ${c(y + r * 0.8)}L${c(x - r * 1.1)} ${c(y + r * 0.8)}Z"`];
      break;
    case 'diamond':
      [tag, attrs] = ['path', `d="M${c(x)} ${c(y - r * 1.25)}L${c(x + r * 1.25)} ${c(y)}L${c(x)} ${c(y + r * 1.25)}L${c(x - r * 1.25)} ${c(y)}Z"`];
      break;
  }
  return tip ? `<${tag} ${attrs} fill="${color}"><title>${escapeXml(tip)}</title></${tag}>` : `<${tag} ${attrs} fill="${color}"/>`;
}

interface LegendItem {
  label: string;
  color: string;
  kind: 'swatch' | 'line' | 'dash';
  shape?: MarkerShape;
}

/** Legend items laid out left to right from (x0, y0), wrapping at x0 + width. Returns the markup and its height. */
function legend(items: LegendItem[], x0: number, y0: number, width: number): { svg: string; height: number } {
  if (items.length === 0) return { svg: '', height: 0 };
  const rowH = 18;
  const maxLabel = Math.max(60, width - 30);
  const out: string[] = [];
  let x = x0;
  let y = y0 + 9;
  for (const it of items) {
    const label = fitText(it.label, maxLabel);
    const w = 26 + textWidth(label) + 16;
    if (x > x0 && x + w > x0 + width) {
      x = x0;
      y += rowH;
    }
    if (it.kind === 'swatch') out.push(`<rect x="${c(x)}" y="${c(y - 6)}" width="14" height="12" rx="2" fill="${it.color}"/>`);
    else {
      const dash = it.kind === 'dash' ? ' stroke-dasharray="5 3"' : '';
      out.push(`<line x1="${c(x)}" y1="${c(y)}" x2="${c(x + 20)}" y2="${c(y)}" stroke="${it.color}" stroke-width="2"${dash}/>`);
      if (it.shape) out.push(marker(it.shape, x + 10, y, it.color, 3.5));
    }
    out.push(text(x + 26, y + 4, it.label, '', maxLabel));
    x += w;
  }
  return { svg: `<g class="legend">${out.join('')}</g>`, height: y - y0 + 9 };
}

// ---------------------------------------------------------------------------------------------
// Line plot
// ---------------------------------------------------------------------------------------------

/** One curve: points joined in x order, each with an optional ± error bar. */
export interface LineSeries {
  label: string;
  points: Array<{ x: number; y: number; err?: number }>;
  color?: string;
}

/** A horizontal reference line (e.g. the dense model's accuracy) with an optional ± band. */
export interface RefLine {
  y: number;
  label: string;
  band?: number;
  color?: string;
}

export interface LinePlotOptions {
  /** Accessible name of the chart (aria-label and tooltip). */
  title: string;
  x: AxisSpec;
  y: AxisSpec;
  series: LineSeries[];
  refLines?: RefLine[];
  /** Tooltip text of a point; default "label: x, y". */
  pointTip?: (series: LineSeries, p: { x: number; y: number; err?: number }) => string;
  width?: number;
  height?: number;
}

/** A line plot: one polyline with markers per series, error bars, dashed reference lines, legend below. */
export function linePlot(o: LinePlotOptions): string {
  const W = o.width ?? 720;
  const plotH = (o.height ?? 360) - 70;
  const top = 12;
  const ys: number[] = [];
  for (const s of o.series) for (const p of s.points) ys.push(p.y - (p.err ?? 0), p.y + (p.err ?? 0));
  for (const r of o.refLines ?? []) ys.push(r.y - (r.band ?? 0), r.y + (r.band ?? 0));
  const xs = o.series.flatMap((s) => s.points.map((p) => p.x));
  const yScale = makeScale(o.y, ys, top + plotH, top);
  const ml = 30 + tickLabelWidth(yScale) + 8;
  const mr = 24;
  const xScale = makeScale(o.x, xs, ml + 10, W - mr - 10);
  const bottom = top + plotH;
  const out: string[] = [];
  out.push(yAxis(yScale, ml, W - mr));
  out.push(xAxis(xScale, top, bottom));
  out.push(`<rect x="${c(ml)}" y="${top}" width="${c(W - mr - ml)}" height="${c(plotH)}" fill="none" stroke="#999"/>`);
  out.push(text(ml + (W - mr - ml) / 2, bottom + 36, o.x.label, 'text-anchor="middle"'));
  out.push(text(0, 0, o.y.label, `text-anchor="middle" transform="translate(14 ${c(top + plotH / 2)}) rotate(-90)"`, plotH));

  const items: LegendItem[] = [];
  (o.refLines ?? []).forEach((r) => {
    const col = r.color ?? '#444';
    const y = yScale.map(r.y);
    if (r.band && r.band > 0) {
      const y1 = yScale.map(r.y + r.band);
      const y2 = yScale.map(r.y - r.band);
      out.push(`<rect x="${c(ml)}" y="${c(y1)}" width="${c(W - mr - ml)}" height="${c(Math.max(0.5, y2 - y1))}" fill="${col}" fill-opacity="0.1"/>`);
    }
    out.push(`<line x1="${c(ml)}" y1="${c(y)}" x2="${c(W - mr)}" y2="${c(y)}" stroke="${col}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    items.push({ label: r.label, color: col, kind: 'dash' });
  });
  const tip = o.pointTip ?? ((s, p) => `${s.label}: ${xScale.label(p.x)}, ${yScale.label(p.y)}`);
  o.series.forEach((s, i) => {
    const col = s.color ?? PALETTE[i % PALETTE.length]!;
    const shape = SHAPES[i % SHAPES.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    const g: string[] = [];
    if (pts.length > 1) g.push(`<polyline fill="none" stroke="${col}" stroke-width="2" stroke-linejoin="round" points="${pts.map((p) => `${c(xScale.map(p.x))},${c(yScale.map(p.y))}`).join(' ')}"/>`);
    for (const p of pts) {
      const x = xScale.map(p.x);
      if (p.err !== undefined && p.err > 0) {
        const ya = yScale.map(p.y + p.err);
        const yb = yScale.map(p.y - p.err);
        g.push(`<path d="M${c(x)} ${c(ya)}V${c(yb)}M${c(x - 4)} ${c(ya)}H${c(x + 4)}M${c(x - 4)} ${c(yb)}H${c(x + 4)}" stroke="${col}" stroke-width="1.2" fill="none"/>`);
      }
      g.push(marker(shape, x, yScale.map(p.y), col, 4, tip(s, p)));
    }
    out.push(`<g class="series">${g.join('')}</g>`);
    items.push({ label: s.label, color: col, kind: 'line', shape });
  });
  const lg = legend(items, ml, bottom + 48, W - ml - mr);
  const H = bottom + 48 + lg.height + 8;
  return `${svgOpen(W, H, o.title)}${out.join('')}${lg.svg}</svg>`;
}

// ---------------------------------------------------------------------------------------------
// Bar charts
// ---------------------------------------------------------------------------------------------

/** One bar. */
export interface Bar {
  label: string;
  value: number;
  color?: string;
  /** Text shown at the bar's end; default the axis format of the value. */
  note?: string;
}

export interface BarChartOptions {
  title: string;
  bars: Bar[];
  /** The value axis. */
  axis: AxisSpec;
  /** Default 'horizontal' (one row per bar, labels on the left). */
  orientation?: 'horizontal' | 'vertical';
  width?: number;
  /** Only for vertical charts (horizontal ones grow with the number of bars). */
  height?: number;
}

/** A single-series bar chart; bars start at 0 (linear) or at the bottom of the domain (log). */
export function barChart(o: BarChartOptions): string {
  const W = o.width ?? 720;
  const values = o.bars.map((b) => b.value);
  const note = (b: Bar, s: Scale) => b.note ?? s.label(b.value);
  const out: string[] = [];
  if ((o.orientation ?? 'horizontal') === 'horizontal') {
    const rowH = 24;
    const top = 8;
    const labelW = Math.min(Math.max(40, ...o.bars.map((b) => textWidth(b.label))), W * 0.28);
    const x0 = labelW + 14;
    const probe = makeScale(o.axis, values, 0, 1, 5, true);
    const noteW = Math.max(30, ...o.bars.map((b) => textWidth(note(b, probe), 11))) + 10;
    const x1 = W - noteW;
    const s = makeScale(o.axis, values, x0, x1, 5, true);
    const bottom = top + o.bars.length * rowH;
    out.push(xAxis(s, top, bottom));
    const base = s.map(s.kind === 'log' ? s.domain[0] : Math.max(s.domain[0], 0));
    o.bars.forEach((b, i) => {
      const y = top + i * rowH;
      const col = b.color ?? PALETTE[0]!;
      const xv = s.map(b.value);
      const [xa, xb] = xv >= base ? [base, xv] : [xv, base];
      out.push(text(x0 - 8, y + rowH / 2 + 4, b.label, 'text-anchor="end"', labelW));
      out.push(`<rect x="${c(xa)}" y="${c(y + 4)}" width="${c(Math.max(xb - xa, 0.5))}" height="${rowH - 8}" rx="2" fill="${col}"><title>${escapeXml(`${b.label}: ${note(b, s)}`)}</title></rect>`);
      out.push(text(xb + 5, y + rowH / 2 + 4, note(b, s), 'fill="#333"', undefined, 11));
    });
    out.push(`<line x1="${c(base)}" y1="${top}" x2="${c(base)}" y2="${c(bottom)}" stroke="#666"/>`);
    out.push(text(x0 + (x1 - x0) / 2, bottom + 36, o.axis.label, 'text-anchor="middle"'));
    return `${svgOpen(W, bottom + 46, o.title)}${out.join('')}</svg>`;
  }
  const H = o.height ?? 300;
  const top = 18;
  const bottom = H - 48;
  const s = makeScale(o.axis, values, bottom, top, 5, true);
  const ml = 30 + tickLabelWidth(s) + 8;
  const x1 = W - 12;
  out.push(yAxis(s, ml, x1));
  const slot = (x1 - ml) / Math.max(1, o.bars.length);
  const bw = Math.min(slot * 0.7, 60);
  const base = s.map(s.kind === 'log' ? s.domain[0] : Math.max(s.domain[0], 0));
  o.bars.forEach((b, i) => {
    const cx = ml + slot * (i + 0.5);
    const yv = s.map(b.value);
    const [ya, yb] = yv <= base ? [yv, base] : [base, yv];
    const col = b.color ?? PALETTE[0]!;
    out.push(`<rect x="${c(cx - bw / 2)}" y="${c(ya)}" width="${c(bw)}" height="${c(Math.max(yb - ya, 0.5))}" rx="2" fill="${col}"><title>${escapeXml(`${b.label}: ${note(b, s)}`)}</title></rect>`);
    if (slot >= 26) out.push(text(cx, ya - 4, note(b, s), 'text-anchor="middle" fill="#333"', slot, 10));
    out.push(text(cx, bottom + 16, b.label, 'text-anchor="middle"', slot - 4));
  });
  out.push(`<line x1="${c(ml)}" y1="${c(base)}" x2="${c(x1)}" y2="${c(base)}" stroke="#666"/>`);
  out.push(text(0, 0, o.axis.label, `text-anchor="middle" transform="translate(14 ${c((top + bottom) / 2)}) rotate(-90)"`, bottom - top));
  return `${svgOpen(W, H, o.title)}${out.join('')}</svg>`;
}

/** One stacked bar: segments keyed by {@link StackedBarOptions.keys}. */
export interface StackedBar {
  label: string;
  segments: Array<{ key: string; value: number }>;
  /** Text after the bar; default the axis format of the total. */
  note?: string;
}

export interface StackedBarOptions {
  title: string;
  bars: StackedBar[];
  /** The segment kinds in stacking order, with their legend labels and colours. */
  keys: Array<{ key: string; label: string; color?: string }>;
  /** The value axis (linear; stacks have no meaning on a log scale). */
  axis: AxisSpec;
  /** Segment value in tooltips; default the axis format. */
  valueFormat?: (v: number) => string;
  width?: number;
}

/** Horizontal stacked bars, one row per bar, segments in `keys` order, legend below. */
export function stackedBarChart(o: StackedBarOptions): string {
  const W = o.width ?? 720;
  const rowH = 30;
  const top = 8;
  const colorOf = new Map(o.keys.map((k, i) => [k.key, k.color ?? PALETTE[i % PALETTE.length]!]));
  const labelOf = new Map(o.keys.map((k) => [k.key, k.label]));
  const order = new Map(o.keys.map((k, i) => [k.key, i]));
  const totals = o.bars.map((b) => b.segments.reduce((a, g) => a + Math.max(0, g.value), 0));
  const axis: AxisSpec = { ...o.axis, scale: 'linear' };
  const probe = makeScale(axis, totals, 0, 1, 5, true);
  const noteOf = (b: StackedBar, i: number) => b.note ?? probe.label(totals[i]!);
  const labelW = Math.min(Math.max(40, ...o.bars.map((b) => textWidth(b.label))), W * 0.28);
  const x0 = labelW + 14;
  const noteW = Math.max(30, ...o.bars.map((b, i) => textWidth(noteOf(b, i), 11))) + 10;
  const x1 = W - noteW;
  const s = makeScale(axis, totals, x0, x1, 5, true);
  const bottom = top + o.bars.length * rowH;
  const out: string[] = [xAxis(s, top, bottom)];
  o.bars.forEach((b, i) => {
    const y = top + i * rowH;
    out.push(text(x0 - 8, y + rowH / 2 + 4, b.label, 'text-anchor="end"', labelW));
    let acc = 0;
    const segs = [...b.segments].sort((p, q) => (order.get(p.key) ?? 99) - (order.get(q.key) ?? 99));
    for (const g of segs) {
      if (!(g.value > 0)) continue;
      const xa = s.map(acc);
      const xb = s.map(acc + g.value);
      acc += g.value;
      const tip = `${b.label} — ${labelOf.get(g.key) ?? g.key}: ${(o.valueFormat ?? s.label)(g.value)}`;
      out.push(`<rect x="${c(xa)}" y="${c(y + 5)}" width="${c(Math.max(xb - xa, 0.5))}" height="${rowH - 10}" fill="${colorOf.get(g.key) ?? '#888'}" stroke="#fff" stroke-width="0.5"><title>${escapeXml(tip)}</title></rect>`);
    }
    out.push(text(s.map(acc) + 5, y + rowH / 2 + 4, noteOf(b, i), 'fill="#333"', undefined, 11));
  });
  out.push(`<line x1="${c(x0)}" y1="${top}" x2="${c(x0)}" y2="${c(bottom)}" stroke="#666"/>`);
  out.push(text(x0 + (x1 - x0) / 2, bottom + 36, o.axis.label, 'text-anchor="middle"'));
  const lg = legend(
    o.keys.map((k) => ({ label: k.label, color: colorOf.get(k.key)!, kind: 'swatch' as const })),
    x0,
    bottom + 46,
    W - x0 - 10,
  );
  return `${svgOpen(W, bottom + 46 + lg.height + 8, o.title)}${out.join('')}${lg.svg}</svg>`;
}

export interface GroupedBarOptions {
  title: string;
  /** One group per category (e.g. batch size); `values[i]` belongs to `series[i]`, null = not measured. */
  groups: Array<{ label: string; values: Array<number | null> }>;
  series: Array<{ label: string; color?: string }>;
  /** The value axis (linear or log). */
  axis: AxisSpec;
  /** Title under the category axis. */
  groupAxisLabel?: string;
  /** Text above each bar (when there is room); default the axis format. */
  valueFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

/** Vertical grouped bars: one cluster per group, one bar per series, legend below. */
export function groupedBarChart(o: GroupedBarOptions): string {
  const W = o.width ?? 720;
  const H0 = o.height ?? 340;
  const top = 18;
  const bottom = H0 - 70;
  const values = o.groups.flatMap((g) => g.values.filter((v): v is number => v !== null));
  const s = makeScale(o.axis, values, bottom, top, 5, true);
  const vf = o.valueFormat ?? s.label;
  const ml = 30 + tickLabelWidth(s) + 8;
  const x1 = W - 12;
  const out: string[] = [yAxis(s, ml, x1)];
  const slot = (x1 - ml) / Math.max(1, o.groups.length);
  const n = Math.max(1, o.series.length);
  const bw = Math.min((slot * 0.8) / n, 48);
  const base = s.map(s.kind === 'log' ? s.domain[0] : Math.max(s.domain[0], 0));
  const colors = o.series.map((se, i) => se.color ?? PALETTE[i % PALETTE.length]!);
  o.groups.forEach((g, gi) => {
    const cx = ml + slot * (gi + 0.5);
    const start = cx - (bw * n) / 2;
    g.values.forEach((v, si) => {
      if (v === null || si >= n || !Number.isFinite(v)) return;
      const x = start + si * bw;
      const yv = s.map(v);
      const [ya, yb] = yv <= base ? [yv, base] : [base, yv];
      const tip = `${g.label} — ${o.series[si]!.label}: ${vf(v)}`;
      out.push(`<rect x="${c(x + 1)}" y="${c(ya)}" width="${c(Math.max(bw - 2, 1))}" height="${c(Math.max(yb - ya, 0.5))}" rx="1.5" fill="${colors[si]}"><title>${escapeXml(tip)}</title></rect>`);
      if (bw >= 24) out.push(text(x + bw / 2, ya - 4, vf(v), 'text-anchor="middle" fill="#333"', bw + 4, 9));
    });
    out.push(text(cx, bottom + 16, g.label, 'text-anchor="middle"', slot - 4));
  });
  out.push(`<line x1="${c(ml)}" y1="${c(base)}" x2="${c(x1)}" y2="${c(base)}" stroke="#666"/>`);
  if (o.groupAxisLabel) out.push(text(ml + (x1 - ml) / 2, bottom + 36, o.groupAxisLabel, 'text-anchor="middle"'));
  out.push(text(0, 0, o.axis.label, `text-anchor="middle" transform="translate(14 ${c((top + bottom) / 2)}) rotate(-90)"`, bottom - top));
  const lg = legend(
    o.series.map((se, i) => ({ label: se.label, color: colors[i]!, kind: 'swatch' as const })),
    ml,
    bottom + 46,
    x1 - ml,
  );
  return `${svgOpen(W, bottom + 46 + lg.height + 8, o.title)}${out.join('')}${lg.svg}</svg>`;
}
