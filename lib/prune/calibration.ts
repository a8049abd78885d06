/**
 * Statistics of the activations a model sees on calibration data, for the criteria and
 * pruners that need more than the weights: Wanda's input norms, SparseGPT's Hessian X Xᵀ,
 * the per-channel output statistics of mean-activation and APoZ pruning.
 *
 * The "input features" of a target are the columns its weight multiplies: for a Linear layer
 * the rows of its input [in, n]; for a Conv2d layer the rows of the im2col matrix
 * [Cin * kh * kw, OH * OW * n] in the order (c, ki, kj), exactly a weight row's layout. With
 * groups > 1 (depthwise included) output row r only sees its group's slice of channels, so the
 * statistics are kept per group: group g covers im2col rows [g * cols, (g + 1) * cols) and
 * weight rows [g * rows / groups, (g + 1) * rows / groups). Every group count is supported.
 *
 * Statistics are gathered with forward hooks in eval mode (no dropout, batch norm on its
 * running statistics) and without gradients; the model's training flags are restored after.
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import { native } from '../native.js';
import { DataLoader, type Batch } from '../nn/data/loader.js';
import { validateDataset } from '../nn/data/dataset.js';
import { withForwardHooks } from '../nn/hooks.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { Module } from '../nn/module.js';
import { im2col } from '../nn/ops/conv.js';
import { noGrad, Tensor } from '../nn/tensor.js';
import type { CalibrationOptions, PruneTarget } from './types.js';

/** Accumulated input statistics of one target. */
export interface InputStats {
  /** The target's parameter name. */
  readonly name: string;
  /** Weight rows (output units) and columns (input features per row). */
  readonly rows: number;
  readonly cols: number;
  /** Convolution groups (1 for Linear): statistics are per group, see the module comment. */
  readonly groups: number;
  /** Σ x_j² over samples and positions; length groups * cols, group g at [g * cols, (g + 1) * cols). */
  readonly sqNorm: Float64Array;
  /** Σ x xᵀ when asked for (else null); groups blocks of cols * cols, row-major. */
  readonly gram: Float64Array | null;
  /** Input columns seen: samples times output positions (OH * OW for a convolution). */
  count: number;
}

/** Accumulated output statistics of one target's module, per output channel. */
export interface OutputStats {
  readonly name: string;
  /** Output channels (= weight rows). */
  readonly channels: number;
  /** Mean of max(out, 0) over samples and positions. */
  readonly meanActivation: Float64Array;
  /** Average percentage of zeros (APoZ): the fraction of outputs <= 0, i.e. zero after a ReLU. */
  readonly apoz: Float64Array;
  /** Values seen per channel (samples times positions). */
  count: number;
}

/** How a target's input becomes its feature matrix. */
interface TargetGeometry {
  readonly rows: number;
  readonly cols: number;
  readonly groups: number;
  /** The K x N feature matrix of an input (K = groups * cols), batch-last like the input. */
  features(input: Tensor): { data: Float32Array; n: number };
}

/**
 * The geometry of a Linear or Conv2d weight target.
 * @throws {SparsennTypeError} ERR_TYPE when the target is not the weight of a Linear or Conv2d.
 */
export function targetGeometry(t: PruneTarget): TargetGeometry {
  if (!t || typeof t !== 'object' || !(t.module instanceof Module))
    throw new SparsennTypeError('ERR_TYPE', `a prune target must be { name, param, module, moduleName }, got ${String(t)}`);
  const m = t.module;
  if (m instanceof Linear && t.param === m.weight) {
    const cols = m.inFeatures;
    return {
      rows: m.outFeatures,
      cols,
      groups: 1,
      // Linear accepts any input of size in * n with n last: batch-last, so it is [in, n] as is
      features: (x) => ({ data: x.data, n: x.size / cols }),
    };
  }
  if (m instanceof Conv2d && t.param === m.weight) {
    const rows = m.outChannels;
    const groups = m.groups;
    const cols = t.param.size / rows;
    const opts = { kernelSize: m.kernelSize, stride: m.stride, padding: m.padding, dilation: m.dilation };
    return {
      rows,
      cols,
      groups,
      features: (x) => {
        const col = im2col(x, opts);
        return { data: col.data, n: col.shape[1]! };
      },
    };
  }
  throw new SparsennTypeError(
    'ERR_TYPE',
    `${t.name}: calibration statistics need the weight of a Linear or Conv2d layer, got a parameter of ${m.constructor.name} '${t.moduleName}'`,
  );
}

