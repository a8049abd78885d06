/**
 * sparsityReport(): per-layer and global sparsity, nonzeros, FLOPs dense vs sparse and the
 * structure of each mask, as JSON (the object) and a table (formatSparsityReport).
 *
 * FLOPs count a multiply-add as 2 per sample. A Linear costs 2 * rows * cols dense and
 * 2 * nnz sparse; a Conv2d costs the same per output position, so its count needs the output
 * size: give `sampleShape` (one sample's input shape) and the model is traced once.
 */
import { SparsennTypeError } from '../errors.js';
import { Conv2d } from '../nn/layers/conv.js';
import { withForwardHooks } from '../nn/hooks.js';
import type { Module } from '../nn/module.js';
import { noGrad, Tensor } from '../nn/tensor.js';
import { pruneTargets, targetDims, type TargetOptions } from './targets.js';
import type { PruneTarget } from './types.js';

export interface LayerSparsity {
  name: string;
  shape: number[];
  size: number;
  nnz: number;
  sparsity: number;
  /** 'dense', 'channel', 'N:M' (e.g. '2:4'), 'block RxC', or 'unstructured'. */
  structure: string;
  /** Output positions per sample (1 for a Linear, its positions inside AlongAxis when traced; OH*OW for a Conv2d, null when not traced). */
  positions: number | null;
  flopsDense: number | null;
  flopsSparse: number | null;
}

export interface SparsityReport {
  layers: LayerSparsity[];
  size: number;
  nnz: number;
  sparsity: number;
  flopsDense: number | null;
  flopsSparse: number | null;
}

export interface SparsityReportOptions extends TargetOptions {
  /** One sample's input shape (e.g. [1, 28, 28]); needed for conv FLOPs. */
  sampleShape?: number[];
}

/** Nonzeros: the mask's kept count, or the weights that are not zero without a mask. */
function nonzeros(t: PruneTarget): number {
  const p = t.param;
  if (p.mask) return p.maskPattern().active.length;
  let n = 0;
  for (let i = 0; i < p.size; i++) if (p.data[i] !== 0) n++;
  return n;
}

/** 1 where the weight is kept (mask) or nonzero (no mask). */
function keptPattern(t: PruneTarget): Uint8Array {
  const p = t.param;
  if (p.mask) return p.mask.slice();
  // A plain loop: Uint8Array.from with a mapping function is ~1 s per 4M weights.
  const k = new Uint8Array(p.size);
  for (let i = 0; i < p.size; i++) k[i] = p.data[i] !== 0 ? 1 : 0;
  return k;
}

/** The most specific structure the pattern has. */
export function detectStructure(kept: Uint8Array, rows: number, cols: number): string {
  const nnz = kept.reduce((a, b) => a + b, 0);
  if (nnz === kept.length) return 'dense';
  // whole rows: every row all kept or all pruned
  let rowsOnly = true;
  for (let r = 0; r < rows && rowsOnly; r++) {
    let k = 0;
    for (let c = 0; c < cols; c++) k += kept[r * cols + c]!;
    if (k !== 0 && k !== cols) rowsOnly = false;
  }
  if (rowsOnly) return 'channel';
  // N:M: every full group of M keeps at most N, with N/M the density
  for (const m of [4, 8, 16]) {
    if (cols % m !== 0) continue;
    let maxKept = 0;
    for (let g = 0; g < kept.length; g += m) {
      let k = 0;
      for (let j = 0; j < m; j++) k += kept[g + j]!;
      maxKept = Math.max(maxKept, k);
    }
    if (maxKept < m && maxKept * (kept.length / m) === nnz) return `${maxKept}:${m}`;
  }
  for (const [br, bc] of [
    [8, 1],
    [4, 1],
    [1, 8],
    [1, 4],
    [2, 2],
    [4, 4],
  ] as const) {
    if (rows % br !== 0 || cols % bc !== 0) continue;
    let ok = true;
    for (let r = 0; r < rows && ok; r += br)
      for (let c = 0; c < cols && ok; c += bc) {
        const first = kept[r * cols + c];
        for (let i = 0; i < br && ok; i++) for (let j = 0; j < bc && ok; j++) if (kept[(r + i) * cols + c + j] !== first) ok = false;
      }
    if (ok) return `block ${br}x${bc}`;
  }
  return 'unstructured';
}

