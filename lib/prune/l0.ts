/**
 * L0 regularisation with hard-concrete gates (Louizos, Welling & Kingma 2018, "Learning Sparse
 * Neural Networks through L0 Regularization"), as a fit() callback.
 *
 * Each gate (one per weight, or one per row = neuron / filter) has a learnable log α. A training
 * step multiplies the real weights θ by a sampled gate z = min(1, max(0, s(ζ−γ)+γ)),
 * s = sigmoid((log u − log(1−u) + log α)/β), u ~ U(0, 1); the gates learn, by the
 * reparameterisation gradient, to close where the loss does not need a weight, pushed by
 * λ·E[‖θ⊙z‖₀] = λ·Σ sigmoid(log α − β·log(−γ/ζ)). At test time the gate is deterministic,
 * ẑ = min(1, max(0, sigmoid(log α)(ζ−γ)+γ)), exactly 0 for log α below logit(−γ/(ζ−γ)).
 *
 * The gated weights exist only inside a step (from onStepBegin to onAfterBackward): outside it
 * the parameters hold θ, so the model's optimizer updates θ and evaluate() during fit sees the
 * ungated weights. Use {@link L0Gates.applyDeterministic} / {@link L0Gates.withDeterministic}
 * to evaluate the gated model, and {@link L0Gates.finalize} to bake the gates into weights and
 * masks.
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import type { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import { Random } from '../nn/random.js';
import type { Callback, StepInfo, TrainContext } from '../nn/train/fit.js';
import { andMask, checkLambda, resolveTargets, rowBias, type TargetsOrModel } from './regularize.js';
import { layerResult, pruneResult } from './results.js';
import { paramDims } from './targets.js';
import type { PruneResult, PruneTarget } from './types.js';

/** Temperature β of the hard-concrete distribution (the paper's value). */
export const L0_BETA = 2 / 3;
/** Lower end γ of the stretched interval (γ, ζ). */
export const L0_GAMMA = -0.1;
/** Upper end ζ of the stretched interval. */
export const L0_ZETA = 1.1;
/** β·log(−γ/ζ): the shift of the expected-L0 sigmoid. */
const L0_SHIFT = L0_BETA * Math.log(-L0_GAMMA / L0_ZETA);
/** u is drawn from U(eps, 1 − eps) so log u and log(1 − u) stay finite. */
const U_EPS = 1e-6;

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** The stretched, clamped sample z(log α, u) of a hard-concrete gate. */
export function hardConcrete(logAlpha: number, u: number): number {
  const s = sigmoid((Math.log(u / (1 - u)) + logAlpha) / L0_BETA);
  return Math.min(1, Math.max(0, s * (L0_ZETA - L0_GAMMA) + L0_GAMMA));
}

/** ∂z/∂log α at fixed u: (ζ−γ)·s(1−s)/β inside (0, 1), zero where the sample is clamped. */
export function hardConcreteGrad(logAlpha: number, u: number): number {
  const s = sigmoid((Math.log(u / (1 - u)) + logAlpha) / L0_BETA);
  const stretched = s * (L0_ZETA - L0_GAMMA) + L0_GAMMA;
  return stretched <= 0 || stretched >= 1 ? 0 : ((L0_ZETA - L0_GAMMA) * s * (1 - s)) / L0_BETA;
}

/** The test-time gate ẑ = min(1, max(0, sigmoid(log α)(ζ−γ)+γ)). */
export function testGate(logAlpha: number): number {
  return Math.min(1, Math.max(0, sigmoid(logAlpha) * (L0_ZETA - L0_GAMMA) + L0_GAMMA));
}

/** P(z ≠ 0) = sigmoid(log α − β·log(−γ/ζ)): a gate's contribution to the expected L0 norm. */
export function gateOpenProbability(logAlpha: number): number {
  return sigmoid(logAlpha - L0_SHIFT);
}

/** d P(z ≠ 0) / d log α. */
export function gateOpenProbabilityGrad(logAlpha: number): number {
  const p = sigmoid(logAlpha - L0_SHIFT);
  return p * (1 - p);
}

export interface L0Options {
  /** Weight λ >= 0 of the expected L0 norm (counted in weights), added to the batch-mean loss. */
  lambda: number;
  /**
   * 'weight' (default): one gate per weight. 'row': one gate per row (Linear neuron, Conv2d
   * filter) that gates the row's weights and its bias entry together, so a closed gate removes
   * the neuron's output entirely.
   */
  granularity?: 'weight' | 'row';
  /** Learning rate of the gates' own Adam on log α (default 0.01). */
  lr?: number;
  /** Initial drop rate: log α starts at N(logit(1 − droprateInit), 0.01²) (default 0.5, i.e. 0). */
  droprateInit?: number;
  /** Seed of the log α initialisation and the gate noise (default 0). */
  seed?: number;
}

