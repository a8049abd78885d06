/**
 * Dense vs sparse execution of masked weights (lib/nn/ops/weight-product.ts through Linear):
 * both paths against a float64 reference of
 *   y = (W * mask) x + b,   dW = (g x^T) * mask,   dx = (W * mask)^T g,   db = g 1
 * on several densities and batch sizes, inside an MLP, under 'auto', through 50 Adam steps,
 * across mask changes and with two forward passes in flight.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ShapeError, SparsennError } from '../../lib/errors.js';
import { ReLU } from '../../lib/nn/layers/activations.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { native } from '../../lib/native.js';
import { mse } from '../../lib/nn/ops/loss.js';
import { getSparseThreshold, setSparseThreshold, sparseExecution, weightProduct, type WeightExecution } from '../../lib/nn/ops/weight-product.js';
import { Adam } from '../../lib/nn/optim/adam.js';
import type { Parameter } from '../../lib/nn/parameter.js';
import { Random } from '../../lib/nn/random.js';
import { Tensor } from '../../lib/nn/tensor.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32, type Rng } from '../helpers/random.js';

const defaultThreshold = getSparseThreshold();
afterEach(() => {
  setSparseThreshold(defaultThreshold);
  vi.restoreAllMocks();
});

// --------------------------------------------------------------------------- helpers ----

/** Exactly round(density * n) ones at uniformly random positions. */
function randomMask(rng: Rng, n: number, density: number): Uint8Array {
  const m = new Uint8Array(n);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const keep = Math.round(density * n);
  for (let i = 0; i < keep; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
    m[perm[i]!] = 1;
  }
  return m;
}

function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

/** A value and, per entry, the sum of |terms| that made it (the scale of its rounding error). */
interface Ref {
  v: Float64Array;
  s: Float64Array;
}

/** Float64 reference of the Linear forward and backward (W rows x cols, x cols x n, g rows x n). */
function refLinear(W: ArrayLike<number>, mask: ArrayLike<number> | null, b: ArrayLike<number> | null, x: ArrayLike<number>, g: ArrayLike<number>, rows: number, cols: number, n: number) {
  const kept = (i: number) => (mask ? mask[i] === 1 : true);
  const y: Ref = { v: new Float64Array(rows * n), s: new Float64Array(rows * n) };
  const dW: Ref = { v: new Float64Array(rows * cols), s: new Float64Array(rows * cols) };
  const dx: Ref = { v: new Float64Array(cols * n), s: new Float64Array(cols * n) };
  const db: Ref = { v: new Float64Array(rows), s: new Float64Array(rows) };
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      let v = b ? b[r]! : 0;
      let s = Math.abs(v);
      for (let k = 0; k < cols; k++) {
        const w = kept(r * cols + k) ? W[r * cols + k]! : 0;
        const t = w * x[k * n + j]!;
        v += t;
        s += Math.abs(t);
      }
      y.v[r * n + j] = v;
      y.s[r * n + j] = s;
    }
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < cols; k++) {
      if (!kept(r * cols + k)) continue;
      let v = 0;
      let s = 0;
      for (let j = 0; j < n; j++) {
        const t = g[r * n + j]! * x[k * n + j]!;
        v += t;
        s += Math.abs(t);
      }
      dW.v[r * cols + k] = v;
      dW.s[r * cols + k] = s;
    }
  for (let k = 0; k < cols; k++)
    for (let j = 0; j < n; j++) {
      let v = 0;
      let s = 0;
      for (let r = 0; r < rows; r++) {
        const w = kept(r * cols + k) ? W[r * cols + k]! : 0;
        const t = w * g[r * n + j]!;
        v += t;
        s += Math.abs(t);
      }
      dx.v[k * n + j] = v;
      dx.s[k * n + j] = s;
    }
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      db.v[r] += g[r * n + j]!;
      db.s[r] += Math.abs(g[r * n + j]!);
    }
  return { y, dW, dx, db };
}

/** |actual - ref| <= rtol * (sum of |terms|) entrywise: relative error of a float32 dot product. */
function expectRef(actual: ArrayLike<number> | null, ref: Ref, rtol: number, label: string): void {
  expect(actual, `${label}: missing`).not.toBeNull();
  const a = actual!;
  expect(a.length, `${label}: length`).toBe(ref.v.length);
  for (let i = 0; i < a.length; i++)
    if (!(Math.abs(a[i]! - ref.v[i]!) <= rtol * ref.s[i]! + 1e-30)) expect.fail(`${label}[${i}] = ${a[i]}, reference ${ref.v[i]} (scale ${ref.s[i]})`);
}

