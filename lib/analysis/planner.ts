/**
 * The latency / size planner: given a budget, propose each layer's sparsity and structure from
 * kernel speeds measured on this machine.
 *
 * For every prunable layer and every option (a structure at a sparsity) it estimates:
 * - latency: the layer's product timed with the kernel that structure runs on (CSR for
 *   unstructured, N:M, block-sparse, or dense when dense is faster) on a matrix of the layer's
 *   shape and density, for the layer's columns (batch x output positions), with the timing cache
 *   compile() uses;
 * - size: kept values at 4 bytes plus the mask at its entropy cost (N·H(p) bits unstructured,
 *   log2 C(M, N) bits per group for N:M, one bit per block for blocks);
 * - damage: the share of the layer's weight energy (Σ w²) the structure removes, computed on the
 *   layer's actual weights by the same magnitude rule the pruner uses.
 * A greedy search then starts from the dense model and repeatedly takes the move (one layer to
 * a sparser option) that buys the most of the budgeted quantity per unit of damage, until the
 * budget holds. The result says whether it was reached, and `applyPlan` prunes accordingly.
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import { defaultCachePath, KernelTimer, type TimingCache } from '../infer/timing.js';
import { MatrixKernel } from '../infer/layer-kernels.js';
import type { Module } from '../nn/module.js';
import { prune } from '../prune/pruner.js';
import { blocks, nm, unstructured } from '../prune/structures.js';
import { pruneTargets } from '../prune/targets.js';
import type { Structure } from '../prune/types.js';
import { BsrMatrix } from '../sparse/bsr.js';
import { CsrMatrix } from '../sparse/csr.js';
import { NmMatrix } from '../sparse/nm.js';
import type { MatrixBase } from '../tensor/base.js';
import { Matrix } from '../tensor/matrix.js';
import { sparsityReport } from '../prune/report.js';
import type { SampleShape } from '../nn/trace.js';

/** 'unstructured', 'N:M' (e.g. '2:4') or 'block RxC' (e.g. 'block 4x1'). */
export type PlanStructure = string;

export interface PlannerOptions {
  sampleShape?: SampleShape;
  /** Stop when the estimate is within these (at least one). */
  budget: { latencyMs?: number; sizeBytes?: number };
  /** The batch size the latency is planned for (default 1). */
  batchSize?: number;
  /** Structures to consider (default unstructured, 2:4, block 4x1). */
  structures?: PlanStructure[];
  /** Sparsities to consider for unstructured and block structures (default 0.5 … 0.98). */
  sparsities?: number[];
  /** Kernel timing cache (default: compile()'s per-machine cache; false for none). */
  timingCache?: TimingCache;
}

export interface LayerOption {
  structure: PlanStructure;
  sparsity: number;
  /** The kernel the estimate used: 'dense', 'csr', '2:4', 'bsr 4x1', … */
  format: string;
  latencyMs: number;
  bytes: number;
  /** Share of the layer's Σ w² removed (0 … 1). */
  damage: number;
}

export interface LayerPlan {
  /** Parameter name of the layer's weight, e.g. 'fc1.weight'. */
  name: string;
  shape: number[];
  /** Columns per product (batch x output positions). */
  columns: number;
  chosen: LayerOption;
  /** Every option measured, dense first. */
  options: LayerOption[];
}

export interface SparsityPlan {
  layers: LayerPlan[];
  /** Estimated totals of the chosen options (prunable layers only). */
  latencyMs: number;
  bytes: number;
  /** The dense estimates, for comparison. */
  denseLatencyMs: number;
  denseBytes: number;
  /** Whether every given budget is met by the estimate. */
  feasible: boolean;
  batchSize: number;
}

function entropyBits(n: number, p: number): number {
  if (p <= 0 || p >= 1) return 0;
  return n * -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
}

function log2Binomial(m: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log2((m - k + i) / i);
  return s;
}

