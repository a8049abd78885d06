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

  it('optimizer loops reject indices out of range and wrong state lengths', () => {
    const w = new Float32Array(4);
    const g = new Float32Array(4);
    expectThrows(() => native.adamUpdate(w, g, false, new Float32Array(2), new Float32Array(2), Int32Array.from([0, 4]), 1, 0.9, 0.99, 1e-8, 0, false, 1, 1), IndexRangeError, 'ERR_RANGE', 'index 4');
    expectThrows(() => native.adamUpdate(w, g, false, new Float32Array(3), new Float32Array(2), Int32Array.from([0, 1]), 1, 0.9, 0.99, 1e-8, 0, false, 1, 1), ShapeError, 'ERR_SHAPE', 'state length');
    expectThrows(() => native.sgdUpdate(w, g.subarray(1), false, new Float32Array(4), null, 1, 0, 0, 0, false, true), ShapeError, 'ERR_SHAPE', 'grad length');
    expectThrows(() => native.sgdUpdate(w, g, false, new Float32Array(4), null, NaN, 0, 0, 0, false, true), IndexRangeError, 'ERR_RANGE', 'NaN lr');
  });
});
