/** Matrix (lib/tensor/matrix.ts): construction, counts, transpose, and the prepared native copy. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Matrix, matmul, referenceMatmul, transposeDense } from '../../lib/index.js';
import { expectSameValues } from '../helpers/expect.js';

/** Small shapes (0 included) with matching data: zeros, -0, NaN and ordinary float32s. */
const denseArb = fc
  .record({ rows: fc.integer({ min: 0, max: 9 }), cols: fc.integer({ min: 0, max: 9 }) })
  .chain(({ rows, cols }) =>
    fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      data: fc
        .array(fc.oneof(fc.constant(0), fc.constant(-0), fc.float({ noDefaultInfinity: true })), { minLength: rows * cols, maxLength: rows * cols })
        .map((v) => Float32Array.from(v)),
    }),
  );

describe('Matrix', () => {
  it('wraps the caller’s array without copying and reports its shape', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const m = new Matrix(data, 2, 3);
    expect(m.format).toBe('dense');
    expect([m.rows, m.cols]).toEqual([2, 3]);
    expect(m.data).toBe(data);
    expect(Matrix.fromDense(data, 3, 2).data).toBe(data);
  });

  it('zeros() makes an all-zero matrix of the right size', () => {
    const z = Matrix.zeros(3, 4);
    expect(z.data.length).toBe(12);
    expect(z.nnz).toBe(0);
    expect(z.density).toBe(0);
    expect(z.sparsity).toBe(1);
    expect(Matrix.zeros(0, 5).data.length).toBe(0);
  });

  it('nnz counts nonzero entries (NaN counts, -0 does not); density, sparsity and byteSize follow', () => {
    const m = new Matrix(new Float32Array([0, -0, 1, NaN, 0, -2, 0, 0]), 2, 4);
    expect(m.nnz).toBe(3);
    expect(m.density).toBe(3 / 8);
    expect(m.sparsity).toBe(5 / 8);
    expect(m.byteSize).toBe(32);
  });

  it('empty shapes have density 0 and sparsity 1', () => {
    for (const [r, c] of [[0, 0], [0, 7], [7, 0]]) {
      const m = new Matrix(new Float32Array(0), r, c);
      expect(m.nnz).toBe(0);
      expect(m.density).toBe(0);
      expect(m.sparsity).toBe(1);
      expect(m.byteSize).toBe(0);
      expect(m.toDense().length).toBe(0);
      expect([m.transpose().rows, m.transpose().cols]).toEqual([c, r]);
    }
  });

  it('toDense returns a copy', () => {
    const data = new Float32Array([1, 2, 3]);
    const m = new Matrix(data, 1, 3);
    const d = m.toDense();
    expect(d).not.toBe(data);
    expect(Array.from(d)).toEqual([1, 2, 3]);
    d[0] = 99;
    expect(data[0]).toBe(1);
  });

  it('1xN and Nx1 transpose into each other', () => {
    const row = new Matrix(new Float32Array([1, 2, 3, 4]), 1, 4);
    const col = row.transpose();
    expect([col.rows, col.cols]).toEqual([4, 1]);
    expect(Array.from(col.data)).toEqual([1, 2, 3, 4]);
  });

  it('property: transpose matches the definition and twice is the identity', () => {
    fc.assert(
      fc.property(denseArb, ({ rows, cols, data }) => {
        const m = new Matrix(data, rows, cols);
        const t = m.transpose();
        expect([t.rows, t.cols]).toEqual([cols, rows]);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(Object.is(t.data[c * rows + r], data[r * cols + c])).toBe(true);
        const tt = t.transpose();
        expect([tt.rows, tt.cols]).toEqual([rows, cols]);
        expectSameValues(tt.data, data, 'transpose twice');
        expect(Array.from(transposeDense(data, rows, cols))).toEqual(Array.from(t.data));
      }),
    );
  });

  it('property: nnz and density agree with a direct count', () => {
    fc.assert(
      fc.property(denseArb, ({ rows, cols, data }) => {
        const m = new Matrix(data, rows, cols);
        const count = Array.from(data).filter((v) => v !== 0).length;
        expect(m.nnz).toBe(count);
        expect(m.density).toBe(rows * cols === 0 ? 0 : count / (rows * cols));
        expect(m.sparsity).toBe(1 - m.density);
        expect(m.byteSize).toBe(4 * rows * cols);
      }),
    );
  });

  it('the native copy is made once: changing data afterwards does not change products until dispose()', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const m = new Matrix(data, 2, 2).prepare();
    const x = new Float32Array([1, 1]);
    expect(Array.from(matmul(m, x, 1))).toEqual([3, 7]);
    data[0] = 10;
    expect(Array.from(matmul(m, x, 1))).toEqual([3, 7]);
    m.dispose();
    expect(Array.from(matmul(m, x, 1))).toEqual([12, 7]);
    m.dispose();
    m.dispose(); // idempotent
  });

  it('prepare() returns the matrix itself', () => {
    const m = Matrix.zeros(2, 2);
    expect(m.prepare()).toBe(m);
  });

  it('a product agrees with the reference on a tiny exact case', () => {
    const a = new Float32Array([1, 2, 0, -1, 0, 3]);
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    const y = matmul(new Matrix(a, 2, 3), x, 2);
    expect(Array.from(y)).toEqual(Array.from(referenceMatmul(a, 2, 3, x, 2)));
    expect(Array.from(y)).toEqual([7, 10, 14, 16]);
  });
});
