/**
 * Element-wise ops (activations, arithmetic, dropout), softmax, and the shape ops layers need
 * (concat, reshape, flatten), each with its gradient.
 *
 * Tensors are batch-last ([F, n], [C, H, W, n]): "axis" arguments count the non-batch axes only,
 * so axis 0 is the feature / channel axis and the batch axis can never be named.
 */
import { float32Uninit } from '../../alloc.js';
import { native } from '../../native.js';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { defaultRandom } from '../init.js';
import type { Random } from '../random.js';
import { accumulateGrad, accumulateOwnedGrad, opResult, shapeSize, Tensor } from '../tensor.js';

/**
 * y = f(x) element-wise; `grad(x, y, g, out)` writes d(loss)/dx given the upstream g into out.
 * The building block of every activation.
 */
export function unaryOp(
  x: Tensor,
  op: string,
  f: (x: Float32Array, y: Float32Array) => void,
  grad: (x: Float32Array, y: Float32Array, g: Float32Array, out: Float32Array) => void,
): Tensor {
  const y = float32Uninit(x.size);
  f(x.data, y);
  return opResult(y, x.shape, [x], op, (g) => {
    const dx = float32Uninit(x.size);
    grad(x.data, y, g, dx);
    accumulateOwnedGrad(x, dx);
  });
}

