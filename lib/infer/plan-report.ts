/** What session.plan() shows: the steps, each layer's format choice and the timings behind it. */

export interface PlanLayer {
  /** The product's layer (module name) and the layers folded into it (batch norm, ReLU). */
  name: string;
  fused: string[];
  kind: 'linear' | 'conv';
  /** Weight matrix per group: rows x cols; groups > 1 for grouped convolutions. */
  rows: number;
  cols: number;
  groups: number;
  nnz: number;
  density: number;
  /** Columns multiplied per sample (1 for a Linear, output positions for a conv). */
  positions: number;
  /** Per expected batch size: the chosen format. */
  formats: Record<string, string>;
  /** Per expected batch size: median milliseconds of each timed format (empty when forced). */
  timings: Record<string, Record<string, number>>;
  /** 'timed' (fastest measured), or 'forced' (CompileOptions.formats). */
  reason: 'timed' | 'forced';
}

export interface PlanReport {
  inputs: Array<{ name: string; shape: number[] }>;
  outputs: Array<{ name: string; shape: number[] }>;
  batchSizes: number[];
  layers: PlanLayer[];
  /** Every step in run order: 'product fc1 (+relu1)', 'maxpool pool1', 'module norm' ... */
  steps: string[];
  /** Units removed because nothing they compute reaches an output, by layer (original indices). */
  removedUnits: Record<string, number[]>;
  /** Units whose constant output was folded into the next layers' biases before removal. */
  foldedUnits: Record<string, number[]>;
  /** The ISA and thread count the timings were taken with. */
  isa: string;
  threads: number;
  /** Where the session runs ('cuda': one device plan of the whole chain). */
  device: 'cpu' | 'cuda';
  /** Why a session asked for 'cuda' runs on the CPU (null otherwise). */
  deviceNote: string | null;
}

function pad(s: string, w: number): string {
  return s.length >= w ? s : s + ' '.repeat(w - s.length);
}

/** The plan as a table: one row per layer, the chosen format and the timings per batch size. */
export function formatPlan(r: PlanReport): string {
  const head = ['layer', 'shape', 'density', ...r.batchSizes.map((b) => `batch ${b}`)];
  const rows = r.layers.map((l) => [
    l.fused.length > 0 ? `${l.name} (+${l.fused.join(', ')})` : l.name,
    `${l.groups > 1 ? `${l.groups}x` : ''}${l.rows}x${l.cols}${l.positions > 1 ? ` @${l.positions}` : ''}`,
    `${(l.density * 100).toFixed(1)}%`,
    ...r.batchSizes.map((b) => {
      const f = l.formats[String(b)]!;
      const t = l.timings[String(b)]?.[f];
      const dense = l.timings[String(b)]?.['dense'];
      return t === undefined ? `${f} (${l.reason})` : `${f} ${t.toFixed(3)} ms${dense !== undefined && f !== 'dense' ? ` (dense ${dense.toFixed(3)})` : ''}`;
    }),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!)).join('  ');
  const out = [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  const removed = Object.entries(r.removedUnits).filter(([, v]) => v.length > 0);
  if (removed.length > 0) out.push('', `removed units: ${removed.map(([k, v]) => `${k} ${v.length}`).join(', ')}`);
  out.push('', `steps: ${r.steps.join(' -> ')}`, r.device === 'cuda' ? 'runs on the CUDA device' : `timed on ${r.isa}, ${r.threads} thread(s)`);
  if (r.deviceNote) out.push(r.deviceNote);
  return out.join('\n');
}
