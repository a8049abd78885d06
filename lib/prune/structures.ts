/**
 * Structures: how weights are grouped when pruned. A weight is seen as rows (output units) by
 * cols (its inputs, kernel included: the kernels' layout), see types.ts.
 *
 * - unstructured(): every weight is its own group;
 * - blocks(r, c): r x c tiles of the rows x cols matrix (edge tiles may be smaller), the layout
 *   block-sparse kernels run; scored by the mean score of the tile's kept weights;
 * - channels(): whole rows, i.e. neurons / filters, scored by their mean kept score. The
 *   Pruner applies it over channel dependency groups (dependency.ts): a removed channel is
 *   masked in every coupled layer (bias, batch norm, both sides of a residual add) so its
 *   output is exactly zero, and shrink() then removes it physically;
 * - nm(n, m): in every run of m consecutive weights along a row keep the n best (2:4, 1:4,
 *   4:8, any 1 <= n < m <= 16); the last group of a row may be shorter and keeps
 *   min(n, its width). A fixed ratio: scopes and sparsity targets do not apply.
 *
 * Every structure respects the existing mask: a pruned weight scores -Infinity and is never
 * kept again, so repeated pruning only removes.
 */
import { IndexRangeError } from '../errors.js';
import { MAX_NM_GROUP } from '../sparse/nm.js';
import { targetDims } from './targets.js';
import type { FixedRatioStructure, GroupedStructure, PruneTarget } from './types.js';

/** Scores with pruned weights at -Infinity (the monotone-mask rule). */
export function maskedScores(t: PruneTarget, scores: Float32Array): Float32Array {
  const m = t.param.mask;
  if (!m) return scores;
  const out = scores.slice();
  for (let i = 0; i < out.length; i++) if (m[i] === 0) out[i] = -Infinity;
  return out;
}

/**
 * Every weight on its own. With `perRow`, weights compete only within their row (each output
 * unit keeps round((1 - s) * cols) inputs); the global scope does not apply then.
 */
export function unstructured(opts: { perRow?: boolean } = {}): GroupedStructure {
  return {
    kind: 'unstructured',
    name: opts.perRow ? 'unstructured per row' : 'unstructured',
    perRow: opts.perRow === true,
    groupCount: (t) => t.param.size,
    groupSizes: (t) => new Int32Array(t.param.size).fill(1),
    groupScores: (t, scores) => {
      const s = maskedScores(t, scores);
      const out = new Float64Array(s.length);
      for (let i = 0; i < s.length; i++) out[i] = s[i]!;
      return out;
    },
    expand: (t, kept) => {
      const m = t.param.mask;
      return m ? kept.map((k, i) => k & m[i]!) : kept.slice();
    },
  };
}

function checkSide(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1 || v > 64) throw new IndexRangeError('ERR_RANGE', `${what} must be an integer in [1, 64], got ${String(v)}`);
  return v;
}

/**
 * Mean score of the kept members of each group of a row-major rows x cols matrix, groups given
 * by `groupOf(r, c)`; -Infinity for a group whose members are all pruned.
 */
function meanKeptScores(t: PruneTarget, scores: Float32Array, count: number, groupOf: (r: number, c: number) => number): Float64Array {
  const { rows, cols } = targetDims(t);
  const s = maskedScores(t, scores);
  const sum = new Float64Array(count);
  const kept = new Int32Array(count);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const v = s[r * cols + c]!;
      if (v === -Infinity) continue;
      const g = groupOf(r, c);
      sum[g]! += v;
      kept[g]!++;
    }
  for (let g = 0; g < count; g++) sum[g] = kept[g] ? sum[g]! / kept[g]! : -Infinity;
  return sum;
}

/** Masks of kept groups, ANDed with the current mask. */
function expandGroups(t: PruneTarget, kept: Uint8Array, groupOf: (r: number, c: number) => number): Uint8Array {
  const { rows, cols } = targetDims(t);
  const m = t.param.mask;
  const out = new Uint8Array(t.param.size);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      out[i] = kept[groupOf(r, c)]! & (m ? m[i]! : 1);
    }
  return out;
}

