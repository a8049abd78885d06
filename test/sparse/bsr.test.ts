/** BsrMatrix (lib/sparse/bsr.ts): tiling, block selection by norm, transposed blocks, counts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BsrMatrix, matmul, transposeDense } from '../../lib/index.js';
import { expectSameValues } from '../helpers/expect.js';

interface Case {
  rows: number;
  cols: number;
  br: number;
  bc: number;
  data: Float32Array;
}

const value = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.constant(-0) },
  { weight: 3, arbitrary: fc.integer({ min: -2, max: 2 }) }, // equal block norms are common
  { weight: 2, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }) },
);

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    rows: fc.integer({ min: 0, max: 11 }),
    cols: fc.integer({ min: 0, max: 11 }),
    br: fc.constantFrom(1, 2, 3, 4, 8),
    bc: fc.integer({ min: 1, max: 6 }),
  })
  .chain((s) => fc.array(value, { minLength: s.rows * s.cols, maxLength: s.rows * s.cols }).map((v) => ({ ...s, data: Float32Array.from(v) })));

/** Squared L2 norm of every block, row-major over the block grid (as the selection sees it). */
function blockNorms({ rows, cols, br, bc, data }: Case): Float64Array {
  const bCols = Math.ceil(cols / bc);
  const norms = new Float64Array(Math.ceil(rows / br) * bCols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) norms[Math.floor(r / br) * bCols + Math.floor(c / bc)] += data[r * cols + c] ** 2;
  return norms;
}

/** Block indices (blockRow * blockCols + blockCol) stored by the matrix, in storage order. */
function storedBlocks(a: BsrMatrix): number[] {
  const bCols = Math.ceil(a.cols / a.blockCols);
  const out: number[] = [];
  for (let b = 0; b + 1 < a.rowPtr.length; b++) for (let q = a.rowPtr[b]; q < a.rowPtr[b + 1]; q++) out.push(b * bCols + a.colIdx[q]);
  return out;
}

function expectWellFormed(a: BsrMatrix): void {
  const bRows = Math.ceil(a.rows / a.blockRows);
  const bCols = Math.ceil(a.cols / a.blockCols);
  expect(a.rowPtr.length).toBe(bRows + 1);
  expect(a.rowPtr[0]).toBe(0);
  expect(a.rowPtr[bRows]).toBe(a.blockCount);
  expect(a.values.length).toBe(a.blockCount * a.blockRows * a.blockCols);
  for (let b = 0; b < bRows; b++) {
    for (let q = a.rowPtr[b]; q < a.rowPtr[b + 1]; q++) {
      expect(a.colIdx[q]).toBeGreaterThanOrEqual(0);
      expect(a.colIdx[q]).toBeLessThan(bCols);
      if (q > a.rowPtr[b]) expect(a.colIdx[q]).toBeGreaterThan(a.colIdx[q - 1]);
    }
  }
}

