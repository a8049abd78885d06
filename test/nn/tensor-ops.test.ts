/**
 * The general tensor ops (lib/nn/ops/: broadcast, unary, matmul-acts, indexing, reduce, resize,
 * conv-transpose) and their modules (lib/nn/layers/tensor-ops.ts): every forward against a
 * float64 reference written here from numpy / ONNX semantics (index by index), every backward
 * against finite differences, config / state round trips and the typed errors.
 */
import { describe, expect, it } from 'vitest';
import { FormatError, IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { decodeModel, encodeModel } from '../../lib/io/model.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import {
  Clip,
  ConvTranspose2d,
  Elementwise,
  Gather,
  Identity,
  MatMulActs,
  ReduceMean,
  Resize,
  Slice,
  Transpose,
  Unary,
} from '../../lib/nn/layers/tensor-ops.js';
import type { Module } from '../../lib/nn/module.js';
import { broadcastShapes, elementwise, elementwiseConst, type BinaryOp } from '../../lib/nn/ops/broadcast.js';
import { convTranspose2d } from '../../lib/nn/ops/conv-transpose.js';
import { gather, slice, transpose } from '../../lib/nn/ops/indexing.js';
import { matmulActs } from '../../lib/nn/ops/matmul-acts.js';
import { reduceMean } from '../../lib/nn/ops/reduce.js';
import { resize, type ResizeOptions } from '../../lib/nn/ops/resize.js';
import { clip, unary, type UnaryOpName } from '../../lib/nn/ops/unary.js';
import { Parameter } from '../../lib/nn/parameter.js';
import { moduleFromConfig } from '../../lib/nn/registry.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { expectThrows } from '../helpers/errors.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32, type Rng } from '../helpers/random.js';

// ------------------------------------------------------------------------- reference tools --

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

function ravel(idx: readonly number[], shape: readonly number[]): number {
  let p = 0;
  for (let d = 0; d < shape.length; d++) p = p * shape[d]! + idx[d]!;
  return p;
}

/** A tensor of values uniform in [lo, hi). */
function rand(shape: number[], seed: number, requiresGrad = true, lo = -1, hi = 1): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = lo + (hi - lo) * rng();
  return t;
}

/** Values away from 0 (|v| in [0.3, 1.2]), for ops with kinks or poles at 0. */
function randAway(shape: number[], seed: number): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, true);
  for (let i = 0; i < t.size; i++) t.data[i] = (0.3 + 0.9 * rng()) * (rng() < 0.5 ? -1 : 1);
  return t;
}

/** The value of batch-last t at sample index idx, batch j. */
function at(t: Tensor, idx: readonly number[], j: number): number {
  const s = t.shape.slice(0, -1);
  return t.data[ravel(idx, s) * t.batch + j]!;
}

/** A float64 batch-last reference tensor built from a function of (sample index, batch index). */
function build(sample: readonly number[], n: number, f: (idx: number[], j: number) => number): Float64Array {
  const out = new Float64Array(size(sample) * n);
  for (let i = 0; i < size(sample); i++) {
    const idx = unravel(i, sample);
    for (let j = 0; j < n; j++) out[i * n + j] = f(idx, j);
  }
  return out;
}

function expectNear(got: Tensor, shape: readonly number[], ref: Float64Array, label: string, rtol = 1e-6, atol = 1e-6): void {
  expect([...got.shape], `${label}: shape`).toEqual([...shape]);
  expect(got.size, `${label}: size`).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const g = got.data[i]!;
    const r = ref[i]!;
    if (Number.isNaN(r)) {
      if (!Number.isNaN(g)) expect.fail(`${label}: index ${i}: got ${g}, expected NaN`);
      continue;
    }
    if (!(Math.abs(g - r) <= atol + rtol * Math.abs(r))) expect.fail(`${label}: index ${i} (of ${ref.length}): got ${g}, expected ${r}`);
  }
}

/** numpy's broadcast, written the way the numpy docs state it (pad with 1s on the left). */
function npBroadcast(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const pa = [...new Array<number>(r - a.length).fill(1), ...a];
  const pb = [...new Array<number>(r - b.length).fill(1), ...b];
  return pa.map((d, i) => (d === 1 ? pb[i]! : d));
}

/** The index into a broadcast operand of shape s for an output index idx. */
function bIndex(idx: readonly number[], s: readonly number[]): number[] {
  const off = idx.length - s.length;
  return s.map((d, i) => (d === 1 ? 0 : idx[i + off]!));
}

const REF_BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => Math.pow(a, b),
};

