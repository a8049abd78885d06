/**
 * OBS-style layer-wise pruning with reconstruction: SparseGPT (Frantar & Alistarh 2023,
 * "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot").
 *
 * For a layer with weight W (rows x cols) and calibration inputs X (cols x N), pruning asks for
 * the masked Ŵ minimising ‖W X − Ŵ X‖², a quadratic with Hessian H = X Xᵀ shared by all rows.
 * Optimal Brain Surgeon removes weight q of a row with the update
 *   δw = −(w_q / [H⁻¹]_qq) · H⁻¹[:, q],   at a cost w_q² / [H⁻¹]_qq.
 * SparseGPT makes this affordable for every row at once by visiting the columns left to right
 * and only ever updating the columns not yet visited: when column j is reached, the inverse
 * Hessian of the remaining columns {j, j+1, …} is read off row j of U, the upper Cholesky
 * factor of H⁻¹ (Hᶠ⁻¹[j, j:] = U_jj · U[j, j:]). So each column costs one rank-1 update with
 * err = (w_j − q_j) / U_jj, and the cost of pruning it is err². Updates are applied lazily: inside
 * a block of `blockSize` columns immediately, to the columns after the block once per block.
 *
 * Masks are chosen adaptively, block by block, from the weights as already updated: the score
 * of a weight is w² / U_jj² (its OBS cost). Unstructured: each block prunes a quota of its
 * lowest-scoring free weights, over all rows of the block (weights are not equalised per row);
 * the quotas are spread over the blocks in proportion to their free weights so that the layer
 * keeps exactly round((1 − sparsity) · size) weights (the quotas are fixed before the sweep,
 * the choice inside each block is adaptive). The quotas make every block of columns about equally
 * sparse, so blocks much narrower than the layer constrain the choice (with blockSize >= cols it is
 * free over the whole layer); SparseGPT's 128 is meant for layers of thousands of columns. N:M: when a group of M columns begins (blocks are
 * rounded up to a multiple of M so groups never straddle them), each row keeps the N best of
 * the group; a short last group keeps min(N, its width).
 *
 * Existing masks are respected: already-pruned weights are pruned again (their value, zero at
 * the start but possibly moved by updates from earlier columns, is compensated like any other)
 * and count towards the target; they never come back.
 *
 * Like the reference implementation, inputs that are always zero on the calibration data
 * (H_jj = 0) get H_jj = 1 and their weights are set to zero: they do not affect the output on
 * that data, and scoring 0 they are pruned first. H is damped by λ I, λ = dampening · mean(diag H),
 * before factorising. Everything runs in float64.
 */
import { IndexRangeError, ShapeError, SparsennTypeError } from '../errors.js';
import { Module } from '../nn/module.js';
import { MAX_NM_GROUP } from '../sparse/nm.js';
import { checkCalibration, collectInputStats, runCalibration, targetGeometry } from './calibration.js';
import { pruneTargets } from './targets.js';
import type { CalibrationOptions, LayerPruneResult, PruneResult, PruneTarget } from './types.js';

/** An N:M pattern: keep N of every M consecutive weights along a row. */
export interface NmOption {
  n: number;
  m: number;
}

/** Options of {@link obsPruneMatrix}: exactly one of sparsity, keep and nm. */
export interface ObsMatrixOptions {
  /** Fraction of the weights to prune, in [0, 1]: round((1 − sparsity) · rows · cols) are kept. */
  sparsity?: number;
  /** The exact number of weights to keep (pruned ones of `mask` are never kept). */
  keep?: number;
  /** N:M semi-structured pruning along rows. */
  nm?: NmOption;
  /** Columns per lazy-update block (default 128; rounded up to a multiple of M for N:M). */
  blockSize?: number;
  /** λ = dampening · mean(diag H) is added to H's diagonal (default 0.01). */
  dampening?: number;
  /** Existing mask (1 = kept): its pruned weights stay pruned and count towards the target. */
  mask?: Uint8Array | null;
  /** Row groups with their own Hessians (grouped convolutions; default 1), see {@link obsPruneMatrix}. */
  groups?: number;
}