/** The kept-weight mask the pruner's magnitude rule would give (per layer), as 0/1 over [rows, cols]. */
function keepMask(w: Float32Array, rows: number, cols: number, structure: PlanStructure, sparsity: number): Uint8Array {
  const keep = new Uint8Array(w.length);
  const nmMatch = /^(\d+):(\d+)$/.exec(structure);
  const block = /^block (\d+)x(\d+)$/.exec(structure);
  if (nmMatch) {
    const n = Number(nmMatch[1]);
    const m = Number(nmMatch[2]);
    for (let r = 0; r < rows; r++)
      for (let g = 0; g < cols; g += m) {
        const idx = Array.from({ length: Math.min(m, cols - g) }, (_, j) => r * cols + g + j).sort((a, b) => Math.abs(w[b]!) - Math.abs(w[a]!));
        for (const i of idx.slice(0, n)) keep[i] = 1;
      }
    return keep;
  }
  if (block) {
    const br = Number(block[1]);
    const bc = Number(block[2]);
    const bRows = Math.ceil(rows / br);
    const bCols = Math.ceil(cols / bc);
    const energy = new Float64Array(bRows * bCols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) energy[Math.floor(r / br) * bCols + Math.floor(c / bc)]! += w[r * cols + c]! ** 2;
    const order = Array.from(energy.keys()).sort((a, b) => energy[b]! - energy[a]!);
    const kept = new Uint8Array(energy.length);
    for (const b of order.slice(0, Math.round((1 - sparsity) * energy.length))) kept[b] = 1;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) keep[r * cols + c] = kept[Math.floor(r / br) * bCols + Math.floor(c / bc)]!;
    return keep;
  }
  const order = Array.from(w.keys()).sort((a, b) => Math.abs(w[b]!) - Math.abs(w[a]!));
  for (const i of order.slice(0, Math.round((1 - sparsity) * w.length))) keep[i] = 1;
  return keep;
}

function parseStructure(s: PlanStructure): { kind: 'unstructured' } | { kind: 'nm'; n: number; m: number } | { kind: 'block'; br: number; bc: number } {
  if (s === 'unstructured') return { kind: 'unstructured' };
  const nmMatch = /^(\d+):(\d+)$/.exec(s);
  if (nmMatch) return { kind: 'nm', n: Number(nmMatch[1]), m: Number(nmMatch[2]) };
  const block = /^block (\d+)x(\d+)$/.exec(s);
  if (block) return { kind: 'block', br: Number(block[1]), bc: Number(block[2]) };
  throw new SparsennTypeError('ERR_TYPE', `planner: a structure is 'unstructured', 'N:M' (e.g. '2:4') or 'block RxC' (e.g. 'block 4x1'); got '${s}'`);
}

/** Median ms of one product of the layer's weight matrix (one group) with `columns` columns. */
function timeProduct(timer: KernelTimer, format: string, matrices: MatrixBase[], columns: number): number {
  const m0 = matrices[0]!;
  const kernel = new MatrixKernel(format, matrices.map((m) => m.prepare()), { bias: null, relu: false }, 1);
  try {
    return timer.time(kernel, `${matrices.length}x${m0.rows}x${m0.cols}`, m0.cols, m0.rows, columns);
  } finally {
    kernel.dispose();
  }
}

/** Measures one option of one layer. */
function measureOption(timer: KernelTimer, w: Float32Array, rows: number, cols: number, columns: number, structure: PlanStructure, sparsity: number, denseMs: number): LayerOption {
  const st = parseStructure(structure);
  const keep = keepMask(w, rows, cols, structure, sparsity);
  const kept = new Float32Array(w.length);
  let nnz = 0;
  let energy = 0;
  let removed = 0;
  for (let i = 0; i < w.length; i++) {
    const e = w[i]! ** 2;
    energy += e;
    if (keep[i]) {
      kept[i] = w[i]!;
      nnz++;
    } else removed += e;
  }
  let matrices: MatrixBase[];
  let format: string;
  let maskBits: number;
  if (st.kind === 'nm') {
    matrices = [NmMatrix.fromDense(kept, rows, cols, { n: st.n, m: st.m })];
    format = structure;
    maskBits = Math.ceil(cols / st.m) * rows * log2Binomial(st.m, st.n);
  } else if (st.kind === 'block') {
    matrices = [BsrMatrix.fromDense(kept, rows, cols, { blockRows: st.br, blockCols: st.bc })];
    format = `bsr ${st.br}x${st.bc}`;
    maskBits = Math.ceil(rows / st.br) * Math.ceil(cols / st.bc);
  } else {
    matrices = [CsrMatrix.fromDense(kept, rows, cols)];
    format = 'csr';
    maskBits = entropyBits(w.length, nnz / w.length);
  }
  const ms = timeProduct(timer, format, matrices, columns);
  const faster = ms < denseMs;
  return { structure, sparsity, format: faster ? format : 'dense', latencyMs: Math.min(ms, denseMs), bytes: nnz * 4 + Math.ceil(maskBits / 8), damage: energy === 0 ? 0 : removed / energy };
}

/**
 * Proposes per-layer sparsity and structure for a latency and/or size budget (see the file
 * comment). Only the prunable layers (Linear, Conv2d weights) are planned and counted.
 */