/** Per-target state: log α with its Adam moments, the kept θ, and the last sample. */
interface GateState {
  readonly target: PruneTarget;
  readonly bias: Parameter | null;
  readonly rows: number;
  readonly cols: number;
  readonly logAlpha: Float64Array;
  readonly m: Float64Array;
  readonly v: Float64Array;
  readonly theta: Float32Array;
  readonly thetaBias: Float32Array | null;
  readonly u: Float64Array;
  readonly z: Float64Array;
  readonly dz: Float64Array;
  readonly gradLogAlpha: Float64Array;
}

type Phase = 'idle' | 'sampled' | 'deterministic' | 'finalized';

const BETA1 = 0.9;
const BETA2 = 0.999;
const ADAM_EPS = 1e-8;

/**
 * Hard-concrete L0 gates on a set of Linear/Conv2d weights; pass the object in fit()'s
 * callbacks. Existing masks are respected: a pruned weight stays zero, its gate is neither
 * counted in the penalty nor trained, and a row gate counts only the kept weights of its row.
 *
 * Until {@link finalize}, evaluation (evaluate(), predict(), validation in fit) uses the
 * ungated weights θ; wrap it in {@link withDeterministic} to see the gated model.
 */
export class L0Gates implements Callback {
  readonly granularity: 'weight' | 'row';
  readonly lambda: number;
  readonly lr: number;
  readonly targets: readonly PruneTarget[];
  private readonly states: GateState[];
  private readonly rng: Random;
  private phase: Phase = 'idle';
  private adamStep = 0;

