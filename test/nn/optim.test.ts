/**
 * Optimizers, LR schedules and gradient clipping (lib/nn/optim).
 *
 * Every update is checked against a float64 reference written here from PyTorch's documented
 * update rules (torch.optim.SGD, Adam, AdamW), never against the library's own code.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { Adam, AdamW, type AdamOptions } from '../../lib/nn/optim/adam.js';
import { clipGradNorm, clipGradValue } from '../../lib/nn/optim/clip.js';
import type { ParamState } from '../../lib/nn/optim/optimizer.js';
import { constantLr, cosineLr, linearWarmup, stepLr } from '../../lib/nn/optim/schedule.js';
import { SGD, type SgdOptions } from '../../lib/nn/optim/sgd.js';
import { Parameter } from '../../lib/nn/parameter.js';
import { expectThrows } from '../helpers/errors.js';
import { mulberry32, nonzeroValue, type Rng } from '../helpers/random.js';

// ---------------------------------------------------------------- references (float64) ----

interface SgdCfg {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

/**
 * torch.optim.SGD, per entry:
 *   g = grad + wd * w
 *   if momentum: buf = (first step) ? g : momentum * buf + (1 - dampening) * g
 *                g = nesterov ? g + momentum * buf : buf
 *   w = w - lr * g
 */
class RefSgd {
  readonly w: Float64Array;
  readonly buf: Float64Array;
  t = 0;
  constructor(
    w0: ArrayLike<number>,
    readonly c: SgdCfg,
  ) {
    this.w = Float64Array.from(w0);
    this.buf = new Float64Array(this.w.length);
  }
  step(grad: ArrayLike<number>, active: (i: number) => boolean = () => true): void {
    this.t++;
    const { lr, momentum, dampening, nesterov, weightDecay } = this.c;
    for (let i = 0; i < this.w.length; i++) {
      if (!active(i)) continue;
      let g = grad[i]! + weightDecay * this.w[i]!;
      if (momentum !== 0) {
        const b = this.t === 1 ? g : momentum * this.buf[i]! + (1 - dampening) * g;
        this.buf[i] = b;
        g = nesterov ? g + momentum * b : b;
      }
      this.w[i] = this.w[i]! - lr * g;
    }
  }
}

interface AdamCfg {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

/**
 * torch.optim.Adam / AdamW, per entry, step t (1-based):
 *   Adam:  g = grad + wd * w            AdamW: w = w * (1 - lr * wd), g = grad
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   w = w - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 */
class RefAdam {
  readonly w: Float64Array;
  readonly m: Float64Array;
  readonly v: Float64Array;
  t = 0;
  constructor(
    w0: ArrayLike<number>,
    readonly c: AdamCfg,
  ) {
    this.w = Float64Array.from(w0);
    this.m = new Float64Array(this.w.length);
    this.v = new Float64Array(this.w.length);
  }
  step(grad: ArrayLike<number>, active: (i: number) => boolean = () => true): void {
    this.t++;
    const { lr, beta1, beta2, eps, weightDecay, decoupled } = this.c;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (let i = 0; i < this.w.length; i++) {
      if (!active(i)) continue;
      let w = this.w[i]!;
      let g = grad[i]!;
      if (decoupled) w *= 1 - lr * weightDecay;
      else g += weightDecay * w;
      const m = beta1 * this.m[i]! + (1 - beta1) * g;
      const v = beta2 * this.v[i]! + (1 - beta2) * g * g;
      this.m[i] = m;
      this.v[i] = v;
      this.w[i] = w - (lr / c1) * (m / (Math.sqrt(v) / Math.sqrt(c2) + eps));
    }
  }
}

// --------------------------------------------------------------------------- helpers ----

/** Values of magnitude in [0.5, 1.5], random sign: far from 0 so relative checks are meaningful. */
function weights(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng() < 0.5 ? -1 : 1) * (0.5 + rng());
  return out;
}

/** Gradients in [-1, -2^-8] U [2^-8, 1] (never zero). */
function grads(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = nonzeroValue(rng);
  return out;
}

function randomMask(rng: Rng, n: number, density: number): Uint8Array {
  const m = new Uint8Array(n);
  const keep = Math.round(density * n);
  const perm = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  for (let k = 0; k < keep; k++) m[perm[k]!] = 1;
  return m;
}

/**
 * |actual - expected| <= rtol * max(|expected|, 0.1). The weights are O(1) (they start in
 * [0.5, 1.5] in magnitude); one that crosses zero during the steps is compared at the scale 0.1
 * rather than relative to its own tiny value.
 */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, label: string, only?: (i: number) => boolean): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (only && !only(i)) continue;
    const a = actual[i]!;
    const e = expected[i]!;
    const scale = Math.max(Math.abs(e), 0.1);
    if (!(Math.abs(a - e) <= rtol * scale)) expect.fail(`${label}: entry ${i} is ${a}, expected ${e} (rel ${Math.abs(a - e) / scale})`);
  }
}

/** |actual - expected| <= rtol * |expected| for one value. */
function expectRel(actual: number, expected: number, rtol: number, label = ''): void {
  if (!(Math.abs(actual - expected) <= rtol * Math.abs(expected))) expect.fail(`${label} ${actual}, expected ${expected} (rel ${Math.abs(actual - expected) / Math.abs(expected)})`);
}

