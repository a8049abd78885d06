/**
 * Kernel conformance: every product of every matrix format against the float64 reference, on
 * the ISA path this process was forced onto. vitest.config.ts runs this file once per
 * SPARSENN_ISA (isa-scalar, isa-avx2, isa-avx512), each in its own forked process, because the
 * addon chooses its kernel table once per process. An ISA the CPU lacks is skipped.
 *
 * Shapes cover: 0 rows, 0 cols, 1x1, 1xN, Nx1, empty rows, zero nnz, K and n not multiples of
 * any vector width, n in {1, 2, 7, 33, 64, 257}, sparsity {0, 0.5, 0.9, 0.999, 1}, bias and
 * ReLU, 1 and 2 threads, `out`, sync vs async, cols > 65536 (32-bit column indices), and
 * cols = 65536 / 65537 (the last 16-bit shape and the first 32-bit one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BsrMatrix,
  capabilities,
  CsrMatrix,
  getThreads,
  Matrix,
  matmul,
  matmulAsync,
  matmulTransposed,
  matmulTransposedAsync,
  NmMatrix,
  referenceAbsMatmul,
  referenceMatmul,
  referenceMatmulTransposed,
  referenceSddmm,
  sddmm,
  sddmmAsync,
  setThreads,
  type AnyMatrix,
} from '../../lib/index.js';
import { CONFORMANCE_NS, CONFORMANCE_SHAPES, CONFORMANCE_SPARSITIES } from '../helpers/conformance-cases.js';
import { expectClose, expectSameBits } from '../helpers/expect.js';
import { mulberry32, randomDense, randomVector, randomX, type Rng } from '../helpers/random.js';
import { referenceAbsMatmulTransposed, referenceAbsSddmm } from '../helpers/reference.js';

const ISA = process.env.SPARSENN_ISA ?? '';
const caps = capabilities();
const supported = ISA !== '' && caps.supportedIsas.includes(ISA);

const SHAPES = CONFORMANCE_SHAPES;
const SPARSITIES = CONFORMANCE_SPARSITIES;
const NS = CONFORMANCE_NS;
const THREADS = [1, 2];

interface Format {
  name: string;
  /** Adjusts a column count to one the format accepts. */
  fixCols?: (cols: number) => number;
  /** Builds the matrix from a dense array; `variant` alternates construction modes. */
  make: (dense: Float32Array, rows: number, cols: number, sparsity: number, variant: number) => AnyMatrix;
  transposable?: boolean;
}

function nmFormat(n: number, m: number): Format {
  return {
    name: `nm ${n}:${m}`,
    fixCols: (cols) => (cols % m !== 0 && cols % m < n ? cols + (m - (cols % m)) : cols),
    make: (d, r, c) => NmMatrix.fromDense(d, r, c, { n, m }),
    transposable: true,
  };
}

function bsrFormat(br: number, bc: number): Format {
  return {
    name: `bsr ${br}x${bc}`,
    // Even variants keep every nonzero block; odd ones keep the largest blocks to a target
    // block sparsity.
    make: (d, r, c, s, variant) =>
      variant % 2 === 0 ? BsrMatrix.fromDense(d, r, c, { blockRows: br, blockCols: bc }) : BsrMatrix.fromDense(d, r, c, { blockRows: br, blockCols: bc, sparsity: s }),
  };
}

const FORMATS: Format[] = [
  { name: 'dense', make: (d, r, c) => new Matrix(d, r, c) },
  { name: 'csr', make: (d, r, c) => CsrMatrix.fromDense(d, r, c), transposable: true },
  nmFormat(2, 4),
  nmFormat(1, 4),
  nmFormat(4, 8),
  bsrFormat(1, 1),
  bsrFormat(4, 1),
  bsrFormat(8, 1),
  bsrFormat(2, 2),
  bsrFormat(1, 4),
  bsrFormat(4, 4),
];

interface Epi {
  bias?: Float32Array;
  relu: boolean;
}

/** Bias / ReLU combination number `i` (none, bias, relu, both). */
function epilogue(rng: Rng, i: number, rows: number): Epi {
  const combo = i % 4;
  return { bias: combo === 1 || combo === 3 ? randomVector(rng, rows) : undefined, relu: combo >= 2 };
}

