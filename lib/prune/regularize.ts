/**
 * Sparsity-inducing penalties as fit() callbacks: L1 (weights towards zero one by one) and
 * group lasso over rows (whole neurons / filters towards zero), each either as a subgradient
 * added to the loss gradient or as a proximal step after the optimizer's step. Training with
 * them only makes weights small (the proximal forms make them exactly zero under SGD);
 * {@link thresholdToMask} then turns the small weights into masks.
 *
 * A row of a weight is its first dimension: an output neuron of a Linear, a filter of a Conv2d
 * (the rows x cols view of {@link Structure}). Penalties are computed in float64.
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { Module } from '../nn/module.js';
import { Parameter } from '../nn/parameter.js';
import type { Callback, TrainContext } from '../nn/train/fit.js';
import { layerResult, pruneResult } from './results.js';
import { paramDims, pruneTargets } from './targets.js';
import type { LayerPruneResult, PruneResult, PruneTarget } from './types.js';

/** Explicit targets, or a model whose every Linear/Conv2d weight is a target. */
export type TargetsOrModel = readonly PruneTarget[] | Module;

/**
 * The targets of `x` (see {@link TargetsOrModel}), checked: each needs a Parameter and a
 * Module, and no parameter may appear twice (its penalty would be applied twice).
 * @throws {SparsennTypeError} ERR_TYPE for anything else.
 */
export function resolveTargets(x: TargetsOrModel, what: string): PruneTarget[] {
  if (x instanceof Module) return pruneTargets(x);
  if (!Array.isArray(x)) throw new SparsennTypeError('ERR_TYPE', `${what}: targets must be an array of PruneTarget or a Module, got ${describe(x)}`);
  const seen = new Set<Parameter>();
  x.forEach((t: unknown, i) => {
    const c = t as Partial<PruneTarget> | null;
    if (!c || typeof c !== 'object' || !(c.param instanceof Parameter) || !(c.module instanceof Module) || typeof c.name !== 'string')
      throw new SparsennTypeError('ERR_TYPE', `${what}: targets[${i}] must be a PruneTarget { name, param: Parameter, module: Module, moduleName }`);
    if (seen.has(c.param)) throw new SparsennTypeError('ERR_TYPE', `${what}: the parameter of targets[${i}] ('${c.name}') is listed twice`);
    seen.add(c.param);
  });
  return [...(x as PruneTarget[])];
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}


/** The bias of the target's module when it has one entry per row of the weight, else null. */
export function rowBias(t: PruneTarget): Parameter | null {
  const b = (t.module as unknown as { bias?: unknown }).bias;
  return b instanceof Parameter && b !== t.param && b.size === paramDims(t.param).rows ? b : null;
}

/** A penalty weight: a finite number >= 0. */
export function checkLambda(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new IndexRangeError('ERR_RANGE', `${what}: lambda must be a finite number >= 0, got ${String(v)}`);
  return v;
}

/**
 * Adds f(i) to the gradient of every kept entry i of p. A masked parameter's gradient goes
 * through accumulateKeptGrad so a compact (sparse-kernel) gradient stays compact; pruned
 * entries are never touched, so their gradient stays zero. Creates the gradient when absent.
 */
function addToGrad(p: Parameter, f: (i: number) => number): void {
  if (p.mask) {
    const active = p.maskPattern().active;
    const part = new Float32Array(active.length);
    for (let k = 0; k < active.length; k++) part[k] = f(active[k]!);
    p.accumulateKeptGrad(part, true);
    return;
  }
  let g = p.grad;
  if (g === null) {
    g = p.takeZeroedGrad();
    p.grad = g;
  }
  for (let i = 0; i < g.length; i++) g[i]! += f(i);
}

/** Euclidean norm of each row, in float64. */
export function rowNorms(p: Parameter): Float64Array {
  const { rows, cols } = paramDims(p);
  const w = p.data;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = r * cols; i < (r + 1) * cols; i++) s += w[i]! * w[i]!;
    out[r] = Math.sqrt(s);
  }
  return out;
}

// ------------------------------------------------------------------- penalties ----

/** λ Σ |w| over the targets, in float64. */
export function l1Penalty(targetsOrModel: TargetsOrModel, lambda: number): number {
  checkLambda(lambda, 'l1Penalty');
  let s = 0;
  for (const t of resolveTargets(targetsOrModel, 'l1Penalty')) for (const v of t.param.data) s += Math.abs(v);
  return lambda * s;
}

/** λ Σ_rows sqrt(cols) ‖w_row‖₂ over the targets (group lasso, rows as groups), in float64. */
export function groupLassoPenalty(targetsOrModel: TargetsOrModel, lambda: number): number {
  checkLambda(lambda, 'groupLassoPenalty');
  let s = 0;
  for (const t of resolveTargets(targetsOrModel, 'groupLassoPenalty')) {
    const scale = Math.sqrt(paramDims(t.param).cols);
    for (const n of rowNorms(t.param)) s += scale * n;
  }
  return lambda * s;
}