function sgdCfg(o: SgdOptions): SgdCfg {
  return { lr: o.lr, momentum: o.momentum ?? 0, dampening: o.dampening ?? 0, nesterov: o.nesterov ?? false, weightDecay: o.weightDecay ?? 0 };
}

/** PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8; weight_decay 0 (Adam) / 1e-2 (AdamW). */
function adamCfg(o: AdamOptions, decoupled: boolean): AdamCfg {
  return {
    lr: o.lr ?? 1e-3,
    beta1: o.betas?.[0] ?? 0.9,
    beta2: o.betas?.[1] ?? 0.999,
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? (decoupled ? 1e-2 : 0),
    decoupled,
  };
}

/** Reads the protected per-parameter state (to check that masked state is compact). */
class ProbeAdam extends Adam {
  stateFor(p: Parameter): ParamState | undefined {
    return this.state.get(p);
  }
}
class ProbeSGD extends SGD {
  stateFor(p: Parameter): ParamState | undefined {
    return this.state.get(p);
  }
}

const sgdCases: Array<[string, SgdOptions]> = [
  ['plain', { lr: 0.1 }],
  ['momentum', { lr: 0.1, momentum: 0.9 }],
  ['momentum + dampening', { lr: 0.1, momentum: 0.9, dampening: 0.3 }],
  ['Nesterov', { lr: 0.05, momentum: 0.8, nesterov: true }],
  ['weight decay', { lr: 0.1, weightDecay: 0.05 }],
  ['momentum + dampening + weight decay', { lr: 0.07, momentum: 0.5, dampening: 0.5, weightDecay: 0.2 }],
  ['Nesterov + weight decay', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.1 }],
];

const adamCases: Array<[string, 'Adam' | 'AdamW', AdamOptions]> = [
  ['Adam', 'Adam', { lr: 0.01 }],
  ['Adam, betas and eps', 'Adam', { lr: 0.05, betas: [0.8, 0.99], eps: 1e-6 }],
  ['Adam + L2 weight decay', 'Adam', { lr: 0.01, weightDecay: 0.1 }],
  ['AdamW (default decay 1e-2)', 'AdamW', { lr: 0.01 }],
  ['AdamW without weight decay', 'AdamW', { lr: 0.01, weightDecay: 0 }],
  ['AdamW + weight decay 0.1', 'AdamW', { lr: 0.02, betas: [0.85, 0.995], weightDecay: 0.1 }],
];

type AnyRef = { w: Float64Array; step(g: ArrayLike<number>, active?: (i: number) => boolean): void };
interface OptCase {
  name: string;
  make(params: Parameter[]): SGD | Adam;
  ref(w0: ArrayLike<number>): AnyRef;
}

const allCases: OptCase[] = [
  ...sgdCases.map(([name, o]): OptCase => ({ name: `SGD ${name}`, make: (ps) => new SGD(ps, o), ref: (w0) => new RefSgd(w0, sgdCfg(o)) })),
  ...adamCases.map(
    ([name, kind, o]): OptCase => ({
      name,
      make: (ps) => (kind === 'Adam' ? new Adam(ps, o) : new AdamW(ps, o)),
      ref: (w0) => new RefAdam(w0, adamCfg(o, kind === 'AdamW')),
    }),
  ),
];

// ----------------------------------------------------------------------------- tests ----