function describeEpi(e: Epi): string {
  return `${e.bias ? 'bias' : 'no bias'}, ${e.relu ? 'relu' : 'no relu'}`;
}

/**
 * Checks matmul(a) against the reference for every thread count, with `out` when asked, and
 * that thread counts give identical bits. Returns the single-threaded result.
 */
function checkMatmul(a: AnyMatrix, dense: Float32Array, x: Float32Array, n: number, epi: Epi, useOut: boolean, label: string): Float32Array {
  const { rows, cols } = a;
  const ref = referenceMatmul(dense, rows, cols, x, n, epi.bias, epi.relu);
  const bound = referenceAbsMatmul(dense, rows, cols, x, n, epi.bias);
  let first: Float32Array | undefined;
  for (const t of THREADS) {
    setThreads(t);
    const out = useOut ? new Float32Array(rows * n).fill(Number.NaN) : undefined;
    const got = matmul(a, x, n, { bias: epi.bias, activation: epi.relu ? 'relu' : 'none', out });
    if (out) expect(got, `${label}: matmul must return the out array`).toBe(out);
    expectClose(got, ref, bound, `${label}, ${t} thread(s)`, n);
    if (first) expectSameBits(got, first, `${label}: 1 vs ${t} threads`);
    else first = got;
  }
  return first!;
}

function checkTransposed(a: CsrMatrix | NmMatrix, dense: Float32Array, x: Float32Array, n: number, useOut: boolean, label: string): Float32Array {
  const { rows, cols } = a;
  const ref = referenceMatmulTransposed(dense, rows, cols, x, n);
  const bound = referenceAbsMatmulTransposed(dense, rows, cols, x, n);
  let first: Float32Array | undefined;
  for (const t of THREADS) {
    setThreads(t);
    const out = useOut ? new Float32Array(cols * n).fill(Number.NaN) : undefined;
    const got = matmulTransposed(a, x, n, { out });
    if (out) expect(got, `${label}: matmulTransposed must return the out array`).toBe(out);
    expectClose(got, ref, bound, `${label}, ${t} thread(s)`, n);
    if (first) expectSameBits(got, first, `${label}: 1 vs ${t} threads`);
    else first = got;
  }
  return first!;
}

function checkSddmm(p: CsrMatrix, a: Float32Array, b: Float32Array, n: number, label: string): CsrMatrix {
  const ref = referenceSddmm(p.rowPtr, p.colIdx, a, b, n);
  const bound = referenceAbsSddmm(p.rowPtr, p.colIdx, a, b, n);
  let first: CsrMatrix | undefined;
  for (const t of THREADS) {
    setThreads(t);
    const got = sddmm(p, a, b, n);
    expect(got, `${label}: sddmm returns a CsrMatrix`).toBeInstanceOf(CsrMatrix);
    expect([got.rows, got.cols], `${label}: shape`).toEqual([p.rows, p.cols]);
    expect(Array.from(got.rowPtr), `${label}: rowPtr`).toEqual(Array.from(p.rowPtr));
    expect(Array.from(got.colIdx), `${label}: colIdx`).toEqual(Array.from(p.colIdx));
    expectClose(got.values, ref, bound, `${label}, ${t} thread(s)`);
    if (first) expectSameBits(got.values, first.values, `${label}: 1 vs ${t} threads`);
    else first = got;
  }
  return first!;
}