function checkTensor(t: unknown, what: string): Tensor {
  if (!(t instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `${what} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  return t;
}

function fmtShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

// ------------------------------------------------------------------------------ activations --

export function relu(x: Tensor): Tensor {
  return unaryOp(
    x,
    'relu',
    // Native selects: a JS branch per element mispredicts on half of a layer's units.
    (a, y) => native.reluForward(a, y),
    (a, _y, g, dx) => native.reluBackward(a, g, dx),
  );
}

/** max(x, 0) + negativeSlope * min(x, 0) (PyTorch LeakyReLU; the gradient at 0 is negativeSlope). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  if (typeof negativeSlope !== 'number' || !Number.isFinite(negativeSlope))
    throw new SparsennTypeError('ERR_TYPE', `leakyRelu negativeSlope must be a finite number, got ${String(negativeSlope)}`);
  const s = negativeSlope;
  return unaryOp(
    x,
    'leakyRelu',
    (a, y) => {
      for (let i = 0; i < a.length; i++) y[i] = a[i]! > 0 ? a[i]! : a[i]! * s;
    },
    (a, _y, g, dx) => {
      for (let i = 0; i < a.length; i++) dx[i] = a[i]! > 0 ? g[i]! : g[i]! * s;
    },
  );
}

export function tanh(x: Tensor): Tensor {
  return unaryOp(
    x,
    'tanh',
    (a, y) => {
      for (let i = 0; i < a.length; i++) y[i] = Math.tanh(a[i]!);
    },
    (_a, y, g, dx) => {
      for (let i = 0; i < y.length; i++) dx[i] = g[i]! * (1 - y[i]! * y[i]!);
    },
  );
}

/** 1 / (1 + exp(-x)), computed without overflow for either sign. */
export function sigmoidScalar(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

export function sigmoid(x: Tensor): Tensor {
  return unaryOp(
    x,
    'sigmoid',
    (a, y) => {
      for (let i = 0; i < a.length; i++) y[i] = sigmoidScalar(a[i]!);
    },
    (a, _y, g, dx) => {
      // From x in float64 rather than from the float32 y: y(1 - y) loses digits when y ~ 1.
      for (let i = 0; i < a.length; i++) {
        const s = sigmoidScalar(a[i]!);
        dx[i] = g[i]! * s * (1 - s);
      }
    },
  );
}

/** relu6(x + 3) / 6 (PyTorch Hardsigmoid; gradient 1/6 on the open interval (-3, 3), else 0). */
export function hardsigmoid(x: Tensor): Tensor {
  return unaryOp(
    x,
    'hardsigmoid',
    (a, y) => {
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        y[i] = v <= -3 ? 0 : v >= 3 ? 1 : v / 6 + 0.5;
      }
    },
    (a, _y, g, dx) => {
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        dx[i] = v > -3 && v < 3 ? g[i]! / 6 : 0;
      }
    },
  );
}

/** x * relu6(x + 3) / 6 (PyTorch Hardswish; its backward: 0 below -3, x/3 + 1/2 up to 3, 1 above). */
export function hardswish(x: Tensor): Tensor {
  return unaryOp(
    x,
    'hardswish',
    (a, y) => {
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        y[i] = v <= -3 ? 0 : v >= 3 ? v : (v * (v + 3)) / 6;
      }
    },
    (a, _y, g, dx) => {
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        dx[i] = v < -3 ? 0 : v <= 3 ? g[i]! * (v / 3 + 0.5) : g[i]!;
      }
    },
  );
}

// erf / erfc ------------------------------------------------------------------------------------
//
// Two Chebyshev interpolants of smooth functions, evaluated with Clenshaw's recurrence
// (max relative error about 4e-16 on a dense grid against mpmath at 50 digits; test/nn/
// activations.test.ts checks them against an independent series):
//   |x| < 1:  erf(x)  = x * A(x^2),                    A(u) = erf(sqrt u) / sqrt u on u in [0, 1]
//   |x| >= 1: erfc(x) = exp(-x^2) / x * R(1 / x),      R(t) = erfc(1/t) exp(1/t^2) / t on t in [0, 1]
// (R(0) = 1/sqrt(pi); R is the smooth factor left once the Gaussian tail is taken out.)
// The coefficients are Chebyshev interpolation at degree + 1 Chebyshev nodes, computed with:
//   import mpmath as mp; mp.mp.dps = 50
//   def fit(f, a, b, deg):
//       N = deg + 1; ts = [mp.cos(mp.pi * (k + 0.5) / N) for k in range(N)]
//       v = [f((b - a) / 2 * t + (a + b) / 2) for t in ts]
//       c = [2 * mp.fsum(v[k] * mp.cos(mp.pi * j * (k + 0.5) / N) for k in range(N)) / N for j in range(N)]
//       c[0] /= 2; return [float(x) for x in c]
//   A = fit(lambda u: mp.erf(mp.sqrt(u)) / mp.sqrt(u) if u > 0 else 2 / mp.sqrt(mp.pi), 0, 1, 12)
//   R = fit(lambda t: mp.erfc(1 / t) * mp.exp(1 / t**2) / t if t > 0 else 1 / mp.sqrt(mp.pi), 0, 1, 30)

const ERF_A = [
  0.9754769393826541, -0.14226120510371365, 0.010035582187599796, -0.0005768764699767485, 2.741993125219606e-5, -1.1043175507344507e-6,
  3.8488755420345036e-8, -1.1808582533875466e-9, 3.2334215826050907e-11, -7.991015947004483e-13, 1.799072511348477e-14,
  -3.718635162421382e-16, 7.101507363020076e-18,
];
const ERFC_R = [
  0.5039781175024709, -0.07211219804839038, -0.0074953160268578034, 0.0038380518956879846, -0.0006410126699713453, -1.5540548808156943e-5,
  4.32302431017444e-5, -1.3769374457891233e-5, 1.8747983544787693e-6, 3.6072578618964214e-7, -3.034436904359487e-7, 9.587247009460417e-8,
  -1.3583267556330024e-8, -3.2191571228104502e-9, 2.8746760803453075e-9, -1.033120043579612e-9, 1.9246411170557498e-10, 1.9607066076610234e-11,
  -3.219550708240052e-11, 1.442403627209933e-11, -3.7320714155016045e-12, 2.1940353267826715e-13, 3.531209153679582e-13, -2.2432586185315279e-13,
  7.965976909419983e-14, -1.5296501074998663e-14, -2.0505138485625207e-15, 3.322277353882773e-15, -1.6774426313346535e-15, 5.379842026523892e-16,
  -1.0395987488498598e-16,
];

/** sum_j c[j] T_j(2u - 1) for u in [0, 1]. */
function chebyshev01(c: readonly number[], u: number): number {
  const t = 2 * u - 1;
  const t2 = 2 * t;
  let b1 = 0;
  let b2 = 0;
  for (let j = c.length - 1; j >= 1; j--) {
    const b0 = t2 * b1 - b2 + c[j]!;
    b2 = b1;
    b1 = b0;
  }
  return t * b1 - b2 + c[0]!;
}

/** erfc(x) for x >= 1. */
function erfcTail(x: number): number {
  return (Math.exp(-x * x) / x) * chebyshev01(ERFC_R, 1 / x);
}

/** The error function, accurate to a few units in the last place of a double (relative error < 1e-15). */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 1) return x * chebyshev01(ERF_A, x * x);
  if (Number.isNaN(x)) return NaN;
  const r = 1 - erfcTail(a);
  return x < 0 ? -r : r;
}

/** The complementary error function 1 - erf(x), without cancellation in the upper tail. */
export function erfc(x: number): number {
  if (Math.abs(x) < 1) return 1 - x * chebyshev01(ERF_A, x * x);
  if (Number.isNaN(x)) return NaN;
  return x > 0 ? erfcTail(x) : 2 - erfcTail(-x);
}

/** How GELU computes the Gaussian CDF: exactly (erf) or with PyTorch's tanh approximation. */
export type GeluApproximation = 'none' | 'tanh';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/**
 * GELU: x * Phi(x) with the standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 ('none', the
 * default), or PyTorch's approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) ('tanh').
 */
export function gelu(x: Tensor, approximate: GeluApproximation = 'none'): Tensor {
  if (approximate === 'none')
    // Native loops (float erf, a rational approximation; see native/core/elementwise.cc): the
    // JS erfc in double precision costs ~100 ns per element.
    return unaryOp(
      x,
      'gelu',
      (a, y) => native.geluForward(a, y),
      (a, _y, g, dx) => native.geluBackward(a, g, dx),
    );
  if (approximate === 'tanh')
    return unaryOp(
      x,
      'geluTanh',
      (a, y) => {
        for (let i = 0; i < a.length; i++) {
          const v = a[i]!;
          y[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v)));
        }
      },
      (a, _y, g, dx) => {
        for (let i = 0; i < a.length; i++) {
          const v = a[i]!;
          const t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
          const dInner = SQRT_2_OVER_PI * (1 + 3 * GELU_C * v * v);
          dx[i] = g[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * dInner);
        }
      },
    );
  throw new SparsennTypeError('ERR_TYPE', `gelu approximate must be 'none' or 'tanh', got ${String(approximate)}`);
}

// ---------------------------------------------------------------------------------- softmax --

/**
 * Resolves a non-batch axis of a batch-last tensor of rank `rank` (rank - 1 sample axes):
 * 0 .. rank - 2, or negative counting back from the last sample axis (-1).
 */
export function sampleAxis(axis: number, rank: number, what: string, shape: readonly number[]): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) throw new SparsennTypeError('ERR_TYPE', `${what}: axis must be an integer, got ${String(axis)}`);
  const sampleRank = rank - 1;
  if (sampleRank < 1) throw new ShapeError('ERR_SHAPE', `${what} needs a tensor with at least one axis besides the batch, got ${fmtShape(shape)}`);
  const a = axis < 0 ? axis + sampleRank : axis;
  if (a < 0 || a >= sampleRank)
    throw new ShapeError(
      'ERR_SHAPE',
      `${what}: axis ${axis} is not a sample axis of ${fmtShape(shape)} (batch-last: sample axes are 0..${sampleRank - 1}, or -${sampleRank}..-1)`,
    );
  return a;
}

function prod(dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}

/**
 * Softmax along a sample axis (default 0: the features of [F, n], the channels of [C, H, W, n]):
 * y = exp(x - max) / sum exp(x - max) over that axis, for every other index.
 */
export function softmax(x: Tensor, axis = 0): Tensor {
  checkTensor(x, 'softmax input');
  const a = sampleAxis(axis, x.rank, 'softmax', x.shape);
  const len = x.shape[a]!;
  const outer = prod(x.shape.slice(0, a));
  const inner = prod(x.shape.slice(a + 1));
  const xd = x.data;
  const y = new Float32Array(x.size);
  const max = new Float64Array(inner);
  const sum = new Float64Array(inner);
  const e = new Float64Array(len * inner);
  for (let o = 0; o < outer; o++) {
    const base = o * len * inner;
    max.fill(-Infinity);
    for (let k = 0; k < len; k++) {
      const row = base + k * inner;
      for (let i = 0; i < inner; i++) if (xd[row + i]! > max[i]!) max[i] = xd[row + i]!;
    }
    sum.fill(0);
    for (let k = 0; k < len; k++) {
      const row = base + k * inner;
      for (let i = 0; i < inner; i++) {
        const v = Math.exp(xd[row + i]! - max[i]!);
        e[k * inner + i] = v;
        sum[i] += v;
      }
    }
    for (let k = 0; k < len; k++) {
      const row = base + k * inner;
      for (let i = 0; i < inner; i++) y[row + i] = e[k * inner + i]! / sum[i]!;
    }
  }
  return opResult(y, x.shape, [x], 'softmax', (g) => {
    // dx = y * (g - sum_axis(g * y))
    const dx = new Float32Array(x.size);
    const dot = new Float64Array(inner);
    for (let o = 0; o < outer; o++) {
      const base = o * len * inner;
      dot.fill(0);
      for (let k = 0; k < len; k++) {
        const row = base + k * inner;
        for (let i = 0; i < inner; i++) dot[i] += g[row + i]! * y[row + i]!;
      }
      for (let k = 0; k < len; k++) {
        const row = base + k * inner;
        for (let i = 0; i < inner; i++) dx[row + i] = y[row + i]! * (g[row + i]! - dot[i]!);
      }
    }
    accumulateOwnedGrad(x, dx);
  });
}

// ---------------------------------------------------------------------------------- dropout --

/** Checks a dropout probability: a number in [0, 1]. */
export function checkDropoutP(p: unknown, what = 'dropout'): number {
  if (typeof p !== 'number' || Number.isNaN(p)) throw new SparsennTypeError('ERR_TYPE', `${what} p must be a number, got ${String(p)}`);
  if (!(p >= 0 && p <= 1)) throw new IndexRangeError('ERR_RANGE', `${what} p must be in [0, 1], got ${p}`);
  return p;
}

/**
 * y = x * keep * scale with a given keep mask (1 = keep, 0 = drop): the deterministic core of
 * dropout, gradient keep * scale * g.
 */
export function dropoutWithMask(x: Tensor, keep: Uint8Array, scale: number): Tensor {
  checkTensor(x, 'dropout input');
  if (!(keep instanceof Uint8Array)) throw new SparsennTypeError('ERR_TYPE', 'dropout keep mask must be a Uint8Array');
  if (keep.length !== x.size) throw new ShapeError('ERR_SHAPE', `dropout keep mask has ${keep.length} entries, the input ${fmtShape(x.shape)} has ${x.size}`);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new SparsennTypeError('ERR_TYPE', `dropout scale must be a finite number, got ${String(scale)}`);
  const xd = x.data;
  const y = new Float32Array(x.size);
  for (let i = 0; i < y.length; i++) y[i] = keep[i] ? xd[i]! * scale : 0;
  return opResult(y, x.shape, [x], 'dropout', (g) => {
    const dx = new Float32Array(x.size);
    for (let i = 0; i < dx.length; i++) dx[i] = keep[i] ? g[i]! * scale : 0;
    accumulateOwnedGrad(x, dx);
  });
}

/**
 * Inverted dropout: zeroes each element independently with probability p and scales the kept
 * ones by 1 / (1 - p), so the expectation is unchanged (p = 1 zeroes everything; p = 0 returns
 * x itself). Draws from `rng` (default: the generator seeded by manualSeed()).
 */
export function dropout(x: Tensor, p: number, rng: Random = defaultRandom()): Tensor {
  checkTensor(x, 'dropout input');
  checkDropoutP(p);
  if (p === 0) return x;
  const keep = new Uint8Array(x.size);
  if (p < 1) {
    // Drop when a uniform 32-bit draw falls below p * 2^32: one draw per element.
    const threshold = p * 4294967296;
    for (let i = 0; i < keep.length; i++) keep[i] = rng.uint32() < threshold ? 0 : 1;
  }
  return dropoutWithMask(x, keep, p < 1 ? 1 / (1 - p) : 0);
}

// ------------------------------------------------------------------------------- arithmetic --

function checkSameShape(a: Tensor, b: Tensor, what: string): void {
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i]))
    throw new ShapeError('ERR_SHAPE', `${what} needs two tensors of the same shape, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
}

/** a + b, element-wise (same shapes; no broadcasting). */
export function add(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'add: a');
  checkTensor(b, 'add: b');
  checkSameShape(a, b, 'add');
  const ad = a.data;
  const bd = b.data;
  const y = new Float32Array(a.size);
  for (let i = 0; i < y.length; i++) y[i] = ad[i]! + bd[i]!;
  return opResult(y, a.shape, [a, b], 'add', (g) => {
    accumulateGrad(a, g);
    accumulateGrad(b, g);
  });
}

/** a * b, element-wise (same shapes; no broadcasting). */
export function mul(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'mul: a');
  checkTensor(b, 'mul: b');
  checkSameShape(a, b, 'mul');
  const ad = a.data;
  const bd = b.data;
  const y = new Float32Array(a.size);
  for (let i = 0; i < y.length; i++) y[i] = ad[i]! * bd[i]!;
  return opResult(y, a.shape, [a, b], 'mul', (g) => {
    if (a.requiresGrad) {
      const da = new Float32Array(a.size);
      for (let i = 0; i < da.length; i++) da[i] = g[i]! * bd[i]!;
      accumulateOwnedGrad(a, da);
    }
    if (b.requiresGrad) {
      const db = new Float32Array(b.size);
      for (let i = 0; i < db.length; i++) db[i] = g[i]! * ad[i]!;
      accumulateOwnedGrad(b, db);
    }
  });
}