describe('optimizer updates vs float64 references of the PyTorch rules', () => {
  for (const [ci, c] of allCases.entries())
    it(`${c.name}: 5 steps (seed ${100 + ci})`, () => {
      const rng = mulberry32(100 + ci);
      const w0 = weights(rng, 13);
      const p = new Parameter(w0.slice(), [13]);
      const opt = c.make([p]);
      const ref = c.ref(w0);
      for (let s = 0; s < 5; s++) {
        const g = grads(rng, 13);
        p.grad = g.slice();
        opt.step();
        ref.step(g);
        expectClose(p.data, ref.w, 1e-6, `${c.name} step ${s + 1}`);
        // the optimizer reads the gradient, never writes it
        expect(p.grad).toEqual(g);
      }
    });

  for (const [ci, c] of allCases.entries())
    it(`${c.name}: two parameters of different shapes step independently (seed ${200 + ci})`, () => {
      const rng = mulberry32(200 + ci);
      const a0 = weights(rng, 6);
      const b0 = weights(rng, 12);
      const a = new Parameter(a0.slice(), [2, 3]);
      const b = new Parameter(b0.slice(), [3, 2, 2]);
      const opt = c.make([a, b]);
      const ra = c.ref(a0);
      const rb = c.ref(b0);
      for (let s = 0; s < 5; s++) {
        const ga = grads(rng, 6);
        const gb = grads(rng, 12);
        a.grad = ga.slice();
        b.grad = gb.slice();
        opt.step();
        ra.step(ga);
        rb.step(gb);
      }
      expectClose(a.data, ra.w, 1e-6, `${c.name} a`);
      expectClose(b.data, rb.w, 1e-6, `${c.name} b`);
    });

  it('worked by hand: SGD momentum 0.9, lr 0.1, w = 1, g = 0.5 twice', () => {
    // step 1: buf = g = 0.5;                       w = 1 - 0.1 * 0.5 = 0.95
    // step 2: buf = 0.9 * 0.5 + 0.5 = 0.95;        w = 0.95 - 0.1 * 0.95 = 0.855
    const p = new Parameter(Float32Array.of(1), [1]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad = Float32Array.of(0.5);
    opt.step();
    expect(p.data[0]).toBeCloseTo(0.95, 6);
    p.grad = Float32Array.of(0.5);
    opt.step();
    expect(p.data[0]).toBeCloseTo(0.855, 6);
  });

  it('worked by hand: SGD Nesterov 0.9, lr 0.1, w = 1, g = 0.5', () => {
    // buf = 0.5; g' = g + 0.9 * buf = 0.95; w = 1 - 0.1 * 0.95 = 0.905
    const p = new Parameter(Float32Array.of(1), [1]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true });
    p.grad = Float32Array.of(0.5);
    opt.step();
    expect(p.data[0]).toBeCloseTo(0.905, 6);
  });

  it('worked by hand: SGD weight decay 0.1 and dampening 0.5', () => {
    // step 1: g = 0.5 + 0.1 * 1 = 0.6; buf = 0.6 (no dampening on the first step); w = 1 - 0.06 = 0.94
    // step 2: g = 0.5 + 0.1 * 0.94 = 0.594; buf = 0.9 * 0.6 + 0.5 * 0.594 = 0.837; w = 0.94 - 0.0837 = 0.8563
    const p = new Parameter(Float32Array.of(1), [1]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1 });
    p.grad = Float32Array.of(0.5);
    opt.step();
    expect(p.data[0]).toBeCloseTo(0.94, 6);
    p.grad = Float32Array.of(0.5);
    opt.step();
    expect(p.data[0]).toBeCloseTo(0.8563, 6);
  });

  it('worked by hand: Adam lr 0.1, betas (0.9, 0.999), w = 1, g = 0.5 then -1', () => {
    // step 1: m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025
    //         m^ = 0.05 / 0.1 = 0.5, v^ = 0.00025 / 0.001 = 0.25, sqrt = 0.5
    //         w = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.900000002
    // step 2: m = 0.9 * 0.05 + 0.1 * (-1) = -0.055, v = 0.999 * 0.00025 + 0.001 * 1 = 0.00124975
    //         m^ = -0.055 / 0.19 = -0.28947368, v^ = 0.00124975 / 0.001999 = 0.62518759, sqrt = 0.79068805
    //         w = 0.9 + 0.1 * 0.28947368 / 0.79068805 = 0.93661035
    const p = new Parameter(Float32Array.of(1), [1]);
    const opt = new Adam([p], { lr: 0.1 });
    p.grad = Float32Array.of(0.5);
    opt.step();
    expectRel(p.data[0]!, 0.900000002, 1e-6, 'step 1');
    p.grad = Float32Array.of(-1);
    opt.step();
    expectRel(p.data[0]!, 0.93661035, 1e-6, 'step 2');
  });

  it('worked by hand: AdamW lr 0.1, weight decay 0.1, w = 1, g = 0.5', () => {
    // w = 1 * (1 - 0.1 * 0.1) = 0.99, then the Adam step of 0.1: w = 0.89
    // (Adam with L2 instead: g = 0.5 + 0.1 = 0.6, the first step is still lr * sign(g): w = 0.9)
    const p = new Parameter(Float32Array.of(1), [1]);
    const q = new Parameter(Float32Array.of(1), [1]);
    const optW = new AdamW([p], { lr: 0.1, weightDecay: 0.1 });
    const optL2 = new Adam([q], { lr: 0.1, weightDecay: 0.1 });
    p.grad = Float32Array.of(0.5);
    q.grad = Float32Array.of(0.5);
    optW.step();
    optL2.step();
    expectRel(p.data[0]!, 0.89, 1e-6, 'AdamW');
    expectRel(q.data[0]!, 0.9, 1e-6, 'Adam L2');
  });

  for (const kind of ['Adam', 'AdamW'] as const)
    it(`${kind} with beta2 = 0.999 and a large learning rate stays within 1e-6 of the float64 rule (1 - beta2 not rounded through float32)`, () => {
      // 0.999 is 0.99900001287 in float32, so 1 - float32(beta2) = 0.00099998713 is off by 1.3e-5
      // relative; the bias correction sqrt(1 - beta2^t) is exact, so every step is 6.4e-6 too
      // large relative (the first step of lr 1 moves w by 1.0000064, not 1).
      const rng = mulberry32(kind === 'Adam' ? 900 : 901);
      const w0 = weights(rng, 8);
      const p = new Parameter(w0.slice(), [8]);
      const o: AdamOptions = { lr: 0.5, weightDecay: 0 };
      const opt = kind === 'Adam' ? new Adam([p], o) : new AdamW([p], o);
      const ref = new RefAdam(w0, adamCfg(o, kind === 'AdamW'));
      for (let s = 0; s < 5; s++) {
        const g = grads(rng, 8);
        p.grad = g.slice();
        opt.step();
        ref.step(g);
        // 3e-6: float32 update math leaves ~1e-6; the float32 (1 - beta2) bias was 6.4e-6 per step
        expectClose(p.data, ref.w, 3e-6, `${kind} lr 0.5 step ${s + 1}`);
      }
    });

  it("PyTorch's defaults: Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay; AdamW decay 1e-2", () => {
    const adam = new Adam([new Parameter(new Float32Array(1), [1])]);
    expect([adam.lr, adam.beta1, adam.beta2, adam.eps, adam.weightDecay]).toEqual([1e-3, 0.9, 0.999, 1e-8, 0]);
    const adamw = new AdamW([new Parameter(new Float32Array(1), [1])]);
    expect(adamw.weightDecay).toBe(1e-2);
    const sgd = new SGD([new Parameter(new Float32Array(1), [1])], { lr: 0.1 });
    expect([sgd.momentum, sgd.dampening, sgd.nesterov, sgd.weightDecay]).toEqual([0, 0, false, 0]);
  });

  it('a parameter without a gradient is skipped and keeps its own step count', () => {
    const rng = mulberry32(7);
    const a0 = weights(rng, 4);
    const b0 = weights(rng, 4);
    const a = new Parameter(a0.slice(), [4]);
    const b = new Parameter(b0.slice(), [4]);
    const opt = new Adam([a, b], { lr: 0.01 });
    const ra = new RefAdam(a0, adamCfg({ lr: 0.01 }, false));
    const rb = new RefAdam(b0, adamCfg({ lr: 0.01 }, false));
    for (let s = 0; s < 4; s++) {
      const ga = grads(rng, 4);
      a.grad = ga.slice();
      b.grad = null;
      opt.step();
      ra.step(ga);
      expect(b.data).toEqual(b0);
    }
    // b's first step happens at the optimizer's 5th: bias correction of step 1 for b
    const ga = grads(rng, 4);
    const gb = grads(rng, 4);
    a.grad = ga.slice();
    b.grad = gb.slice();
    opt.step();
    ra.step(ga);
    rb.step(gb);
    expectClose(a.data, ra.w, 1e-6, 'a');
    expectClose(b.data, rb.w, 1e-6, 'b');
  });

  it('zeroGrad clears every gradient; the learning rate can be changed between steps', () => {
    const p = new Parameter(Float32Array.of(1, 2), [2]);
    const opt = new SGD([p], { lr: 0.1 });
    p.grad = Float32Array.of(1, 1);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
    opt.step(); // nothing to do
    expect(p.data).toEqual(Float32Array.of(1, 2));
    opt.lr = 0.5;
    p.grad = Float32Array.of(1, -1);
    opt.step();
    expect(p.data).toEqual(Float32Array.of(0.5, 2.5));
  });

  it('reset() forgets momentum: the next step is a first step again', () => {
    const p = new Parameter(Float32Array.of(1), [1]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.5 });
    p.grad = Float32Array.of(1);
    opt.step(); // buf = 1, w = 0.9
    opt.reset();
    p.grad = Float32Array.of(1);
    opt.step(); // buf = 1 again (first step: no dampening, no old momentum), w = 0.8
    expect(p.data[0]).toBeCloseTo(0.8, 6);
  });
});