/** |a - b| <= rtol * scale[i] entrywise (dense vs sparse). */
function expectAgree(a: ArrayLike<number>, b: ArrayLike<number>, scale: ArrayLike<number>, rtol: number, label: string): void {
  expect(a.length, `${label}: length`).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    if (!(Math.abs(a[i]! - b[i]!) <= rtol * scale[i]! + 1e-30)) expect.fail(`${label}[${i}]: dense ${a[i]}, sparse ${b[i]}`);
}

/** max |ref| of an array, for norm-wise comparisons of deep results. */
function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function expectNormClose(a: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, label: string): void {
  expect(a.length, `${label}: length`).toBe(ref.length);
  const tol = rtol * Math.max(maxAbs(ref), 1e-30);
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i]! - ref[i]!) <= tol)) expect.fail(`${label}[${i}] = ${a[i]}, expected ${ref[i]} (tol ${tol})`);
}

interface Pass {
  y: Float32Array;
  dx: Float32Array;
  dW: Float32Array;
  db: Float32Array | null;
}

/** One forward + backward of `layer` on x (fresh gradients), with upstream g. */
function runLinear(layer: Linear, xData: Float32Array, g: Float32Array, execution: WeightExecution): Pass {
  layer.execution = execution;
  layer.weight.zeroGrad();
  layer.bias?.zeroGrad();
  const n = xData.length / layer.inFeatures;
  const x = new Tensor(xData.slice(), [layer.inFeatures, n], true);
  const y = layer.forward(x);
  expect(y.shape).toEqual([layer.outFeatures, n]);
  y.backward(g);
  return {
    y: y.data.slice(),
    dx: x.grad ? x.grad.slice() : new Float32Array(x.size),
    dW: layer.weight.grad!.slice(),
    db: layer.bias ? layer.bias.grad!.slice() : null,
  };
}

function expectPrunedGradsZero(p: Parameter, grad: Float32Array, label: string): void {
  const m = p.mask;
  if (!m) return;
  for (let i = 0; i < m.length; i++) if (m[i] === 0 && grad[i] !== 0) expect.fail(`${label}: pruned weight ${i} has gradient ${grad[i]}`);
}

function makeLayer(inF: number, outF: number, seed: number, density: number | null, bias = true): Linear {
  const layer = new Linear(inF, outF, { rng: new Random(seed), bias });
  if (density !== null) layer.weight.setMask(randomMask(mulberry32(seed + 1), inF * outF, density));
  return layer;
}

// ------------------------------------------------------------------------------ tests ----

describe('Linear: dense and sparse execution agree with each other and with the float64 reference', () => {
  const IN = 37;
  const OUT = 29;
  for (const density of [0.05, 0.3, 0.7, null])
    for (const n of [1, 3, 64])
      for (const bias of [true, false]) {
        const seed = 1000 + Math.round((density ?? 1) * 100) * 10 + n + (bias ? 0 : 5000);
        it(`density ${density ?? '1 (no mask)'}, batch ${n}, ${bias ? 'bias' : 'no bias'} (seed ${seed})`, () => {
          const layer = makeLayer(IN, OUT, seed, density, bias);
          const rng = mulberry32(seed + 2);
          const x = randomArray(rng, IN * n);
          const g = randomArray(rng, OUT * n);
          const dense = runLinear(layer, x, g, 'dense');
          const sparse = runLinear(layer, x, g, 'sparse');
          const ref = refLinear(layer.weight.data, layer.weight.mask, layer.bias?.data ?? null, x, g, OUT, IN, n);
          for (const [name, pass] of [
            ['dense', dense],
            ['sparse', sparse],
          ] as const) {
            expectRef(pass.y, ref.y, 1e-5, `${name} y`);
            expectRef(pass.dx, ref.dx, 1e-5, `${name} dx`);
            expectRef(pass.dW, ref.dW, 1e-5, `${name} dW`);
            if (bias) expectRef(pass.db, ref.db, 1e-5, `${name} db`);
            expectPrunedGradsZero(layer.weight, pass.dW, name);
          }
          expectAgree(dense.y, sparse.y, ref.y.s, 1e-5, 'y');
          expectAgree(dense.dx, sparse.dx, ref.dx.s, 1e-5, 'dx');
          expectAgree(dense.dW, sparse.dW, ref.dW.s, 1e-5, 'dW');
          if (bias) expect(sparse.db).toEqual(dense.db);
          // pruned weights themselves are zero
          const m = layer.weight.mask;
          if (m) for (let i = 0; i < m.length; i++) if (!m[i]) expect(layer.weight.data[i]).toBe(0);
        });
      }

  it('a sparse weight matches finite differences at density 0.05 (rows without any kept weight)', () => {
    const layer = makeLayer(12, 9, 77, 0.05);
    layer.execution = 'sparse';
    const x = new Tensor(randomArray(mulberry32(78), 12 * 3), [12, 3], true);
    gradCheck(() => layer.forward(x), [x, layer.weight, layer.bias!]);
  });
});

