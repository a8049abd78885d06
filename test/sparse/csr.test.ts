/** CsrMatrix (lib/sparse/csr.ts): conversions, selection by magnitude, COO, transpose, counts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsrMatrix, matmul, transposeDense } from '../../lib/index.js';
import { expectSameValues } from '../helpers/expect.js';

interface Dense {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** Small shapes with data rich in zeros, ties of magnitude, -0 and (optionally) NaN. */
function denseArb(opts: { nan?: boolean; maxDim?: number } = {}): fc.Arbitrary<Dense> {
  const maxDim = opts.maxDim ?? 10;
  const value = fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.constant(-0) },
    { weight: 3, arbitrary: fc.integer({ min: -4, max: 4 }) }, // many equal magnitudes
    { weight: 3, arbitrary: fc.float({ noNaN: !opts.nan, noDefaultInfinity: true }) },
  );
  return fc
    .record({ rows: fc.integer({ min: 0, max: maxDim }), cols: fc.integer({ min: 0, max: maxDim }) })
    .chain(({ rows, cols }) =>
      fc.array(value, { minLength: rows * cols, maxLength: rows * cols }).map((v) => ({ rows, cols, data: Float32Array.from(v) })),
    );
}

/** Structural invariants of a valid CSR: pointers, sorted unique in-range columns. */
function expectWellFormed(m: CsrMatrix): void {
  expect(m.rowPtr.length).toBe(m.rows + 1);
  expect(m.rowPtr[0]).toBe(0);
  expect(m.rowPtr[m.rows]).toBe(m.nnz);
  expect(m.colIdx.length).toBe(m.nnz);
  for (let r = 0; r < m.rows; r++) {
    expect(m.rowPtr[r + 1]).toBeGreaterThanOrEqual(m.rowPtr[r]);
    for (let p = m.rowPtr[r]; p < m.rowPtr[r + 1]; p++) {
      expect(m.colIdx[p]).toBeGreaterThanOrEqual(0);
      expect(m.colIdx[p]).toBeLessThan(m.cols);
      if (p > m.rowPtr[r]) expect(m.colIdx[p]).toBeGreaterThan(m.colIdx[p - 1]);
    }
  }
}

/** Flat indices (r * cols + c) of the stored entries. */
function storedFlat(m: CsrMatrix): number[] {
  const out: number[] = [];
  for (let r = 0; r < m.rows; r++) for (let p = m.rowPtr[r]; p < m.rowPtr[r + 1]; p++) out.push(r * m.cols + m.colIdx[p]);
  return out;
}

function denseEqual(a: Float32Array, b: Float32Array, label: string): void {
  expectSameValues(a, b, label);
}