export function planSparsity(model: Module, opts: PlannerOptions): SparsityPlan {
  if (opts === null || typeof opts !== 'object' || opts.budget === null || typeof opts.budget !== 'object')
    throw new SparsennTypeError('ERR_TYPE', 'planSparsity needs { budget: { latencyMs?, sizeBytes? } }');
  const { latencyMs: latencyBudget, sizeBytes: sizeBudget } = opts.budget;
  if (latencyBudget === undefined && sizeBudget === undefined) throw new SparsennTypeError('ERR_TYPE', 'planSparsity: give budget.latencyMs, budget.sizeBytes or both');
  for (const [k, v] of Object.entries(opts.budget))
    if (v !== undefined && !(typeof v === 'number' && v > 0)) throw new IndexRangeError('ERR_RANGE', `planSparsity: budget.${k} must be a positive number, got ${String(v)}`);
  const batch = opts.batchSize ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new IndexRangeError('ERR_RANGE', `planSparsity: batchSize must be a positive integer, got ${String(batch)}`);
  const structures = opts.structures ?? ['unstructured', '2:4', 'block 4x1'];
  const sparsities = opts.sparsities ?? [0.5, 0.7, 0.8, 0.9, 0.95, 0.98];
  for (const s of sparsities) if (!(s > 0 && s < 1)) throw new IndexRangeError('ERR_RANGE', `planSparsity: sparsities must be in (0, 1), got ${s}`);
  structures.forEach(parseStructure);

  // Output positions per sample of each layer (a conv's OH x OW; 1 for a Linear).
  const report = sparsityReport(model, opts.sampleShape === undefined ? {} : { sampleShape: [...(opts.sampleShape as number[])] });
  const positions = new Map(report.layers.map((l) => [l.name, l.positions] as const));
  const timer = new KernelTimer(opts.timingCache === undefined ? defaultCachePath() : opts.timingCache);
  const layers: LayerPlan[] = [];
  for (const t of pruneTargets(model)) {
    const p = t.param;
    const rows = p.shape[0]!;
    const cols = p.size / rows;
    const pos = positions.get(t.name) ?? null;
    if (pos === null) throw new SparsennTypeError('ERR_TYPE', `planSparsity: give sampleShape, to know the output positions of convolution '${t.name}'`);
    const columns = pos * batch;
    const w = p.data;
    const denseMs = timeProduct(timer, 'dense', [new Matrix(w.slice(), rows, cols)], columns);
    const options: LayerOption[] = [{ structure: 'dense', sparsity: 0, format: 'dense', latencyMs: denseMs, bytes: w.length * 4, damage: 0 }];
    for (const s of structures) {
      const st = parseStructure(s);
      if (st.kind === 'nm') {
        if (cols % st.m !== 0 && cols % st.m < st.n) continue;
        options.push(measureOption(timer, w, rows, cols, columns, s, 1 - st.n / st.m, denseMs));
      } else for (const sp of sparsities) options.push(measureOption(timer, w, rows, cols, columns, s, sp, denseMs));
    }
    layers.push({ name: t.name, shape: [...p.shape], columns, chosen: options[0]!, options });
  }
  timer.save();

  const total = () => ({ latency: layers.reduce((a, l) => a + l.chosen.latencyMs, 0), bytes: layers.reduce((a, l) => a + l.chosen.bytes, 0) });
  const met = (t: { latency: number; bytes: number }) => (latencyBudget === undefined || t.latency <= latencyBudget) && (sizeBudget === undefined || t.bytes <= sizeBudget);
  const dense = total();
  // Greedy: the move with the most budget bought per unit of added damage.
  for (let guard = 0; guard < 10_000 && !met(total()); guard++) {
    const now = total();
    let best: { layer: LayerPlan; option: LayerOption; score: number } | null = null;
    for (const l of layers)
      for (const o of l.options) {
        const gain =
          (latencyBudget !== undefined && now.latency > latencyBudget ? (l.chosen.latencyMs - o.latencyMs) / latencyBudget : 0) +
          (sizeBudget !== undefined && now.bytes > sizeBudget ? (l.chosen.bytes - o.bytes) / sizeBudget : 0);
        if (gain <= 0) continue;
        const cost = Math.max(o.damage - l.chosen.damage, 1e-9);
        const score = gain / cost;
        if (!best || score > best.score) best = { layer: l, option: o, score };
      }
    if (!best) break;
    best.layer.chosen = best.option;
  }
  const end = total();
  return { layers, latencyMs: end.latency, bytes: end.bytes, denseLatencyMs: dense.latency, denseBytes: dense.bytes, feasible: met(end), batchSize: batch };
}

/** Prunes `model` by magnitude to the plan: each layer to its chosen structure and sparsity. */
export function applyPlan(model: Module, plan: SparsityPlan): void {
  for (const l of plan.layers) {
    if (l.chosen.structure === 'dense') continue;
    const st = parseStructure(l.chosen.structure);
    const structure: Structure = st.kind === 'nm' ? nm(st.n, st.m) : st.kind === 'block' ? blocks(st.br, st.bc) : unstructured();
    prune(model, { sparsity: l.chosen.sparsity, structure, scope: 'layer', include: [l.name], onWarning: () => {} });
  }
}