/** Validated batch size and batch count of calibration options. */
export function checkCalibration(calibration: CalibrationOptions | undefined, who: string): { batchSize: number; batches: number } {
  if (calibration === undefined || calibration === null)
    throw new SparsennTypeError('ERR_TYPE', `${who} needs calibration data: pass calibration: { data, batchSize?, batches? }`);
  if (typeof calibration !== 'object') throw new SparsennTypeError('ERR_TYPE', `${who}: calibration must be an object { data, batchSize?, batches? }, got ${String(calibration)}`);
  validateDataset(calibration.data, `${who}: calibration data`);
  const count = (v: unknown, name: string, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new SparsennTypeError('ERR_TYPE', `${who}: calibration ${name} must be an integer, got ${String(v)}`);
    if (v < 1) throw new IndexRangeError('ERR_RANGE', `${who}: calibration ${name} must be >= 1, got ${v}`);
    return v;
  };
  return { batchSize: count(calibration.batchSize, 'batchSize', 64), batches: count(calibration.batches, 'batches', 8) };
}

/**
 * The calibration batches, in dataset order (deterministic): the first `batches` batches of
 * `batchSize` samples, or the whole dataset when it has fewer.
 */
export function* calibrationBatches(calibration: CalibrationOptions, who = 'calibration'): Generator<Batch> {
  const { batchSize, batches } = checkCalibration(calibration, who);
  let i = 0;
  for (const batch of new DataLoader(calibration.data, { batchSize }).epoch(0)) {
    if (i++ >= batches) return;
    yield batch;
  }
}

/**
 * Runs the calibration batches through `model` in eval mode without gradients, calling `hook`
 * after each forward of one of `modules`; restores every module's training flag afterwards.
 */
export function runCalibration(
  model: Module,
  modules: Iterable<Module>,
  calibration: CalibrationOptions,
  hook: (module: Module, inputs: readonly Tensor[], output: Tensor) => void,
  who = 'calibration',
): number {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', `${who} needs a Module as the model`);
  checkCalibration(calibration, who);
  let seen = 0;
  model.inEvalMode(() =>
    noGrad(() =>
      withForwardHooks(new Set(modules), hook, () => {
        for (const batch of calibrationBatches(calibration, who)) {
          model.forward(new Tensor(batch.x, batch.shape));
          seen += batch.size;
        }
      }),
    ),
  );
  return seen;
}

/** Target indices by module: hooks are per module, and one hook call serves all of its targets. */
function byModule<T>(targets: readonly PruneTarget[], make: (t: PruneTarget, i: number) => T): Map<Module, Array<{ i: number; state: T }>> {
  const map = new Map<Module, Array<{ i: number; state: T }>>();
  targets.forEach((t, i) => {
    const list = map.get(t.module) ?? [];
    list.push({ i, state: make(t, i) });
    map.set(t.module, list);
  });
  return map;
}

function checkTargets(targets: readonly PruneTarget[], who: string): void {
  if (!Array.isArray(targets)) throw new SparsennTypeError('ERR_TYPE', `${who}: targets must be an array of prune targets`);
}

/**
 * Input statistics of each target over the calibration batches: Σ x_j² per input feature and,
 * with `gram`, Σ x xᵀ (the layer-wise Hessian of ‖W X‖² up to a factor 2). A module called
 * several times per forward accumulates every call.
 * @throws {SparsennTypeError} ERR_TYPE for missing calibration data or a target that is not a
 *   Linear/Conv2d weight; {@link IndexRangeError} ERR_RANGE for a bad batch size or count.
 */