  constructor(targetsOrModel: TargetsOrModel, opts: L0Options) {
    if (!opts || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', "l0Gates() needs options { lambda, granularity?: 'weight' | 'row', lr?, seed? }");
    this.lambda = checkLambda(opts.lambda, 'l0Gates');
    this.granularity = opts.granularity ?? 'weight';
    if (this.granularity !== 'weight' && this.granularity !== 'row')
      throw new SparsennTypeError('ERR_TYPE', `l0Gates: granularity must be 'weight' or 'row', got ${String(this.granularity)}`);
    this.lr = opts.lr ?? 0.01;
    if (typeof this.lr !== 'number' || !Number.isFinite(this.lr) || this.lr <= 0)
      throw new IndexRangeError('ERR_RANGE', `l0Gates: lr must be a finite number > 0, got ${String(this.lr)}`);
    const drop = opts.droprateInit ?? 0.5;
    if (typeof drop !== 'number' || !(drop > 0 && drop < 1)) throw new IndexRangeError('ERR_RANGE', `l0Gates: droprateInit must be in (0, 1), got ${String(drop)}`);
    this.targets = resolveTargets(targetsOrModel, 'l0Gates');
    this.rng = new Random(opts.seed ?? 0);
    const init = this.rng.fork(0);
    const mean = Math.log(1 - drop) - Math.log(drop);
    this.states = this.targets.map((target) => {
      const { rows, cols } = paramDims(target.param);
      const gates = this.granularity === 'row' ? rows : target.param.size;
      const bias = this.granularity === 'row' ? rowBias(target) : null;
      const logAlpha = new Float64Array(gates);
      for (let k = 0; k < gates; k++) logAlpha[k] = init.normal(mean, 0.01);
      return {
        target,
        bias,
        rows,
        cols,
        logAlpha,
        m: new Float64Array(gates),
        v: new Float64Array(gates),
        theta: new Float32Array(target.param.size),
        thetaBias: bias ? new Float32Array(bias.size) : null,
        u: new Float64Array(gates),
        z: new Float64Array(gates),
        dz: new Float64Array(gates),
        gradLogAlpha: new Float64Array(gates),
      };
    });
    this.rng = this.rng.fork(1);
  }

  /** log α of each target's gates (one per weight, or per row), live: edits take effect. */
  get logAlpha(): readonly Float64Array[] {
    return this.states.map((s) => s.logAlpha);
  }

  /** The noise u, sampled gates z and ∂z/∂log α of the last step, per target (diagnostics). */
  get lastSample(): ReadonlyArray<{ u: Float64Array; z: Float64Array; dz: Float64Array }> {
    return this.states.map((s) => ({ u: s.u, z: s.z, dz: s.dz }));
  }

  /** ∂(loss + λ·E[L0])/∂log α of the last step, before the gates' Adam update (diagnostics). */
  get lastLogAlphaGrad(): readonly Float64Array[] {
    return this.states.map((s) => s.gradLogAlpha);
  }

  /** Whether finalize() has run (the gates then no longer act). */
  get finalized(): boolean {
    return this.phase === 'finalized';
  }

  /** The gate that governs flat weight index i. */
  private gateOf(s: GateState, i: number): number {
    return this.granularity === 'row' ? Math.floor(i / s.cols) : i;
  }

  /** Weights a gate stands for in the L0 count: the kept weights of its row, or 0/1. */
  private gateWeights(s: GateState): Float64Array {
    const mask = s.target.param.mask;
    const out = new Float64Array(s.logAlpha.length);
    if (this.granularity === 'row') {
      for (let r = 0; r < s.rows; r++) {
        let c = 0;
        for (let i = r * s.cols; i < (r + 1) * s.cols; i++) c += mask ? mask[i]! : 1;
        out[r] = c;
      }
    } else {
      for (let i = 0; i < out.length; i++) out[i] = mask ? mask[i]! : 1;
    }
    return out;
  }

  /** Writes θ ⊙ gate into the parameters, keeping θ aside; values[t][k] is gate k of target t. */
  private gate(values: readonly Float64Array[]): void {
    this.states.forEach((s, t) => {
      const v = values[t]!;
      const w = s.target.param.data;
      const th = s.theta;
      th.set(w);
      if (this.granularity === 'row') {
        for (let r = 0; r < s.rows; r++) {
          const z = v[r]!;
          for (let i = r * s.cols; i < (r + 1) * s.cols; i++) w[i] = th[i]! * z;
        }
      } else {
        for (let i = 0; i < w.length; i++) w[i] = th[i]! * v[i]!;
      }
      if (s.bias && s.thetaBias) {
        const b = s.bias.data;
        s.thetaBias.set(b);
        for (let r = 0; r < b.length; r++) b[r] = s.thetaBias[r]! * v[r]!;
      }
    });
  }

  /** Puts θ back into the parameters after a step or applyDeterministic(). */
  restore(): void {
    if (this.phase !== 'sampled' && this.phase !== 'deterministic') return;
    for (const s of this.states) {
      s.target.param.data.set(s.theta);
      if (s.bias && s.thetaBias) s.bias.data.set(s.thetaBias);
    }
    this.phase = 'idle';
  }

  /** Samples the gates and gates the weights for this step's forward and backward pass. */
  onStepBegin(_info?: StepInfo, _ctx?: TrainContext): void {
    if (this.phase === 'finalized') return;
    this.restore();
    const rng = this.rng;
    const stretch = L0_ZETA - L0_GAMMA;
    for (const s of this.states) {
      const { logAlpha: a, u: us, z: zs, dz: dzs } = s;
      // hardConcrete() and hardConcreteGrad() fused: one sigmoid per gate
      for (let k = 0; k < a.length; k++) {
        // 32 random bits are plenty for u (one raw draw instead of next()'s two)
        const u = U_EPS + (1 - 2 * U_EPS) * ((rng.uint32() + 0.5) / 4294967296);
        const sg = 1 / (1 + Math.exp(-(Math.log(u / (1 - u)) + a[k]!) / L0_BETA));
        const z = sg * stretch + L0_GAMMA;
        us[k] = u;
        zs[k] = z <= 0 ? 0 : z >= 1 ? 1 : z;
        dzs[k] = z <= 0 || z >= 1 ? 0 : (stretch * sg * (1 - sg)) / L0_BETA;
      }
    }
    this.gate(this.states.map((s) => s.z));
    this.phase = 'sampled';
  }

  /**
   * From g = ∂L/∂(θ⊙z): sets ∂L/∂θ = g⊙z as the parameters' gradient, computes ∂/∂log α of
   * L + λ·E[L0], restores θ and takes one Adam step on log α.
   */
  onAfterBackward(_info?: StepInfo, _ctx?: TrainContext): void {
    if (this.phase !== 'sampled') return;
    for (const s of this.states) {
      const ga = s.gradLogAlpha;
      ga.fill(0);
      const g = s.target.param.hasGrad() ? s.target.param.grad! : null;
      const { theta: th, z, dz } = s;
      if (g && this.granularity === 'row') {
        for (let r = 0; r < s.rows; r++) {
          let acc = 0;
          const zr = z[r]!;
          for (let i = r * s.cols; i < (r + 1) * s.cols; i++) {
            acc += g[i]! * th[i]!;
            g[i] = g[i]! * zr;
          }
          ga[r] = acc * dz[r]!;
        }
      } else if (g) {
        for (let i = 0; i < g.length; i++) {
          ga[i] = g[i]! * th[i]! * dz[i]!;
          g[i] = g[i]! * z[i]!;
        }
      }
      const gb = s.bias?.hasGrad() ? s.bias.grad! : null;
      if (gb && s.thetaBias)
        for (let r = 0; r < gb.length; r++) {
          ga[r]! += gb[r]! * s.thetaBias[r]! * s.dz[r]!;
          gb[r] = gb[r]! * s.z[r]!;
        }
      if (this.lambda > 0) {
        const count = this.gateWeights(s);
        for (let k = 0; k < ga.length; k++) if (count[k]! > 0) ga[k]! += this.lambda * count[k]! * gateOpenProbabilityGrad(s.logAlpha[k]!);
      }
    }
    this.restore();
    this.adamUpdate();
  }

  private adamUpdate(): void {
    this.adamStep++;
    const c1 = 1 - BETA1 ** this.adamStep;
    const c2 = 1 - BETA2 ** this.adamStep;
    for (const s of this.states) {
      const { logAlpha: a, m, v, gradLogAlpha: g } = s;
      for (let k = 0; k < a.length; k++) {
        m[k] = BETA1 * m[k]! + (1 - BETA1) * g[k]!;
        v[k] = BETA2 * v[k]! + (1 - BETA2) * g[k]! * g[k]!;
        a[k]! -= (this.lr * (m[k]! / c1)) / (Math.sqrt(v[k]! / c2) + ADAM_EPS);
      }
    }
  }

  /** Training ended (or stopped): make sure the parameters hold θ. */
  /** After a failed step the weights may still be gated: put θ back. */
  onTrainAbort(): void {
    if (this.phase !== 'finalized') this.restore();
  }

  onTrainEnd(): void {
    if (this.phase !== 'finalized') this.restore();
  }

  /** The test-time gates ẑ, per target (one per weight or per row). */
  testGates(): Float64Array[] {
    return this.states.map((s) => s.logAlpha.map(testGate));
  }

  /**
   * Sets the parameters to θ ⊙ ẑ (test-time gates) until {@link restore} or the next training
   * step. No effect after finalize().
   */
  applyDeterministic(): void {
    if (this.phase === 'finalized' || this.phase === 'deterministic') return;
    this.restore();
    this.gate(this.testGates());
    this.phase = 'deterministic';
  }

  /** Runs fn with the deterministic gated weights in place, then restores θ. */
  withDeterministic<T>(fn: () => T): T {
    const was = this.phase;
    this.applyDeterministic();
    try {
      return fn();
    } finally {
      if (was !== 'deterministic') this.restore();
    }
  }

  /** E[‖θ⊙z‖₀] counted in weights: Σ P(gate open)·(weights behind the gate), masked weights excluded. */
  expectedL0(): number {
    let total = 0;
    for (const s of this.states) {
      const count = this.gateWeights(s);
      for (let k = 0; k < count.length; k++) total += count[k]! * gateOpenProbability(s.logAlpha[k]!);
    }
    return total;
  }

  /** Fraction of target weights that are zero at test time: masked, or behind a gate with ẑ = 0. */
  sparsityAtTest(): number {
    let size = 0;
    let zero = 0;
    const gates = this.testGates();
    this.states.forEach((s, t) => {
      const mask = s.target.param.mask;
      const zh = gates[t]!;
      size += s.target.param.size;
      for (let i = 0; i < s.target.param.size; i++) if ((mask && mask[i] === 0) || zh[this.gateOf(s, i)] === 0) zero++;
    });
    return size === 0 ? 0 : zero / size;
  }

  /**
   * Bakes θ ⊙ ẑ into the weights (row gates: into the bias too), masks every weight whose ẑ is
   * 0 (closed row gates also mask their bias entry), and retires the gates: their callbacks do
   * nothing afterwards (fit() keeps calling them; that is harmless). Returns the masks' sparsity.
   */
  finalize(opts: { onWarning?: (message: string) => void } = {}): PruneResult {
    if (this.phase === 'finalized') throw new SparsennTypeError('ERR_TYPE', 'l0Gates: finalize() was already called');
    this.restore();
    const gates = this.testGates();
    const layers = this.states.map((s, t) => {
      const zh = gates[t]!;
      const p = s.target.param;
      const w = p.data;
      const keep = new Uint8Array(p.size);
      for (let i = 0; i < w.length; i++) {
        const z = zh[this.gateOf(s, i)]!;
        w[i] = w[i]! * z;
        keep[i] = z > 0 ? 1 : 0;
      }
      if (s.bias) {
        const b = s.bias.data;
        const keepBias = new Uint8Array(b.length);
        for (let r = 0; r < b.length; r++) {
          b[r] = b[r]! * zh[r]!;
          keepBias[r] = zh[r]! > 0 ? 1 : 0;
        }
        andMask(s.bias, keepBias);
      }
      andMask(p, keep);
      return layerResult(s.target);
    });
    this.phase = 'finalized';
    return pruneResult(layers, opts.onWarning);
  }
}

/** Hard-concrete L0 gates on `targets` (or every Linear/Conv2d weight of a model); see {@link L0Gates}. */
export function l0Gates(targets: TargetsOrModel | Module, opts: L0Options): L0Gates {
  return new L0Gates(targets, opts);
}