describe('CsrMatrix.fromDense', () => {
  it('property: the default keeps exactly the nonzeros (NaN included) and round-trips', () => {
    fc.assert(
      fc.property(denseArb({ nan: true }), ({ rows, cols, data }) => {
        const m = CsrMatrix.fromDense(data, rows, cols);
        expectWellFormed(m);
        const nonzero = Array.from(data.keys()).filter((i) => data[i] !== 0);
        expect(storedFlat(m)).toEqual(nonzero);
        expect(m.nnz).toBe(nonzero.length);
        for (const [p, i] of nonzero.entries()) expect(Object.is(m.values[p], data[i])).toBe(true);
        denseEqual(m.toDense(), data, 'fromDense -> toDense');
        // Dropped entries come back as +0, not -0.
        for (const v of m.toDense()) if (v === 0) expect(Object.is(v, 0)).toBe(true);
      }),
    );
  });

  it('property: threshold keeps exactly the entries with |v| > threshold', () => {
    fc.assert(
      fc.property(denseArb({ nan: true }), fc.float({ noNaN: true, min: 0, max: 5 }), ({ rows, cols, data }, t) => {
        const m = CsrMatrix.fromDense(data, rows, cols, { threshold: t });
        expectWellFormed(m);
        expect(storedFlat(m)).toEqual(Array.from(data.keys()).filter((i) => Math.abs(data[i]) > t));
      }),
    );
  });

  const targetArb = (size: number) =>
    fc.oneof(
      fc.double({ min: 0, max: 1, noNaN: true }).map((s) => ({ target: { sparsity: s }, k: Math.round((1 - s) * size) })),
      fc.double({ min: 0, max: 1, noNaN: true }).map((d) => ({ target: { density: d }, k: Math.round(d * size) })),
      fc.integer({ min: 0, max: size }).map((nnz) => ({ target: { nnz }, k: nnz })),
    );

  it('property: a sparsity/density/nnz target keeps exactly k entries, the largest by magnitude, ties to the lower flat index', () => {
    fc.assert(
      fc.property(
        denseArb().chain((d) => fc.record({ d: fc.constant(d), t: targetArb(d.rows * d.cols) })),
        ({ d: { rows, cols, data }, t: { target, k } }) => {
          const m = CsrMatrix.fromDense(data, rows, cols, target);
          expectWellFormed(m);
          expect(m.nnz).toBe(k);
          const kept = new Set(storedFlat(m));
          for (let p = 0; p < m.nnz; p++) expect(Object.is(m.values[p], data[storedFlat(m)[p]])).toBe(true);
          let minKept = Infinity;
          let maxDropped = -Infinity;
          for (let i = 0; i < data.length; i++) {
            const a = Math.abs(data[i]);
            if (kept.has(i)) minKept = Math.min(minKept, a);
            else maxDropped = Math.max(maxDropped, a);
          }
          // Every kept |v| >= every dropped |v|.
          expect(minKept).toBeGreaterThanOrEqual(maxDropped);
          // Ties at the boundary go to the lower flat index.
          for (let i = 0; i < data.length; i++) {
            if (kept.has(i)) continue;
            for (const j of kept) if (Math.abs(data[j]) === Math.abs(data[i])) expect(j).toBeLessThan(i);
          }
          // The density/sparsity getters report the kept fraction.
          expect(m.density).toBe(rows * cols === 0 ? 0 : k / (rows * cols));
        },
      ),
    );
  });

  it('a target larger than the nonzero count stores explicit zeros, lowest indices first', () => {
    const m = CsrMatrix.fromDense(new Float32Array([0, 3, 0, 0, -1, 0]), 2, 3, { nnz: 4 });
    expect(Array.from(m.rowPtr)).toEqual([0, 3, 4]);
    expect(Array.from(m.colIdx)).toEqual([0, 1, 2, 1]);
    expect(Array.from(m.values)).toEqual([0, 3, 0, -1]);
  });

  it('NaN ranks below every number in a target (and is kept only when nothing else is left)', () => {
    const data = new Float32Array([NaN, 0, 2, NaN, -5, 0]);
    expect(storedFlat(CsrMatrix.fromDense(data, 2, 3, { nnz: 2 }))).toEqual([2, 4]);
    expect(storedFlat(CsrMatrix.fromDense(data, 2, 3, { nnz: 4 }))).toEqual([1, 2, 4, 5]);
    expect(storedFlat(CsrMatrix.fromDense(data, 2, 3, { nnz: 5 }))).toEqual([0, 1, 2, 4, 5]);
  });

  it('sparsity 0 and 1, density 0 and 1', () => {
    const data = new Float32Array([1, 0, -2, 3]);
    expect(CsrMatrix.fromDense(data, 2, 2, { sparsity: 0 }).nnz).toBe(4);
    expect(CsrMatrix.fromDense(data, 2, 2, { sparsity: 1 }).nnz).toBe(0);
    expect(CsrMatrix.fromDense(data, 2, 2, { density: 1 }).nnz).toBe(4);
    expect(CsrMatrix.fromDense(data, 2, 2, { density: 0 }).nnz).toBe(0);
    expect(CsrMatrix.fromDense(data, 2, 2, { sparsity: 0.5 }).nnz).toBe(2);
    expect(Array.from(CsrMatrix.fromDense(data, 2, 2, { sparsity: 0.5 }).values)).toEqual([-2, 3]);
  });

  it('edge shapes: 0x0, 0xN, Nx0, 1xN, Nx1', () => {
    for (const [r, c] of [[0, 0], [0, 5], [5, 0]]) {
      const m = CsrMatrix.fromDense(new Float32Array(0), r, c);
      expect(m.nnz).toBe(0);
      expect(Array.from(m.rowPtr)).toEqual(new Array(r + 1).fill(0));
      expect(m.density).toBe(0);
      expect(m.sparsity).toBe(1);
      expect(m.toDense().length).toBe(0);
      const t = m.transpose();
      expect([t.rows, t.cols, t.nnz]).toEqual([c, r, 0]);
    }
    const row = CsrMatrix.fromDense(new Float32Array([0, 1, 0, 2]), 1, 4);
    expect(Array.from(row.rowPtr)).toEqual([0, 2]);
    expect(Array.from(row.colIdx)).toEqual([1, 3]);
    const col = CsrMatrix.fromDense(new Float32Array([0, 1, 0, 2]), 4, 1);
    expect(Array.from(col.rowPtr)).toEqual([0, 0, 1, 1, 2]);
    expect(Array.from(col.colIdx)).toEqual([0, 0]);
    expect(Array.from(col.transpose().toDense())).toEqual([0, 1, 0, 2]);
  });
});