describe('an MLP (Linear / ReLU / Linear) with masks', () => {
  function makeMlp(seed: number, d1: number, d2: number): { mlp: Sequential; l1: Linear; l2: Linear } {
    const l1 = makeLayer(20, 32, seed, d1);
    const l2 = makeLayer(32, 8, seed + 10, d2);
    return { mlp: new Sequential(l1, new ReLU(), l2), l1, l2 };
  }

  /** Float64 forward/backward of the MLP with upstream g. */
  function refMlp(l1: Linear, l2: Linear, x: Float32Array, g: Float32Array, n: number) {
    const h = refLinear(l1.weight.data, l1.weight.mask, l1.bias!.data, x, new Float64Array(32 * n), 32, 20, n).y.v;
    const a = h.map((v) => Math.max(v, 0));
    const top = refLinear(l2.weight.data, l2.weight.mask, l2.bias!.data, a, g, 8, 32, n);
    const gh = top.dx.v.map((v, i) => (h[i]! > 0 ? v : 0));
    const bottom = refLinear(l1.weight.data, l1.weight.mask, l1.bias!.data, x, gh, 32, 20, n);
    return { y: top.y.v, dx: bottom.dx.v, dW1: bottom.dW.v, db1: bottom.db.v, dW2: top.dW.v, db2: top.db.v, h };
  }

  for (const n of [1, 3, 64])
    it(`forward and every gradient agree between dense and sparse, batch ${n}`, () => {
      const { mlp, l1, l2 } = makeMlp(2000 + n, 0.3, 0.5);
      const rng = mulberry32(2100 + n);
      const x = randomArray(rng, 20 * n);
      const g = randomArray(rng, 8 * n);
      const ref = refMlp(l1, l2, x, g, n);
      // keep clear of the ReLU kink: float32 rounding must not flip an activation
      for (const v of ref.h) expect(Math.abs(v)).toBeGreaterThan(1e-5);
      const results: Record<string, Record<string, Float32Array>> = {};
      for (const mode of ['dense', 'sparse'] as const) {
        l1.execution = mode;
        l2.execution = mode;
        for (const p of mlp.parameters()) p.zeroGrad();
        const xt = new Tensor(x.slice(), [20, n], true);
        const y = mlp.forward(xt);
        y.backward(g);
        const r = { y: y.data.slice(), dx: xt.grad!.slice(), dW1: l1.weight.grad!.slice(), db1: l1.bias!.grad!.slice(), dW2: l2.weight.grad!.slice(), db2: l2.bias!.grad!.slice() };
        results[mode] = r;
        for (const k of Object.keys(r)) expectNormClose(r[k as keyof typeof r], ref[k as keyof typeof ref], 1e-5, `${mode} ${k}`);
        expectPrunedGradsZero(l1.weight, r.dW1, `${mode} layer 1`);
        expectPrunedGradsZero(l2.weight, r.dW2, `${mode} layer 2`);
      }
      for (const k of Object.keys(results['dense']!)) expectNormClose(results['sparse']![k]!, results['dense']![k]!, 1e-5, `dense vs sparse ${k}`);
      expect(mlp.parameters()).toHaveLength(4);
    });

  it('training 50 Adam steps gives the same weights with dense and sparse execution', () => {
    const build = (mode: WeightExecution) => {
      const l1 = makeLayer(8, 16, 3000, 0.4);
      const l2 = makeLayer(16, 4, 3010, 0.5);
      l1.execution = mode;
      l2.execution = mode;
      return { mlp: new Sequential(l1, new ReLU(), l2), l1, l2 };
    };
    const rng = mulberry32(3100);
    const n = 32;
    const X = randomArray(rng, 8 * n);
    const teacher = randomArray(rng, 4 * 8);
    const Y = new Float32Array(4 * n);
    for (let r = 0; r < 4; r++) for (let j = 0; j < n; j++) for (let k = 0; k < 8; k++) Y[r * n + j] += teacher[r * 8 + k]! * X[k * n + j]!;
    const runs = (['dense', 'sparse'] as const).map((mode) => {
      const m = build(mode);
      const opt = new Adam(m.mlp.parameters(), { lr: 1e-2 });
      const losses: number[] = [];
      for (let s = 0; s < 50; s++) {
        opt.zeroGrad();
        const loss = mse(m.mlp.forward(new Tensor(X, [8, n])), Y);
        losses.push(loss.item());
        loss.backward();
        opt.step();
      }
      return { ...m, losses };
    });
    const [d, s] = runs as [(typeof runs)[0], (typeof runs)[0]];
    expect(d.losses[49]).toBeLessThan(d.losses[0]! * 0.8);
    for (let k = 0; k < 50; k++) expect(Math.abs(d.losses[k]! - s.losses[k]!)).toBeLessThanOrEqual(1e-4 * Math.max(1, d.losses[k]!));
    for (const [a, b] of [
      [d.l1.weight, s.l1.weight],
      [d.l1.bias!, s.l1.bias!],
      [d.l2.weight, s.l2.weight],
      [d.l2.bias!, s.l2.bias!],
    ] as const) {
      for (let i = 0; i < a.size; i++) if (!(Math.abs(a.data[i]! - b.data[i]!) <= 1e-4)) expect.fail(`weight ${i}: dense ${a.data[i]}, sparse ${b.data[i]}`);
      const m = a.mask;
      if (m) for (let i = 0; i < m.length; i++) if (!m[i]) expect(a.data[i] === 0 && b.data[i] === 0, `pruned ${i}`).toBe(true);
    }
  });
});

