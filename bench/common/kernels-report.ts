/**
 * Results of bench/kernels.ts: their types, the target checks, and the text report. Nothing
 * here measures; it only reads cells.
 */
import type { SideStats } from '../../lib/infer/sides.js';
import type { PeerLayout } from './onnx-matmul.js';

export type FormatKind = 'dense' | 'csr' | 'nm' | 'bsr';

export interface FormatSpec {
  /** Stable id used on the command line and in JSON: dense, csr90, nm24, bsr4x1, ... */
  id: string;
  /** Row label in the tables. */
  label: string;
  kind: FormatKind;
  /** Target sparsity (fraction of zero weights). */
  sparsity: number;
  /** How the zeros are placed. */
  pattern: string;
  blockRows?: number;
}

export interface Verification {
  /** max |ours - ORT| / rms(ORT), over every peer layout checked. */
  maxRelErr: number;
  ok: boolean;
}

export interface SpmvBandwidth {
  /** Bytes an SpMV streams: nnz * (4 + index bytes) + 4 * rows (row pointers) + 4 * (cols + rows) (x, y). */
  bytes: number;
  gbPerS: number;
  /** gbPerS / measured streaming bandwidth. */
  fraction: number;
  /** Whether those bytes exceed the last-level cache (else the target does not apply). */
  largerThanCache: boolean;
}

export interface Cell {
  m: number;
  k: number;
  n: number;
  threads: number;
  format: string;
  label: string;
  kind: FormatKind;
  /** Actual fraction of zero weights in the matrix (stored entries / (m * k), for 2:4 and BSR too). */
  sparsity: number;
  pattern: string;
  nnz: number;
  ours: SideStats;
  /** The peer in each layout measured. */
  ort: Partial<Record<PeerLayout, SideStats>>;
  /** The faster ORT layout, used for the ratio. */
  peerLayout: PeerLayout;
  oursUs: number;
  ortUs: number;
  /** ORT median / our median: > 1 means sparsenn is faster. */
  ratio: number;
  /** Our single-thread time sampled in the same cell (2-thread cells of large shapes only). */
  ours1T?: SideStats;
  verify?: Verification;
  /** 1-minute load average when the cell finished (other processes share the cores). */
  load1: number;
  spmv?: SpmvBandwidth;
}

export interface BandwidthProbe {
  what: string;
  threads: number;
  bytes: number;
  us: number;
  gbPerS: number;
}

export interface Bandwidth {
  /** Last-level cache size used for "larger than the cache" (bytes). */
  cacheBytes: number;
  probes: BandwidthProbe[];
  /** The best single-thread streaming read bandwidth measured (GB/s, 1e9 bytes). */
  measuredGbPerS: number;
  measuredBy: string;
  /** An SpMV on a matrix several times the cache (single thread). */
  spmvProbe?: { m: number; k: number; sparsity: number; nnz: number } & SpmvBandwidth & { us: number };
}

export interface TargetResult {
  id: string;
  description: string;
  threshold: number;
  /** Every cell the target applies to. */
  checks: { where: string; value: number; holds: boolean; detail: string; applies: boolean }[];
  holds: boolean;
}

/** Shapes with at least this many weights (8 MiB of fp32) count as large for thread scaling. */
export const LARGE_SHAPE_WEIGHTS = 1 << 21;

export const isLarge = (c: { m: number; k: number }): boolean => c.m * c.k >= LARGE_SHAPE_WEIGHTS;

// ---------------------------------------------------------------------------------------------
// Target checks

const shapeName = (c: { m: number; k: number }): string => `${c.m}x${c.k}`;

function ratioTarget(cells: readonly Cell[], id: string, description: string, threshold: number, pick: (c: Cell) => boolean): TargetResult {
  const checks = cells.filter(pick).map((c) => ({
    where: `${shapeName(c)} ${c.label} N=${c.n} ${c.threads}T`,
    value: c.ratio,
    holds: c.ratio >= threshold,
    detail: `${fmtRatio(c.ratio)} (ours ${fmtUs(c.oursUs)} µs, ORT ${fmtUs(c.ortUs)} µs)`,
    applies: true,
  }));
  return { id, description, threshold, checks, holds: checks.every((x) => x.holds) };
}

const singleMid = (format: string) => (c: Cell) => c.format === format && c.threads === 1 && (c.n === 32 || c.n === 64);