export interface ObsMatrixResult {
  /** The updated weights, pruned entries exactly 0 (a new array; the input is not changed). */
  weights: Float64Array;
  /** 1 = kept. */
  mask: Uint8Array;
  /**
   * Σ over pruned weights of err², the increase of Σ_rows (w − ŵ)ᵀ H (w − ŵ) that the sweep
   * predicts: with dampening 0 it is exactly ‖W X − Ŵ X‖² on the calibration inputs.
   */
  error: number;
  /** Columns whose input was always zero (H_jj = 0), summed over the groups. */
  deadColumns: number;
}

interface Mode {
  kind: 'keep' | 'nm';
  sparsity: number;
  n: number;
  m: number;
}

function checkMode(opts: { sparsity?: unknown; nm?: unknown; keep?: unknown }, who: string, allowKeep: boolean): Mode {
  const given = (['sparsity', 'nm', ...(allowKeep ? ['keep'] : [])] as const).filter((k) => (opts as Record<string, unknown>)[k] !== undefined);
  const names = allowKeep ? 'sparsity, keep or nm' : 'sparsity or nm';
  if (given.length !== 1)
    throw new SparsennTypeError('ERR_TYPE', `${who} needs exactly one of ${names}, got ${given.length === 0 ? 'none' : given.join(' and ')}`);
  if (opts.nm !== undefined) {
    const nm = opts.nm as NmOption;
    if (nm === null || typeof nm !== 'object') throw new SparsennTypeError('ERR_TYPE', `${who}: nm must be an object { n, m }, got ${String(nm)}`);
    const { n, m } = nm;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 2 || m > MAX_NM_GROUP)
      throw new IndexRangeError('ERR_RANGE', `${who}: N:M needs an integer M in [2, ${MAX_NM_GROUP}], got ${String(m)}`);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n >= m)
      throw new IndexRangeError('ERR_RANGE', `${who}: N:M needs an integer N in [1, M), got N=${String(n)} for M=${m}`);
    return { kind: 'nm', sparsity: NaN, n, m };
  }
  if (opts.sparsity !== undefined) {
    const s = opts.sparsity;
    if (typeof s !== 'number') throw new SparsennTypeError('ERR_TYPE', `${who}: sparsity must be a number, got ${String(s)}`);
    if (!(s >= 0 && s <= 1)) throw new IndexRangeError('ERR_RANGE', `${who}: sparsity must be in [0, 1], got ${s}`);
    return { kind: 'keep', sparsity: s, n: 0, m: 0 };
  }
  return { kind: 'keep', sparsity: NaN, n: 0, m: 0 }; // keep: checked against the size by the caller
}

function checkTuning(opts: { blockSize?: unknown; dampening?: unknown }, who: string): { blockSize: number; dampening: number } {
  const blockSize = opts.blockSize ?? 128;
  if (typeof blockSize !== 'number' || !Number.isInteger(blockSize)) throw new SparsennTypeError('ERR_TYPE', `${who}: blockSize must be an integer, got ${String(blockSize)}`);
  if (blockSize < 1) throw new IndexRangeError('ERR_RANGE', `${who}: blockSize must be >= 1, got ${blockSize}`);
  const dampening = opts.dampening ?? 0.01;
  if (typeof dampening !== 'number') throw new SparsennTypeError('ERR_TYPE', `${who}: dampening must be a number, got ${String(dampening)}`);
  if (!(dampening >= 0 && Number.isFinite(dampening))) throw new IndexRangeError('ERR_RANGE', `${who}: dampening must be a finite number >= 0, got ${dampening}`);
  return { blockSize, dampening };
}

/**
 * U, the upper Cholesky factor of H⁻¹ (Uᵀ U = H⁻¹, positive diagonal), for a symmetric positive
 * definite n x n H (row-major; only its lower triangle is read).
 *
 * With J the order-reversing permutation, J H J = M Mᵀ (M lower) gives H = V Vᵀ with V = J M J
 * upper, so H⁻¹ = V⁻ᵀ V⁻¹ and U = V⁻¹ = J M⁻¹ J: one Cholesky and one triangular inverse
 * (2n³/3 flops) instead of inverting H and factorising again.
 * @throws {IndexRangeError} ERR_RANGE when H is not positive definite.
 */