describe('optimizers on masked parameters', () => {
  for (const [ci, c] of allCases.entries())
    it(`${c.name}: only kept entries change, and as the reference says (seed ${300 + ci})`, () => {
      const rng = mulberry32(300 + ci);
      const n = 40;
      const w0 = weights(rng, n);
      const mask = randomMask(rng, n, 0.4);
      const p = new Parameter(w0.slice(), [5, 8]);
      p.setMask(mask);
      const opt = c.make([p]);
      const masked0 = Float32Array.from(w0, (v, i) => (mask[i] ? v : 0));
      const ref = c.ref(masked0);
      for (let s = 0; s < 5; s++) {
        const g = grads(rng, n); // junk in the pruned slots too
        p.grad = g.slice();
        opt.step();
        ref.step(g, (i) => mask[i] === 1);
        for (let i = 0; i < n; i++) if (!mask[i]) expect(p.data[i], `pruned ${i}`).toBe(0);
        expectClose(p.data, ref.w, 1e-6, `${c.name} step ${s + 1}`, (i) => mask[i] === 1);
      }
    });

  for (const [ci, c] of allCases.entries())
    it(`${c.name}: a pruned weight stays exactly zero through 100 steps of junk gradients (seed ${400 + ci})`, () => {
      const rng = mulberry32(400 + ci);
      const n = 64;
      const p = new Parameter(weights(rng, n), [8, 8]);
      const mask = randomMask(rng, n, 0.5);
      p.setMask(mask);
      const start = p.data.slice();
      const opt = c.make([p]);
      for (let s = 0; s < 100; s++) {
        const g = new Float32Array(n);
        for (let i = 0; i < n; i++) g[i] = (rng() * 2 - 1) * 10; // large junk everywhere
        p.grad = g;
        opt.step();
        for (let i = 0; i < n; i++) if (!mask[i] && p.data[i] !== 0) expect.fail(`step ${s + 1}: pruned weight ${i} became ${p.data[i]}`);
      }
      let moved = 0;
      for (let i = 0; i < n; i++) if (mask[i] && p.data[i] !== start[i]) moved++;
      expect(moved).toBe(32);
    });

  it('masked state is compact: one entry per kept weight', () => {
    const rng = mulberry32(5);
    const p = new Parameter(weights(rng, 30), [5, 6]);
    p.setMask(randomMask(rng, 30, 0.2));
    const adam = new ProbeAdam([p], { lr: 0.01 });
    const sgd = new ProbeSGD([p], { lr: 0.01, momentum: 0.9 });
    p.grad = grads(rng, 30);
    adam.step();
    sgd.step();
    const sa = adam.stateFor(p)!;
    expect(sa.buffers.length).toBe(2);
    for (const b of sa.buffers) expect(b.length).toBe(6);
    expect([...sa.indices!]).toEqual([...p.maskPattern().active]);
    expect(sgd.stateFor(p)!.buffers[0]!.length).toBe(6);
  });

  /**
   * Trains a masked p and an unmasked q on the same gradients, changes p's mask mid-training
   * (prunes some kept weights, regrows some pruned ones) and returns the index sets.
   */
  function remapScenario(seed: number, make: (ps: Parameter[]) => SGD | Adam, stepsBefore: number) {
    const rng = mulberry32(seed);
    const n = 48;
    const w0 = weights(rng, n);
    const maskA = randomMask(rng, n, 0.5);
    const p = new Parameter(w0.slice(), [6, 8]);
    p.setMask(maskA);
    const q = new Parameter(p.data.slice(), [6, 8]); // unmasked twin, same start
    const optP = make([p]);
    const optQ = make([q]);
    const gradSeq: Float32Array[] = [];
    for (let s = 0; s < stepsBefore; s++) {
      const g = grads(rng, n);
      gradSeq.push(g);
      p.grad = g.slice();
      q.grad = g.slice();
      optP.step();
      optQ.step();
    }
    // mask B: prune every third kept weight, regrow every second pruned one
    const kept = [...maskA.keys()].filter((i) => maskA[i] === 1);
    const pruned = [...maskA.keys()].filter((i) => maskA[i] === 0);
    const maskB = maskA.slice();
    const prunedNow = kept.filter((_, k) => k % 3 === 0);
    const regrown = pruned.filter((_, k) => k % 2 === 0);
    for (const i of prunedNow) maskB[i] = 0;
    for (const i of regrown) maskB[i] = 1;
    const both = kept.filter((i) => maskB[i] === 1);
    p.setMask(maskB);
    return { rng, n, p, q, optP, optQ, maskB, both, prunedNow, regrown };
  }

  for (const [ci, c] of allCases.entries())
    it(`${c.name}: after a mask change, weights kept in both masks continue as an unmasked run (seed ${500 + ci})`, () => {
      const { rng, n, p, q, optP, optQ, both, prunedNow } = remapScenario(500 + ci, c.make, 7);
      for (const i of both) expect(p.data[i]).toBe(q.data[i]);
      for (let s = 0; s < 6; s++) {
        const g = grads(rng, n);
        p.grad = g.slice();
        q.grad = g.slice();
        optP.step();
        optQ.step();
        expectClose(p.data, q.data, 1e-6, `after remap, step ${s + 1}`, (i) => both.includes(i));
        for (const i of prunedNow) expect(p.data[i], `newly pruned ${i}`).toBe(0);
      }
    });

  for (const [ci, c] of allCases.entries())
    it(`${c.name}: a regrown weight starts from zero state at its tensor's step count (PyTorch semantics) (seed ${600 + ci})`, () => {
      const { rng, n, p, optP, regrown } = remapScenario(600 + ci, c.make, 9);
      for (const i of regrown) expect(p.data[i]).toBe(0);
      const g = grads(rng, n);
      p.grad = g.slice();
      optP.step();
      // A fresh optimizer of the same kind on a zero-valued copy of each regrown entry, brought
      // to the same step count with zero gradients (its moments stay zero, its weights stay 0):
      // the step count, like PyTorch's, belongs to the tensor, the moments to each weight.
      const fresh = new Parameter(new Float32Array(regrown.length), [regrown.length]);
      const optF = c.make([fresh]);
      for (let s = 0; s < 9; s++) {
        fresh.grad = new Float32Array(regrown.length);
        optF.step();
      }
      for (let k = 0; k < regrown.length; k++) expect(fresh.data[k]).toBe(0);
      fresh.grad = Float32Array.from(regrown, (i) => g[i]!);
      optF.step();
      for (const [k, i] of regrown.entries())
        if (!(Math.abs(p.data[i]! - fresh.data[k]!) <= 1e-6 * Math.abs(fresh.data[k]!)))
          expect.fail(`regrown weight ${i}: first step gave ${p.data[i]}, a fresh ${c.name} gives ${fresh.data[k]}`);
    });

  it('SGD momentum: a regrown weight follows a fresh SGD from the regrowth on (5 steps)', () => {
    const make = (ps: Parameter[]) => new SGD(ps, { lr: 0.05, momentum: 0.9, weightDecay: 0.01 });
    const { rng, n, p, optP, regrown } = remapScenario(700, make, 8);
    const ref = new RefSgd(new Float64Array(regrown.length), sgdCfg({ lr: 0.05, momentum: 0.9, weightDecay: 0.01 }));
    for (let s = 0; s < 5; s++) {
      const g = grads(rng, n);
      p.grad = g.slice();
      optP.step();
      ref.step(Float64Array.from(regrown, (i) => g[i]!));
      for (const [k, i] of regrown.entries()) expect(Math.abs(p.data[i]! - ref.w[k]!)).toBeLessThanOrEqual(1e-6 * Math.abs(ref.w[k]!) + 1e-9);
    }
  });

  it('removing the mask: previously kept weights continue, previously pruned ones start moving', () => {
    const rng = mulberry32(800);
    const n = 20;
    const w0 = weights(rng, n);
    const mask = randomMask(rng, n, 0.5);
    const p = new Parameter(w0.slice(), [n]);
    p.setMask(mask);
    const q = new Parameter(p.data.slice(), [n]);
    const opts = { lr: 0.05, momentum: 0.9 };
    const optP = new SGD([p], opts);
    const optQ = new SGD([q], opts);
    for (let s = 0; s < 4; s++) {
      const g = grads(rng, n);
      p.grad = g.slice();
      q.grad = g.slice();
      optP.step();
      optQ.step();
    }
    p.setMask(null);
    const g = grads(rng, n);
    p.grad = g.slice();
    q.grad = g.slice();
    optP.step();
    optQ.step();
    for (let i = 0; i < n; i++) {
      if (mask[i]) expect(Math.abs(p.data[i]! - q.data[i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(q.data[i]!));
      // fresh momentum with dampening 0: buf = g, w = 0 - lr * g
      else expect(p.data[i]).toBeCloseTo(-0.05 * g[i]!, 7);
    }
  });
});

describe('optimizer argument errors', () => {
  const p = () => new Parameter(Float32Array.of(1, 2), [2]);

  it('bad learning rates give ERR_RANGE', () => {
    for (const lr of [-0.1, NaN, -Infinity]) {
      expectThrows(() => new SGD([p()], { lr }), IndexRangeError, 'ERR_RANGE', `SGD lr ${lr}`);
      expectThrows(() => new Adam([p()], { lr }), IndexRangeError, 'ERR_RANGE', `Adam lr ${lr}`);
      expectThrows(() => new AdamW([p()], { lr }), IndexRangeError, 'ERR_RANGE', `AdamW lr ${lr}`);
    }
    expectThrows(() => new SGD([p()], { lr: '0.1' as unknown as number }), IndexRangeError, 'ERR_RANGE', 'string lr');
    expectThrows(() => new SGD([p()], {} as SgdOptions), IndexRangeError, 'ERR_RANGE', 'missing lr');
  });

  it('a learning rate made non-finite after construction is caught at step()', () => {
    const q = p();
    const opt = new SGD([q], { lr: 0.1 });
    opt.lr = NaN;
    q.grad = Float32Array.of(1, 1);
    expectThrows(() => opt.step(), IndexRangeError, 'ERR_RANGE', 'NaN lr at step');
    expect(q.data).toEqual(Float32Array.of(1, 2));
  });

  it('bad betas, eps and weight decay give ERR_RANGE', () => {
    const bad: Array<[string, AdamOptions]> = [
      ['beta1 < 0', { betas: [-0.1, 0.999] }],
      ['beta1 > 1', { betas: [1.5, 0.999] }],
      ['beta2 > 1', { betas: [0.9, 2] }],
      ['beta2 NaN', { betas: [0.9, NaN] }],
      ['beta2 missing', { betas: [0.9] as unknown as [number, number] }],
      ['eps < 0', { eps: -1e-8 }],
      ['weightDecay < 0', { weightDecay: -0.01 }],
    ];
    for (const [label, o] of bad) {
      expectThrows(() => new Adam([p()], o), IndexRangeError, 'ERR_RANGE', `Adam ${label}`);
      expectThrows(() => new AdamW([p()], o), IndexRangeError, 'ERR_RANGE', `AdamW ${label}`);
    }
  });

  it('betas equal to 1 are rejected (PyTorch requires 0 <= beta < 1: the bias correction divides by 1 - beta^t = 0)', () => {
    expectThrows(() => new Adam([p()], { betas: [1, 0.999] }), IndexRangeError, 'ERR_RANGE', 'beta1 = 1');
    expectThrows(() => new Adam([p()], { betas: [0.9, 1] }), IndexRangeError, 'ERR_RANGE', 'beta2 = 1');
  });

  it('bad momentum, dampening and weight decay give ERR_RANGE', () => {
    const bad: Array<[string, SgdOptions]> = [
      ['momentum < 0', { lr: 0.1, momentum: -0.5 }],
      ['momentum > 1', { lr: 0.1, momentum: 1.5 }],
      ['momentum NaN', { lr: 0.1, momentum: NaN }],
      ['dampening < 0', { lr: 0.1, momentum: 0.9, dampening: -1 }],
      ['dampening > 1', { lr: 0.1, momentum: 0.9, dampening: 2 }],
      ['weightDecay < 0', { lr: 0.1, weightDecay: -1 }],
    ];
    for (const [label, o] of bad) expectThrows(() => new SGD([p()], o), IndexRangeError, 'ERR_RANGE', label);
  });

  it('Nesterov without momentum (or with dampening) throws ERR_TYPE', () => {
    expectThrows(() => new SGD([p()], { lr: 0.1, nesterov: true }), SparsennTypeError, 'ERR_TYPE', 'no momentum');
    expectThrows(() => new SGD([p()], { lr: 0.1, nesterov: true, momentum: 0 }), SparsennTypeError, 'ERR_TYPE', 'momentum 0');
    expectThrows(() => new SGD([p()], { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }), SparsennTypeError, 'ERR_TYPE', 'dampening');
    expect(() => new SGD([p()], { lr: 0.1, nesterov: true, momentum: 0.9 })).not.toThrow();
  });

  it('non-parameters and duplicated parameters give ERR_TYPE', () => {
    const q = p();
    expectThrows(() => new SGD([{} as Parameter], { lr: 0.1 }), SparsennTypeError, 'ERR_TYPE', 'plain object');
    expectThrows(() => new Adam([q, q]), SparsennTypeError, 'ERR_TYPE', 'twice');
  });

  it('a gradient of the wrong length gives ERR_SHAPE, not a crash', () => {
    const q = p();
    q.grad = new Float32Array(5);
    expectThrows(() => new SGD([q], { lr: 0.1 }).step(), ShapeError, 'ERR_SHAPE', 'SGD');
    expectThrows(() => new Adam([q]).step(), ShapeError, 'ERR_SHAPE', 'Adam');
  });
});

describe('learning-rate schedules', () => {
  const base = 0.3;

  it('constantLr is the base rate', () => {
    for (const s of [0, 1, 17, 10_000]) expect(constantLr.lrAt(s, base)).toBe(base);
  });

  it('stepLr: base * gamma^floor(step / stepSize)', () => {
    for (const [size, gamma] of [
      [10, 0.5],
      [1, 0.9],
      [7, 0.1],
    ] as const) {
      const sched = stepLr(size, gamma);
      for (let s = 0; s <= 100; s++) expect(sched.lrAt(s, base)).toBeCloseTo(base * gamma ** Math.floor(s / size), 14);
    }
    // default gamma 0.1
    expect(stepLr(5).lrAt(12, 1)).toBeCloseTo(0.01, 14);
  });

  it('cosineLr: min + (base - min)(1 + cos(pi step / T)) / 2, then min', () => {
    for (const [T, minLr] of [
      [50, 0],
      [37, 0.001],
      [1, 0.05],
    ] as const) {
      const sched = cosineLr(T, minLr);
      for (let s = 0; s <= 2 * T + 5; s++) {
        const want = s >= T ? minLr : minLr + ((base - minLr) * (1 + Math.cos((Math.PI * s) / T))) / 2;
        expect(sched.lrAt(s, base)).toBeCloseTo(want, 14);
      }
      expect(sched.lrAt(0, base)).toBeCloseTo(base, 14);
      expect(sched.lrAt(T, base)).toBe(minLr);
    }
    // the midpoint is the mean of base and minLr
    expect(cosineLr(40, 0.1).lrAt(20, 0.5)).toBeCloseTo(0.3, 14);
  });

  it('linearWarmup composed with cosine: linear ramp to the cosine start, then the cosine shifted by the warm-up', () => {
    const W = 10;
    const T = 40;
    for (const startFactor of [0, 0.1]) {
      const sched = linearWarmup(W, cosineLr(T, 0.01), startFactor);
      for (let s = 0; s <= W + T + 10; s++) {
        let want: number;
        if (s < W) want = base * (startFactor + ((1 - startFactor) * s) / W);
        else if (s - W >= T) want = 0.01;
        else want = 0.01 + ((base - 0.01) * (1 + Math.cos((Math.PI * (s - W)) / T))) / 2;
        expect(sched.lrAt(s, base), `step ${s} startFactor ${startFactor}`).toBeCloseTo(want, 14);
      }
      // continuous at the end of the warm-up, monotone during it
      expect(sched.lrAt(W, base)).toBeCloseTo(base, 14);
      for (let s = 1; s < W; s++) expect(sched.lrAt(s, base)).toBeGreaterThan(sched.lrAt(s - 1, base));
    }
    // zero warm-up steps: the wrapped schedule unchanged
    const plain = cosineLr(T);
    const wrapped = linearWarmup(0, plain);
    for (let s = 0; s < 50; s++) expect(wrapped.lrAt(s, base)).toBe(plain.lrAt(s, base));
    // default: warm-up to a constant rate
    expect(linearWarmup(4).lrAt(1, 2)).toBeCloseTo(0.5, 14);
    expect(linearWarmup(4).lrAt(9, 2)).toBe(2);
  });

  it('linearWarmup composed with stepLr counts the step schedule from the end of the warm-up', () => {
    const sched = linearWarmup(5, stepLr(3, 0.5));
    for (let s = 5; s < 30; s++) expect(sched.lrAt(s, 1)).toBeCloseTo(0.5 ** Math.floor((s - 5) / 3), 14);
  });

  it('bad schedule arguments give ERR_RANGE', () => {
    expectThrows(() => stepLr(0), IndexRangeError, 'ERR_RANGE', 'stepLr(0)');
    expectThrows(() => stepLr(2.5), IndexRangeError, 'ERR_RANGE', 'stepLr(2.5)');
    expectThrows(() => cosineLr(0), IndexRangeError, 'ERR_RANGE', 'cosineLr(0)');
    expectThrows(() => cosineLr(NaN), IndexRangeError, 'ERR_RANGE', 'cosineLr(NaN)');
    expectThrows(() => linearWarmup(-1), IndexRangeError, 'ERR_RANGE', 'linearWarmup(-1)');
    expectThrows(() => linearWarmup(1.5), IndexRangeError, 'ERR_RANGE', 'linearWarmup(1.5)');
  });
});

describe('gradient clipping', () => {
  function gradParams(seed: number, scale: number): Parameter[] {
    const rng = mulberry32(seed);
    const a = new Parameter(weights(rng, 12), [3, 4]);
    const b = new Parameter(weights(rng, 5), [5]);
    const c = new Parameter(weights(rng, 20), [4, 5]);
    c.setMask(randomMask(rng, 20, 0.4));
    a.grad = Float32Array.from(grads(rng, 12), (v) => v * scale);
    b.grad = Float32Array.from(grads(rng, 5), (v) => v * scale);
    c.grad = Float32Array.from(grads(rng, 20), (v, i) => (c.mask![i] ? v * scale : 0));
    return [a, b, c];
  }

  function norm64(ps: Parameter[]): number {
    let s = 0;
    for (const p of ps) if (p.grad) for (const v of p.grad) s += v * v;
    return Math.sqrt(s);
  }

  it('returns the float64 global norm; after clipping the norm is maxNorm and directions are unchanged', () => {
    for (const seed of [1, 2, 3]) {
      const ps = gradParams(seed, 3);
      const before = ps.map((p) => Float64Array.from(p.grad!));
      const want = norm64(ps);
      const maxNorm = want / 4;
      const got = clipGradNorm(ps, maxNorm);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * want);
      expect(Math.abs(norm64(ps) - maxNorm)).toBeLessThanOrEqual(1e-5 * maxNorm);
      // one common scale factor: every entry is the old one times maxNorm / norm
      const k = maxNorm / want;
      for (const [pi, p] of ps.entries())
        for (let i = 0; i < p.size; i++) expect(Math.abs(p.grad![i]! - before[pi]![i]! * k)).toBeLessThanOrEqual(1e-6 * Math.abs(before[pi]![i]! * k) + 1e-12);
      // pruned slots stay zero
      const c = ps[2]!;
      for (let i = 0; i < c.size; i++) if (!c.mask![i]) expect(c.grad![i]).toBe(0);
    }
  });

  it('leaves gradients untouched when the norm is below maxNorm, and skips parameters without a gradient', () => {
    const ps = gradParams(9, 0.01);
    const none = new Parameter(Float32Array.of(1, 2, 3), [3]);
    const before = ps.map((p) => p.grad!.slice());
    const want = norm64(ps);
    const got = clipGradNorm([...ps, none], want * 2);
    expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * want);
    for (const [pi, p] of ps.entries()) expect(p.grad).toEqual(before[pi]);
    expect(none.grad).toBeNull();
    // all-zero gradients: norm 0, nothing scaled, no NaN
    const z = new Parameter(new Float32Array(4), [4]);
    z.grad = new Float32Array(4);
    expect(clipGradNorm([z], 1)).toBe(0);
    expect(z.grad).toEqual(new Float32Array(4));
  });

  it('clipGradNorm with a huge gradient still lands on maxNorm', () => {
    const p = new Parameter(new Float32Array(3), [3]);
    p.grad = Float32Array.of(3e4, -4e4, 0);
    expect(clipGradNorm([p], 1)).toBeCloseTo(5e4, 6);
    expect(p.grad[0]).toBeCloseTo(0.6, 5);
    expect(p.grad[1]).toBeCloseTo(-0.8, 5);
    expect(p.grad[2]).toBe(0);
  });

  it('clipGradValue clamps every entry to [-value, value]', () => {
    const ps = gradParams(4, 2);
    const before = ps.map((p) => p.grad!.slice());
    clipGradValue(ps, 0.5);
    for (const [pi, p] of ps.entries())
      for (let i = 0; i < p.size; i++) expect(p.grad![i]).toBe(Math.fround(Math.min(0.5, Math.max(-0.5, before[pi]![i]!))));
  });

  it('bad maxNorm / clip values give ERR_RANGE', () => {
    const ps = gradParams(1, 1);
    for (const v of [0, -1, NaN]) {
      expectThrows(() => clipGradNorm(ps, v), IndexRangeError, 'ERR_RANGE', `maxNorm ${v}`);
      expectThrows(() => clipGradValue(ps, v), IndexRangeError, 'ERR_RANGE', `value ${v}`);
    }
  });
});