describe("'auto' execution and the sparse threshold", () => {
  it('sparseExecution: masked weights at or below the threshold run sparse; unmasked ones never in auto', () => {
    const layer = makeLayer(10, 10, 4000, 0.3); // density exactly 0.3
    const w = layer.weight;
    expect(w.density()).toBe(0.3);
    setSparseThreshold(0.3);
    expect(sparseExecution(w, 'auto')).toBe(true);
    setSparseThreshold(0.29);
    expect(sparseExecution(w, 'auto')).toBe(false);
    expect(sparseExecution(w, 'sparse')).toBe(true);
    setSparseThreshold(1);
    expect(sparseExecution(w, 'dense')).toBe(false);
    const plain = makeLayer(10, 10, 4001, null);
    expect(sparseExecution(plain.weight, 'auto')).toBe(false);
    expect(getSparseThreshold()).toBe(1);
  });

  it('the default threshold is 0.3; out-of-range thresholds are rejected with a typed error', () => {
    expect(defaultThreshold).toBe(0.3);
    for (const v of [-0.1, 1.1, NaN]) expect(() => setSparseThreshold(v)).toThrow(SparsennError);
    expect(getSparseThreshold()).toBe(0.3);
  });

  for (const density of [0.05, 0.5])
    it(`threshold 1 makes auto identical to sparse, threshold 0 identical to dense (density ${density})`, () => {
      const layer = makeLayer(23, 17, 4100, density);
      const rng = mulberry32(4101);
      const x = randomArray(rng, 23 * 5);
      const g = randomArray(rng, 17 * 5);
      const gemm = vi.spyOn(native, 'gemm');
      const matmul = vi.spyOn(native, 'matmul');
      setSparseThreshold(1);
      const autoSparse = runLinear(layer, x, g, 'auto');
      // a dense product with the weights: gemm with more than one output column (the bias
      // gradient is a GEMV against ones on either path)
      const weightGemms = () => gemm.mock.calls.filter((c) => c[2] !== 1).length;
      expect(matmul).toHaveBeenCalledTimes(1);
      expect(weightGemms()).toBe(0);
      setSparseThreshold(0);
      const autoDense = runLinear(layer, x, g, 'auto');
      expect(matmul).toHaveBeenCalledTimes(1);
      expect(weightGemms()).toBeGreaterThan(0);
      vi.restoreAllMocks();
      const sparse = runLinear(layer, x, g, 'sparse');
      const dense = runLinear(layer, x, g, 'dense');
      expect(autoSparse).toEqual(sparse);
      expect(autoDense).toEqual(dense);
      // and the default threshold picks by density
      setSparseThreshold(defaultThreshold);
      expect(runLinear(layer, x, g, 'auto')).toEqual(density <= defaultThreshold ? sparse : dense);
    });
});

