/** NmMatrix (lib/sparse/nm.ts): N-of-M selection, storage layout, conversions, counts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsrMatrix, NmMatrix, transposeDense } from '../../lib/index.js';
import { expectSameValues } from '../helpers/expect.js';

interface Case {
  rows: number;
  cols: number;
  n: number;
  m: number;
  data: Float32Array;
}

const value = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 3 }) }, // ties of magnitude
  { weight: 3, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }) },
);

/** A pattern 1 <= N <= M <= 16 and a shape whose last group (if partial) holds >= N columns. */
const caseArb: fc.Arbitrary<Case> = fc
  .integer({ min: 1, max: 16 })
  .chain((m) => fc.record({ m: fc.constant(m), n: fc.integer({ min: 1, max: m }), rows: fc.integer({ min: 0, max: 6 }), groups: fc.integer({ min: 0, max: 4 }) }))
  .chain(({ m, n, rows, groups }) =>
    fc.record({
      m: fc.constant(m),
      n: fc.constant(n),
      rows: fc.constant(rows),
      // groups full groups, optionally one partial group of n..m-1 columns
      cols: n < m && groups > 0 ? fc.oneof(fc.constant(groups * m), fc.integer({ min: n, max: m - 1 }).map((w) => (groups - 1) * m + w)) : fc.constant(groups * m),
    }),
  )
  .chain(({ m, n, rows, cols }) =>
    fc.array(value, { minLength: rows * cols, maxLength: rows * cols }).map((v) => ({ m, n, rows, cols, data: Float32Array.from(v) })),
  );