export function inverseCholeskyUpper(H: Float64Array, n: number): Float64Array {
  if (!(H instanceof Float64Array)) throw new SparsennTypeError('ERR_TYPE', 'inverseCholeskyUpper: H must be a Float64Array');
  if (!Number.isInteger(n) || n < 0 || H.length !== n * n) throw new ShapeError('ERR_SHAPE', `inverseCholeskyUpper: H has ${H.length} values, expected n * n = ${n} * ${n}`);
  // M = chol(J H J), lower, row-major: (J H J)[i][j] = H[n-1-i][n-1-j]
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = H[(n - 1 - i) * n + (n - 1 - j)]!;
      for (let k = 0; k < j; k++) s -= L[ri + k]! * L[rj + k]!;
      if (i === j) {
        if (!(s > 0))
          throw new IndexRangeError('ERR_RANGE', `the Hessian X Xᵀ is not positive definite (pivot ${s} at column ${n - 1 - i}): use more calibration data or a larger dampening`);
        L[ri + i] = Math.sqrt(s);
      } else L[ri + j] = s / L[rj + j]!;
    }
  }
  // X = M⁻¹ (lower), row by row: X[i] = (e_i − Σ_{k<i} M[i][k] X[k]) / M[i][i]
  const X = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const f = L[ri + k]!;
      if (f === 0) continue;
      const rk = k * n;
      for (let j = 0; j <= k; j++) X[ri + j]! -= f * X[rk + j]!;
    }
    X[ri + i] = 1;
    const d = L[ri + i]!;
    for (let j = 0; j <= i; j++) X[ri + j]! /= d;
  }
  // U = J X J
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) U[i * n + j] = X[(n - 1 - i) * n + (n - 1 - j)]!;
  return U;
}

/**
 * SparseGPT on one matrix: prunes W (rows x cols, row-major) given the Hessian H = X Xᵀ
 * (cols x cols) of its inputs, updating the kept weights to compensate (see the module
 * comment). With `groups` > 1 the rows are split into that many equal groups, each with its own
 * inputs and Hessian (H holds groups blocks of cols x cols): a grouped convolution. The groups
 * share the block schedule, and each block's quota is chosen over the rows of all groups, so a
 * layer's sparsity can differ between groups (the OBS scores are comparable: both are
 * increases of the same squared output error). Pure math on float64 arrays, for testing and for
 * callers with their own statistics.
 * @throws {SparsennTypeError} ERR_TYPE for wrong array types or not exactly one of sparsity/keep/nm.
 * @throws {ShapeError} ERR_SHAPE for array lengths that do not match rows, cols and groups.
 * @throws {IndexRangeError} ERR_RANGE for out-of-range options or an H that is not positive definite.
 */