export function collectInputStats(
  model: Module,
  targets: readonly PruneTarget[],
  calibration: CalibrationOptions,
  opts: { gram?: boolean } = {},
): InputStats[] {
  checkTargets(targets, 'collectInputStats');
  checkCalibration(calibration, 'collectInputStats');
  const wantGram = opts.gram ?? false;
  const stats: InputStats[] = [];
  const geoms = targets.map((t) => targetGeometry(t));
  targets.forEach((t, i) => {
    const g = geoms[i]!;
    const k = g.groups * g.cols;
    stats.push({ name: t.name, rows: g.rows, cols: g.cols, groups: g.groups, sqNorm: new Float64Array(k), gram: wantGram ? new Float64Array(g.groups * g.cols * g.cols) : null, count: 0 });
  });
  const map = byModule(targets, (_t, i) => i);
  runCalibration(
    model,
    map.keys(),
    calibration,
    (module, inputs) => {
      for (const { i } of map.get(module)!) accumulateInput(stats[i]!, geoms[i]!.features(inputs[0]!));
    },
    'collectInputStats',
  );
  return stats;
}

/** Adds one input's feature matrix (K x n, K = groups * cols) to the sums. */
function accumulateInput(s: InputStats, x: { data: Float32Array; n: number }): void {
  const { data, n } = x;
  const k = s.groups * s.cols;
  if (n === 0) return;
  const sq = s.sqNorm;
  for (let j = 0; j < k; j++) {
    let acc = 0;
    const base = j * n;
    for (let b = 0; b < n; b++) {
      const v = data[base + b]!;
      acc += v * v;
    }
    sq[j]! += acc;
  }
  if (s.gram) {
    // X_g X_gᵀ of each group in one float32 GEMM (the native kernels), summed across batches in
    // float64: the per-batch sums are short enough that float32 loses nothing that matters.
    const c = s.cols;
    for (let g = 0; g < s.groups; g++) {
      const xg = data.subarray(g * c * n, (g + 1) * c * n);
      const prod = native.gemm(c, n, c, xg, false, xg, true);
      const out = s.gram.subarray(g * c * c, (g + 1) * c * c);
      for (let i = 0; i < prod.length; i++) out[i]! += prod[i]!;
    }
  }
  s.count += n;
}

/**
 * Per-output-channel statistics of each target's module output over the calibration batches:
 * the mean of max(out, 0) and the fraction of outputs <= 0 (APoZ, Hu et al. 2016, measured on
 * the layer's output as a following ReLU would zero it). Positions of a convolution's output
 * count as samples.
 * @throws as {@link collectInputStats}.
 */
export function collectOutputStats(model: Module, targets: readonly PruneTarget[], calibration: CalibrationOptions): OutputStats[] {
  checkTargets(targets, 'collectOutputStats');
  checkCalibration(calibration, 'collectOutputStats');
  const geoms = targets.map((t) => targetGeometry(t));
  const sums = targets.map((_t, i) => ({ pos: new Float64Array(geoms[i]!.rows), zeros: new Float64Array(geoms[i]!.rows), count: 0 }));
  const map = byModule(targets, (_t, i) => i);
  runCalibration(
    model,
    map.keys(),
    calibration,
    (module, _inputs, output) => {
      for (const { i } of map.get(module)!) {
        const rows = geoms[i]!.rows;
        const s = sums[i]!;
        // batch-last: channel r of [C, ...spatial, n] is one contiguous run
        const len = output.size / rows;
        const y = output.data;
        for (let r = 0; r < rows; r++) {
          let pos = 0;
          let zeros = 0;
          for (let p = r * len, end = p + len; p < end; p++) {
            const v = y[p]!;
            if (v > 0) pos += v;
            else if (v <= 0) zeros++;
          }
          s.pos[r]! += pos;
          s.zeros[r]! += zeros;
        }
        s.count += len;
      }
    },
    'collectOutputStats',
  );
  return targets.map((t, i) => {
    const s = sums[i]!;
    const c = Math.max(s.count, 1);
    return { name: t.name, channels: geoms[i]!.rows, meanActivation: s.pos.map((v) => v / c), apoz: s.zeros.map((v) => v / c), count: s.count };
  });
}
