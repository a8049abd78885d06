/**
 * The training engine's native helpers on the ISA path this process was forced onto (see
 * vitest.config.ts): gemm with every transpose combination, the column-split path (few rows,
 * many columns, 2 threads), transpose, csrSetValues and the optimizer loops, each against a
 * float64 reference; and their argument checks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { capabilities, FormatError, getThreads, IndexRangeError, NativeError, setThreads, ShapeError, SparsennTypeError } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { expectThrows } from '../helpers/errors.js';
import { mulberry32 } from '../helpers/random.js';

const ISA = process.env.SPARSENN_ISA ?? '';
const supported = ISA !== '' && capabilities().supportedIsas.includes(ISA);
const initialThreads = getThreads();
afterAll(() => setThreads(initialThreads));

function rand(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

/** op(A) op(X) in float64 plus the sum of |terms| per output (the rounding scale). */
function reference(m: number, k: number, n: number, a: Float32Array, ta: boolean, x: Float32Array, tx: boolean) {
  const y = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      let g = 0;
      for (let p = 0; p < k; p++) {
        const av = ta ? a[p * m + i]! : a[i * k + p]!;
        const xv = tx ? x[j * k + p]! : x[p * n + j]!;
        s += av * xv;
        g += Math.abs(av * xv);
      }
      y[i * n + j] = s;
      mag[i * n + j] = g;
    }
  return { y, mag };
}