describe('BsrMatrix.fromDense', () => {
  it('property: by default stores exactly the blocks holding a nonzero, and round-trips', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const a = BsrMatrix.fromDense(c.data, c.rows, c.cols, { blockRows: c.br, blockCols: c.bc });
        expectWellFormed(a);
        expect([a.rows, a.cols, a.blockRows, a.blockCols]).toEqual([c.rows, c.cols, c.br, c.bc]);
        const bCols = Math.ceil(c.cols / c.bc);
        const nonzero = new Set<number>();
        for (let r = 0; r < c.rows; r++) for (let k = 0; k < c.cols; k++) if (c.data[r * c.cols + k] !== 0) nonzero.add(Math.floor(r / c.br) * bCols + Math.floor(k / c.bc));
        expect(storedBlocks(a)).toEqual([...nonzero].sort((x, y) => x - y));
        expectSameValues(a.toDense(), c.data, 'fromDense -> toDense');
        // Padding of edge blocks is zero.
        for (let b = 0; b + 1 < a.rowPtr.length; b++) {
          for (let q = a.rowPtr[b]; q < a.rowPtr[b + 1]; q++) {
            for (let i = 0; i < c.br; i++) {
              for (let j = 0; j < c.bc; j++) {
                if (b * c.br + i >= c.rows || a.colIdx[q] * c.bc + j >= c.cols) expect(a.values[(q * c.br + i) * c.bc + j]).toBe(0);
              }
            }
          }
        }
      }),
    );
  });

  it('property: a target keeps exactly k blocks, the largest by L2 norm, ties to the lower block index', () => {
    fc.assert(
      fc.property(
        caseArb.chain((c) => {
          const total = Math.ceil(c.rows / c.br) * Math.ceil(c.cols / c.bc);
          return fc.record({
            c: fc.constant(c),
            t: fc.oneof(
              fc.double({ min: 0, max: 1, noNaN: true }).map((s) => ({ target: { sparsity: s }, k: Math.round((1 - s) * total) })),
              fc.double({ min: 0, max: 1, noNaN: true }).map((d) => ({ target: { density: d }, k: Math.round(d * total) })),
              fc.integer({ min: 0, max: total }).map((nnz) => ({ target: { nnz }, k: nnz })),
            ),
          });
        }),
        ({ c, t }) => {
          const a = BsrMatrix.fromDense(c.data, c.rows, c.cols, { blockRows: c.br, blockCols: c.bc, ...t.target });
          expectWellFormed(a);
          expect(a.blockCount).toBe(t.k);
          const norms = blockNorms(c);
          const kept = new Set(storedBlocks(a));
          for (let b = 0; b < norms.length; b++) {
            if (kept.has(b)) continue;
            for (const k of kept) {
              expect(norms[k]).toBeGreaterThanOrEqual(norms[b]);
              if (norms[k] === norms[b]) expect(k).toBeLessThan(b);
            }
          }
          // toDense holds the kept blocks' entries and zeros elsewhere.
          const dense = a.toDense();
          const bCols = Math.ceil(c.cols / c.bc);
          for (let r = 0; r < c.rows; r++) {
            for (let k = 0; k < c.cols; k++) {
              const blk = Math.floor(r / c.br) * bCols + Math.floor(k / c.bc);
              expect(dense[r * c.cols + k] === (kept.has(blk) ? c.data[r * c.cols + k] : 0)).toBe(true);
            }
          }
        },
      ),
    );
  });

  it('a 4x4-block worked example with partial edge blocks', () => {
    // 5 x 6: block grid 2 x 2, the last block row 1 row high, the last block column 2 wide.
    const d = new Float32Array(30);
    d[0 * 6 + 1] = 1; // block (0, 0)
    d[4 * 6 + 5] = 2; // block (1, 1)
    const a = BsrMatrix.fromDense(d, 5, 6, { blockRows: 4, blockCols: 4 });
    expect(Array.from(a.rowPtr)).toEqual([0, 1, 2]);
    expect(Array.from(a.colIdx)).toEqual([0, 1]);
    expect(a.values.length).toBe(32);
    expect(a.values[1]).toBe(1);
    expect(a.values[16 + 1]).toBe(2);
    expect(Array.from(a.toDense())).toEqual(Array.from(d));
  });

  it('edge shapes: 0 rows, 0 cols, 1xN, Nx1', () => {
    for (const [r, c] of [[0, 0], [0, 9], [9, 0]]) {
      const a = BsrMatrix.fromDense(new Float32Array(0), r, c, { blockRows: 4, blockCols: 2 });
      expect([a.blockCount, a.nnz, a.density]).toEqual([0, 0, 0]);
      expect(a.rowPtr.length).toBe(Math.ceil(r / 4) + 1);
      expect(a.transpose().rows).toBe(c);
    }
    const row = BsrMatrix.fromDense(new Float32Array([0, 0, 1, 0, 0]), 1, 5, { blockRows: 1, blockCols: 2 });
    expect(Array.from(row.colIdx)).toEqual([1]);
    expect(Array.from(row.toDense())).toEqual([0, 0, 1, 0, 0]);
    const col = BsrMatrix.fromDense(new Float32Array([0, 0, 1, 0, 0]), 5, 1, { blockRows: 2, blockCols: 1 });
    expect(Array.from(col.rowPtr)).toEqual([0, 0, 1, 1]);
    expect(Array.from(col.toDense())).toEqual([0, 0, 1, 0, 0]);
  });
});