// ------------------------------------------------------- gradients and proximal steps ----

/** Adds λ·sign(w) to each target's gradient (the L1 subgradient, 0 at w = 0). */
export function addL1Gradient(targets: readonly PruneTarget[], lambda: number): void {
  for (const { param: p } of targets) {
    const w = p.data;
    addToGrad(p, (i) => lambda * Math.sign(w[i]!));
  }
}

/** Adds λ·sqrt(cols)·w_row/‖w_row‖ to each row's gradient (0 for a row of norm 0). */
export function addGroupLassoGradient(targets: readonly PruneTarget[], lambda: number): void {
  for (const { param: p } of targets) {
    const { cols } = paramDims(p);
    const coef = rowNorms(p).map((n) => (n > 0 ? (lambda * Math.sqrt(cols)) / n : 0));
    const w = p.data;
    addToGrad(p, (i) => coef[Math.floor(i / cols)]! * w[i]!);
  }
}

/**
 * Soft-thresholding, the proximal operator of step·Σ|w|: w ← sign(w)·max(|w| − step, 0).
 * After an SGD step with rate lr, step = lr·λ gives exact zeros.
 */
export function proximalL1(targets: readonly PruneTarget[], step: number): void {
  for (const { param: p } of targets) {
    const w = p.data;
    for (let i = 0; i < w.length; i++) {
      const a = Math.abs(w[i]!) - step;
      w[i] = a > 0 ? Math.sign(w[i]!) * a : 0;
    }
  }
}

/**
 * Block soft-thresholding, the proximal operator of step·Σ sqrt(cols)‖w_row‖:
 * w_row ← w_row·max(0, 1 − step·sqrt(cols)/‖w_row‖) (a zero row stays zero).
 */
export function proximalGroupLasso(targets: readonly PruneTarget[], step: number): void {
  for (const { param: p } of targets) {
    const { cols } = paramDims(p);
    const norms = rowNorms(p);
    const w = p.data;
    for (let r = 0; r < norms.length; r++) {
      const n = norms[r]!;
      const f = n > 0 ? Math.max(0, 1 - (step * Math.sqrt(cols)) / n) : 0;
      for (let i = r * cols; i < (r + 1) * cols; i++) w[i] = w[i]! * f;
    }
  }
}

// ------------------------------------------------------------------- callbacks ----

export interface RegularizerOptions {
  /** Penalty weight λ >= 0 (the penalty is added to the batch-mean loss). */
  lambda: number;
  /** What to penalise; default every Linear/Conv2d weight of the model being trained. */
  targets?: TargetsOrModel;
  /**
   * Proximal mode: instead of adding the subgradient before the step, apply the penalty's
   * proximal operator with step lr·λ after it (lr = the optimizer's current rate). Exact for
   * plain SGD, where it drives weights (rows) to exact zeros; with momentum or Adam it is the
   * usual heuristic.
   */
  proximal?: boolean;
}

/** A penalty as a fit() callback. */
export interface Regularizer extends Callback {
  readonly name: 'l1' | 'group-lasso';
  readonly lambda: number;
  readonly proximal: boolean;
  /** The penalty at the current weights, of the given model or else the targets/model it trains. */
  penalty(model?: Module): number;
}