/**
 * Output positions per sample of each target, from one forward pass of a single sample: a conv's
 * OH x OW, 1 for a plain Linear, and the positions a Linear inside AlongAxis is applied at
 * (those ride in its batch axis, so out.size, not out.size / out.batch).
 */
function tracePositions(model: Module, targets: readonly PruneTarget[], sampleShape: number[]): Map<Module, number> {
  const positions = new Map<Module, number>();
  const size = sampleShape.reduce((a, b) => a * b, 1);
  model.inEvalMode(() =>
    noGrad(() =>
      withForwardHooks(
        targets.map((t) => t.module),
        (m, _in, out) => positions.set(m, out.size / (m as Conv2d | { weight: { shape: number[] } }).weight.shape[0]!),
        () => model.forward(new Tensor(new Float32Array(size), [...sampleShape, 1])),
      ),
    ),
  );
  return positions;
}

/** Sparsity, nonzeros, FLOPs and structure of every prunable layer and in total. */
export function sparsityReport(model: Module, opts: SparsityReportOptions = {}): SparsityReport {
  const targets = pruneTargets(model, opts);
  if (opts.sampleShape !== undefined && (!Array.isArray(opts.sampleShape) || opts.sampleShape.some((d) => !Number.isInteger(d) || d < 1)))
    throw new SparsennTypeError('ERR_TYPE', `sampleShape must be an array of positive integers, got ${JSON.stringify(opts.sampleShape)}`);
  const positions = opts.sampleShape ? tracePositions(model, targets, opts.sampleShape) : null;
  const layers = targets.map((t): LayerSparsity => {
    const { rows, cols } = targetDims(t);
    const nnz = nonzeros(t);
    const pos = positions?.get(t.module) ?? (t.module instanceof Conv2d ? null : 1);
    return {
      name: t.name,
      shape: [...t.param.shape],
      size: t.param.size,
      nnz,
      sparsity: t.param.size ? 1 - nnz / t.param.size : 0,
      structure: detectStructure(keptPattern(t), rows, cols),
      positions: pos,
      flopsDense: pos === null ? null : 2 * t.param.size * pos,
      flopsSparse: pos === null ? null : 2 * nnz * pos,
    };
  });
  const size = layers.reduce((a, l) => a + l.size, 0);
  const nnz = layers.reduce((a, l) => a + l.nnz, 0);
  const traced = layers.every((l) => l.flopsDense !== null);
  return {
    layers,
    size,
    nnz,
    sparsity: size ? 1 - nnz / size : 0,
    flopsDense: traced ? layers.reduce((a, l) => a + l.flopsDense!, 0) : null,
    flopsSparse: traced ? layers.reduce((a, l) => a + l.flopsSparse!, 0) : null,
  };
}

function human(n: number | null): string {
  if (n === null) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** A plain-text table of the report. */
export function formatSparsityReport(r: SparsityReport): string {
  const head = ['layer', 'shape', 'nnz / size', 'sparsity', 'structure', 'FLOPs dense', 'FLOPs sparse'];
  const rows = r.layers.map((l) => [l.name, l.shape.join('x'), `${l.nnz} / ${l.size}`, `${(l.sparsity * 100).toFixed(2)}%`, l.structure, human(l.flopsDense), human(l.flopsSparse)]);
  rows.push(['total', '', `${r.nnz} / ${r.size}`, `${(r.sparsity * 100).toFixed(2)}%`, '', human(r.flopsDense), human(r.flopsSparse)]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  return [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