describe.skipIf(!supported)(`kernel conformance on ${ISA || '(SPARSENN_ISA unset)'}`, () => {
  let savedThreads = 1;
  beforeAll(() => {
    // Every test below is meaningless on another path: fail them all if the fork did not get
    // the forced ISA (the first test says why).
    if (caps.isa !== ISA) throw new Error(`this process runs on ${caps.isa}, not the forced SPARSENN_ISA=${ISA} (${caps.isaNote ?? 'no note'})`);
    savedThreads = getThreads();
  });
  afterAll(() => {
    setThreads(savedThreads);
  });

  it('runs on the forced ISA', () => {
    // Proves this fork really got SPARSENN_ISA before the addon chose its kernels.
    expect(caps.requestedIsa).toBe(ISA);
    expect(caps.isa).toBe(ISA);
    expect(caps.isaNote).toBeNull();
  });

  FORMATS.forEach((fmt, fi) => {
    describe(`matmul ${fmt.name}`, () => {
      SHAPES.forEach(([rows, cols0], shi) => {
        const cols = fmt.fixCols ? fmt.fixCols(cols0) : cols0;
        it(`${rows}x${cols}`, async () => {
          let k = 0;
          for (const [si, s] of SPARSITIES.entries()) {
            const seed = 0x5eed + fi * 100_000 + shi * 1000 + si;
            const rng = mulberry32(seed);
            const d = randomDense(rng, rows, cols, { sparsity: s, emptyRows: si % 2 === 1 });
            const a = fmt.make(d, rows, cols, s, si);
            const dense = a.toDense();
            for (const n of NS) {
              const epi = epilogue(rng, k, rows);
              const x = randomX(rng, cols, n);
              const label = `${fmt.name} ${rows}x${cols} sparsity ${s} n=${n} ${describeEpi(epi)} seed ${seed}`;
              const sync = checkMatmul(a, dense, x, n, epi, k % 3 === 2, label);
              if (k % 5 === 0) {
                const got = await matmulAsync(a, x, n, { bias: epi.bias, activation: epi.relu ? 'relu' : 'none' });
                expectSameBits(got, sync, `${label}: async vs sync`);
              }
              k++;
            }
          }
        });
      });

      it('n = 0 gives an empty result', () => {
        const rng = mulberry32(77 + fi);
        const a = fmt.make(randomDense(rng, 9, 16, { sparsity: 0.5 }), 9, 16, 0.5, 0);
        const y = matmul(a, new Float32Array(0), 0, { bias: randomVector(rng, 9), activation: 'relu' });
        expect(y).toBeInstanceOf(Float32Array);
        expect(y.length).toBe(0);
      });

      it('reads x and writes out through offset views of larger buffers', () => {
        const rng = mulberry32(4242 + fi);
        const rows = 21;
        const cols = fmt.fixCols ? fmt.fixCols(35) : 35;
        const n = 19;
        const a = fmt.make(randomDense(rng, rows, cols, { sparsity: 0.6 }), rows, cols, 0.6, 0);
        const dense = a.toDense();
        const xBuf = randomVector(rng, cols * n + 11);
        const x = xBuf.subarray(5, 5 + cols * n);
        const outBuf = new Float32Array(rows * n + 9).fill(-7);
        const out = outBuf.subarray(3, 3 + rows * n);
        const bias = randomVector(rng, rows);
        const got = matmul(a, x, n, { bias, out });
        expect(got).toBe(out);
        expectClose(got, referenceMatmul(dense, rows, cols, x, n, bias), referenceAbsMatmul(dense, rows, cols, x, n, bias), `${fmt.name} views`, n);
        // Nothing outside the view was touched.
        expect(Array.from(outBuf.subarray(0, 3))).toEqual([-7, -7, -7]);
        expect(Array.from(outBuf.subarray(3 + rows * n))).toEqual(Array(6).fill(-7));
      });
    });
  });

  describe('matmulTransposed', () => {
    FORMATS.filter((f) => f.transposable).forEach((fmt, fi) => {
      SHAPES.forEach(([rows, cols0], shi) => {
        const cols = fmt.fixCols ? fmt.fixCols(cols0) : cols0;
        it(`${fmt.name} ${rows}x${cols}`, async () => {
          let k = 0;
          for (const [si, s] of SPARSITIES.entries()) {
            const seed = 0x7a11 + fi * 100_000 + shi * 1000 + si;
            const rng = mulberry32(seed);
            const d = randomDense(rng, rows, cols, { sparsity: s, emptyRows: si % 2 === 0 });
            const a = fmt.make(d, rows, cols, s, si) as CsrMatrix | NmMatrix;
            const dense = a.toDense();
            for (const n of NS) {
              const x = randomX(rng, rows, n);
              const label = `matmulTransposed ${fmt.name} ${rows}x${cols} sparsity ${s} n=${n} seed ${seed}`;
              const sync = checkTransposed(a, dense, x, n, k % 3 === 1, label);
              if (k % 5 === 0) expectSameBits(await matmulTransposedAsync(a, x, n), sync, `${label}: async vs sync`);
              k++;
            }
          }
        });
      });
    });
  });

  describe('sddmm', () => {
    SHAPES.forEach(([rows, cols], shi) => {
      it(`${rows}x${cols}`, async () => {
        let k = 0;
        for (const [si, s] of SPARSITIES.entries()) {
          const seed = 0x5dd + shi * 1000 + si;
          const rng = mulberry32(seed);
          const p = CsrMatrix.fromDense(randomDense(rng, rows, cols, { sparsity: s, emptyRows: si % 2 === 1 }), rows, cols);
          for (const n of NS) {
            const a = randomX(rng, rows, n);
            const b = randomX(rng, cols, n);
            const label = `sddmm ${rows}x${cols} sparsity ${s} n=${n} seed ${seed}`;
            const sync = checkSddmm(p, a, b, n, label);
            if (k % 5 === 0) expectSameBits((await sddmmAsync(p, a, b, n)).values, sync.values, `${label}: async vs sync`);
            k++;
          }
        }
      });
    });
  });

  describe('BSR block shapes accepted by the kernels', () => {
    for (const br of [1, 2, 4, 8]) {
      it(`blockRows ${br}, blockCols 1..64`, () => {
        const rng = mulberry32(0xb10c + br);
        for (let bc = 1; bc <= 64; bc++) {
          // Neither dimension a multiple of the block; two block rows and three block columns
          // at least, with the last ones partial.
          const rows = 2 * br + (br > 1 ? br - 1 : 1);
          const cols = 2 * bc + Math.max(1, bc >> 1);
          const n = [1, 7, 33][bc % 3];
          const a = BsrMatrix.fromDense(randomDense(rng, rows, cols, { sparsity: 0.3 }), rows, cols, { blockRows: br, blockCols: bc });
          const dense = a.toDense();
          const x = randomX(rng, cols, n);
          const epi = epilogue(rng, bc, rows);
          checkMatmul(a, dense, x, n, epi, bc % 2 === 0, `bsr ${br}x${bc} ${rows}x${cols} n=${n} ${describeEpi(epi)}`);
        }
      });
    }

    it('matrices smaller than one block (rows < blockRows, cols < blockCols)', () => {
      const rng = mulberry32(0x5a11);
      for (const br of [1, 2, 4, 8]) {
        for (const bc of [7, 16, 33, 64]) {
          for (const [rows, cols] of [[1, 1], [Math.max(1, br - 1), bc - 1], [br + 1, bc + 1]]) {
            const a = BsrMatrix.fromDense(randomDense(rng, rows, cols, { sparsity: 0.2 }), rows, cols, { blockRows: br, blockCols: bc });
            for (const n of [1, 9]) {
              checkMatmul(a, a.toDense(), randomX(rng, cols, n), n, epilogue(rng, n + bc, rows), n === 9, `bsr ${br}x${bc} ${rows}x${cols} n=${n}`);
            }
          }
        }
      }
    });

    it('transposed blocks (1x4 <-> 4x1, 2x8 <-> 8x2) multiply like the dense transpose', () => {
      const rng = mulberry32(0x7b5);
      for (const [br, bc] of [[1, 4], [4, 1], [2, 8], [8, 2], [4, 4]] as const) {
        const rows = 45;
        const cols = 30;
        const a = BsrMatrix.fromDense(randomDense(rng, rows, cols, { sparsity: 0.5 }), rows, cols, { blockRows: br, blockCols: bc });
        const t = a.transpose();
        expect([t.rows, t.cols, t.blockRows, t.blockCols]).toEqual([cols, rows, bc, br]);
        const n = 17;
        const x = randomX(rng, rows, n);
        const dense = a.toDense();
        const ref = referenceMatmulTransposed(dense, rows, cols, x, n);
        const bound = referenceAbsMatmulTransposed(dense, rows, cols, x, n);
        setThreads(1);
        expectClose(matmul(t, x, n), ref, bound, `bsr ${br}x${bc} transposed`, n);
      }
    });
  });

  describe('32-bit column indices (cols > 65536) and the 16/32-bit boundary', () => {
    const rows = 8;
    const cols = 70_000;
    const seed = 0x70000;
    const rng = mulberry32(seed);
    const d = randomDense(rng, rows, cols, { sparsity: 0.999 });
    // An entry past the 16-bit range in every row, so the wide indices are really needed.
    for (let r = 0; r < rows; r++) d[r * cols + 65_536 + r * 500] = 0.5 - r / 16;
    const csr = CsrMatrix.fromDense(d, rows, cols);

    it('the matrix really has column indices >= 65536', () => {
      expect(csr.nnz).toBeGreaterThan(400);
      expect(Math.max(...csr.colIdx)).toBeGreaterThanOrEqual(65_536);
    });

    it('matmul, n in {1, 2, 7, 33, 64}, with and without bias and relu', async () => {
      let k = 0;
      for (const n of [1, 2, 7, 33, 64]) {
        const x = randomX(rng, cols, n);
        const epi = epilogue(rng, k, rows);
        const label = `csr ${rows}x${cols} n=${n} ${describeEpi(epi)} seed ${seed}`;
        const sync = checkMatmul(csr, d, x, n, epi, k % 2 === 1, label);
        expectSameBits(await matmulAsync(csr, x, n, { bias: epi.bias, activation: epi.relu ? 'relu' : 'none' }), sync, `${label}: async`);
        k++;
      }
    });

    it('matmulTransposed', async () => {
      for (const n of [1, 2, 7, 33]) {
        const x = randomX(rng, rows, n);
        const label = `matmulTransposed csr ${rows}x${cols} n=${n} seed ${seed}`;
        const sync = checkTransposed(csr, d, x, n, n === 7, label);
        expectSameBits(await matmulTransposedAsync(csr, x, n), sync, `${label}: async`);
      }
    });

    it('sddmm', () => {
      for (const n of [1, 7, 33]) checkSddmm(csr, randomX(rng, rows, n), randomX(rng, cols, n), n, `sddmm csr ${rows}x${cols} n=${n}`);
    });

    it('N:M 2:4 with cols > 65536', () => {
      const nm = NmMatrix.fromDense(d, rows, cols, { n: 2, m: 4 });
      const dense = nm.toDense();
      for (const n of [1, 5]) {
        checkMatmul(nm, dense, randomX(rng, cols, n), n, { relu: false }, false, `nm 2:4 ${rows}x${cols} n=${n}`);
        checkTransposed(nm, dense, randomX(rng, rows, n), n, false, `matmulTransposed nm 2:4 ${rows}x${cols} n=${n}`);
      }
    });

    for (const c of [65_535, 65_536, 65_537]) {
      it(`cols = ${c}: an entry in the last column`, () => {
        const r = 3;
        const dd = new Float32Array(r * c);
        const g = mulberry32(c);
        for (let i = 0; i < r; i++) {
          dd[i * c + c - 1] = 1 + i; // the last column
          dd[i * c] = -0.5; // and the first
          dd[i * c + Math.floor(g() * c)] = 0.25;
        }
        const m = CsrMatrix.fromDense(dd, r, c);
        for (const n of [1, 3, 40]) {
          checkMatmul(m, dd, randomX(g, c, n), n, { relu: false }, false, `csr ${r}x${c} n=${n}`);
          checkTransposed(m, dd, randomX(g, r, n), n, false, `matmulTransposed csr ${r}x${c} n=${n}`);
          checkSddmm(m, randomX(g, r, n), randomX(g, c, n), n, `sddmm csr ${r}x${c} n=${n}`);
        }
      });
    }
  });

  // A sparse product multiplies stored entries only: a non-finite value in a row of X that
  // meets no stored entry must not reach the output (0 * Inf would be NaN). The dense
  // reference with those rows of X zeroed is then the exact expectation. n = 1 (SpMV) and
  // n > 1 (SpMM) must agree on this.
  describe('sparse semantics: rows of X that meet no stored entry do not contribute', () => {
    const rows = 20;
    const cols = 50;
    const unstored = [0, 17, 49]; // columns no row stores
    const make = (seed: number) => {
      const rng = mulberry32(seed);
      const d = randomDense(rng, rows, cols, { sparsity: 0.7 });
      for (let r = 0; r < rows; r++) {
        for (const c of unstored) d[r * cols + c] = 0;
        // Their partners in 1:2 groups are nonzero, so N:M keeps those instead (no explicit zeros).
        for (const c of [1, 16, 48]) d[r * cols + c] = 0.5 + r / 64;
      }
      return { rng, d };
    };
    const poison = (x: Float32Array, n: number, at: number[], value: number) => {
      const clean = x.slice();
      for (const k of at) for (let j = 0; j < n; j++) {
        x[k * n + j] = value;
        clean[k * n + j] = 0;
      }
      return clean;
    };
    const formats: Array<[string, (d: Float32Array) => AnyMatrix]> = [
      ['csr', (d) => CsrMatrix.fromDense(d, rows, cols)],
      ['nm 1:2', (d) => NmMatrix.fromDense(d, rows, cols, { n: 1, m: 2 })],
      ['bsr 2x1', (d) => BsrMatrix.fromDense(d, rows, cols, { blockRows: 2, blockCols: 1 })],
    ];
    for (const [name, build] of formats) {
      for (const value of [Infinity, NaN]) {
        it(`matmul ${name} with ${value} in unstored rows of X, n in {1, 2, 7, 33, 64}`, () => {
          const { rng, d } = make(0xbad + name.length);
          const a = build(d);
          const dense = a.toDense();
          // Only meaningful if the format really stores nothing in those columns.
          for (let r = 0; r < rows; r++) for (const c of unstored) expect(dense[r * cols + c]).toBe(0);
          const unused = name === 'csr' ? unstored : unstored.filter((c) => {
            // N:M and BSR may store explicit zeros; keep the columns that hold no stored entry.
            const m = a instanceof NmMatrix ? a.toCsr() : null;
            if (m) return !Array.from(m.colIdx).includes(c);
            const b = a as BsrMatrix;
            return !Array.from(b.colIdx).includes(Math.floor(c / b.blockCols));
          });
          expect(unused).toEqual(unstored);
          for (const n of [1, 2, 7, 33, 64]) {
            const x = randomX(rng, cols, n);
            const clean = poison(x, n, unused, value);
            const label = `${name} n=${n}, X rows ${unused.join(', ')} = ${value}`;
            setThreads(1);
            expectClose(matmul(a, x, n), referenceMatmul(dense, rows, cols, clean, n), referenceAbsMatmul(dense, rows, cols, clean, n), label, n);
          }
        });
      }
    }

    // With sparse semantics y[r, j] = sum over the stored entries of row r only; an infinite
    // X[c, j] met by a positive entry gives +Inf (as the n = 1 SpMV does), not NaN.
    // The Inf rows of X are the last columns, so they are the last stored column of each row
    // (where padding of a stripe-row, if any, would go); row lengths are not multiples of 4.
    for (const name of ['csr', 'nm 2:4']) {
      it(`matmul ${name}: +Inf in a row of X that stored entries meet gives +Inf, for every n`, () => {
        const rng = mulberry32(0x1f);
        const r0 = 12;
        const c0 = 42;
        let a: CsrMatrix | NmMatrix;
        if (name === 'csr') {
          const d = new Float32Array(r0 * c0);
          for (let r = 0; r < r0; r++) {
            const count = 5 + 4 * (r % 3) + (r % 3); // 5, 10, 15: never a multiple of 4
            for (let k = 0; k < count; k++) d[r * c0 + c0 - 1 - 3 * k] = 0.25 + rng();
          }
          a = CsrMatrix.fromDense(d, r0, c0);
        } else {
          // 42 columns in groups of 4: 11 groups, the last of 2 columns (both kept), 22 per row.
          a = NmMatrix.fromDense(new Float32Array(r0 * c0).map(() => 0.25 + rng()), r0, c0, { n: 2, m: 4 });
        }
        const csr = a instanceof NmMatrix ? a.toCsr() : a;
        for (let r = 0; r < r0; r++) {
          expect((csr.rowPtr[r + 1] - csr.rowPtr[r]) % 4).not.toBe(0);
          expect(csr.colIdx[csr.rowPtr[r + 1] - 1]).toBe(c0 - 1);
        }
        const infRows = [c0 - 4, c0 - 1];
        for (const n of [1, 2, 7, 33]) {
          const x = new Float32Array(c0 * n).map(() => 0.5 + rng());
          for (const k of infRows) x.fill(Infinity, k * n, (k + 1) * n);
          // Reference over the stored entries only.
          const ref = new Float64Array(r0 * n);
          const bound = new Float64Array(r0 * n);
          for (let r = 0; r < r0; r++) {
            for (let p = csr.rowPtr[r]; p < csr.rowPtr[r + 1]; p++) {
              for (let j = 0; j < n; j++) {
                ref[r * n + j] += csr.values[p] * x[csr.colIdx[p] * n + j];
                bound[r * n + j] += Math.abs(csr.values[p] * x[csr.colIdx[p] * n + j]);
              }
            }
          }
          setThreads(1);
          expectClose(matmul(a, x, n), ref, bound, `${name} n=${n}, X rows ${infRows.join(', ')} = +Inf`, n);
        }
      });
    }

    it('matmulTransposed and sddmm ignore non-finite rows that meet no stored entry', () => {
      const { rng, d } = make(0xbad0);
      for (let c = 0; c < cols; c++) d[3 * cols + c] = 0; // row 3 empty
      const a = CsrMatrix.fromDense(d, rows, cols);
      for (const n of [1, 2, 7, 33]) {
        const x = randomX(rng, rows, n);
        const clean = poison(x, n, [3], Infinity);
        expectClose(matmulTransposed(a, x, n), referenceMatmulTransposed(d, rows, cols, clean, n), referenceAbsMatmulTransposed(d, rows, cols, clean, n), `matmulTransposed n=${n}`, n);
        const aa = randomX(rng, rows, n);
        const bb = randomX(rng, cols, n);
        const aClean = poison(aa, n, [3], NaN);
        const bClean = poison(bb, n, unstored, Infinity);
        const got = sddmm(a, aa, bb, n).values;
        expectClose(got, referenceSddmm(a.rowPtr, a.colIdx, aClean, bClean, n), referenceAbsSddmm(a.rowPtr, a.colIdx, aClean, bClean, n), `sddmm n=${n}`);
      }
    });
  });

  describe('larger products (split across threads, packed X panels, several stripes)', () => {
    it('csr 600x700 at 90% sparsity, n = 96', () => {
      const rng = mulberry32(600700);
      const d = randomDense(rng, 600, 700, { sparsity: 0.9, emptyRows: true });
      const a = CsrMatrix.fromDense(d, 600, 700);
      checkMatmul(a, d, randomX(rng, 700, 96), 96, epilogue(rng, 3, 600), true, 'csr 600x700 n=96');
      checkTransposed(a, d, randomX(rng, 600, 40), 40, false, 'matmulTransposed csr 600x700 n=40');
      checkSddmm(a, randomX(rng, 600, 40), randomX(rng, 700, 40), 40, 'sddmm csr 600x700 n=40');
    });

    it('huge n: every format at 9x14 with n = 12289 (above the parallel threshold)', () => {
      const rng = mulberry32(4099);
      const n = 12289;
      const d = randomDense(rng, 9, 14, { sparsity: 0.4 });
      const x = randomX(rng, 14, n);
      const operands: Array<[string, AnyMatrix]> = [
        ['dense', new Matrix(d, 9, 14)],
        ['csr', CsrMatrix.fromDense(d, 9, 14)],
        ['nm 2:4', NmMatrix.fromDense(d, 9, 14, { n: 2, m: 4 })],
        ['bsr 4x4', BsrMatrix.fromDense(d, 9, 14, { blockRows: 4, blockCols: 4 })],
        ['bsr 8x1', BsrMatrix.fromDense(d, 9, 14, { blockRows: 8, blockCols: 1 })],
      ];
      for (const [name, a] of operands) checkMatmul(a, a.toDense(), x, n, epilogue(rng, 3, 9), false, `${name} 9x14 n=${n}`);
      const csr = operands[1][1] as CsrMatrix;
      checkTransposed(csr, d, randomX(rng, 9, n), n, false, `matmulTransposed csr 9x14 n=${n}`);
      checkSddmm(csr, randomX(rng, 9, n), randomX(rng, 14, n), n, `sddmm csr 9x14 n=${n}`);
    });

    it('other N:M patterns: 1:1, 3:16, 16:16, 7:9, 1:16 (with a partial last group)', () => {
      const rng = mulberry32(0x916);
      for (const [nn, mm, cols] of [[1, 1, 37], [3, 16, 67], [16, 16, 64], [7, 9, 43], [1, 16, 33]] as const) {
        const rows = 29;
        const a = NmMatrix.fromDense(randomDense(rng, rows, cols, { sparsity: 0.3 }), rows, cols, { n: nn, m: mm });
        const dense = a.toDense();
        for (const n of [1, 7, 40]) {
          checkMatmul(a, dense, randomX(rng, cols, n), n, epilogue(rng, n, rows), n === 7, `nm ${nn}:${mm} ${rows}x${cols} n=${n}`);
          checkTransposed(a, dense, randomX(rng, rows, n), n, false, `matmulTransposed nm ${nn}:${mm} ${rows}x${cols} n=${n}`);
        }
      }
    });

    it('one dense row among near-empty ones (work split by entries, not rows)', () => {
      const rng = mulberry32(601);
      const rows = 600;
      const cols = 800;
      const d = randomDense(rng, rows, cols, { sparsity: 0.998 });
      for (let c = 0; c < cols; c++) d[417 * cols + c] = rng() - 0.5;
      const a = CsrMatrix.fromDense(d, rows, cols);
      for (const n of [1, 17]) {
        checkMatmul(a, d, randomX(rng, cols, n), n, epilogue(rng, n, rows), false, `csr one dense row n=${n}`);
        checkTransposed(a, d, randomX(rng, rows, n), n, false, `matmulTransposed csr one dense row n=${n}`);
      }
    });

    it('csr 24x3000 at 50% sparsity (many stripes), n in {1, 33, 100}', () => {
      const rng = mulberry32(243000);
      const d = randomDense(rng, 24, 3000, { sparsity: 0.5 });
      const a = CsrMatrix.fromDense(d, 24, 3000);
      for (const n of [1, 33, 100]) checkMatmul(a, d, randomX(rng, 3000, n), n, epilogue(rng, n, 24), false, `csr 24x3000 n=${n}`);
    });

    it('csr 2000x30 (tall), n in {1, 70}', () => {
      const rng = mulberry32(200030);
      const d = randomDense(rng, 2000, 30, { sparsity: 0.7 });
      const a = CsrMatrix.fromDense(d, 2000, 30);
      for (const n of [1, 70]) {
        checkMatmul(a, d, randomX(rng, 30, n), n, epilogue(rng, 1, 2000), false, `csr 2000x30 n=${n}`);
        checkTransposed(a, d, randomX(rng, 2000, n), n, false, `matmulTransposed csr 2000x30 n=${n}`);
      }
    });

    it('dense 301x500, n in {1, 130}', () => {
      const rng = mulberry32(301500);
      const d = randomDense(rng, 301, 500);
      const a = new Matrix(d, 301, 500);
      for (const n of [1, 130]) checkMatmul(a, d, randomX(rng, 500, n), n, epilogue(rng, 3, 301), n === 130, `dense 301x500 n=${n}`);
    });

    it('bsr 4x4 and 8x1 403x397, n = 64', () => {
      const rng = mulberry32(403397);
      const d = randomDense(rng, 403, 397, { sparsity: 0.3 });
      for (const [br, bc] of [[4, 4], [8, 1]] as const) {
        const a = BsrMatrix.fromDense(d, 403, 397, { blockRows: br, blockCols: bc, sparsity: 0.8 });
        checkMatmul(a, a.toDense(), randomX(rng, 397, 64), 64, epilogue(rng, 1, 403), false, `bsr ${br}x${bc} 403x397 n=64`);
      }
    });

    it('nm 2:4 256x512 and 4:8 250x517, n = 48', () => {
      const rng = mulberry32(256512);
      for (const [r, c, n, m] of [[256, 512, 2, 4], [250, 517, 4, 8]] as const) {
        const a = NmMatrix.fromDense(randomDense(rng, r, c), r, c, { n, m });
        const dense = a.toDense();
        checkMatmul(a, dense, randomX(rng, c, 48), 48, epilogue(rng, 2, r), false, `nm ${n}:${m} ${r}x${c}`);
        checkTransposed(a, dense, randomX(rng, r, 48), 48, false, `matmulTransposed nm ${n}:${m} ${r}x${c}`);
      }
    });
  });
});