describe('CsrMatrix.fromCoo', () => {
  const cooArb = fc
    .record({ rows: fc.integer({ min: 1, max: 6 }), cols: fc.integer({ min: 1, max: 6 }) })
    .chain(({ rows, cols }) =>
      fc.record({
        rows: fc.constant(rows),
        cols: fc.constant(cols),
        // Few distinct coordinates, so duplicates are common; integer values sum exactly.
        triplets: fc.array(fc.tuple(fc.integer({ min: 0, max: rows - 1 }), fc.integer({ min: 0, max: cols - 1 }), fc.integer({ min: -8, max: 8 })), {
          maxLength: 40,
        }),
      }),
    );

  it('property: sorts, sums duplicates, and keeps each distinct coordinate once', () => {
    fc.assert(
      fc.property(cooArb, ({ rows, cols, triplets }) => {
        const m = CsrMatrix.fromCoo(
          rows,
          cols,
          Int32Array.from(triplets, (t) => t[0]),
          Int32Array.from(triplets, (t) => t[1]),
          Float32Array.from(triplets, (t) => t[2]),
        );
        expectWellFormed(m);
        const sums = new Map<number, number>();
        for (const [r, c, v] of triplets) sums.set(r * cols + c, (sums.get(r * cols + c) ?? 0) + v);
        const keys = [...sums.keys()].sort((a, b) => a - b);
        expect(storedFlat(m)).toEqual(keys);
        expect(Array.from(m.values)).toEqual(keys.map((k) => sums.get(k)));
      }),
    );
  });

  it('sums duplicates in float32, in input order', () => {
    const big = 2 ** 24;
    // float32: (2^24 + 1) rounds to 2^24 at every step.
    const m = CsrMatrix.fromCoo(1, 1, new Int32Array([0, 0, 0]), new Int32Array([0, 0, 0]), new Float32Array([big, 1, 1]));
    expect(Array.from(m.values)).toEqual([big]);
  });

  it('a duplicate summing to zero stays stored as an explicit zero', () => {
    const m = CsrMatrix.fromCoo(2, 2, new Int32Array([1, 1]), new Int32Array([0, 0]), new Float32Array([3, -3]));
    expect(m.nnz).toBe(1);
    expect(Array.from(m.values)).toEqual([0]);
  });

  it('no triplets gives an empty matrix', () => {
    const m = CsrMatrix.fromCoo(3, 4, new Int32Array(0), new Int32Array(0), new Float32Array(0));
    expect([m.rows, m.cols, m.nnz]).toEqual([3, 4, 0]);
    expect(Array.from(m.rowPtr)).toEqual([0, 0, 0, 0]);
  });
});