describe('mask changes and graphs in flight', () => {
  it('a mask change between steps is honoured by the sparse path (new pattern used, pruned outputs vanish)', () => {
    const IN = 16;
    const OUT = 12;
    const n = 4;
    const layer = makeLayer(IN, OUT, 5000, 0.3);
    layer.execution = 'sparse';
    const w = layer.weight;
    const rng = mulberry32(5001);
    const x = randomArray(rng, IN * n);
    const g = randomArray(rng, OUT * n);
    const first = runLinear(layer, x, g, 'sparse');
    const refA = refLinear(w.data, w.mask, layer.bias!.data, x, g, OUT, IN, n);
    expectRef(first.y, refA.y, 1e-5, 'mask A y');
    // mask B: row 0 entirely pruned; every kept weight of A at an even index pruned; some pruned ones regrown
    const maskA = w.mask!.slice();
    const maskB = maskA.slice();
    for (let i = 0; i < maskB.length; i++) if (maskA[i] && i % 2 === 0) maskB[i] = 0;
    const regrown: number[] = [];
    for (let i = IN; i < maskB.length && regrown.length < 10; i += 3)
      if (!maskA[i]) {
        maskB[i] = 1;
        regrown.push(i);
      }
    maskB.fill(0, 0, IN);
    w.setMask(maskB);
    for (const i of regrown) w.data[i] = 0.25 + (i % 5) * 0.1; // a regrown weight gets a value
    const second = runLinear(layer, x, g, 'sparse');
    const refB = refLinear(w.data, maskB, layer.bias!.data, x, g, OUT, IN, n);
    expectRef(second.y, refB.y, 1e-5, 'mask B y');
    expectRef(second.dx, refB.dx, 1e-5, 'mask B dx');
    expectRef(second.dW, refB.dW, 1e-5, 'mask B dW');
    expectPrunedGradsZero(w, second.dW, 'mask B');
    for (let j = 0; j < n; j++) expect(second.y[j]).toBe(layer.bias!.data[0]); // row 0: bias only
    for (const i of regrown) expect(second.dW[i]).not.toBe(0);
    // dense agrees on the new mask too
    const dense = runLinear(layer, x, g, 'dense');
    expectAgree(dense.y, second.y, refB.y.s, 1e-5, 'y');
    expectAgree(dense.dW, second.dW, refB.dW.s, 1e-5, 'dW');
  });

  for (const mode of ['sparse', 'dense'] as const)
    it(`${mode}: a mask change between forward and backward never leaves a gradient on a pruned weight`, () => {
      const layer = makeLayer(10, 8, 5100, 0.5);
      layer.execution = mode;
      const w = layer.weight;
      const rng = mulberry32(5101);
      const x = new Tensor(randomArray(rng, 10 * 3), [10, 3], true);
      const y = layer.forward(x);
      const maskB = w.mask!.slice();
      for (let i = 0; i < maskB.length; i += 2) maskB[i] = 0;
      w.setMask(maskB);
      let threw: unknown = null;
      try {
        y.backward(randomArray(rng, 8 * 3));
      } catch (e) {
        threw = e;
      }
      if (threw) {
        // the documented outcome: a typed error
        expect(threw).toBeInstanceOf(ShapeError);
      } else {
        expectPrunedGradsZero(w, w.grad!, `${mode} after mask change`);
      }
    });

  for (const mode of ['sparse', 'dense'] as const)
    it(`${mode}: two forward passes with different weights before backward: each backward uses its own weights`, () => {
      const IN = 14;
      const OUT = 11;
      const n = 3;
      const layer = makeLayer(IN, OUT, 5200, 0.3);
      layer.execution = mode;
      const w = layer.weight;
      const rng = mulberry32(5201);
      const x1 = new Tensor(randomArray(rng, IN * n), [IN, n], true);
      const x2 = new Tensor(randomArray(rng, IN * n), [IN, n], true);
      const g1 = randomArray(rng, OUT * n);
      const g2 = randomArray(rng, OUT * n);
      const W1 = w.data.slice();
      const y1 = layer.forward(x1);
      // an in-place update of the kept weights (what an optimizer step does)
      for (let i = 0; i < w.size; i++) w.data[i] = w.data[i]! * -1.5 + (w.mask![i] ? 0.125 : 0);
      const W2 = w.data.slice();
      const y2 = layer.forward(x2);
      const ref1 = refLinear(W1, w.mask, layer.bias!.data, x1.data, g1, OUT, IN, n);
      const ref2 = refLinear(W2, w.mask, layer.bias!.data, x2.data, g2, OUT, IN, n);
      expectRef(y1.data, ref1.y, 1e-5, 'y1');
      expectRef(y2.data, ref2.y, 1e-5, 'y2');
      y1.backward(g1);
      expectRef(x1.grad, ref1.dx, 1e-5, 'dx1 (first weights)');
      expectRef(w.grad, ref1.dW, 1e-5, 'dW1');
      w.zeroGrad();
      y2.backward(g2);
      expectRef(x2.grad, ref2.dx, 1e-5, 'dx2 (second weights)');
      expectRef(w.grad, ref2.dW, 1e-5, 'dW2');
    });
});