describe.skipIf(!supported)(`training products on ${ISA}`, () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1],
    [5, 7, 1],
    [13, 33, 2],
    [6, 16, 17],
    [300, 64, 37],
    [3, 40, 700], // few panels, wide: the column split
    [16, 25, 1100],
    [0, 4, 5],
    [4, 0, 5],
    [4, 5, 0],
  ];
  for (const threads of [1, 2])
    for (const [m, k, n] of shapes)
      for (const ta of [false, true])
        for (const tx of [false, true])
          it(`gemm ${m}x${k}x${n} transA=${ta} transX=${tx} threads=${threads}`, () => {
            setThreads(threads);
            const a = rand(m * k, m * 131 + k);
            const x = rand(k * n, n * 17 + k);
            const got = native.gemm(m, k, n, a, ta, x, tx);
            const { y, mag } = reference(m, k, n, a, ta, x, tx);
            expect(got.length).toBe(m * n);
            for (let i = 0; i < y.length; i++)
              if (!(Math.abs(got[i]! - y[i]!) <= 1e-6 * (mag[i]! + 1) * Math.max(1, Math.sqrt(k))))
                expect.fail(`element ${i}: ${got[i]} vs ${y[i]}`);
          });

  it('gemm writes into `out` and rejects bad arguments with typed errors', () => {
    const a = rand(6, 1);
    const x = rand(6, 2);
    const out = new Float32Array(4);
    expect(native.gemm(2, 3, 2, a, false, x, false, out)).toBe(out);
    expectThrows(() => native.gemm(2, 3, 2, a.subarray(1), false, x, false), ShapeError, 'ERR_SHAPE', 'short a');
    expectThrows(() => native.gemm(2, 3, 2, a, false, x, false, new Float32Array(3)), ShapeError, 'ERR_SHAPE', 'short out');
    expectThrows(() => native.gemm(2, 3, 2, a, false, a, false, a.subarray(0, 4)), NativeError, 'ERR_ALIAS', 'aliased out');
    expectThrows(() => native.gemm(2, 3, 2, new Float64Array(6) as unknown as Float32Array, false, x, false), SparsennTypeError, 'ERR_TYPE', 'f64');
    expectThrows(() => native.gemm(-1, 3, 2, a, false, x, false), IndexRangeError, 'ERR_RANGE', 'negative m');
  });

  for (const [r, c] of [[1, 1], [3, 5], [64, 784], [33, 65]] as const)
    it(`transpose ${r}x${c}`, () => {
      const src = rand(r * c, r + c);
      const t = native.transpose(r, c, src);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) expect(t[j * r + i]).toBe(src[i * c + j]);
    });

  it('csrSetValues swaps the values of a prepared pattern; products use the new values', () => {
    const rowPtr = Int32Array.from([0, 2, 2, 5]);
    const colIdx = Int32Array.from([0, 3, 1, 2, 3]);
    const h = native.prepareCsr(3, 4, rowPtr, colIdx, Float32Array.from([1, 2, 3, 4, 5]));
    const x = Float32Array.from([1, 10, 100, 1000]);
    expect([...native.matmul(h, x, 1, null, false)]).toEqual([2001, 0, 5430]);
    native.csrSetValues(h, Float32Array.from([-1, 0.5, 2, 0, 1]));
    expect([...native.matmul(h, x, 1, null, false)]).toEqual([-1 + 500, 0, 20 + 1000]);
    expect([...native.matmulTransposed(h, Float32Array.from([1, 1, 1]), 1)]).toEqual([-1, 2, 0, 1.5]);
    expectThrows(() => native.csrSetValues(h, new Float32Array(4)), FormatError, 'ERR_FORMAT', 'wrong nnz');
    h.dispose();
    expectThrows(() => native.csrSetValues(h, new Float32Array(5)), NativeError, 'ERR_DISPOSED', 'disposed');
  });

  it('csrSetValues refuses while an async product holds the matrix', async () => {
    const h = native.prepareCsr(1, 2, Int32Array.from([0, 2]), Int32Array.from([0, 1]), Float32Array.from([1, 1]));
    const pending = native.matmulAsync(h, new Float32Array(2 * 4096), 4096, null, false);
    expectThrows(() => native.csrSetValues(h, Float32Array.from([2, 2])), NativeError, 'ERR_BUSY', 'busy');
    await pending;
    native.csrSetValues(h, Float32Array.from([2, 2]));
  });

  it('compact gradients: one value per updated index', () => {
    const w = Float32Array.from([1, 2, 3, 4]);
    native.sgdUpdate(w, Float32Array.from([10, 20]), true, new Float32Array(2), Int32Array.from([1, 3]), 0.5, 0, 0, 0, false, true);
    expect([...w]).toEqual([1, 2 - 5, 3, 4 - 10]);
    expectThrows(() => native.sgdUpdate(w, new Float32Array(4), true, new Float32Array(2), Int32Array.from([1, 3]), 0.5, 0, 0, 0, false, true), ShapeError, 'ERR_SHAPE', 'compact length');
  });

  it('im2col / col2imAdd: a 3x3 pad-1 example by hand, adjointness, and geometry checks', () => {
    // x [1, 2, 2, 1] = [[1, 2], [3, 4]], kernel 2x2, stride 1, padding 0 -> oh = ow = 1
    const x = Float32Array.from([1, 2, 3, 4]);
    const geom = Int32Array.from([1, 2, 2, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1, 1]);
    const col = new Float32Array(4).fill(NaN);
    native.im2col(x, geom, col);
    expect([...col]).toEqual([1, 2, 3, 4]);
    // padding 1, kernel 3: the centre row of col is x itself, the corners see padding (0)
    const g2 = Int32Array.from([1, 2, 2, 1, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2]);
    const col2 = new Float32Array(9 * 4).fill(NaN);
    native.im2col(x, g2, col2);
    expect([...col2.subarray(4 * 4, 5 * 4)]).toEqual([1, 2, 3, 4]); // kernel centre (1, 1)
    expect([...col2.subarray(0, 4)]).toEqual([0, 0, 0, 1]); // kernel (0, 0): only output (1, 1) sees x[0, 0]
    // <im2col(x), c> = <x, col2im(c)> for random x and c
    const xr = rand(3 * 5 * 4 * 2, 7);
    const gr = Int32Array.from([3, 5, 4, 2, 3, 2, 2, 1, 1, 0, 1, 2, 3, 2]);
    const colr = new Float32Array(3 * 3 * 2 * 3 * 2 * 2);
    native.im2col(xr, gr, colr);
    const c = rand(colr.length, 8);
    const dx = new Float32Array(xr.length);
    native.col2imAdd(c, gr, dx);
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < colr.length; i++) lhs += colr[i]! * c[i]!;
    for (let i = 0; i < xr.length; i++) rhs += xr[i]! * dx[i]!;
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * (1 + Math.abs(lhs)));
    expectThrows(() => native.im2col(x, Int32Array.from([1, 2, 2, 1, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2]), new Float32Array(16)), ShapeError, 'ERR_SHAPE', 'wrong oh');
    expectThrows(() => native.im2col(x, Int32Array.from([1, 2, 2, 1, 2, 2, 0, 1, 0, 0, 1, 1, 1, 1]), col), IndexRangeError, 'ERR_RANGE', 'stride 0');
    expectThrows(() => native.im2col(x, geom.subarray(1), col), ShapeError, 'ERR_SHAPE', 'short geometry');
    expectThrows(() => native.im2col(x.subarray(1), geom, col), ShapeError, 'ERR_SHAPE', 'short x');
    expectThrows(() => native.col2imAdd(col.subarray(1), geom, new Float32Array(4)), ShapeError, 'ERR_SHAPE', 'short col');
  });

  it('max pooling: by hand, NaN wins, and arg indices are checked', () => {
    // x [1, 2, 2, 2]: two samples, window 2x2 -> one output per sample
    const x = Float32Array.from([1, 5, 4, 2, 3, NaN, 2, 0]);
    const out = new Float32Array(2);
    const arg = new Int32Array(2);
    native.maxPoolForward(x, Int32Array.from([1, 2, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1]), out, arg);
    expect(out[0]).toBe(4);
    expect(arg[0]).toBe(2);
    expect(Number.isNaN(out[1])).toBe(true);
    expect(arg[1]).toBe(5);
    const dx = new Float32Array(8);
    native.maxPoolBackward(Float32Array.from([10, 20]), arg, dx);
    expect([...dx]).toEqual([0, 0, 10, 0, 0, 20, 0, 0]);
    expectThrows(() => native.maxPoolBackward(Float32Array.from([1]), Int32Array.from([8]), dx), IndexRangeError, 'ERR_RANGE', 'arg past dx');
    expectThrows(() => native.maxPoolForward(x, Int32Array.from([1, 2, 2, 2, 2, 2, 2, 2, 0, 0, 2, 1]), out, arg), ShapeError, 'ERR_SHAPE', 'out too short');
  });

  it('reluForward / reluBackward / gatherTranspose', () => {
    const x = Float32Array.from([-1, 0, 2, NaN, -Infinity, Infinity]);
    const y = new Float32Array(6);
    native.reluForward(x, y);
    expect([...y.subarray(0, 3)]).toEqual([0, 0, 2]);
    expect(Number.isNaN(y[3])).toBe(true);
    expect([y[4], y[5]]).toEqual([0, Infinity]);
    const d = new Float32Array(6);
    native.reluBackward(x, Float32Array.from([1, 1, 1, 1, Infinity, 1]), d);
    expect([...d]).toEqual([0, 0, 1, 0, 0, 1]);
    expectThrows(() => native.reluForward(x, new Float32Array(5)), ShapeError, 'ERR_SHAPE', 'relu out');
    const src = Float32Array.from([0, 1, 2, 10, 11, 12, 20, 21, 22]); // 3 rows of 3
    const out = new Float32Array(6);
    native.gatherTranspose(src, 3, Int32Array.from([2, 0]), out);
    expect([...out]).toEqual([20, 0, 21, 1, 22, 2]);
    expectThrows(() => native.gatherTranspose(src, 3, Int32Array.from([3]), new Float32Array(3)), IndexRangeError, 'ERR_RANGE', 'row 3');
    const picked = new Float32Array(3);
    native.gather(src, Int32Array.from([8, 0, 4]), picked);
    expect([...picked]).toEqual([22, 0, 11]);
    expectThrows(() => native.gather(src, Int32Array.from([9]), new Float32Array(1)), IndexRangeError, 'ERR_RANGE', 'gather 9');
    expectThrows(() => native.gatherTranspose(src, 4, Int32Array.from([0]), new Float32Array(4)), ShapeError, 'ERR_SHAPE', 'ragged');
  });

  it('optimizer loops reject indices out of range and wrong state lengths', () => {
    const w = new Float32Array(4);
    const g = new Float32Array(4);
    expectThrows(() => native.adamUpdate(w, g, false, new Float32Array(2), new Float32Array(2), Int32Array.from([0, 4]), 1, 0.9, 0.99, 1e-8, 0, false, 1, 1), IndexRangeError, 'ERR_RANGE', 'index 4');
    expectThrows(() => native.adamUpdate(w, g, false, new Float32Array(3), new Float32Array(2), Int32Array.from([0, 1]), 1, 0.9, 0.99, 1e-8, 0, false, 1, 1), ShapeError, 'ERR_SHAPE', 'state length');
    expectThrows(() => native.sgdUpdate(w, g.subarray(1), false, new Float32Array(4), null, 1, 0, 0, 0, false, true), ShapeError, 'ERR_SHAPE', 'grad length');
    expectThrows(() => native.sgdUpdate(w, g, false, new Float32Array(4), null, NaN, 0, 0, 0, false, true), IndexRangeError, 'ERR_RANGE', 'NaN lr');
  });
});