/** The issue's targets, checked against every cell they apply to. */
export function evaluateTargets(cells: readonly Cell[], bw: Bandwidth): TargetResult[] {
  const out: TargetResult[] = [
    ratioTarget(cells, 'csr70', 'CSR at 70% ≥ 2× ORT dense (1 thread, N = 32–64)', 2, singleMid('csr70')),
    ratioTarget(cells, 'csr90', 'CSR at 90% ≥ 6× ORT dense (1 thread, N = 32–64)', 6, singleMid('csr90')),
    ratioTarget(cells, 'csr95', 'CSR at 95% ≥ 10× ORT dense (1 thread, N = 32–64)', 10, singleMid('csr95')),
    ratioTarget(cells, 'csr90-n1', 'CSR at 90%, N = 1 ≥ 4× ORT dense (1 thread)', 4, (c) => c.format === 'csr90' && c.threads === 1 && c.n === 1),
    ratioTarget(cells, 'nm24', '2:4 ≥ 1.3× ORT dense (1 thread, N = 32–64)', 1.3, singleMid('nm24')),
    ratioTarget(cells, 'dense', 'our dense GEMM ≥ 0.8× ORT dense (1 thread, N = 32–64)', 0.8, singleMid('dense')),
  ];

  const spmvChecks = cells
    .filter((c) => c.spmv !== undefined && c.threads === 1)
    .map((c) => {
      const s = c.spmv!;
      return {
        where: `${shapeName(c)} ${c.label} N=1 1T`,
        value: s.fraction,
        holds: !s.largerThanCache || s.fraction >= 0.7,
        applies: s.largerThanCache,
        detail: `${s.gbPerS.toFixed(1)} GB/s = ${pct(s.fraction)} of ${bw.measuredGbPerS.toFixed(1)} GB/s (${mib(s.bytes)} streamed${s.largerThanCache ? '' : ', fits in the cache: target n/a'})`,
      };
    });
  const p = bw.spmvProbe;
  if (p !== undefined) {
    spmvChecks.push({
      where: `probe ${p.m}x${p.k} csr${Math.round(p.sparsity * 100)} N=1 1T`,
      value: p.fraction,
      holds: !p.largerThanCache || p.fraction >= 0.7,
      applies: p.largerThanCache,
      detail: `${p.gbPerS.toFixed(1)} GB/s = ${pct(p.fraction)} of ${bw.measuredGbPerS.toFixed(1)} GB/s (${mib(p.bytes)} streamed, ${fmtUs(p.us)} µs)`,
    });
  }
  out.push({
    id: 'spmv-bandwidth',
    description: 'SpMV ≥ 70% of the measured memory bandwidth, matrices larger than the cache (1 thread)',
    threshold: 0.7,
    checks: spmvChecks,
    holds: spmvChecks.every((x) => x.holds),
  });

  const scaling = scalingRows(cells).map((r) => ({
    where: `${shapeName(r.cell)} ${r.cell.label} N=${r.cell.n}`,
    value: r.speedup,
    holds: r.speedup >= 1.8,
    applies: true,
    detail: `${r.speedup.toFixed(2)}× (1T ${fmtUs(r.t1)} µs, 2T ${fmtUs(r.t2)} µs)`,
  }));
  out.push({
    id: 'scaling',
    description: `2 threads ≥ 1.8× one thread on the large shapes (≥ ${LARGE_SHAPE_WEIGHTS / (1 << 20)}M weights; both sampled in the same cell)`,
    threshold: 1.8,
    checks: scaling,
    holds: scaling.every((x) => x.holds),
  });
  return out;
}

export function scalingRows(cells: readonly Cell[]): { cell: Cell; t1: number; t2: number; speedup: number }[] {
  return cells
    .filter((c) => c.threads === 2 && c.ours1T !== undefined)
    .map((c) => ({ cell: c, t1: c.ours1T!.medianUs, t2: c.oursUs, speedup: c.ours1T!.medianUs / c.oursUs }));
}

// ---------------------------------------------------------------------------------------------
// Text

export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return '—';
  if (us < 10) return us.toFixed(2);
  if (us < 100) return us.toFixed(1);
  return Math.round(us).toString();
}

export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return '—';
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}×`;
}

const pct = (f: number): string => `${(f * 100).toFixed(0)}%`;
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (i === 0 ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** One table per (shape, threads): rows = formats, columns = N, cells = ratio× (ours / ORT µs). */
export function formatGrids(cells: readonly Cell[], formats: readonly FormatSpec[]): string {
  const groups = new Map<string, Cell[]>();
  for (const c of cells) {
    const key = `${c.m}x${c.k}/${c.threads}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(c);
  }
  const parts: string[] = [];
  for (const group of groups.values()) {
    const { m, k, threads } = group[0];
    const ns = [...new Set(group.map((c) => c.n))].sort((a, b) => a - b);
    const rows: string[][] = [];
    for (const f of formats) {
      const row = ns.map((n) => {
        const c = group.find((x) => x.format === f.id && x.n === n);
        if (c === undefined) return '';
        const bad = c.verify !== undefined && !c.verify.ok ? ' MISMATCH' : '';
        return `${fmtRatio(c.ratio)} (${fmtUs(c.oursUs)}/${fmtUs(c.ortUs)})${bad}`;
      });
      if (row.some((v) => v !== '')) rows.push([f.label, ...row]);
    }
    parts.push(`### ${m}x${k}, ${threads} thread${threads > 1 ? 's' : ''}\n\n` + table(['format', ...ns.map((n) => `N=${n}`)], rows));
  }
  return parts.join('\n\n');
}