/** s * x for a constant s. */
export function scale(x: Tensor, s: number): Tensor {
  checkTensor(x, 'scale input');
  if (typeof s !== 'number' || Number.isNaN(s)) throw new SparsennTypeError('ERR_TYPE', `scale factor must be a number, got ${String(s)}`);
  const xd = x.data;
  const y = new Float32Array(x.size);
  for (let i = 0; i < y.length; i++) y[i] = xd[i]! * s;
  return opResult(y, x.shape, [x], 'scale', (g) => {
    const dx = new Float32Array(x.size);
    for (let i = 0; i < dx.length; i++) dx[i] = g[i]! * s;
    accumulateOwnedGrad(x, dx);
  });
}

// ------------------------------------------------------------------------------- shape ops --

/**
 * Joins tensors along a sample axis (default 0: features / channels). Every other dimension,
 * the batch included, must agree.
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw new SparsennTypeError('ERR_TYPE', 'concat needs a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor(t, `concat input ${i}`));
  const first = tensors[0]!;
  const a = sampleAxis(axis, first.rank, 'concat', first.shape);
  for (const [i, t] of tensors.entries()) {
    if (t.rank !== first.rank || t.shape.some((d, k) => k !== a && d !== first.shape[k]))
      throw new ShapeError(
        'ERR_SHAPE',
        `concat along axis ${a}: input ${i} has shape ${fmtShape(t.shape)}, expected ${fmtShape(first.shape.map((d, k) => (k === a ? '*' : d)))} like input 0`,
      );
  }
  const outer = prod(first.shape.slice(0, a));
  const inner = prod(first.shape.slice(a + 1));
  const total = tensors.reduce((s, t) => s + t.shape[a]!, 0);
  const shape = first.shape.map((d, k) => (k === a ? total : d));
  const y = new Float32Array(shapeSize(shape));
  const chunk = total * inner;
  let offset = 0;
  for (const t of tensors) {
    const len = t.shape[a]! * inner;
    for (let o = 0; o < outer; o++) y.set(t.data.subarray(o * len, (o + 1) * len), o * chunk + offset);
    offset += len;
  }
  return opResult(y, shape, [...tensors], 'concat', (g) => {
    let off = 0;
    for (const t of tensors) {
      const len = t.shape[a]! * inner;
      if (t.requiresGrad) {
        const dt = new Float32Array(t.size);
        for (let o = 0; o < outer; o++) dt.set(g.subarray(o * chunk + off, o * chunk + off + len), o * len);
        accumulateOwnedGrad(t, dt);
      }
      off += len;
    }
  });
}

/**
 * Reshapes the sample part of a batch-last tensor: [...s, n] -> [...shape, n], with
 * prod(shape) = prod(s); one entry of `shape` may be -1 (inferred). The result shares x's data
 * (a view: nothing in sparsenn writes activations in place).
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, 'reshape input');
  if (!Array.isArray(shape as unknown)) throw new SparsennTypeError('ERR_TYPE', 'reshape shape must be an array of integers');
  if (x.rank < 1) throw new ShapeError('ERR_SHAPE', 'reshape needs a batch-last tensor (rank >= 1), got a scalar');
  const n = x.batch;
  const sample = prod(x.shape.slice(0, -1));
  let infer = -1;
  let known = 1;
  for (const [i, d] of shape.entries()) {
    if (d === -1 && infer < 0) infer = i;
    else if (!Number.isInteger(d) || d < 0)
      throw new ShapeError('ERR_SHAPE', `reshape shape ${fmtShape(shape)} must hold non-negative integers and at most one -1`);
    else known *= d;
  }
  const out = [...shape];
  if (infer >= 0) {
    if (known === 0 || sample % known !== 0)
      throw new ShapeError('ERR_SHAPE', `reshape cannot infer the -1 in ${fmtShape(shape)} for samples of shape ${fmtShape(x.shape.slice(0, -1))} (${sample} values)`);
    out[infer] = sample / known;
  } else if (known !== sample) {
    throw new ShapeError(
      'ERR_SHAPE',
      `reshape ${fmtShape(x.shape)} to ${fmtShape([...shape, n])}: samples of ${sample} values cannot become ${fmtShape(shape)} (${known} values); the batch stays last`,
    );
  }
  out.push(n);
  return opResult(x.data, out, [x], 'reshape', (g) => accumulateGrad(x, g));
}

/** [...s, n] -> [prod(s), n]. */
export function flatten(x: Tensor): Tensor {
  checkTensor(x, 'flatten input');
  if (x.rank < 1) throw new ShapeError('ERR_SHAPE', 'flatten needs a batch-last tensor (rank >= 1), got a scalar');
  return reshape(x, [prod(x.shape.slice(0, -1))]);
}