describe('BsrMatrix.transpose', () => {
  it('property: transposed blocks, the dense transpose, and twice is the identity', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const a = BsrMatrix.fromDense(c.data, c.rows, c.cols, { blockRows: c.br, blockCols: c.bc });
        const t = a.transpose();
        expectWellFormed(t);
        expect([t.rows, t.cols, t.blockRows, t.blockCols, t.blockCount]).toEqual([c.cols, c.rows, c.bc, c.br, a.blockCount]);
        expectSameValues(t.toDense(), transposeDense(a.toDense(), c.rows, c.cols), 'transpose vs dense transpose');
        const tt = t.transpose();
        expect([tt.rows, tt.cols, tt.blockRows, tt.blockCols]).toEqual([c.rows, c.cols, c.br, c.bc]);
        expect(Array.from(tt.rowPtr)).toEqual(Array.from(a.rowPtr));
        expect(Array.from(tt.colIdx)).toEqual(Array.from(a.colIdx));
        expectSameValues(tt.values, a.values, 'transpose twice');
      }),
    );
  });
});

describe('BsrMatrix counts', () => {
  it('property: nnz counts the stored positions inside the matrix (not edge padding), byteSize the three arrays', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const a = BsrMatrix.fromDense(c.data, c.rows, c.cols, { blockRows: c.br, blockCols: c.bc });
        expect(a.format).toBe('bsr');
        const bCols = Math.ceil(c.cols / c.bc);
        let inside = 0;
        for (const blk of storedBlocks(a)) {
          const br0 = Math.floor(blk / bCols) * c.br;
          const bc0 = (blk % bCols) * c.bc;
          inside += Math.min(c.br, c.rows - br0) * Math.min(c.bc, c.cols - bc0);
        }
        expect(a.nnz).toBe(inside);
        expect(a.nnz).toBeLessThanOrEqual(a.values.length);
        expect(a.byteSize).toBe(4 * (Math.ceil(c.rows / c.br) + 1) + 4 * a.blockCount + 4 * a.values.length);
        expect(a.density).toBe(c.rows * c.cols === 0 ? 0 : inside / (c.rows * c.cols));
      }),
    );
  });

  it('density and sparsity when the blocks tile the matrix exactly', () => {
    const d = new Float32Array(8 * 8);
    d[0] = 1;
    d[63] = 1;
    const a = BsrMatrix.fromDense(d, 8, 8, { blockRows: 4, blockCols: 4 });
    expect(a.blockCount).toBe(2);
    expect(a.density).toBe(0.5);
    expect(a.sparsity).toBe(0.5);
  });

  // Density is documented as the fraction of the rows x cols entries that are stored; padding
  // of edge blocks lies outside the matrix, so it must stay in [0, 1] (and sparsity too).
  it('property: density and sparsity stay in [0, 1] with partial edge blocks', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const a = BsrMatrix.fromDense(c.data, c.rows, c.cols, { blockRows: c.br, blockCols: c.bc });
        expect(a.density).toBeGreaterThanOrEqual(0);
        expect(a.density).toBeLessThanOrEqual(1);
        expect(a.sparsity).toBeGreaterThanOrEqual(0);
        expect(a.sparsity).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('a dense 5x5 in 4x4 blocks is fully dense, not 256% dense', () => {
    const a = BsrMatrix.fromDense(new Float32Array(25).fill(1), 5, 5, { blockRows: 4, blockCols: 4 });
    expect(a.blockCount).toBe(4);
    expect(a.density).toBe(1);
    expect(a.sparsity).toBe(0);
  });
});

describe('BsrMatrix block heights at the kernel', () => {
  it('heights 1, 2, 4, 8 multiply; 3, 5, 6, 7, 16 construct but are rejected when prepared', () => {
    const d = new Float32Array(16 * 16).map((_, i) => (i % 3 === 0 ? 1 : 0));
    const x = new Float32Array(16).fill(1);
    for (const br of [1, 2, 4, 8]) {
      const y = matmul(BsrMatrix.fromDense(d, 16, 16, { blockRows: br, blockCols: 3 }), x, 1);
      for (let r = 0; r < 16; r++) {
        let s = 0;
        for (let c = 0; c < 16; c++) s += d[r * 16 + c];
        expect(y[r]).toBe(s);
      }
    }
    for (const br of [3, 5, 6, 7, 16]) {
      const a = BsrMatrix.fromDense(d, 16, 16, { blockRows: br, blockCols: 2 });
      expect(Array.from(a.toDense())).toEqual(Array.from(d));
      expect(() => matmul(a, x, 1)).toThrow(/block heights/);
    }
  });
});