/** Blocks of `rows` x `cols` weights (e.g. blocks(4, 1): four output units share a pattern). */
export function blocks(blockRows: number, blockCols: number): GroupedStructure {
  checkSide(blockRows, 'block rows');
  checkSide(blockCols, 'block cols');
  const grid = (t: PruneTarget) => {
    const { rows, cols } = targetDims(t);
    const br = Math.ceil(rows / blockRows);
    const bc = Math.ceil(cols / blockCols);
    return { rows, cols, br, bc, groupOf: (r: number, c: number) => Math.floor(r / blockRows) * bc + Math.floor(c / blockCols) };
  };
  return {
    kind: 'block',
    name: `block ${blockRows}x${blockCols}`,
    groupCount: (t) => {
      const g = grid(t);
      return g.br * g.bc;
    },
    groupSizes: (t) => {
      const g = grid(t);
      const sizes = new Int32Array(g.br * g.bc);
      for (let i = 0; i < g.br; i++)
        for (let j = 0; j < g.bc; j++) sizes[i * g.bc + j] = (Math.min(g.rows, (i + 1) * blockRows) - i * blockRows) * (Math.min(g.cols, (j + 1) * blockCols) - j * blockCols);
      return sizes;
    },
    groupScores: (t, scores) => {
      const g = grid(t);
      return meanKeptScores(t, scores, g.br * g.bc, g.groupOf);
    },
    expand: (t, kept) => expandGroups(t, kept, grid(t).groupOf),
  };
}

/** Whole output units (neurons of a Linear, filters of a Conv2d). */
export function channels(): GroupedStructure {
  return {
    kind: 'channel',
    name: 'channel',
    groupCount: (t) => targetDims(t).rows,
    groupSizes: (t) => {
      const { rows, cols } = targetDims(t);
      return new Int32Array(rows).fill(cols);
    },
    groupScores: (t, scores) => {
      const { rows } = targetDims(t);
      return meanKeptScores(t, scores, rows, (r) => r);
    },
    expand: (t, kept) => expandGroups(t, kept, (r) => r),
  };
}

/** N:M semi-structured sparsity along rows. */
export function nm(n: number, m: number): FixedRatioStructure {
  if (!Number.isInteger(m) || m < 2 || m > MAX_NM_GROUP) throw new IndexRangeError('ERR_RANGE', `N:M needs an integer M in [2, ${MAX_NM_GROUP}], got ${String(m)}`);
  if (!Number.isInteger(n) || n < 1 || n >= m) throw new IndexRangeError('ERR_RANGE', `N:M needs an integer N in [1, M), got N=${String(n)} for M=${m}`);
  return {
    kind: 'nm',
    name: `${n}:${m}`,
    n,
    m,
    sparsityOf: (t) => {
      const { rows, cols } = targetDims(t);
      if (rows * cols === 0) return 0;
      const full = Math.floor(cols / m);
      const tail = cols - full * m;
      return 1 - (full * n + Math.min(n, tail)) / cols;
    },
    select: (t, scores) => {
      const { rows, cols } = targetDims(t);
      const s = maskedScores(t, scores);
      const out = new Uint8Array(t.param.size);
      const order = new Int32Array(m);
      for (let r = 0; r < rows; r++)
        for (let g0 = 0; g0 < cols; g0 += m) {
          const width = Math.min(m, cols - g0);
          const base = r * cols + g0;
          for (let j = 0; j < width; j++) order[j] = j;
          // a stable sort by descending score (ties keep the lower offset); width <= 16
          const view = order.subarray(0, width);
          view.sort((a, b) => s[base + b]! - s[base + a]! || a - b);
          for (let j = 0; j < Math.min(n, width); j++) if (s[base + view[j]!]! !== -Infinity) out[base + view[j]!] = 1;
        }
      return out;
    },
  };
}