function makeRegularizer(
  name: Regularizer['name'],
  opts: RegularizerOptions,
  penaltyOf: (t: TargetsOrModel, lambda: number) => number,
  addGradient: (t: readonly PruneTarget[], lambda: number) => void,
  prox: (t: readonly PruneTarget[], step: number) => void,
): Regularizer {
  const what = name === 'l1' ? 'l1Regularizer' : 'groupLasso';
  if (!opts || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', `${what}() needs options { lambda, targets?, proximal? }`);
  const lambda = checkLambda(opts.lambda, what);
  const proximal = opts.proximal ?? false;
  if (typeof proximal !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `${what}: proximal must be a boolean, got ${describe(proximal)}`);
  const fixed = opts.targets === undefined ? null : resolveTargets(opts.targets, what);
  // Without explicit targets, the model fit() trains decides; resolved once per model.
  let model: Module | null = null;
  let fromModel: PruneTarget[] = [];
  const targetsFor = (ctx: TrainContext): PruneTarget[] => {
    if (fixed) return fixed;
    if (ctx.model !== model) {
      model = ctx.model;
      fromModel = pruneTargets(model);
    }
    return fromModel;
  };
  return {
    name,
    lambda,
    proximal,
    onTrainBegin(ctx) {
      targetsFor(ctx);
    },
    onAfterBackward(_info, ctx) {
      if (!proximal && lambda > 0) addGradient(targetsFor(ctx), lambda);
    },
    onStepEnd(_info, ctx) {
      if (proximal && lambda > 0) prox(targetsFor(ctx), ctx.optimizer.lr * lambda);
    },
    penalty(m?: Module) {
      const src = m ?? fixed ?? model;
      if (!src) throw new SparsennTypeError('ERR_TYPE', `${what}.penalty(): no targets given and no model trained yet; pass the model`);
      return penaltyOf(src, lambda);
    },
  };
}

/** L1 penalty λ·Σ|w| as a fit() callback (subgradient λ·sign(w), or soft-thresholding when proximal). */
export function l1Regularizer(opts: RegularizerOptions): Regularizer {
  return makeRegularizer('l1', opts, l1Penalty, addL1Gradient, proximalL1);
}

/**
 * Group lasso over rows, λ·Σ_rows sqrt(|row|)·‖w_row‖₂, as a fit() callback (gradient
 * λ·sqrt(|row|)·w_row/‖w_row‖, or block soft-thresholding when proximal). It removes whole
 * neurons / filters; the sqrt(|row|) factor makes layers of different widths comparable.
 */
export function groupLasso(opts: RegularizerOptions): Regularizer {
  return makeRegularizer('group-lasso', opts, groupLassoPenalty, addGroupLassoGradient, proximalGroupLasso);
}

/** The summed penalty of one or several regularizers (for logging). */
export function regularizationPenalty(regs: Regularizer | readonly Regularizer[], model?: Module): number {
  const list = Array.isArray(regs) ? regs : [regs as Regularizer];
  let s = 0;
  for (const r of list) s += r.penalty(model);
  return s;
}

// --------------------------------------------------------------- threshold to mask ----

export interface ThresholdOptions {
  /** Weights with |w| <= threshold (rows with ‖w_row‖₂ <= threshold) are pruned; >= 0. */
  threshold: number;
  /** 'weights' (default): single weights; 'rows': whole neurons / filters and their bias. */
  structure?: 'weights' | 'rows';
  /** Called with each warning (they are also returned). */
  onWarning?: (message: string) => void;
}

/**
 * Sets `keep` (AND-ed with any existing mask) on p when it prunes something new; a mask that
 * removes nothing is not set, so unpruned parameters stay mask-free (and dense-executed).
 */
export function andMask(p: Parameter, keep: Uint8Array): void {
  const old = p.mask;
  let changed = false;
  for (let i = 0; i < keep.length; i++) {
    if (old && old[i] === 0) keep[i] = 0;
    else if (keep[i] === 0) changed = true;
  }
  if (changed) p.setMask(keep);
}

/**
 * Prunes the weights a penalty has made small: |w| <= threshold ('weights'), or whole rows with
 * ‖w_row‖₂ <= threshold ('rows', which also masks the row's bias entry so the neuron's output
 * is exactly zero). Masks are AND-ed with existing ones (pruning is monotone).
 * @throws {IndexRangeError} ERR_RANGE for a negative or non-finite threshold.
 * @throws {SparsennTypeError} ERR_TYPE for bad targets or structure.
 */
export function thresholdToMask(targetsOrModel: TargetsOrModel, opts: ThresholdOptions): PruneResult {
  if (!opts || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', "thresholdToMask() needs options { threshold, structure?: 'weights' | 'rows' }");
  const thr = opts.threshold;
  if (typeof thr !== 'number' || !Number.isFinite(thr) || thr < 0)
    throw new IndexRangeError('ERR_RANGE', `thresholdToMask: threshold must be a finite number >= 0, got ${String(thr)}`);
  const structure = opts.structure ?? 'weights';
  if (structure !== 'weights' && structure !== 'rows')
    throw new SparsennTypeError('ERR_TYPE', `thresholdToMask: structure must be 'weights' or 'rows', got ${String(structure)}`);
  const targets = resolveTargets(targetsOrModel, 'thresholdToMask');
  const layers: LayerPruneResult[] = [];
  for (const t of targets) {
    const p = t.param;
    const keep = new Uint8Array(p.size);
    if (structure === 'weights') {
      const w = p.data;
      for (let i = 0; i < w.length; i++) keep[i] = Math.abs(w[i]!) > thr ? 1 : 0;
    } else {
      const { cols } = paramDims(p);
      const norms = rowNorms(p);
      const bias = rowBias(t);
      const keepBias = new Uint8Array(norms.length);
      for (let r = 0; r < norms.length; r++) {
        const k = norms[r]! > thr ? 1 : 0;
        keepBias[r] = k;
        keep.fill(k, r * cols, (r + 1) * cols);
      }
      if (bias) andMask(bias, keepBias);
    }
    andMask(p, keep);
    layers.push(layerResult(t));
  }
  return pruneResult(layers, opts.onWarning);
}