/** erf by its Maclaurin series (float64, |x| <= 3). */
function refErf(x: number): number {
  let term = x;
  let sum = x;
  for (let k = 1; k < 80; k++) {
    term *= (-x * x) / k;
    sum += term / (2 * k + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

// ----------------------------------------------------------------------------------- tests --

describe('elementwise (two activations, numpy broadcasting)', () => {
  const cases: Array<[number[], number[]]> = [
    [[2, 3], [2, 3]],
    [[2, 1, 4], [3, 1]],
    [[4], [2, 3, 4]],
    [[1], [3, 2]],
    [[3, 1], [1, 2]],
    [[], [2, 2]],
  ];
  const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow'];
  for (const [sa, sb] of cases)
    for (const n of [3, 1])
      it(`${JSON.stringify(sa)} op ${JSON.stringify(sb)}, batch ${n}: forward and gradients`, () => {
        const out = npBroadcast(sa, sb);
        expect(broadcastShapes(sa, sb)).toEqual(out);
        for (const [k, op] of ops.entries()) {
          // pow needs a positive base for a real result and a defined d/d(exponent).
          const a = op === 'pow' ? rand([...sa, n], 10 + k, true, 0.5, 1.5) : rand([...sa, n], 10 + k);
          const b = op === 'div' ? randAway([...sb, n], 20 + k) : rand([...sb, n], 20 + k);
          const y = elementwise(op, a, b);
          const ref = build(out, n, (idx, j) => REF_BINARY[op](at(a, bIndex(idx, sa), j), at(b, bIndex(idx, sb), j)));
          expectNear(y, [...out, n], ref, `${op}`);
          gradCheck(() => elementwise(op, a, b), [a, b], { seed: k });
        }
      });

  it('x op x sums both partial derivatives on the one tensor', () => {
    const x = rand([3, 2], 5, true, 0.5, 1.5);
    for (const op of ['add', 'sub', 'mul', 'div', 'pow'] as BinaryOp[]) gradCheck(() => elementwise(op, x, x), [x]);
  });

  it('rejects incompatible sample shapes and mismatched batches', () => {
    expectThrows(() => elementwise('add', rand([2, 3, 4], 1), rand([2, 4], 2)), ShapeError, 'ERR_SHAPE', 'broadcast');
    expectThrows(() => elementwise('add', rand([3, 4], 1), rand([3, 5], 2)), ShapeError, 'ERR_SHAPE', 'batch');
    expectThrows(() => elementwise('mod' as BinaryOp, rand([3, 4], 1), rand([3, 4], 2)), SparsennTypeError, 'ERR_TYPE', 'op');
    expectThrows(() => broadcastShapes([2, 3], [3, 2]), ShapeError, 'ERR_SHAPE', 'shapes');
  });
});

describe('elementwiseConst (activation and constant)', () => {
  const cases: Array<[number[], number[]]> = [
    [[2, 3], [3]],
    [[2, 3], [2, 1]],
    [[2, 3], []],
    [[3], [2, 3]],
  ];
  for (const [sx, sc] of cases)
    for (const first of [false, true])
      it(`x ${JSON.stringify(sx)} with constant ${JSON.stringify(sc)}, constantFirst ${first}`, () => {
        const n = 2;
        const out = npBroadcast(sx, sc);
        for (const [k, op] of (['add', 'sub', 'mul', 'div', 'pow'] as BinaryOp[]).entries()) {
          const positiveX = op === 'pow' && !first;
          const x = positiveX ? rand([...sx, n], 30 + k, true, 0.5, 1.5) : op === 'div' && first ? randAway([...sx, n], 30 + k) : rand([...sx, n], 30 + k);
          const cRng = mulberry32(40 + k);
          const c = new Float32Array(size(sc));
          for (let i = 0; i < c.length; i++) c[i] = op === 'pow' && first ? 0.5 + cRng() : op === 'div' && !first ? 0.5 + cRng() : cRng() * 2 - 1;
          const y = elementwiseConst(op, x, { data: c, shape: sc }, first);
          const ref = build(out, n, (idx, j) => {
            const xv = at(x, bIndex(idx, sx), j);
            const cv = c[ravel(bIndex(idx, sc), sc)]!;
            return first ? REF_BINARY[op](cv, xv) : REF_BINARY[op](xv, cv);
          });
          expectNear(y, [...out, n], ref, `${op}`);
          gradCheck(() => elementwiseConst(op, x, { data: c, shape: sc }, first), [x], { seed: k });
        }
      });

  it('1 / x as reciprocal of a constant first', () => {
    const x = randAway([4, 3], 3);
    const y = elementwiseConst('div', x, { data: new Float32Array([1]), shape: [] }, true);
    expectNear(y, [4, 3], Float64Array.from(x.data, (v) => 1 / v), '1/x');
  });

  it('rejects a constant whose data does not fit its shape, or that does not broadcast', () => {
    const x = rand([2, 3, 2], 1);
    expectThrows(() => elementwiseConst('add', x, { data: new Float32Array(4), shape: [3] }), ShapeError, 'ERR_SHAPE', 'length');
    expectThrows(() => elementwiseConst('add', x, { data: new Float32Array(2), shape: [2] }), ShapeError, 'ERR_SHAPE', 'broadcast');
    expectThrows(() => elementwiseConst('add', x, { data: [1, 2, 3] as unknown as Float32Array, shape: [3] }), SparsennTypeError, 'ERR_TYPE', 'data');
  });
});

describe('unary and clip', () => {
  const refs: Record<UnaryOpName, (x: number) => number> = {
    sqrt: Math.sqrt,
    erf: refErf,
    exp: Math.exp,
    log: Math.log,
    neg: (x) => -x,
    abs: Math.abs,
    reciprocal: (x) => 1 / x,
  };
  for (const op of Object.keys(refs) as UnaryOpName[])
    it(`${op}: forward and derivative`, () => {
      const x = op === 'sqrt' || op === 'log' ? rand([3, 4, 2], 7, true, 0.3, 2) : op === 'abs' || op === 'reciprocal' ? randAway([3, 4, 2], 7) : rand([3, 4, 2], 7, true, -2, 2);
      const y = unary(op, x);
      expectNear(y, [3, 4, 2], Float64Array.from(x.data, refs[op]), op, 2e-6);
      gradCheck(() => unary(op, x), [x], { eps: 1e-3 });
    });

  it('erf matches the series at the edges of its range', () => {
    const x = Tensor.from([-3, -1, -0.5, 0, 1e-4, 0.5, 1, 2.5, 3], [9, 1]);
    expectNear(unary('erf', x), [9, 1], Float64Array.from(x.data, refErf), 'erf', 1e-6, 1e-7);
  });

  it('clip: bounds, infinite bounds, NaN and min > max (ONNX: everything becomes max)', () => {
    const x = Tensor.from([-3, -0.5, 0, 0.5, 3, NaN], [6, 1]);
    expectNear(clip(x, -1, 1), [6, 1], Float64Array.from([-1, -0.5, 0, 0.5, 1, NaN]), 'clip');
    expectNear(clip(x, 0, Infinity), [6, 1], Float64Array.from([0, 0, 0, 0.5, 3, NaN]), 'relu-like');
    expectNear(clip(x, -Infinity, 6), [6, 1], Float64Array.from([-3, -0.5, 0, 0.5, 3, NaN]), 'open below');
    expectNear(clip(x, 2, 1), [6, 1], Float64Array.from([1, 1, 1, 1, 1, NaN]), 'min > max');
    const g = randAway([4, 5, 2], 9);
    gradCheck(() => clip(g, -0.6, 0.7), [g], { eps: 1e-3 });
    expectThrows(() => clip(g, NaN, 1), SparsennTypeError, 'ERR_TYPE', 'NaN bound');
  });
});

describe('matmulActs', () => {
  /** numpy matmul per batch element, in float64. */
  function refMatmul(a: Tensor, b: Tensor): { shape: number[]; data: Float64Array } {
    const sa = a.shape.slice(0, -1);
    const sb = b.shape.slice(0, -1);
    const n = a.batch;
    const a2 = sa.length === 1 ? [1, ...sa] : sa;
    const b2 = sb.length === 1 ? [...sb, 1] : sb;
    const [m, k] = a2.slice(-2) as [number, number];
    const p = b2[b2.length - 1]!;
    const lead = npBroadcast(a2.slice(0, -2), b2.slice(0, -2));
    const full = [...lead, m, p];
    const data = build(full, n, (idx, j) => {
      const l = idx.slice(0, -2);
      const [i, q] = idx.slice(-2) as [number, number];
      let s = 0;
      for (let kk = 0; kk < k; kk++) {
        const ai = [...bIndex(l, a2.slice(0, -2)), i, kk];
        const bi = [...bIndex(l, b2.slice(0, -2)), kk, q];
        s += a.data[ravel(ai, a2) * n + j]! * b.data[ravel(bi, b2) * n + j]!;
      }
      return s;
    });
    const shape = [...lead, ...(sa.length > 1 ? [m] : []), ...(sb.length > 1 ? [p] : [])];
    return { shape: [...shape, n], data };
  }

  const cases: Array<[number[], number[]]> = [
    [[2, 3], [3, 4]],
    [[5, 2, 3], [3, 4]],
    [[1, 2, 3], [4, 3, 2]],
    [[2, 1, 2, 3], [3, 3, 2]],
    [[3], [3, 4]],
    [[2, 3], [3]],
    [[3], [3]],
    [[2, 3], [2, 3, 1]],
    [[2, 16, 40], [2, 40, 8]], // large enough for the native GEMM path
  ];
  for (const [sa, sb] of cases)
    for (const n of [3, 1])
      it(`${JSON.stringify(sa)} x ${JSON.stringify(sb)}, batch ${n}`, () => {
        const a = rand([...sa, n], 1);
        const b = rand([...sb, n], 2);
        const y = matmulActs(a, b);
        const ref = refMatmul(a, b);
        expectNear(y, ref.shape, ref.data, 'matmul', 1e-5, 1e-5);
        gradCheck(() => matmulActs(a, b), [a, b], { maxPerInput: 40, atol: 5e-3 });
      });

  it('attention shapes: [8, 32, 64] x [8, 64, 32] over a batch of 16 match the reference', () => {
    const a = rand([8, 32, 64, 16], 3, false);
    const b = rand([8, 64, 32, 16], 4, false);
    const y = matmulActs(a, b);
    // Direct loops (the generic reference above is too slow at this size).
    const ref = new Float64Array(8 * 32 * 32 * 16);
    for (let h = 0; h < 8; h++)
      for (let i = 0; i < 32; i++)
        for (let q = 0; q < 32; q++)
          for (let j = 0; j < 16; j++) {
            let s = 0;
            for (let k = 0; k < 64; k++) s += a.data[((h * 32 + i) * 64 + k) * 16 + j]! * b.data[((h * 64 + k) * 32 + q) * 16 + j]!;
            ref[((h * 32 + i) * 32 + q) * 16 + j] = s;
          }
    expectNear(y, [8, 32, 32, 16], ref, 'attention', 1e-4, 1e-5);
  });

  it('rejects mismatched inner dims, batches and leading dims', () => {
    expectThrows(() => matmulActs(rand([2, 3, 2], 1), rand([4, 2, 2], 2)), ShapeError, 'ERR_SHAPE', 'inner');
    expectThrows(() => matmulActs(rand([2, 3, 2], 1), rand([3, 2, 3], 2)), ShapeError, 'ERR_SHAPE', 'batch');
    expectThrows(() => matmulActs(rand([2, 2, 3, 1], 1), rand([3, 3, 2, 1], 2)), ShapeError, 'ERR_SHAPE', 'leading');
    expectThrows(() => matmulActs(rand([2], 1), rand([3, 2], 2)), ShapeError, 'ERR_SHAPE', 'no sample axis');
  });
});

describe('transpose, slice, gather', () => {
  it('transpose permutes the sample axes (negative entries allowed) and its gradient is the inverse', () => {
    const x = rand([2, 3, 4, 2], 1);
    for (const perm of [
      [2, 0, 1],
      [1, 0, 2],
      [-1, 0, 1],
      [0, 1, 2],
    ]) {
      const p = perm.map((a) => (a < 0 ? a + 3 : a));
      const outShape = p.map((a) => x.shape[a]!);
      const y = transpose(x, perm);
      const ref = build(outShape, 2, (idx, j) => {
        const src = new Array<number>(3);
        p.forEach((a, i) => (src[a] = idx[i]!));
        return at(x, src, j);
      });
      expectNear(y, [...outShape, 2], ref, `perm ${perm}`, 0, 0);
      gradCheck(() => transpose(x, perm), [x]);
    }
  });

  it('transpose rejects a wrong permutation', () => {
    const x = rand([2, 3, 1], 1);
    expectThrows(() => transpose(x, [0]), ShapeError, 'ERR_SHAPE', 'length');
    expectThrows(() => transpose(x, [0, 0]), ShapeError, 'ERR_SHAPE', 'repeat');
    expectThrows(() => transpose(x, [0, 2]), ShapeError, 'ERR_SHAPE', 'range');
    expectThrows(() => new Transpose([0, 2]), ShapeError, 'ERR_SHAPE', 'module');
  });

  /** Python's slice.indices(dim) (CPython PySlice_AdjustIndices): the semantics ONNX Slice copies. */
  function pySliceIndices(start: number, stop: number, step: number, dim: number): number[] {
    const adjust = (v: number) => {
      if (v < 0) {
        v += dim;
        if (v < 0) v = step < 0 ? -1 : 0;
      } else if (v >= dim) v = step < 0 ? dim - 1 : dim;
      return v;
    };
    const s = adjust(start);
    const e = adjust(stop);
    const out: number[] = [];
    if (step > 0) for (let i = s; i < e; i += step) out.push(i);
    else for (let i = s; i > e; i += step) out.push(i);
    return out;
  }

  it('slice: random starts / ends / steps (negative, out of range, huge) against Python slicing', () => {
    const rng: Rng = mulberry32(77);
    const shape = [5, 4, 6];
    const x = rand([...shape, 2], 2);
    const pick = (r: Rng, d: number) => {
      const u = r();
      if (u < 0.1) return 2 ** 62; // INT64_MAX-like
      if (u < 0.2) return -(2 ** 62);
      return Math.floor(r() * (2 * d + 5)) - d - 2;
    };
    for (let trial = 0; trial < 60; trial++) {
      const naxes = 1 + Math.floor(rng() * 3);
      const axes = [0, 1, 2].sort(() => rng() - 0.5).slice(0, naxes).map((a) => (rng() < 0.5 ? a - 3 : a));
      const starts = axes.map((a) => pick(rng, shape[(a + 3) % 3]!));
      const ends = axes.map((a) => pick(rng, shape[(a + 3) % 3]!));
      const steps = axes.map(() => {
        const s = 1 + Math.floor(rng() * 3);
        return rng() < 0.5 ? -s : s;
      });
      const lists = shape.map((d) => [...Array(d).keys()]);
      axes.forEach((a, i) => (lists[(a + 3) % 3] = pySliceIndices(starts[i]!, ends[i]!, steps[i]!, shape[(a + 3) % 3]!)));
      const outShape = lists.map((l) => l.length);
      const y = slice(x, starts, ends, axes, steps);
      const ref = build(outShape, 2, (idx, j) =>
        at(
          x,
          idx.map((v, d) => lists[d]![v]!),
          j,
        ),
      );
      expectNear(y, [...outShape, 2], ref, `trial ${trial}: axes ${axes} starts ${starts} ends ${ends} steps ${steps}`, 0, 0);
    }
  });

  it('slice: default axes and steps, ±Infinity ends, and the gradient (scatter into the sliced positions)', () => {
    const x = rand([4, 5, 3], 3);
    const y = slice(x, [1, -Infinity], [Infinity, -1]);
    const ref = build([3, 4], 3, (idx, j) => at(x, [idx[0]! + 1, idx[1]!], j));
    expectNear(y, [3, 4, 3], ref, 'defaults', 0, 0);
    gradCheck(() => slice(x, [3, 0], [0, 5], [0, 1], [-2, 2]), [x]);
    const empty = slice(x, [3], [1]);
    expect([...empty.shape]).toEqual([0, 5, 3]);
  });

  it('slice rejects a zero step, mismatched lengths, a bad axis', () => {
    const x = rand([4, 5, 3], 3);
    expectThrows(() => slice(x, [0], [2], [0], [0]), IndexRangeError, 'ERR_RANGE', 'step 0');
    expectThrows(() => slice(x, [0, 1], [2]), ShapeError, 'ERR_SHAPE', 'lengths');
    expectThrows(() => slice(x, [0], [2], [2]), ShapeError, 'ERR_SHAPE', 'axis');
    expectThrows(() => slice(x, [0, 0], [2, 2], [1, -1]), ShapeError, 'ERR_SHAPE', 'repeated axis');
    expectThrows(() => new Slice([0], [1], [0], [0]), IndexRangeError, 'ERR_RANGE', 'module step 0');
  });

  it('gather: vector, matrix and scalar indices, negative indices, on several axes', () => {
    const x = rand([4, 3, 5, 2], 4);
    const s = [4, 3, 5];
    const cases: Array<[number[], number[], number]> = [
      [[2, 0, -1, 2], [4], 0],
      [[1, -2, 0, 2, 2, 1], [2, 3], 2],
      [[-1], [], 1],
      [[3], [], -3],
      [[0, 4], [2], -1],
    ];
    for (const [indices, ishape, axis] of cases) {
      const a = (axis + 3) % 3;
      const outShape = [...s.slice(0, a), ...ishape, ...s.slice(a + 1)];
      const y = gather(x, Int32Array.from(indices), ishape, axis);
      const ref = build(outShape, 2, (idx, j) => {
        const k = ravel(idx.slice(a, a + ishape.length), ishape);
        let v = indices[k]!;
        if (v < 0) v += s[a]!;
        return at(x, [...idx.slice(0, a), v, ...idx.slice(a + ishape.length)], j);
      });
      expectNear(y, [...outShape, 2], ref, `gather ${indices} ${ishape} axis ${axis}`, 0, 0);
      gradCheck(() => gather(x, Int32Array.from(indices), ishape, axis), [x]);
    }
  });

  it('gather rejects out-of-range indices and mismatched indicesShape', () => {
    const x = rand([4, 3, 2], 4);
    expectThrows(() => gather(x, Int32Array.from([4]), [1], 0), IndexRangeError, 'ERR_RANGE', 'too big');
    expectThrows(() => gather(x, Int32Array.from([-5]), [1], 0), IndexRangeError, 'ERR_RANGE', 'too negative');
    expectThrows(() => gather(x, Int32Array.from([0, 1]), [3], 0), ShapeError, 'ERR_SHAPE', 'indicesShape');
    expectThrows(() => gather(x, Int32Array.from([0]), [1], 2), ShapeError, 'ERR_SHAPE', 'axis');
    expectThrows(() => new Gather([0.5], [1], 0), SparsennTypeError, 'ERR_TYPE', 'fractional index');
  });
});

describe('reduceMean', () => {
  const s = [3, 4, 2];
  const x = rand([...s, 3], 5);
  const cases: Array<[number[] | null, boolean]> = [
    [null, true],
    [null, false],
    [[1], true],
    [[-1, 0], false],
    [[0, 2], true],
    [[], true],
  ];
  for (const [axes, keep] of cases)
    it(`axes ${JSON.stringify(axes)}, keepdims ${keep}`, () => {
      const red = new Set((axes ?? [0, 1, 2]).map((a) => (a + 3) % 3));
      const kept = s.map((d, i) => (red.has(i) ? 1 : d));
      const outShape = keep ? kept : s.filter((_, i) => !red.has(i));
      let count = 1;
      for (const a of red) count *= s[a]!;
      const y = reduceMean(x, axes, keep);
      const ref = build(kept, 3, (idx, j) => {
        let sum = 0;
        for (let i = 0; i < size(s); i++) {
          const src = unravel(i, s);
          if (src.every((v, d) => red.has(d) || v === idx[d])) sum += at(x, src, j);
        }
        return sum / count;
      });
      expectNear(y, [...outShape, 3], ref, 'reduceMean', 1e-6, 1e-7);
      gradCheck(() => reduceMean(x, axes, keep), [x]);
    });

  it('rejects repeated or out-of-range axes', () => {
    expectThrows(() => reduceMean(x, [0, -3]), ShapeError, 'ERR_SHAPE', 'repeat');
    expectThrows(() => reduceMean(x, [3]), ShapeError, 'ERR_SHAPE', 'range');
  });
});

describe('resize', () => {
  /** ONNX Resize (opset 13+) per the operator spec, one axis, with ONNX Runtime's edge clamping. */
  function refTaps(inLen: number, outLen: number, scale: number, o: ResizeOptions): Array<Array<[number, number]>> {
    const taps: Array<Array<[number, number]>> = [];
    for (let x = 0; x < outLen; x++) {
      const ct = o.coordinateTransformationMode ?? 'half_pixel';
      const xo =
        ct === 'asymmetric'
          ? x / scale
          : ct === 'align_corners'
            ? outLen === 1
              ? 0
              : (x * (inLen - 1)) / (outLen - 1)
            : ct === 'pytorch_half_pixel'
              ? outLen > 1
                ? (x + 0.5) / scale - 0.5
                : 0
              : ct === 'tf_half_pixel_for_nn'
                ? (x + 0.5) / scale
                : (x + 0.5) / scale - 0.5;
      const clamp = (v: number) => Math.min(Math.max(v, 0), inLen - 1);
      if ((o.mode ?? 'nearest') === 'nearest') {
        const nm = o.nearestMode ?? 'round_prefer_floor';
        const frac = xo - Math.floor(xo);
        const r =
          nm === 'floor' ? Math.floor(xo) : nm === 'ceil' ? Math.ceil(xo) : frac === 0.5 ? (nm === 'round_prefer_floor' ? Math.floor(xo) : Math.ceil(xo)) : frac < 0.5 ? Math.floor(xo) : Math.ceil(xo);
        taps.push([[clamp(r), 1]]);
      } else {
        const c = clamp(xo);
        const f = Math.floor(c);
        taps.push([
          [f, 1 - (c - f)],
          [clamp(f + 1), c - f],
        ]);
      }
    }
    return taps;
  }

  function refResize(x: Tensor, o: ResizeOptions): { shape: number[]; data: Float64Array } {
    const [c, h, w, n] = x.shape as [number, number, number, number];
    const oh = o.sizes ? o.sizes[0] : Math.floor(h * o.scales![0]);
    const ow = o.sizes ? o.sizes[1] : Math.floor(w * o.scales![1]);
    const ty = refTaps(h, oh, o.scales ? o.scales[0] : oh / h, o);
    const tx = refTaps(w, ow, o.scales ? o.scales[1] : ow / w, o);
    const data = build([c, oh, ow], n, ([ci, yi, xi], j) => {
      let s = 0;
      for (const [iy, wy] of ty[yi!]!) for (const [ix, wx] of tx[xi!]!) s += wy * wx * at(x, [ci!, iy, ix], j);
      return s;
    });
    return { shape: [c, oh, ow, n], data };
  }

  const configs: ResizeOptions[] = [
    { mode: 'nearest', scales: [2, 2], coordinateTransformationMode: 'asymmetric', nearestMode: 'floor' },
    { mode: 'nearest', scales: [2, 3] },
    // asymmetric x2 maps odd outputs to k + 0.5: the tie rule decides.
    { mode: 'nearest', scales: [2, 2], coordinateTransformationMode: 'asymmetric' },
    { mode: 'nearest', scales: [2, 2.5], coordinateTransformationMode: 'asymmetric', nearestMode: 'round_prefer_ceil' },
    { mode: 'nearest', sizes: [5, 3], nearestMode: 'round_prefer_ceil' },
    { mode: 'nearest', scales: [0.5, 0.7], coordinateTransformationMode: 'align_corners', nearestMode: 'ceil' },
    { mode: 'nearest', scales: [1.5, 2], coordinateTransformationMode: 'tf_half_pixel_for_nn' },
    { mode: 'linear', scales: [2, 2] },
    { mode: 'linear', sizes: [7, 5], coordinateTransformationMode: 'align_corners' },
    { mode: 'linear', sizes: [1, 6], coordinateTransformationMode: 'pytorch_half_pixel' },
    { mode: 'linear', scales: [0.5, 1.7], coordinateTransformationMode: 'asymmetric' },
  ];
  for (const [k, o] of configs.entries())
    it(`${JSON.stringify(o)}`, () => {
      const x = rand([2, 4, 3, 2], 50 + k);
      const ref = refResize(x, o);
      expectNear(resize(x, o), ref.shape, ref.data, 'resize', 1e-6, 1e-6);
      gradCheck(() => resize(x, o), [x]);
    });

  it('analytic cases: nearest x2 (asymmetric, floor) repeats pixels; bilinear align_corners keeps a ramp linear', () => {
    const x = Tensor.from([1, 2, 3, 4], [1, 2, 2, 1]);
    const up = resize(x, { mode: 'nearest', scales: [2, 2], coordinateTransformationMode: 'asymmetric', nearestMode: 'floor' });
    expect([...up.data]).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    // f(y, x) = 3y + x on a 3x4 grid, resized to 5x7 with align_corners: f at the mapped coordinates.
    const ramp = Tensor.zeros([1, 3, 4, 1]);
    for (let y = 0; y < 3; y++) for (let xx = 0; xx < 4; xx++) ramp.data[y * 4 + xx] = 3 * y + xx;
    const r = resize(ramp, { mode: 'linear', sizes: [5, 7], coordinateTransformationMode: 'align_corners' });
    const want: number[] = [];
    for (let y = 0; y < 5; y++) for (let xx = 0; xx < 7; xx++) want.push(3 * ((y * 2) / 4) + (xx * 3) / 6);
    expectNear(r, [1, 5, 7, 1], Float64Array.from(want), 'ramp', 1e-6, 1e-6);
  });

  it('rejects bad options and non-image inputs', () => {
    const x = rand([1, 2, 2, 1], 1);
    expectThrows(() => resize(x, { scales: [2, 2], sizes: [4, 4] }), SparsennTypeError, 'ERR_TYPE', 'both');
    expectThrows(() => resize(x, {}), SparsennTypeError, 'ERR_TYPE', 'neither');
    expectThrows(() => resize(x, { scales: [0, 2] }), IndexRangeError, 'ERR_RANGE', 'scale 0');
    expectThrows(() => resize(x, { mode: 'cubic' as 'linear', scales: [2, 2] }), SparsennTypeError, 'ERR_TYPE', 'mode');
    expectThrows(() => resize(rand([2, 2, 1], 1), { scales: [2, 2] }), ShapeError, 'ERR_SHAPE', 'rank');
    expectThrows(() => resize(x, { scales: [0.2, 1] }), ShapeError, 'ERR_SHAPE', 'empty output');
  });
});

describe('convTranspose2d', () => {
  interface Case {
    cin: number;
    cout: number;
    k: [number, number];
    stride?: [number, number];
    padding?: [number, number];
    outputPadding?: [number, number];
    dilation?: [number, number];
    groups?: number;
    bias?: boolean;
    hw: [number, number];
    n: number;
  }

  /** Direct scatter: y[co, i s - p + ki d, j s - p + kj d] += x[ci, i, j] w[ci, co_g, ki, kj]. */
  function refConvT(x: Tensor, w: Tensor, b: Tensor | null, c: Case): { shape: number[]; data: Float64Array } {
    const [sh, sw] = c.stride ?? [1, 1];
    const [ph, pw] = c.padding ?? [0, 0];
    const [oph, opw] = c.outputPadding ?? [0, 0];
    const [dh, dw] = c.dilation ?? [1, 1];
    const g = c.groups ?? 1;
    const [h, wd] = c.hw;
    const n = c.n;
    const [kh, kw] = c.k;
    const oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
    const ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
    const coutG = c.cout / g;
    const cinG = c.cin / g;
    const y = new Float64Array(c.cout * oh * ow * n);
    for (let ci = 0; ci < c.cin; ci++) {
      const gi = Math.floor(ci / cinG);
      for (let col = 0; col < coutG; col++) {
        const co = gi * coutG + col;
        for (let i = 0; i < h; i++)
          for (let j = 0; j < wd; j++)
            for (let ki = 0; ki < kh; ki++)
              for (let kj = 0; kj < kw; kj++) {
                const yi = i * sh - ph + ki * dh;
                const yj = j * sw - pw + kj * dw;
                if (yi < 0 || yi >= oh || yj < 0 || yj >= ow) continue;
                const wv = w.data[((ci * coutG + col) * kh + ki) * kw + kj]!;
                for (let t = 0; t < n; t++) y[((co * oh + yi) * ow + yj) * n + t] += x.data[((ci * h + i) * wd + j) * n + t]! * wv;
              }
      }
    }
    if (b) for (let co = 0; co < c.cout; co++) for (let i = 0; i < oh * ow * n; i++) y[co * oh * ow * n + i] += b.data[co]!;
    return { shape: [c.cout, oh, ow, n], data: y };
  }

  const cases: Case[] = [
    { cin: 2, cout: 3, k: [3, 3], hw: [3, 4], n: 2 },
    { cin: 2, cout: 3, k: [3, 2], stride: [2, 2], padding: [1, 0], outputPadding: [1, 1], hw: [3, 3], n: 2 },
    { cin: 4, cout: 2, k: [2, 3], stride: [2, 1], dilation: [2, 2], groups: 2, hw: [2, 3], n: 1 },
    { cin: 3, cout: 3, k: [3, 3], stride: [1, 2], padding: [2, 1], groups: 3, bias: false, hw: [4, 3], n: 3 },
    // outputPadding >= stride (allowed since it is below the dilation): rows past the full output are zero.
    { cin: 1, cout: 2, k: [2, 2], stride: [1, 1], dilation: [3, 3], outputPadding: [2, 1], padding: [1, 0], hw: [2, 2], n: 1 },
    { cin: 2, cout: 2, k: [1, 1], hw: [2, 2], n: 2 },
  ];
  for (const c of cases)
    it(`${JSON.stringify(c)}`, () => {
      const layer = new ConvTranspose2d(c.cin, c.cout, c.k, {
        stride: c.stride,
        padding: c.padding,
        outputPadding: c.outputPadding,
        dilation: c.dilation,
        groups: c.groups,
        bias: c.bias,
      });
      expect([...layer.weight.shape]).toEqual([c.cin, c.cout / (c.groups ?? 1), ...c.k]);
      const x = rand([c.cin, ...c.hw, c.n], 3);
      const ref = refConvT(x, layer.weight, layer.bias, c);
      expectNear(layer.forward(x), ref.shape, ref.data, 'convT', 1e-5, 1e-6);
      const inputs: Tensor[] = [x, layer.weight];
      if (layer.bias) inputs.push(layer.bias);
      gradCheck(() => layer.forward(x), inputs);
    });

  it('a pruned weight contributes nothing and gets an exactly zero gradient', () => {
    const layer = new ConvTranspose2d(2, 2, 3, { stride: 2, padding: 1 });
    const mask = new Uint8Array(layer.weight.size);
    for (let i = 0; i < mask.length; i++) mask[i] = i % 3 === 0 ? 0 : 1;
    layer.weight.setMask(mask);
    const x = rand([2, 3, 3, 2], 4);
    const ref = refConvT(x, layer.weight, layer.bias, { cin: 2, cout: 2, k: [3, 3], stride: [2, 2], padding: [1, 1], hw: [3, 3], n: 2 });
    expectNear(layer.forward(x), ref.shape, ref.data, 'masked', 1e-5, 1e-6);
    gradCheck(() => layer.forward(x), [x, layer.weight]);
  });

  it('rejects bad geometry', () => {
    expectThrows(() => new ConvTranspose2d(2, 2, 3, { stride: 2, outputPadding: 2 }), IndexRangeError, 'ERR_RANGE', 'outputPadding');
    expectThrows(() => new ConvTranspose2d(3, 2, 3, { groups: 2 }), ShapeError, 'ERR_SHAPE', 'groups');
    const layer = new ConvTranspose2d(2, 2, 3);
    expectThrows(() => layer.forward(rand([3, 4, 4, 1], 1)), ShapeError, 'ERR_SHAPE', 'channels');
    expectThrows(() => convTranspose2d(rand([2, 1, 1, 1], 1), layer.weight, null, { padding: 2 }), ShapeError, 'ERR_SHAPE', 'empty output');
  });
});

describe('modules: forward, config round trip, state, saved models', () => {
  function makeModules(): Array<[Module, Tensor[]]> {
    const rng = mulberry32(9);
    const c = new Float32Array(3).map(() => rng() + 0.5);
    return [
      [new Elementwise('mul', { constant: { data: c, shape: [3] } }), [rand([2, 3, 2], 1)]],
      [new Elementwise('div', { constant: { data: new Float32Array([2]), shape: [] }, constantFirst: true }), [randAway([2, 3, 2], 1)]],
      [new Elementwise('sub'), [rand([2, 3, 2], 1), rand([3, 2], 2)]],
      [new Unary('exp'), [rand([4, 2], 1)]],
      [new Clip(0, 6), [rand([4, 2], 1, true, -8, 8)]],
      [new Clip(-Infinity, 1), [rand([4, 2], 1, true, -3, 3)]],
      [new MatMulActs(), [rand([2, 3, 4, 2], 1), rand([2, 4, 2, 2], 2)]],
      [new Transpose([1, 0]), [rand([3, 4, 2], 1)]],
      [new Slice([0, 3], [-1, -Infinity], [1, -1], [2, -1]), [rand([2, 5, 4, 2], 1)]],
      [new Gather(Int32Array.from([2, -1, 0]), [3], 1), [rand([2, 4, 2], 1)]],
      [new Gather([1], [], 0), [rand([2, 4, 2], 1)]],
      [new ReduceMean([-1], false), [rand([2, 4, 2], 1)]],
      [new ReduceMean(null), [rand([2, 4, 2], 1)]],
      [new Resize({ mode: 'linear', scales: [2, 1.5], coordinateTransformationMode: 'pytorch_half_pixel' }), [rand([2, 3, 2, 2], 1)]],
      [new Resize({ sizes: [4, 4] }), [rand([2, 3, 2, 2], 1)]],
      [new ConvTranspose2d(2, 4, [2, 3], { stride: 2, padding: [0, 1], outputPadding: [1, 0], groups: 2 }), [rand([2, 3, 3, 2], 1)]],
      [new Identity(), [rand([4, 2], 1)]],
    ];
  }

  it('each module equals its functional form and survives config JSON + stateDict', () => {
    for (const [m, inputs] of makeModules()) {
      const y = noGrad(() => m.forward(...inputs));
      const config = JSON.parse(JSON.stringify(m.config())) as unknown;
      const copy = moduleFromConfig(config);
      expect(copy.constructor).toBe(m.constructor);
      expect(copy.config()).toEqual(m.config());
      copy.loadStateDict(m.stateDict());
      const y2 = noGrad(() => copy.forward(...inputs));
      expect([...y2.shape]).toEqual([...y.shape]);
      expect([...y2.data], `${m.constructor.name}`).toEqual([...y.data]);
    }
  });

  it('constants live in the state dict as buffers, not in config()', () => {
    const e = new Elementwise('add', { constant: { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] } });
    expect(e.stateDict()).toEqual({ constant: { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) } });
    expect(JSON.stringify(e.config())).not.toContain('5');
    const g = new Gather(Int32Array.from([3, -2]), [2], 0);
    expect(g.stateDict()).toEqual({ indices: { shape: [2], data: Float32Array.from([3, -2]) } });
    expect([...g.indices]).toEqual([3, -2]);
  });

  it('a Sequential of these modules saves and loads (encodeModel / decodeModel)', () => {
    const seq = new Sequential(
      new ConvTranspose2d(2, 3, 2, { stride: 2 }),
      new Elementwise('add', { constant: { data: Float32Array.from([0.5, -1, 2]), shape: [3, 1, 1] } }),
      new Clip(0, 6),
      new Resize({ mode: 'linear', scales: [0.5, 0.5] }),
      new Gather(Int32Array.from([2, 0]), [2], 0),
      new ReduceMean([1, 2], false),
      new Unary('sqrt'),
    );
    const x = rand([2, 3, 3, 2], 7);
    const y = noGrad(() => seq.forward(x));
    const loaded = decodeModel(encodeModel(seq));
    const y2 = noGrad(() => loaded.forward(x));
    expect([...y2.shape]).toEqual([2, 2]);
    expect([...y2.data]).toEqual([...y.data]);
  });

  it('an empty batch (n = 0) flows through every module with the right shapes', () => {
    for (const [m, inputs] of makeModules()) {
      const empty = inputs.map((t) => Tensor.zeros([...t.shape.slice(0, -1), 0]));
      const want = noGrad(() => m.forward(...inputs));
      const y = m.forward(...empty);
      expect([...y.shape], m.constructor.name).toEqual([...want.shape.slice(0, -1), 0]);
    }
  });

  it('typed errors: wrong arity, bad ops, bad configs', () => {
    const x = rand([3, 2], 1);
    expectThrows(() => new Elementwise('add').forward(x), SparsennTypeError, 'ERR_TYPE', 'arity');
    expectThrows(() => new Elementwise('add', { constant: { data: new Float32Array(1), shape: [] } }).forward(x, x), SparsennTypeError, 'ERR_TYPE', 'arity const');
    expectThrows(() => new Elementwise('add', { constantFirst: true }), SparsennTypeError, 'ERR_TYPE', 'constantFirst without constant');
    expectThrows(() => new Unary('tanh' as UnaryOpName), SparsennTypeError, 'ERR_TYPE', 'unary op');
    expectThrows(() => new MatMulActs().forward(x), SparsennTypeError, 'ERR_TYPE', 'matmul arity');
    expectThrows(() => new ReduceMean([0, 0]), ShapeError, 'ERR_SHAPE', 'repeated axes');
    expectThrows(() => new Gather([2 ** 25], [1], 0), FormatError, 'ERR_FORMAT', 'huge index');
    expectThrows(() => moduleFromConfig({ type: 'Gather', indicesShape: [-1], axis: 0 }), FormatError, 'ERR_FORMAT', 'bad config');
    expectThrows(() => new Gather([5], [1], 0).forward(x), IndexRangeError, 'ERR_RANGE', 'index past the axis');
  });
});