describe('CsrMatrix.transpose', () => {
  it('property: matches the dense transpose, and twice is the identity', () => {
    fc.assert(
      fc.property(denseArb({ nan: true }), ({ rows, cols, data }) => {
        const m = CsrMatrix.fromDense(data, rows, cols);
        const t = m.transpose();
        expectWellFormed(t);
        expect([t.rows, t.cols, t.nnz]).toEqual([cols, rows, m.nnz]);
        denseEqual(t.toDense(), transposeDense(m.toDense(), rows, cols), 'transpose vs dense transpose');
        const tt = t.transpose();
        expect(Array.from(tt.rowPtr)).toEqual(Array.from(m.rowPtr));
        expect(Array.from(tt.colIdx)).toEqual(Array.from(m.colIdx));
        expectSameValues(tt.values, m.values, 'transpose twice');
      }),
    );
  });
});

describe('CsrMatrix counts and withValues', () => {
  it('property: nnz, density, sparsity and byteSize', () => {
    fc.assert(
      fc.property(denseArb(), ({ rows, cols, data }) => {
        const m = CsrMatrix.fromDense(data, rows, cols);
        expect(m.format).toBe('csr');
        expect(m.nnz).toBe(m.values.length);
        expect(m.byteSize).toBe(4 * (rows + 1) + 8 * m.nnz);
        expect(m.density).toBe(rows * cols === 0 ? 0 : m.nnz / (rows * cols));
        expect(m.sparsity).toBe(1 - m.density);
      }),
    );
  });

  it('withValues shares the pattern and replaces the values', () => {
    const m = CsrMatrix.fromDense(new Float32Array([0, 1, 2, 0, 0, 3]), 2, 3);
    const w = m.withValues(new Float32Array([7, 8, 9]));
    expect(w).not.toBe(m);
    expect(w.rowPtr).toBe(m.rowPtr);
    expect(w.colIdx).toBe(m.colIdx);
    expect(Array.from(w.toDense())).toEqual([0, 7, 8, 0, 0, 9]);
    expect(Array.from(m.values)).toEqual([1, 2, 3]);
  });

  it('the constructor wraps the arrays without copying', () => {
    const rp = new Int32Array([0, 1, 1]);
    const ci = new Int32Array([2]);
    const v = new Float32Array([5]);
    const m = new CsrMatrix(2, 3, rp, ci, v);
    expect(m.rowPtr).toBe(rp);
    expect(m.colIdx).toBe(ci);
    expect(m.values).toBe(v);
    expect(Array.from(m.toDense())).toEqual([0, 0, 5, 0, 0, 0]);
  });
});

describe('hypersparse CSR (a huge column count, few entries)', () => {
  it('multiplies correctly without building a stripe table larger than the matrix', () => {
    // 1000 x 6,553,500 with 40 entries: 100 stripes x 1001 row pointers would dwarf the matrix,
    // so the prepared form keeps plain CSR (see CsrPrepared::build_stripes).
    const rows = 1000;
    const cols = 65535 * 100;
    const n = 2;
    const entries = Array.from({ length: 40 }, (_, i) => ({ r: (i * 37) % rows, c: (i * 2_654_435) % cols, v: (i % 7) - 3 + 0.5 }));
    entries.sort((a, b) => a.r - b.r || a.c - b.c);
    const rowPtr = new Int32Array(rows + 1);
    for (const e of entries) rowPtr[e.r + 1]!++;
    for (let r = 0; r < rows; r++) rowPtr[r + 1]! += rowPtr[r]!;
    const a = new CsrMatrix(rows, cols, rowPtr, Int32Array.from(entries, (e) => e.c), Float32Array.from(entries, (e) => e.v));
    const x = new Float32Array(cols * n);
    for (const e of entries) for (let j = 0; j < n; j++) x[e.c * n + j] = e.c % 11 - 5 + j;
    const bias = Float32Array.from({ length: rows }, (_, r) => (r % 5) - 2);
    const y = matmul(a, x, n, { bias, activation: 'relu' });
    const want = new Float64Array(rows * n);
    for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) want[r * n + j] = bias[r]!;
    for (const e of entries) for (let j = 0; j < n; j++) want[e.r * n + j]! += e.v * x[e.c * n + j]!;
    for (let i = 0; i < want.length; i++) expect(y[i]).toBeCloseTo(Math.max(0, want[i]!), 4);
  });
});