export function obsPruneMatrix(W: Float64Array, rows: number, cols: number, H: Float64Array, opts: ObsMatrixOptions): ObsMatrixResult {
  const who = 'obsPruneMatrix';
  if (!(W instanceof Float64Array)) throw new SparsennTypeError('ERR_TYPE', `${who}: W must be a Float64Array`);
  if (!(H instanceof Float64Array)) throw new SparsennTypeError('ERR_TYPE', `${who}: H must be a Float64Array`);
  if (!opts || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', `${who}: options must be an object`);
  const groups = opts.groups ?? 1;
  for (const [v, name] of [[rows, 'rows'], [cols, 'cols']] as const)
    if (!Number.isInteger(v) || v < 0) throw new ShapeError('ERR_SHAPE', `${who}: ${name} must be a non-negative integer, got ${String(v)}`);
  if (!Number.isInteger(groups) || groups < 1 || rows % groups !== 0)
    throw new ShapeError('ERR_SHAPE', `${who}: groups must be a positive integer dividing rows (${rows}), got ${String(groups)}`);
  if (W.length !== rows * cols) throw new ShapeError('ERR_SHAPE', `${who}: W has ${W.length} values, expected rows * cols = ${rows} * ${cols}`);
  if (H.length !== groups * cols * cols)
    throw new ShapeError('ERR_SHAPE', `${who}: H has ${H.length} values, expected groups * cols * cols = ${groups} * ${cols} * ${cols}`);
  const mode = checkMode(opts, who, true);
  const tuning = checkTuning(opts, who);
  const dampening = tuning.dampening;
  let blockSize = tuning.blockSize;
  const size = rows * cols;
  const prior = opts.mask ?? null;
  if (prior !== null) {
    if (!(prior instanceof Uint8Array)) throw new SparsennTypeError('ERR_TYPE', `${who}: mask must be a Uint8Array of 0/1 or null`);
    if (prior.length !== size) throw new ShapeError('ERR_SHAPE', `${who}: mask has ${prior.length} entries, expected rows * cols = ${size}`);
  }
  let keepTarget = 0;
  if (mode.kind === 'keep') {
    if (opts.keep !== undefined) {
      const k = opts.keep;
      if (typeof k !== 'number' || !Number.isInteger(k)) throw new SparsennTypeError('ERR_TYPE', `${who}: keep must be an integer, got ${String(k)}`);
      if (k < 0 || k > size) throw new IndexRangeError('ERR_RANGE', `${who}: keep must be in [0, rows * cols = ${size}], got ${k}`);
      keepTarget = k;
    } else keepTarget = Math.round((1 - mode.sparsity) * size);
  } else blockSize = Math.ceil(blockSize / mode.m) * mode.m;

  const w = W.slice();
  const rowsPerGroup = rows / groups;
  // U of each group, from its damped Hessian with dead inputs fixed
  let dead = 0;
  const Us: Float64Array[] = [];
  for (let g = 0; g < groups; g++) {
    const h = H.slice(g * cols * cols, (g + 1) * cols * cols);
    for (let j = 0; j < cols; j++)
      if (h[j * cols + j] === 0) {
        dead++;
        h[j * cols + j] = 1;
        for (let r = g * rowsPerGroup; r < (g + 1) * rowsPerGroup; r++) w[r * cols + j] = 0;
      }
    let trace = 0;
    for (let j = 0; j < cols; j++) trace += h[j * cols + j]!;
    const lambda = cols > 0 ? (dampening * trace) / cols : 0;
    for (let j = 0; j < cols; j++) h[j * cols + j]! += lambda;
    Us.push(inverseCholeskyUpper(h, cols));
  }
  const uOf = (r: number) => Us[Math.floor(r / rowsPerGroup)]!;

  // 1 = pruned (the result's mask is its complement)
  const pruned = new Uint8Array(size);
  if (prior) for (let i = 0; i < size; i++) pruned[i] = prior[i] === 0 ? 1 : 0;

  // Unstructured quotas per block: the new prunes spread over blocks by their free weights.
  const blocks = cols === 0 ? 0 : Math.ceil(cols / blockSize);
  const quota = new Int32Array(blocks);
  if (mode.kind === 'keep' && blocks > 0) {
    const free = new Float64Array(blocks);
    let freeTotal = 0;
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++)
        if (pruned[r * cols + c] === 0) {
          free[Math.floor(c / blockSize)]!++;
          freeTotal++;
        }
    const toPrune = Math.max(0, freeTotal - keepTarget);
    let cum = 0;
    for (let b = 0; b < blocks; b++) {
      const start = freeTotal === 0 ? 0 : Math.round((toPrune * cum) / freeTotal);
      cum += free[b]!;
      const end = freeTotal === 0 ? 0 : Math.round((toPrune * cum) / freeTotal);
      quota[b] = end - start;
    }
  }

  const score = (r: number, c: number) => {
    const v = w[r * cols + c]!;
    const d = uOf(r)[c * cols + c]!;
    return (v * v) / (d * d);
  };
  let error = 0;
  for (let b = 0; b < blocks; b++) {
    const i1 = b * blockSize;
    const i2 = Math.min(i1 + blockSize, cols);
    const cnt = i2 - i1;
    if (mode.kind === 'keep' && quota[b]! > 0) selectInBlock(rows, cols, i1, i2, quota[b]!, pruned, score);
    const err = new Float64Array(rows * cnt);
    for (let c = i1; c < i2; c++) {
      if (mode.kind === 'nm' && c % mode.m === 0) for (let r = 0; r < rows; r++) selectNm(r, cols, c, mode.n, mode.m, pruned, score);
      const uc = c * cols;
      for (let r = 0; r < rows; r++) {
        const p = r * cols + c;
        if (pruned[p] === 0) continue;
        const U = uOf(r);
        const e = w[p]! / U[uc + c]!;
        w[p] = 0;
        if (e === 0) continue;
        err[r * cnt + (c - i1)] = e;
        error += e * e;
        const rowBase = r * cols;
        for (let j = c + 1; j < i2; j++) w[rowBase + j]! -= e * U[uc + j]!;
      }
    }
    // the deferred update of the columns after this block: W[:, i2:] −= Err · U[i1:i2, i2:]
    if (i2 < cols)
      for (let r = 0; r < rows; r++) {
        const U = uOf(r);
        const rowBase = r * cols;
        for (let i = 0; i < cnt; i++) {
          const e = err[r * cnt + i]!;
          if (e === 0) continue;
          const uBase = (i1 + i) * cols;
          for (let j = i2; j < cols; j++) w[rowBase + j]! -= e * U[uBase + j]!;
        }
      }
  }
  const mask = new Uint8Array(size);
  for (let i = 0; i < size; i++) mask[i] = 1 - pruned[i]!;
  return { weights: w, mask, error, deadColumns: dead };
}