describe('NmMatrix.fromDense', () => {
  it('property: exactly N kept per group of M, the N largest by magnitude, ties to the lower column', () => {
    fc.assert(
      fc.property(caseArb, ({ rows, cols, n, m, data }) => {
        const a = NmMatrix.fromDense(data, rows, cols, { n, m });
        const groups = Math.ceil(cols / m);
        expect([a.rows, a.cols, a.n, a.m, a.groups]).toEqual([rows, cols, n, m, groups]);
        expect(a.values.length).toBe(rows * groups * n);
        expect(a.indices.length).toBe(rows * groups * n);
        for (let r = 0; r < rows; r++) {
          for (let g = 0; g < groups; g++) {
            const width = Math.min(m, cols - g * m);
            const base = (r * groups + g) * n;
            const kept = Array.from(a.indices.subarray(base, base + n));
            // Exactly N distinct offsets inside the group, increasing.
            for (let j = 0; j < n; j++) {
              expect(kept[j]).toBeLessThan(width);
              if (j > 0) expect(kept[j]).toBeGreaterThan(kept[j - 1]);
              expect(Object.is(a.values[base + j], data[r * cols + g * m + kept[j]])).toBe(true);
            }
            const mag = (o: number) => Math.abs(data[r * cols + g * m + o]);
            for (let o = 0; o < width; o++) {
              if (kept.includes(o)) continue;
              for (const k of kept) {
                // Every kept |v| >= every dropped |v|, and on a tie the kept one is to the left.
                expect(mag(k)).toBeGreaterThanOrEqual(mag(o));
                if (mag(k) === mag(o)) expect(k).toBeLessThan(o);
              }
            }
          }
        }
      }),
    );
  });

  it('property: toDense is the input with the dropped entries zeroed; toCsr and transpose agree', () => {
    fc.assert(
      fc.property(caseArb, ({ rows, cols, n, m, data }) => {
        const a = NmMatrix.fromDense(data, rows, cols, { n, m });
        const dense = a.toDense();
        const groups = Math.ceil(cols / m);
        const kept = new Set<number>();
        for (let p = 0; p < a.values.length; p++) {
          const r = Math.floor(p / (groups * n));
          kept.add(r * cols + a.columnAt(p));
        }
        for (let i = 0; i < data.length; i++) expect(dense[i]).toBe(kept.has(i) ? data[i] : 0);
        const csr = a.toCsr();
        expect(csr).toBeInstanceOf(CsrMatrix);
        expect(csr.nnz).toBe(a.nnz); // explicit zeros kept
        expectSameValues(csr.toDense(), dense, 'toCsr');
        const t = a.transpose();
        expect(t).toBeInstanceOf(CsrMatrix);
        expect([t.rows, t.cols]).toEqual([cols, rows]);
        expectSameValues(t.toDense(), transposeDense(dense, rows, cols), 'transpose');
        expectSameValues(t.transpose().toDense(), dense, 'transpose twice');
      }),
    );
  });

  it('property: nnz, density and byteSize', () => {
    fc.assert(
      fc.property(caseArb, ({ rows, cols, n, m, data }) => {
        const a = NmMatrix.fromDense(data, rows, cols, { n, m });
        expect(a.format).toBe('nm');
        const stored = rows * Math.ceil(cols / m) * n;
        expect(a.nnz).toBe(stored);
        expect(a.byteSize).toBe(5 * stored);
        expect(a.density).toBe(rows * cols === 0 ? 0 : stored / (rows * cols));
        expect(a.sparsity).toBe(1 - a.density);
      }),
    );
  });

  it('2:4 on a worked example, with ties and zeros', () => {
    const data = new Float32Array([
      1, -3, 2, 0, /**/ 5, 5, 5, 5,
      0, 0, 0, 0, /**/ -1, 0, 0, 1,
    ]);
    const a = NmMatrix.fromDense(data, 2, 8);
    expect([a.n, a.m]).toEqual([2, 4]); // the default pattern
    expect(Array.from(a.indices)).toEqual([1, 2, 0, 1, 0, 1, 0, 3]);
    expect(Array.from(a.values)).toEqual([-3, 2, 5, 5, 0, 0, -1, 1]);
    expect(Array.from(a.toDense())).toEqual([0, -3, 2, 0, 5, 5, 0, 0, 0, 0, 0, 0, -1, 0, 0, 1]);
  });

  it('1:4 and 4:8 keep the single largest / the four largest', () => {
    const row = new Float32Array([0.5, -0.25, 4, 3, -8, 1, 0, 2]);
    expect(Array.from(NmMatrix.fromDense(row, 1, 8, { n: 1, m: 4 }).toDense())).toEqual([0, 0, 4, 0, -8, 0, 0, 0]);
    expect(Array.from(NmMatrix.fromDense(row, 1, 8, { n: 4, m: 8 }).toDense())).toEqual([0, 0, 4, 3, -8, 0, 0, 2]);
  });

  it('a partial last group with at least N columns is allowed', () => {
    // cols 6 with 2:4: groups of 4 and 2
    const a = NmMatrix.fromDense(new Float32Array([1, 2, 3, 4, 5, 6]), 1, 6, { n: 2, m: 4 });
    expect(a.groups).toBe(2);
    expect(Array.from(a.toDense())).toEqual([0, 0, 3, 4, 5, 6]);
    // cols 7 with 4:8: one group of 7
    expect(NmMatrix.fromDense(new Float32Array(7).fill(1), 1, 7, { n: 4, m: 8 }).nnz).toBe(4);
  });

  it('NaN ranks below zero', () => {
    const a = NmMatrix.fromDense(new Float32Array([NaN, 0, NaN, 0]), 1, 4, { n: 1, m: 4 });
    expect(Array.from(a.indices)).toEqual([1]);
  });

  it('edge shapes: 0 rows, 0 cols, 1xN, Nx1 (1:1)', () => {
    expect(NmMatrix.fromDense(new Float32Array(0), 0, 8).nnz).toBe(0);
    const noCols = NmMatrix.fromDense(new Float32Array(0), 3, 0);
    expect([noCols.groups, noCols.nnz, noCols.density]).toEqual([0, 0, 0]);
    expect(NmMatrix.fromDense(new Float32Array([1, 0, 0, 2]), 1, 4).toDense()).toEqual(new Float32Array([1, 0, 0, 2]));
    const col = NmMatrix.fromDense(new Float32Array([3, 0, -1]), 3, 1, { n: 1, m: 1 });
    expect(Array.from(col.toDense())).toEqual([3, 0, -1]);
    expect(col.density).toBe(1);
  });

  it('the constructor accepts a hand-built valid structure', () => {
    const a = new NmMatrix(1, 4, { n: 2, m: 4 }, new Float32Array([7, 9]), new Uint8Array([0, 3]));
    expect(Array.from(a.toDense())).toEqual([7, 0, 0, 9]);
    expect(a.columnAt(1)).toBe(3);
  });
});