export function formatScaling(cells: readonly Cell[], formats: readonly FormatSpec[]): string {
  const rows = scalingRows(cells);
  if (rows.length === 0) return '(no 2-thread cells on large shapes in this run)';
  const parts: string[] = [];
  const shapes = [...new Set(rows.map((r) => `${r.cell.m}x${r.cell.k}`))];
  for (const s of shapes) {
    const mine = rows.filter((r) => `${r.cell.m}x${r.cell.k}` === s);
    const ns = [...new Set(mine.map((r) => r.cell.n))].sort((a, b) => a - b);
    const body: string[][] = [];
    for (const f of formats) {
      const row = ns.map((n) => {
        const r = mine.find((x) => x.cell.format === f.id && x.cell.n === n);
        return r === undefined ? '' : `${r.speedup.toFixed(2)}×${r.speedup >= 1.8 ? '' : ' ✗'} (${fmtUs(r.t1)}/${fmtUs(r.t2)})`;
      });
      if (row.some((v) => v !== '')) body.push([f.label, ...row]);
    }
    parts.push(`### ${s}: our 2-thread speedup (1T µs / 2T µs)\n\n` + table(['format', ...ns.map((n) => `N=${n}`)], body));
  }
  return parts.join('\n\n');
}

export function formatBandwidth(bw: Bandwidth, cells: readonly Cell[]): string {
  const lines = [`Last-level cache: ${mib(bw.cacheBytes)}. Streaming read probes:`];
  for (const p of bw.probes) lines.push(`- ${p.what}, ${p.threads}T: ${p.gbPerS.toFixed(1)} GB/s (${mib(p.bytes)} in ${fmtUs(p.us)} µs)`);
  lines.push(`Measured bandwidth (best single-thread probe): ${bw.measuredGbPerS.toFixed(1)} GB/s — ${bw.measuredBy}`);
  const spmv = cells.filter((c) => c.spmv !== undefined);
  if (spmv.length > 0 || bw.spmvProbe !== undefined) {
    lines.push('', 'SpMV (N = 1) bandwidth = streamed bytes / our median time:');
    const rows = spmv.map((c) => [
      `${c.m}x${c.k} ${c.label}`,
      `${c.threads}`,
      mib(c.spmv!.bytes),
      fmtUs(c.oursUs),
      c.spmv!.gbPerS.toFixed(1),
      pct(c.spmv!.fraction),
      c.spmv!.largerThanCache ? 'no' : 'yes',
    ]);
    const p = bw.spmvProbe;
    if (p !== undefined) rows.push([`probe ${p.m}x${p.k} csr${Math.round(p.sparsity * 100)}`, '1', mib(p.bytes), fmtUs(p.us), p.gbPerS.toFixed(1), pct(p.fraction), p.largerThanCache ? 'no' : 'yes']);
    lines.push(table(['matrix', 'threads', 'streamed', 'ours µs', 'GB/s', 'of measured', 'fits in cache'], rows));
  }
  return lines.join('\n');
}

export function formatTargets(targets: readonly TargetResult[]): string {
  const lines: string[] = [];
  for (const t of targets) {
    const applying = t.checks.filter((c) => c.applies);
    const missed = t.checks.filter((c) => !c.holds);
    const status = applying.length === 0 ? 'NOT EVALUATED (no cell in this run)' : t.holds ? `HOLDS (${applying.length}/${applying.length} cells)` : `MISSED in ${missed.length} of ${applying.length} cells`;
    lines.push(`- ${t.description}: ${status}`);
    // Ratio targets are few cells each: show them all. Scaling lists only its misses.
    const shown = t.id === 'scaling' ? missed : t.checks;
    for (const c of shown) lines.push(`    ${c.holds ? (c.applies ? 'ok  ' : 'n/a ') : 'MISS'} ${c.where}: ${c.detail}`);
  }
  return lines.join('\n');
}

export function formatVerification(cells: readonly Cell[]): string {
  const checked = cells.filter((c) => c.verify !== undefined);
  const bad = checked.filter((c) => !c.verify!.ok);
  const worst = Math.max(0, ...checked.map((c) => c.verify!.maxRelErr));
  const head = `${checked.length} (shape, format, N) results checked against ORT: ${bad.length === 0 ? 'all agree' : `${bad.length} DISAGREE`} (worst max|diff|/rms = ${worst.toExponential(1)})`;
  return [head, ...bad.map((c) => `  MISMATCH ${c.m}x${c.k} ${c.label} N=${c.n}: ${c.verify!.maxRelErr.toExponential(2)}`)].join('\n');
}