/** Prunes the `count` lowest-scoring free weights of columns [i1, i2), over all rows (ties: lower index first). */
function selectInBlock(rows: number, cols: number, i1: number, i2: number, count: number, pruned: Uint8Array, score: (r: number, c: number) => number): void {
  const cnt = i2 - i1;
  const idx: number[] = [];
  const s = new Float64Array(rows * cnt);
  for (let r = 0; r < rows; r++)
    for (let c = i1; c < i2; c++) {
      const local = r * cnt + (c - i1);
      if (pruned[r * cols + c] === 1) continue;
      s[local] = score(r, c);
      idx.push(local);
    }
  idx.sort((a, b) => s[a]! - s[b]! || a - b);
  for (let k = 0; k < count && k < idx.length; k++) {
    const local = idx[k]!;
    pruned[Math.floor(local / cnt) * cols + i1 + (local % cnt)] = 1;
  }
}

/** In row r's group starting at column c0, prunes the lowest-scoring free weights until min(n, width) are left. */
function selectNm(r: number, cols: number, c0: number, n: number, m: number, pruned: Uint8Array, score: (r: number, c: number) => number): void {
  const width = Math.min(m, cols - c0);
  const base = r * cols + c0;
  const free: number[] = [];
  for (let j = 0; j < width; j++) if (pruned[base + j] === 0) free.push(j);
  const extra = free.length - Math.min(n, width);
  if (extra <= 0) return;
  const s = free.map((j) => score(r, c0 + j));
  const order = free.map((_j, k) => k).sort((a, b) => s[a]! - s[b]! || a - b);
  for (let k = 0; k < extra; k++) pruned[base + free[order[k]!]!] = 1;
}

/** Options of {@link sparseGpt}: exactly one of sparsity and nm. */
export interface SparseGptOptions {
  /** Fraction of each layer's weights to prune, in [0, 1] (met exactly per layer). */
  sparsity?: number;
  /** N:M semi-structured pruning instead. */
  nm?: NmOption;
  /** The weights to prune (default: every Linear/Conv2d weight, see pruneTargets). */
  targets?: readonly PruneTarget[];
  /** Calibration data (required): the inputs whose reconstruction the updates preserve. */
  calibration: CalibrationOptions;
  /** Columns per lazy-update block (default 128). */
  blockSize?: number;
  /** Hessian dampening as a fraction of its mean diagonal (default 0.01). */
  dampening?: number;
  /** Called with each warning (also listed in the result). */
  onWarning?: (message: string) => void;
}

export interface ObsLayerResult extends LayerPruneResult {
  /** The sweep's predicted ‖W X − Ŵ X‖² on the calibration inputs of the damped problem (0 when the layer was not run). */
  reconstructionError: number;
}

export interface SparseGptResult extends PruneResult {
  layers: ObsLayerResult[];
}

/** The targets in the order the model first runs them on a calibration batch; the rest after, in their given order. */
function forwardOrder(model: Module, targets: readonly PruneTarget[], calibration: CalibrationOptions): { ran: PruneTarget[]; idle: PruneTarget[] } {
  const order: Module[] = [];
  const seen = new Set<Module>();
  runCalibration(
    model,
    targets.map((t) => t.module),
    { ...calibration, batches: 1 },
    (m) => {
      if (!seen.has(m)) {
        seen.add(m);
        order.push(m);
      }
    },
    'sparseGpt',
  );
  const ran = order.flatMap((m) => targets.filter((t) => t.module === m));
  return { ran, idle: targets.filter((t) => !seen.has(t.module)) };
}