describe('zero-size and batch-1 edge cases', () => {
  for (const mode of ['dense', 'sparse'] as const) {
    it(`${mode}: a batch of zero samples gives [out, 0] and zero parameter gradients`, () => {
      const layer = makeLayer(9, 6, 6000, 0.3);
      const r = runLinear(layer, new Float32Array(0), new Float32Array(0), mode);
      expect(r.y.length).toBe(0);
      expect(r.dx.length).toBe(0);
      expect(r.dW).toEqual(new Float32Array(54));
      expect(r.db).toEqual(new Float32Array(6));
    });

    it(`${mode}: a mask with no kept weight: y = bias, dW = 0, dx = 0`, () => {
      const layer = makeLayer(9, 6, 6100, 0);
      expect(layer.weight.density()).toBe(0);
      const rng = mulberry32(6101);
      const x = randomArray(rng, 9 * 4);
      const g = randomArray(rng, 6 * 4);
      const r = runLinear(layer, x, g, mode);
      for (let o = 0; o < 6; o++) for (let j = 0; j < 4; j++) expect(r.y[o * 4 + j]).toBe(layer.bias!.data[o]);
      expect(r.dW).toEqual(new Float32Array(54));
      for (const v of r.dx) expect(v).toBe(0);
      const ref = refLinear(layer.weight.data, layer.weight.mask, layer.bias!.data, x, g, 6, 9, 4);
      expectRef(r.db, ref.db, 1e-6, 'db');
    });

    it(`${mode}: Linear(1, 1) with batch 1, and a single kept weight`, () => {
      const tiny = makeLayer(1, 1, 6200, null);
      const r = runLinear(tiny, Float32Array.of(0.5), Float32Array.of(2), mode);
      const w = tiny.weight.data[0]!;
      const b = tiny.bias!.data[0]!;
      expect(r.y[0]).toBeCloseTo(w * 0.5 + b, 6);
      expect(r.dW[0]).toBeCloseTo(1, 6);
      expect(r.dx[0]).toBeCloseTo(2 * w, 6);
      expect(r.db![0]).toBeCloseTo(2, 6);
      const one = makeLayer(5, 4, 6300, null);
      const m = new Uint8Array(20);
      m[13] = 1; // row 3, column 3
      one.weight.setMask(m);
      const rng = mulberry32(6301);
      const x = randomArray(rng, 5);
      const g = randomArray(rng, 4);
      const rr = runLinear(one, x, g, mode);
      const ref = refLinear(one.weight.data, m, one.bias!.data, x, g, 4, 5, 1);
      expectRef(rr.y, ref.y, 1e-6, 'y');
      expectRef(rr.dx, ref.dx, 1e-6, 'dx');
      expectRef(rr.dW, ref.dW, 1e-6, 'dW');
    });
  }

  it('weightProduct on an input of the wrong size gives ERR_SHAPE in both modes', () => {
    const layer = makeLayer(6, 4, 6400, 0.5);
    for (const mode of ['dense', 'sparse'] as const) {
      expect(() => weightProduct(new Tensor(new Float32Array(7 * 2), [7, 2]), layer.weight, layer.bias, mode)).toThrow(ShapeError);
      expect(() => layer.forward(new Tensor(new Float32Array(5 * 3), [5, 3]))).toThrow(ShapeError);
    }
  });
});