/**
 * SparseGPT: prunes every target to the given sparsity (or N:M pattern) and updates its
 * remaining weights to reconstruct the layer's outputs on calibration data. Layers are handled
 * in forward order and sequentially: each layer's inputs are collected from the model with the
 * layers before it already pruned and updated, so later layers also absorb earlier errors.
 * Weights are written back (float32) and masks set with Parameter.setMask. Grouped and
 * depthwise convolutions (any group count) give each group its own Hessian; the groups are
 * swept together, so the layer meets its target exactly while groups may differ.
 * @throws {SparsennTypeError} ERR_TYPE for missing calibration data, bad options, or a target
 *   that is not a Linear/Conv2d weight.
 * @throws {IndexRangeError} ERR_RANGE for out-of-range options, or a Hessian that is not
 *   positive definite even after dampening.
 */
export function sparseGpt(model: Module, opts: SparseGptOptions): SparseGptResult {
  const who = 'sparseGpt';
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', `${who} needs a Module`);
  if (!opts || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', `${who} needs options { sparsity or nm, calibration }`);
  checkCalibration(opts.calibration, who);
  const mode = checkMode(opts, who, false);
  const { blockSize, dampening } = checkTuning(opts, who);
  if (opts.targets !== undefined && !Array.isArray(opts.targets)) throw new SparsennTypeError('ERR_TYPE', `${who}: targets must be an array of prune targets`);
  const targets = opts.targets ?? pruneTargets(model);
  const params = new Set<unknown>();
  for (const t of targets) {
    targetGeometry(t); // a Linear or Conv2d weight
    if (params.has(t.param)) throw new SparsennTypeError('ERR_TYPE', `${who}: target ${t.name} is listed twice`);
    params.add(t.param);
  }
  const warnings: string[] = [];
  const warn = (msg: string) => {
    warnings.push(msg);
    opts.onWarning?.(msg);
  };
  const { ran, idle } = forwardOrder(model, targets, opts.calibration);
  const layers: ObsLayerResult[] = [];
  for (const t of ran) {
    const [stats] = collectInputStats(model, [t], opts.calibration, { gram: true });
    layers.push(pruneLayer(t, stats!.gram!, stats!.groups, mode, blockSize, dampening, warn));
  }
  for (const t of idle) {
    warn(`${t.name}: its module '${t.moduleName}' did not run on the calibration data; left as it was`);
    const kept = Math.round(t.param.density() * t.param.size);
    layers.push({ name: t.name, size: t.param.size, kept, sparsity: t.param.size ? 1 - kept / t.param.size : 0, reconstructionError: 0 });
  }
  let size = 0;
  let kept = 0;
  for (const l of layers) {
    size += l.size;
    kept += l.kept;
  }
  return { layers, sparsity: size ? 1 - kept / size : 0, warnings };
}

/** Prunes one target with its Gram matrix (all groups in one sweep); writes weights and mask. */
function pruneLayer(t: PruneTarget, gram: Float64Array, groups: number, mode: Mode, blockSize: number, dampening: number, warn: (m: string) => void): ObsLayerResult {
  const p = t.param;
  const rows = p.shape[0] ?? 1;
  const cols = rows === 0 ? 0 : p.size / rows;
  const res = obsPruneMatrix(Float64Array.from(p.data), rows, cols, gram, {
    ...(mode.kind === 'nm' ? { nm: { n: mode.n, m: mode.m } } : { sparsity: mode.sparsity }),
    blockSize,
    dampening,
    groups,
    mask: p.mask ? p.mask.slice() : null,
  });
  const mask = res.mask;
  p.data.set(res.weights);
  p.setMask(mask);
  let kept = 0;
  let emptyRows = 0;
  for (let r = 0; r < rows; r++) {
    let k = 0;
    for (let i = r * cols; i < (r + 1) * cols; i++) k += mask[i]!;
    kept += k;
    if (k === 0 && cols > 0) emptyRows++;
  }
  if (emptyRows > 0) warn(`${t.name}: ${emptyRows} of ${rows} output units lost all their weights`);
  if (res.deadColumns > 0) warn(`${t.name}: ${res.deadColumns} input feature(s) were zero on all calibration data; their weights were set to zero`);
  return { name: t.name, size: p.size, kept, sparsity: p.size ? 1 - kept / p.size : 0, reconstructionError: res.error };
}
