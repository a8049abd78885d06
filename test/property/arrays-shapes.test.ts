/**
 * Property tests: random and hostile arguments at the matrix constructors (Matrix, CsrMatrix,
 * NmMatrix, BsrMatrix from raw parts and fromDense). Each call either builds a matrix that
 * round-trips (toDense equals an independent dense reconstruction, products match the float64
 * reference) or throws a typed error; an independent validity oracle says which must happen.
 * Then the arrays of a valid matrix are mutated in place (or detached) before its first
 * product: the native boundary must refuse what is malformed on its own.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BsrMatrix, CsrMatrix, Matrix, matmul, matmulTransposed, NmMatrix, referenceAbsMatmul, referenceMatmulTransposed, transposeDense, type ErrorCode } from '../../lib/index.js';
import {
  attempt,
  check,
  denseProduct,
  detach,
  dimArb,
  expectClose,
  expectOutcome,
  expectSameArray,
  f32Arb,
  HOSTILE_NUMBERS,
  isDim,
  show,
  valueArb,
} from './contract.js';

// Deliberately ill-typed values, as JS callers pass them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const bad = <T = any>(v: unknown): T => v as T;

const MAX_DIM = 2 ** 31 - 1;

/** A matrix small enough to densify and multiply in a test. */
const small = (rows: number, cols: number) => rows <= 64 && cols <= 64;

/** A random product with `a` checked against the float64 reference of `dense`. */
function expectProductMatches(a: Matrix | CsrMatrix | NmMatrix | BsrMatrix, dense: Float32Array, n: number, seed: number, label: string): void {
  const x = new Float32Array(a.cols * n).map((_, i) => Math.fround(Math.sin(seed + i * 1.7)));
  const { ref, bound } = denseProduct(dense, a.rows, a.cols, x, n);
  expectClose(matmul(a, x, n), ref, bound, `${label} matmul`);
}

/** Aᵀ X against the float64 reference (bound: the same sums of magnitudes, on Aᵀ). */
function expectTransposedMatches(a: CsrMatrix | NmMatrix, dense: Float32Array, n: number, label: string): void {
  const x = new Float32Array(a.rows * n).map((_, i) => (i % 5) - 2);
  const ref = referenceMatmulTransposed(dense, a.rows, a.cols, x, n);
  const bound = referenceAbsMatmul(transposeDense(dense, a.rows, a.cols), a.cols, a.rows, x, n);
  expectClose(matmulTransposed(a, x, n), ref, bound, `${label} matmulTransposed`);
}

// ---------------------------------------------------------------------------------------------
// Data arrays as a JS caller might pass them.

type DataKind = 'exact' | 'short' | 'long' | 'f64' | 'array' | 'i32' | 'u8' | 'view' | 'detached' | 'null' | 'string' | 'arraylike';

function makeData(kind: DataKind, len: number, values: readonly number[]): unknown {
  const f = Float32Array.from(values.slice(0, len));
  switch (kind) {
    case 'exact':
      return f;
    case 'short':
      return f.subarray(0, Math.max(0, len - 1));
    case 'long':
      return Float32Array.from([...f, 1]);
    case 'f64':
      return Float64Array.from(f);
    case 'array':
      return Array.from(f);
    case 'i32':
      return Int32Array.from(f);
    case 'u8':
      return new Uint8Array(f.buffer.slice(0));
    case 'view': {
      // A valid Float32Array that is a window into a larger buffer.
      const big = new Float32Array(len + 5);
      big.set(f, 3);
      return big.subarray(3, 3 + len);
    }
    case 'detached': {
      const d = f.slice();
      detach(d);
      return d;
    }
    case 'null':
      return null;
    case 'string':
      return 'data';
    case 'arraylike':
      return { length: len };
  }
}

const dataKindArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom<DataKind>('exact', 'view') },
  { weight: 3, arbitrary: fc.constantFrom<DataKind>('short', 'long', 'f64', 'array', 'i32', 'u8', 'detached', 'null', 'string', 'arraylike') },
);


describe('Matrix (dense): constructor, zeros, fromDense', () => {
  it('property: builds exactly when rows, cols are integers in [0, 2^31 - 1] and data is a Float32Array of rows * cols; round-trips and multiplies', () => {
    check(
      fc.property(dimArb(6), dimArb(6), dataKindArb, fc.array(valueArb, { minLength: 40, maxLength: 40 }), fc.integer({ min: 0, max: 3 }), (rows, cols, kind, values, n) => {
        const len = isDim(rows) && isDim(cols) && small(rows, cols) ? rows * cols : 3;
        const data = makeData(kind, len, values);
        const valid = isDim(rows) && isDim(cols) && rows * cols <= MAX_DIM && data instanceof Float32Array && data.length === rows * cols;
        const label = `Matrix(${show(data)}, ${show(rows)}, ${show(cols)})`;
        for (const make of [() => new Matrix(bad(data), bad(rows), bad(cols)), () => Matrix.fromDense(bad(data), bad(rows), bad(cols))]) {
          const r = attempt(make, label);
          expectOutcome(r, valid, ['ERR_SHAPE', 'ERR_TYPE'], label);
          if (!r.ok) continue;
          const m = r.value;
          expect([m.rows, m.cols]).toEqual([rows, cols]);
          expectSameArray(m.toDense(), data as Float32Array, `${label} toDense`);
          if (small(m.rows, m.cols)) {
            expectSameArray(m.transpose().transpose().toDense(), data as Float32Array, `${label} transpose twice`);
            expectProductMatches(m, data as Float32Array, n, values[0] ?? 0, label);
          }
        }
      }),
      1000,
    );
  });

  it('property: zeros(rows, cols) refuses non-dimensions and more than 2^31 - 1 elements before allocating', () => {
    const hugeDim = fc.constantFrom(2 ** 16, 2 ** 20, 2 ** 31 - 1, 2 ** 31, 2 ** 53);
    check(
      fc.property(fc.oneof(dimArb(5), hugeDim), fc.oneof(dimArb(5), hugeDim), (rows, cols) => {
        const valid = isDim(rows) && isDim(cols) && rows * cols <= MAX_DIM;
        if (valid && rows * cols > 1 << 20) return; // valid but too big to allocate here
        const r = attempt(() => Matrix.zeros(bad(rows), bad(cols)), `zeros(${show(rows)}, ${show(cols)})`);
        expectOutcome(r, valid, ['ERR_SHAPE'], `zeros(${show(rows)}, ${show(cols)})`);
        if (r.ok) {
          expect(r.value.data.length).toBe((rows as number) * (cols as number) + 0);
          expect(r.value.nnz).toBe(0);
        }
      }),
      500,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Compressed-row parts (CSR, and BSR over blocks) and their mutations.

interface Compressed {
  rowPtr: unknown;
  colIdx: unknown;
}

type Mutation =
  | 'none'
  | 'swapCols'
  | 'dupCol'
  | 'colOut'
  | 'colNegative'
  | 'colHuge'
  | 'ptrDown'
  | 'ptrUp'
  | 'ptrFirst'
  | 'ptrLast'
  | 'ptrHuge'
  | 'ptrShort'
  | 'ptrLong'
  | 'colShort'
  | 'valuesShort'
  | 'valuesLong'
  | 'ptrType'
  | 'colType'
  | 'valuesType'
  | 'rowsOff'
  | 'colsOff'
  | 'rowsHostile'
  | 'colsHostile'
  | 'colsHuge';

const MUTATIONS: readonly Mutation[] = [
  'none',
  'swapCols',
  'dupCol',
  'colOut',
  'colNegative',
  'colHuge',
  'ptrDown',
  'ptrUp',
  'ptrFirst',
  'ptrLast',
  'ptrHuge',
  'ptrShort',
  'ptrLong',
  'colShort',
  'valuesShort',
  'valuesLong',
  'ptrType',
  'colType',
  'valuesType',
  'rowsOff',
  'colsOff',
  'rowsHostile',
  'colsHostile',
  'colsHuge',
];
const IN_PLACE: readonly Mutation[] = ['none', 'swapCols', 'dupCol', 'colOut', 'colNegative', 'colHuge', 'ptrDown', 'ptrUp', 'ptrFirst', 'ptrLast', 'ptrHuge'];

interface Raw {
  rows: unknown;
  cols: unknown;
  rowPtr: unknown;
  colIdx: unknown;
  values: unknown;
}

/** A copy of `v` as the k-th of `makers` (a typed array of another type, or a plain Array). */
function retype(v: ArrayLike<number>, k: number, makers: ReadonlyArray<(v: ArrayLike<number>) => unknown>): unknown {
  return makers[k % makers.length]!(v);
}

const AS_U32 = (v: ArrayLike<number>) => Uint32Array.from(v);
const AS_I16 = (v: ArrayLike<number>) => Int16Array.from(v);
const AS_I32 = (v: ArrayLike<number>) => Int32Array.from(v);
const AS_U8 = (v: ArrayLike<number>) => Uint8Array.from(v);
const AS_F32 = (v: ArrayLike<number>) => Float32Array.from(v);
const AS_F64 = (v: ArrayLike<number>) => Float64Array.from(v);
const AS_ARRAY = (v: ArrayLike<number>) => Array.from(v);

/** A position p in [0, length) from a random integer, or -1 for an empty array. */
const at = (len: number, k: number) => (len === 0 ? -1 : k % len);

/**
 * Applies `mut` to index arrays (in place when `inPlace`, else on copies) and returns the
 * parts. `outer`/`inner` are the compressed dimensions (rows/cols, or block rows/cols).
 */
function mutate(raw: Raw, mut: Mutation, k: number, hostile: unknown, inPlace: boolean, valuesPerEntry: number): Raw {
  const rp = (inPlace ? raw.rowPtr : (raw.rowPtr as Int32Array).slice()) as Int32Array;
  const ci = (inPlace ? raw.colIdx : (raw.colIdx as Int32Array).slice()) as Int32Array;
  const vs = (inPlace ? raw.values : (raw.values as Float32Array).slice()) as Float32Array;
  const out: Raw = { rows: raw.rows, cols: raw.cols, rowPtr: rp, colIdx: ci, values: vs };
  const p = at(ci.length, k);
  const interior = rp.length > 2 ? 1 + (k % (rp.length - 2)) : -1;
  switch (mut) {
    case 'none':
      break;
    case 'swapCols':
      if (p >= 1) [ci[p - 1], ci[p]] = [ci[p], ci[p - 1]];
      break;
    case 'dupCol':
      if (p >= 1) ci[p] = ci[p - 1];
      break;
    case 'colOut':
      if (p >= 0) ci[p] = (raw.cols as number) + (k % 3);
      break;
    case 'colNegative':
      if (p >= 0) ci[p] = -1 - (k % 3);
      break;
    case 'colHuge':
      if (p >= 0) ci[p] = k % 2 ? 2 ** 31 - 1 : -(2 ** 31);
      break;
    case 'ptrDown':
      if (interior > 0) rp[interior] -= 1 + (k % 3);
      break;
    case 'ptrUp':
      if (interior > 0) rp[interior] += 1 + (k % 3);
      break;
    case 'ptrFirst':
      rp[0] = k % 2 ? 1 : -1;
      break;
    case 'ptrLast':
      rp[rp.length - 1] += k % 2 ? 1 : -1;
      break;
    case 'ptrHuge':
      rp[rp.length > 1 ? 1 + (k % (rp.length - 1)) : 0] = k % 2 ? 2 ** 31 - 1 : -(2 ** 31);
      break;
    case 'ptrShort':
      out.rowPtr = rp.subarray(0, rp.length - 1);
      break;
    case 'ptrLong':
      out.rowPtr = Int32Array.from([...rp, rp[rp.length - 1]]);
      break;
    case 'colShort':
      out.colIdx = ci.subarray(0, Math.max(0, ci.length - 1));
      break;
    case 'valuesShort':
      out.values = vs.subarray(0, Math.max(0, vs.length - valuesPerEntry));
      break;
    case 'valuesLong':
      out.values = Float32Array.from([...vs, ...new Array<number>(valuesPerEntry).fill(1)]);
      break;
    case 'ptrType':
      out.rowPtr = retype(rp, k, [AS_U32, AS_F64, AS_F32, AS_ARRAY]);
      break;
    case 'colType':
      out.colIdx = retype(ci, k, [AS_U32, AS_I16, AS_F32, AS_ARRAY]);
      break;
    case 'valuesType':
      out.values = retype(vs, k, [AS_F64, AS_I32, AS_U8, AS_ARRAY]);
      break;
    case 'rowsOff':
      out.rows = (raw.rows as number) + (k % 2 ? 1 : -1);
      break;
    case 'colsOff':
      out.cols = (raw.cols as number) + (k % 2 ? 1 : -1);
      break;
    case 'rowsHostile':
      out.rows = hostile;
      break;
    case 'colsHostile':
      out.cols = hostile;
      break;
    case 'colsHuge':
      // Still a valid structure: a very wide sparse matrix is legitimate.
      out.cols = 2 ** 31 - 1 - (k % 2);
      break;
  }
  return out;
}

/** Mutations that detach a buffer of a constructed matrix (its arrays then have length 0). */
type Detach = 'rowPtr' | 'colIdx' | 'values' | null;

/** The compressed-row rules, written out independently of lib/checks.ts. */
function compressedValid(outer: number, inner: number, rp: unknown, ci: unknown): boolean {
  if (!(rp instanceof Int32Array) || !(ci instanceof Int32Array)) return false;
  if (rp.length !== outer + 1 || rp[0] !== 0 || rp[outer] !== ci.length) return false;
  for (let r = 0; r < outer; r++) {
    if (rp[r + 1]! < rp[r]!) return false;
    for (let p = rp[r]!; p < rp[r + 1]!; p++) {
      if (!(ci[p]! >= 0 && ci[p]! < inner)) return false;
      if (p > rp[r]! && ci[p]! <= ci[p - 1]!) return false;
    }
  }
  return true;
}

function csrValid(r: Raw): boolean {
  return isDim(r.rows) && isDim(r.cols) && r.values instanceof Float32Array && r.colIdx instanceof Int32Array && r.colIdx.length === r.values.length && compressedValid(r.rows, r.cols, r.rowPtr, r.colIdx);
}

function csrDense(r: Raw): Float32Array {
  const rows = r.rows as number;
  const cols = r.cols as number;
  const rp = r.rowPtr as Int32Array;
  const ci = r.colIdx as Int32Array;
  const vs = r.values as Float32Array;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let p = rp[i]!; p < rp[i + 1]!; p++) out[i * cols + ci[p]!] = vs[p]!;
  return out;
}

/** A random valid CSR: rows x cols with each entry stored with probability ~1/2. */
const csrArb: fc.Arbitrary<Raw> = fc
  .record({ rows: fc.integer({ min: 0, max: 6 }), cols: fc.integer({ min: 0, max: 7 }) })
  .chain(({ rows, cols }) =>
    fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      keep: fc.array(fc.boolean(), { minLength: rows * cols, maxLength: rows * cols }),
      values: f32Arb(rows * cols),
    }),
  )
  .map(({ rows, cols, keep, values }) => {
    const rp = new Int32Array(rows + 1);
    const ci: number[] = [];
    const vs: number[] = [];
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++)
        if (keep[i * cols + j]) {
          ci.push(j);
          vs.push(values[i * cols + j]!);
        }
      rp[i + 1] = ci.length;
    }
    return { rows, cols, rowPtr: rp, colIdx: Int32Array.from(ci), values: Float32Array.from(vs) };
  });

const CONSTRUCT_CODES: ErrorCode[] = ['ERR_SHAPE', 'ERR_TYPE', 'ERR_FORMAT', 'ERR_RANGE'];

describe('CsrMatrix from raw parts', () => {
  it('property: the constructor accepts exactly the well-formed parts (mutated: unsorted, repeated, out-of-range columns, bad row pointers, wrong lengths and types, hostile dims)', () => {
    check(
      fc.property(csrArb, fc.constantFrom(...MUTATIONS), fc.nat(), fc.constantFrom(...HOSTILE_NUMBERS), fc.integer({ min: 1, max: 3 }), (raw, mut, k, hostile, n) => {
        const parts = mutate(raw, mut, k, hostile, false, 1);
        const label = `CSR ${mut}(${k}) ${show(parts.rows)}x${show(parts.cols)} rowPtr ${show(parts.rowPtr)} colIdx ${show(parts.colIdx)}`;
        const r = attempt(() => new CsrMatrix(bad(parts.rows), bad(parts.cols), bad(parts.rowPtr), bad(parts.colIdx), bad(parts.values)), label);
        expectOutcome(r, csrValid(parts), CONSTRUCT_CODES, label);
        if (!r.ok || !small(r.value.rows, r.value.cols)) return;
        const dense = csrDense(parts);
        expectSameArray(r.value.toDense(), dense, `${label} toDense`);
        expectSameArray(r.value.transpose().transpose().toDense(), dense, `${label} transpose twice`);
        expectProductMatches(r.value, dense, n, k, label);
        const x = new Float32Array(r.value.rows * n).map((_, i) => (i % 5) - 2);
        expectTransposedMatches(r.value, dense, n, label);
      }),
      1500,
    );
  });

  it('property: arrays mutated or detached after construction are refused by the native boundary at the first product, or used if still well-formed', () => {
    check(
      fc.property(csrArb, fc.constantFrom(...IN_PLACE), fc.constantFrom<Detach>(null, null, null, 'rowPtr', 'colIdx', 'values'), fc.nat(), fc.integer({ min: 1, max: 3 }), (raw, mut, det, k, n) => {
        const m = new CsrMatrix(raw.rows as number, raw.cols as number, raw.rowPtr as Int32Array, raw.colIdx as Int32Array, raw.values as Float32Array);
        const parts = mutate({ ...m }, mut, k, 0, true, 1);
        if (det) detach(m[det]);
        const now: Raw = { rows: m.rows, cols: m.cols, rowPtr: m.rowPtr, colIdx: m.colIdx, values: m.values };
        const label = `CSR in place ${mut}(${k}) detach ${det}`;
        const x = new Float32Array(m.cols * n).map((_, i) => (i % 7) - 3);
        const r = attempt(() => matmul(m, x, n), label);
        expectOutcome(r, csrValid(now), ['ERR_FORMAT', 'ERR_RANGE'], label);
        if (r.ok) {
          const { ref, bound } = denseProduct(csrDense(parts), m.rows, m.cols, x, n);
          expectClose(r.value, ref, bound, label);
        }
      }),
      1000,
    );
  });

  it('property: a prepared matrix keeps its snapshot: mutating or detaching its arrays afterwards changes no product', () => {
    check(
      fc.property(csrArb, fc.constantFrom(...IN_PLACE), fc.boolean(), fc.nat(), (raw, mut, det, k) => {
        const dense = csrDense(raw);
        const m = new CsrMatrix(raw.rows as number, raw.cols as number, raw.rowPtr as Int32Array, raw.colIdx as Int32Array, raw.values as Float32Array).prepare();
        mutate({ ...m }, mut, k, 0, true, 1);
        if (det) [m.rowPtr, m.colIdx, m.values].forEach(detach);
        expectProductMatches(m, dense, 2, k, `prepared CSR then ${mut}`);
      }),
      300,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// N:M

interface NmRaw {
  rows: unknown;
  cols: unknown;
  pattern: unknown;
  values: unknown;
  indices: unknown;
}

/** A valid N:M matrix with random offsets in every group (last group possibly shorter). */
const nmArb: fc.Arbitrary<NmRaw & { rows: number; cols: number; pattern: { n: number; m: number } }> = fc
  .integer({ min: 1, max: 8 })
  .chain((m) => fc.record({ m: fc.constant(m), n: fc.integer({ min: 1, max: m }), rows: fc.integer({ min: 0, max: 5 }), groups: fc.integer({ min: 0, max: 3 }) }))
  .chain(({ m, n, rows, groups }) => fc.record({ m: fc.constant(m), n: fc.constant(n), rows: fc.constant(rows), cols: groups === 0 ? fc.constant(0) : fc.integer({ min: (groups - 1) * m + n, max: groups * m }) }))
  .chain(({ m, n, rows, cols }) => {
    const groups = Math.ceil(cols / m);
    const count = rows * groups * n;
    return fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      pattern: fc.constant({ n, m }),
      values: f32Arb(count),
      // For each group, a random permutation key per column: the n smallest keys are kept.
      keys: fc.array(fc.nat(), { minLength: rows * groups * m, maxLength: rows * groups * m }),
    });
  })
  .map(({ rows, cols, pattern, values, keys }) => {
    const { n, m } = pattern;
    const groups = Math.ceil(cols / m);
    const indices = new Uint8Array(rows * groups * n);
    for (let r = 0; r < rows; r++)
      for (let g = 0; g < groups; g++) {
        const width = Math.min(m, cols - g * m);
        const base = (r * groups + g) * m;
        const order = Array.from({ length: width }, (_, i) => i).sort((a, b) => keys[base + a]! - keys[base + b]! || a - b);
        order.slice(0, n).sort((a, b) => a - b).forEach((o, j) => (indices[(r * groups + g) * n + j] = o));
      }
    return { rows, cols, pattern, values, indices };
  });

function nmValid(r: NmRaw): boolean {
  if (!isDim(r.rows) || !isDim(r.cols)) return false;
  const p = r.pattern as { n: unknown; m: unknown } | null;
  if (typeof p !== 'object' || p === null) return false;
  const { n, m } = p;
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > 16) return false;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > m) return false;
  const rem = r.cols % m;
  if (rem !== 0 && rem < n) return false;
  if (!(r.values instanceof Float32Array) || !(r.indices instanceof Uint8Array)) return false;
  const groups = Math.ceil(r.cols / m);
  const len = r.rows * groups * n;
  if (len > MAX_DIM || r.values.length !== len || r.indices.length !== len) return false;
  for (let row = 0; row < r.rows; row++)
    for (let g = 0; g < groups; g++) {
      const width = Math.min(m, r.cols - g * m);
      for (let j = 0; j < n; j++) {
        const q = (row * groups + g) * n + j;
        if (r.indices[q]! >= width || (j > 0 && r.indices[q]! <= r.indices[q - 1]!)) return false;
      }
    }
  return true;
}

function nmDense(r: NmRaw): Float32Array {
  const rows = r.rows as number;
  const cols = r.cols as number;
  const { n, m } = r.pattern as { n: number; m: number };
  const groups = Math.ceil(cols / m);
  const out = new Float32Array(rows * cols);
  const vs = r.values as Float32Array;
  const idx = r.indices as Uint8Array;
  for (let row = 0; row < rows; row++)
    for (let g = 0; g < groups; g++) for (let j = 0; j < n; j++) out[row * cols + g * m + idx[(row * groups + g) * n + j]!] = vs[(row * groups + g) * n + j]!;
  return out;
}

type NmMutation = 'none' | 'offsetOut' | 'offsetSwap' | 'offsetDup' | 'valuesShort' | 'indicesLong' | 'valuesType' | 'indicesType' | 'pattern' | 'colsOff' | 'rowsOff' | 'dims';
const NM_MUTATIONS: readonly NmMutation[] = ['none', 'offsetOut', 'offsetSwap', 'offsetDup', 'valuesShort', 'indicesLong', 'valuesType', 'indicesType', 'pattern', 'colsOff', 'rowsOff', 'dims'];

const HOSTILE_PATTERNS: readonly unknown[] = [null, undefined, 4, 'n:m', [2, 4], {}, { n: 0, m: 4 }, { n: 5, m: 4 }, { n: 2, m: 17 }, { n: 1.5, m: 4 }, { n: 2, m: 0 }, { n: '2', m: 4 }, { n: 2, m: NaN }, { n: -1, m: 4 }, { n: 2 }, { m: 4 }];

function mutateNm(raw: NmRaw, mut: NmMutation, k: number, hostile: unknown, inPlace: boolean): NmRaw {
  const vs = (inPlace ? raw.values : (raw.values as Float32Array).slice()) as Float32Array;
  const idx = (inPlace ? raw.indices : (raw.indices as Uint8Array).slice()) as Uint8Array;
  const out: NmRaw = { ...raw, values: vs, indices: idx };
  const p = at(idx.length, k);
  const n = (raw.pattern as { n: number }).n;
  switch (mut) {
    case 'none':
      break;
    case 'offsetOut':
      if (p >= 0) idx[p] = [(raw.pattern as { m: number }).m, 255, 16, idx[p]! + 1][k % 4]!;
      break;
    case 'offsetSwap':
      if (p >= 1 && p % n !== 0) [idx[p - 1], idx[p]] = [idx[p]!, idx[p - 1]!];
      break;
    case 'offsetDup':
      if (p >= 1 && p % n !== 0) idx[p] = idx[p - 1]!;
      break;
    case 'valuesShort':
      out.values = vs.subarray(0, Math.max(0, vs.length - 1));
      break;
    case 'indicesLong':
      out.indices = Uint8Array.from([...idx, 0]);
      break;
    case 'valuesType':
      out.values = retype(vs, k, [AS_F64, AS_ARRAY, AS_I32]);
      break;
    case 'indicesType':
      // Buffer is a Uint8Array (valid); the others are not.
      out.indices = [Int8Array.from(idx), Uint8ClampedArray.from(idx), Array.from(idx), Buffer.from(idx), Uint16Array.from(idx)][k % 5];
      break;
    case 'pattern':
      out.pattern = HOSTILE_PATTERNS[k % HOSTILE_PATTERNS.length];
      break;
    case 'colsOff':
      out.cols = (raw.cols as number) + (k % 2 ? 1 : -1);
      break;
    case 'rowsOff':
      out.rows = (raw.rows as number) + (k % 2 ? 1 : -1);
      break;
    case 'dims':
      if (k % 2) out.rows = hostile;
      else out.cols = hostile;
      break;
  }
  return out;
}

describe('NmMatrix from raw parts', () => {
  it('property: the constructor accepts exactly valid groups, offsets, lengths and patterns; valid ones round-trip and multiply both ways', () => {
    check(
      fc.property(nmArb, fc.constantFrom(...NM_MUTATIONS), fc.nat(), fc.constantFrom(...HOSTILE_NUMBERS), fc.integer({ min: 1, max: 3 }), (raw, mut, k, hostile, n) => {
        const parts = mutateNm(raw, mut, k, hostile, false);
        // A valid (2^31 - 1) x 0 N:M matrix stores nothing, but its constructor still walks 2^31
        // empty rows (seconds): legitimate, too slow to repeat here.
        fc.pre(!(typeof parts.rows === 'number' && parts.rows > 1 << 20 && parts.cols === 0));
        const label = `N:M ${mut}(${k}) ${show(parts.rows)}x${show(parts.cols)} ${show(parts.pattern)} indices ${show(Array.from(parts.indices as ArrayLike<number>))}`;
        const r = attempt(() => new NmMatrix(bad(parts.rows), bad(parts.cols), bad(parts.pattern), bad(parts.values), bad(parts.indices)), label);
        expectOutcome(r, nmValid(parts), CONSTRUCT_CODES, label);
        // (A valid (2^31 - 1) x 0 matrix has 2^31 row pointers as CSR: too big to convert here.)
        if (!r.ok || !small(r.value.rows, r.value.cols)) return;
        const dense = nmDense(parts);
        expectSameArray(r.value.toDense(), dense, `${label} toDense`);
        expectSameArray(r.value.toCsr().toDense(), dense, `${label} toCsr`);
        expectProductMatches(r.value, dense, n, k, label);
        const x = new Float32Array(r.value.rows * n).map((_, i) => (i % 5) - 2);
        expectTransposedMatches(r.value, dense, n, label);
      }),
      1200,
    );
  });

  it('property: offsets mutated or buffers detached after construction are refused natively, or used if still valid', () => {
    check(
      fc.property(nmArb, fc.constantFrom<NmMutation>('none', 'offsetOut', 'offsetSwap', 'offsetDup'), fc.constantFrom<'values' | 'indices' | null>(null, null, 'values', 'indices'), fc.nat(), (raw, mut, det, k) => {
        const m = new NmMatrix(raw.rows, raw.cols, raw.pattern, raw.values as Float32Array, raw.indices as Uint8Array);
        const parts = mutateNm({ rows: m.rows, cols: m.cols, pattern: { n: m.n, m: m.m }, values: m.values, indices: m.indices }, mut, k, 0, true);
        if (det) detach(m[det]);
        const now: NmRaw = { rows: m.rows, cols: m.cols, pattern: { n: m.n, m: m.m }, values: m.values, indices: m.indices };
        const label = `N:M in place ${mut}(${k}) detach ${det}`;
        const x = new Float32Array(m.cols * 2).map((_, i) => (i % 7) - 3);
        const r = attempt(() => matmul(m, x, 2), label);
        expectOutcome(r, nmValid(now), ['ERR_FORMAT', 'ERR_RANGE'], label);
        if (r.ok) {
          const { ref, bound } = denseProduct(nmDense(parts), m.rows, m.cols, x, 2);
          expectClose(r.value, ref, bound, label);
        }
      }),
      1000,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// BSR

interface BsrRaw extends Raw {
  shape: unknown;
}

/** A valid BSR with random blocks kept, and garbage (not zeros) in the padding of edge blocks. */
const bsrArb: fc.Arbitrary<BsrRaw> = fc
  .record({ rows: fc.integer({ min: 0, max: 9 }), cols: fc.integer({ min: 0, max: 9 }), br: fc.constantFrom(1, 2, 3, 4, 8), bc: fc.integer({ min: 1, max: 4 }) })
  .chain(({ rows, cols, br, bc }) => {
    const bRows = Math.ceil(rows / br);
    const bCols = Math.ceil(cols / bc);
    return fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      br: fc.constant(br),
      bc: fc.constant(bc),
      keep: fc.array(fc.boolean(), { minLength: bRows * bCols, maxLength: bRows * bCols }),
      values: f32Arb(bRows * bCols * br * bc, fc.float({ min: -4, max: 4, noNaN: true }).filter((v) => v !== 0)),
    });
  })
  .map(({ rows, cols, br, bc, keep, values }) => {
    const bRows = Math.ceil(rows / br);
    const bCols = Math.ceil(cols / bc);
    const rp = new Int32Array(bRows + 1);
    const ci: number[] = [];
    for (let b = 0; b < bRows; b++) {
      for (let c = 0; c < bCols; c++) if (keep[b * bCols + c]) ci.push(c);
      rp[b + 1] = ci.length;
    }
    return { rows, cols, shape: { blockRows: br, blockCols: bc }, rowPtr: rp, colIdx: Int32Array.from(ci), values: values.slice(0, ci.length * br * bc) };
  });

function bsrValid(r: BsrRaw): boolean {
  if (!isDim(r.rows) || !isDim(r.cols)) return false;
  const s = r.shape as { blockRows: unknown; blockCols: unknown } | null;
  const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 64;
  if (typeof s !== 'object' || s === null || !ok(s.blockRows) || !ok(s.blockCols)) return false;
  const br = s.blockRows as number;
  const bc = s.blockCols as number;
  if (!(r.values instanceof Float32Array) || !(r.colIdx instanceof Int32Array)) return false;
  return compressedValid(Math.ceil(r.rows / br), Math.ceil(r.cols / bc), r.rowPtr, r.colIdx) && r.values.length === r.colIdx.length * br * bc;
}

function bsrDense(r: BsrRaw): Float32Array {
  const rows = r.rows as number;
  const cols = r.cols as number;
  const { blockRows: br, blockCols: bc } = r.shape as { blockRows: number; blockCols: number };
  const rp = r.rowPtr as Int32Array;
  const ci = r.colIdx as Int32Array;
  const vs = r.values as Float32Array;
  const out = new Float32Array(rows * cols);
  for (let b = 0; b + 1 < rp.length; b++)
    for (let q = rp[b]!; q < rp[b + 1]!; q++)
      for (let i = 0; i < br; i++)
        for (let j = 0; j < bc; j++) {
          const row = b * br + i;
          const col = ci[q]! * bc + j;
          if (row < rows && col < cols) out[row * cols + col] = vs[(q * br + i) * bc + j]!;
        }
  return out;
}

const HOSTILE_BLOCKS: readonly unknown[] = [null, undefined, {}, { blockRows: 0, blockCols: 1 }, { blockRows: 1, blockCols: 65 }, { blockRows: 2.5, blockCols: 1 }, { blockRows: '4', blockCols: 1 }, { blockRows: 4 }, 7];

describe('BsrMatrix from raw parts', () => {
  it('property: the constructor accepts exactly well-formed blocks; valid ones round-trip (edge padding ignored) and multiply, or refuse an unsupported block height with ERR_FORMAT', () => {
    check(
      fc.property(bsrArb, fc.constantFrom(...MUTATIONS, 'shape' as const), fc.nat(), fc.constantFrom(...HOSTILE_NUMBERS), fc.integer({ min: 1, max: 3 }), (raw, mut, k, hostile, n) => {
        const { blockRows: br, blockCols: bc } = raw.shape as { blockRows: number; blockCols: number };
        const parts: BsrRaw = mut === 'shape' ? { ...raw, shape: HOSTILE_BLOCKS[k % HOSTILE_BLOCKS.length] } : { ...mutate(raw, mut, k, hostile, false, br * bc), shape: raw.shape };
        const label = `BSR ${mut}(${k}) ${show(parts.rows)}x${show(parts.cols)} ${show(parts.shape)} rowPtr ${show(parts.rowPtr)} colIdx ${show(parts.colIdx)}`;
        const r = attempt(() => new BsrMatrix(bad(parts.rows), bad(parts.cols), bad(parts.shape), bad(parts.rowPtr), bad(parts.colIdx), bad(parts.values)), label);
        expectOutcome(r, bsrValid(parts), CONSTRUCT_CODES, label);
        if (!r.ok || !small(r.value.rows, r.value.cols)) return;
        const dense = bsrDense(parts);
        expectSameArray(r.value.toDense(), dense, `${label} toDense`);
        expectSameArray(r.value.transpose().transpose().toDense(), dense, `${label} transpose twice`);
        if ([1, 2, 4, 8].includes(r.value.blockRows)) expectProductMatches(r.value, dense, n, k, label);
        else expectOutcome(attempt(() => matmul(r.value, new Float32Array(r.value.cols * n), n)), false, ['ERR_FORMAT'], `${label} block height ${r.value.blockRows}`);
      }),
      1200,
    );
  });

  it('property: block structure mutated or detached after construction is refused natively, or used if still well-formed', () => {
    check(
      fc.property(bsrArb.filter((r) => [1, 2, 4, 8].includes((r.shape as { blockRows: number }).blockRows)), fc.constantFrom(...IN_PLACE), fc.constantFrom<Detach>(null, null, 'rowPtr', 'colIdx', 'values'), fc.nat(), (raw, mut, det, k) => {
        const m = new BsrMatrix(raw.rows as number, raw.cols as number, raw.shape as { blockRows: number; blockCols: number }, raw.rowPtr as Int32Array, raw.colIdx as Int32Array, raw.values as Float32Array);
        mutate({ rows: m.rows, cols: Math.ceil(m.cols / m.blockCols), rowPtr: m.rowPtr, colIdx: m.colIdx, values: m.values }, mut, k, 0, true, m.blockRows * m.blockCols);
        if (det) detach(m[det]);
        const now: BsrRaw = { rows: m.rows, cols: m.cols, shape: raw.shape, rowPtr: m.rowPtr, colIdx: m.colIdx, values: m.values };
        const label = `BSR in place ${mut}(${k}) detach ${det}`;
        const x = new Float32Array(m.cols * 2).map((_, i) => (i % 7) - 3);
        const r = attempt(() => matmul(m, x, 2), label);
        expectOutcome(r, bsrValid(now), ['ERR_FORMAT', 'ERR_RANGE'], label);
        if (r.ok) {
          const { ref, bound } = denseProduct(bsrDense(now), m.rows, m.cols, x, 2);
          expectClose(r.value, ref, bound, label);
        }
      }),
      1000,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// fromDense with random shapes and options

/** Dense data with zeros, ties, -0 and NaN. */
const denseValueArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.constantFrom(-0, NaN) },
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 3, arbitrary: fc.float({ min: -8, max: 8, noNaN: true }) },
);

const denseArb = fc
  .record({ rows: fc.integer({ min: 0, max: 7 }), cols: fc.integer({ min: 0, max: 9 }) })
  .chain(({ rows, cols }) => fc.record({ rows: fc.constant(rows), cols: fc.constant(cols), data: f32Arb(rows * cols, denseValueArb) }));

/** Options objects as JS callers might write them, valid and not. */
const targetArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant({}),
  fc.constant(undefined),
  fc.double({ min: 0, max: 1, noNaN: true }).map((sparsity) => ({ sparsity })),
  fc.double({ min: 0, max: 1, noNaN: true }).map((density) => ({ density })),
  fc.integer({ min: 0, max: 70 }).map((nnz) => ({ nnz })),
  fc.float({ min: 0, max: 5, noNaN: true }).map((threshold) => ({ threshold })),
  fc.constantFrom<unknown>(
    { sparsity: 1.5 },
    { sparsity: -0.1 },
    { density: NaN },
    { sparsity: '0.5' },
    { nnz: -1 },
    { nnz: 2.5 },
    { nnz: 1e9 },
    { threshold: NaN },
    { threshold: 'big' },
    { threshold: -Infinity },
    { threshold: Infinity },
    { sparsity: 0.5, density: 0.5 },
    { sparsity: 0.5, threshold: 1 },
    { nnz: Symbol('k') },
  ),
);

/** Whether a KeepTarget / threshold object is valid for `size` entries, and how many it keeps. */
function targetRule(o: unknown, size: number): { valid: boolean; k?: number; threshold?: number } {
  if (o === undefined) return { valid: true };
  if (typeof o !== 'object' || o === null) return { valid: false };
  const t = o as Record<string, unknown>;
  const given = ['sparsity', 'density', 'nnz'].filter((key) => t[key] !== undefined);
  if (given.length === 0) {
    if (t.threshold === undefined) return { valid: true };
    return typeof t.threshold === 'number' && !Number.isNaN(t.threshold) ? { valid: true, threshold: t.threshold } : { valid: false };
  }
  if (given.length > 1 || t.threshold !== undefined) return { valid: false };
  const v = t[given[0]!];
  if (given[0] === 'nnz') return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= size ? { valid: true, k: v } : { valid: false };
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) return { valid: false };
  return { valid: true, k: Math.round((given[0] === 'density' ? v : 1 - v) * size) };
}

/** Every entry of `got` is the input's value there or zero. */
function expectSubset(got: Float32Array, data: Float32Array, label: string): void {
  for (let i = 0; i < data.length; i++)
    if (!(got[i] === 0 || got[i] === data[i] || (Number.isNaN(got[i]) && Number.isNaN(data[i])))) expect.fail(`${label}: index ${i} holds ${got[i]}, the input ${data[i]}`);
}

describe('fromDense with random shapes and options', () => {
  it('property: CsrMatrix.fromDense keeps what the options say (default: exact round trip) or refuses the options with a typed error', () => {
    check(
      fc.property(denseArb, targetArb, fc.constantFrom<DataKind>('exact', 'exact', 'exact', 'short', 'f64', 'array'), ({ rows, cols, data }, opts, kind) => {
        const input = makeData(kind, data.length, Array.from(data));
        const rule = targetRule(opts, rows * cols);
        const valid = rule.valid && input instanceof Float32Array && input.length === rows * cols;
        const label = `CsrMatrix.fromDense ${rows}x${cols} ${show(input)} ${show(opts)}`;
        const r = attempt(() => CsrMatrix.fromDense(bad(input), rows, cols, bad(opts)), label);
        expectOutcome(r, valid, ['ERR_RANGE', 'ERR_TYPE', 'ERR_SHAPE'], label);
        if (!r.ok) return;
        const got = r.value.toDense();
        expectSubset(got, data, label);
        if (rule.k !== undefined) expect(r.value.nnz, label).toBe(rule.k);
        else if (rule.threshold !== undefined) expect(r.value.nnz, label).toBe(data.filter((v) => Math.abs(v) > rule.threshold!).length);
        else expectSameArray(got, data, `${label} round trip`);
        expect(attempt(() => new CsrMatrix(r.value.rows, r.value.cols, r.value.rowPtr, r.value.colIdx, r.value.values), label).ok).toBe(true);
      }),
      1000,
    );
  });

  it('property: NmMatrix.fromDense keeps N per group (exact round trip when the data is already N:M) or refuses the pattern', () => {
    const patternArb: fc.Arbitrary<unknown> = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }).chain((m) => fc.integer({ min: 1, max: m }).map((n) => ({ n, m }))) },
      { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_PATTERNS) },
    );
    check(
      fc.property(denseArb, patternArb, fc.boolean(), ({ rows, cols, data }, pattern, makeNm) => {
        // The default pattern is 2:4.
        const p = (pattern === undefined ? { n: 2, m: 4 } : pattern) as { n: number; m: number };
        const valid = nmRuleOnly(cols, p);
        // Zero all but the first N entries of every group, so that the pattern holds everything
        // (and no NaN, which ranks below zero).
        if (valid && makeNm) for (let i = 0; i < data.length; i++) data[i] = (i % cols) % p.m >= p.n ? 0 : Number.isNaN(data[i]) ? 1 : data[i];
        const label = `NmMatrix.fromDense ${rows}x${cols} ${show(pattern)}`;
        const r = attempt(() => NmMatrix.fromDense(data, rows, cols, bad(pattern)), label);
        expectOutcome(r, valid, ['ERR_RANGE', 'ERR_FORMAT', 'ERR_SHAPE'], label);
        if (!r.ok) return;
        expect(r.value.nnz).toBe(rows * Math.ceil(cols / p.m) * p.n);
        expectSubset(r.value.toDense(), data, label);
        if (makeNm) expectSameArray(r.value.toDense(), data, `${label} round trip`);
      }),
      1000,
    );
  });

  it('property: BsrMatrix.fromDense tiles (default: exact round trip), keeps whole blocks for a target, or refuses bad block shapes and targets', () => {
    const blockArb: fc.Arbitrary<unknown> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ blockRows: fc.integer({ min: 1, max: 5 }), blockCols: fc.integer({ min: 1, max: 5 }) }) },
      { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_BLOCKS) },
    );
    check(
      fc.property(denseArb, blockArb, targetArb, ({ rows, cols, data }, shape, target) => {
        const s = shape as { blockRows?: unknown; blockCols?: unknown } | null | undefined;
        const blockOk = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 64;
        const shapeOk = typeof s === 'object' && s !== null && blockOk(s.blockRows) && blockOk(s.blockCols);
        const blocks = shapeOk ? Math.ceil(rows / (s.blockRows as number)) * Math.ceil(cols / (s.blockCols as number)) : 0;
        // A threshold is not a BSR option: it is ignored.
        const t = typeof target === 'object' && target !== null ? { ...(target as object), threshold: undefined } : target;
        const rule = targetRule(t ?? undefined, blocks);
        const opts = shapeOk && typeof target === 'object' && target !== null ? { ...(shape as object), ...(target as object) } : shape;
        const label = `BsrMatrix.fromDense ${rows}x${cols} ${show(opts)}`;
        const r = attempt(() => BsrMatrix.fromDense(data, rows, cols, bad(opts)), label);
        expectOutcome(r, shapeOk && rule.valid, ['ERR_RANGE', 'ERR_TYPE'], label);
        if (!r.ok) return;
        const got = r.value.toDense();
        expectSubset(got, data, label);
        if (rule.k !== undefined) expect(r.value.blockCount, label).toBe(rule.k);
        else expectSameArray(got, data, `${label} round trip`);
      }),
      1000,
    );
  });
});

/** The pattern rules of NmMatrix alone (no arrays). */
function nmRuleOnly(cols: number, pattern: unknown): boolean {
  const p = pattern as { n: unknown; m: unknown } | null;
  if (typeof p !== 'object' || p === null) return false;
  const { n, m } = p;
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > 16) return false;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > m) return false;
  const rem = cols % m;
  return rem === 0 || rem >= n;
}

// ---------------------------------------------------------------------------------------------
// Bugs these properties found, fixed since; their minimal cases stay as regression tests.

describe('regressions found by these properties: untyped errors from the constructors and conversions', () => {
  it('CsrMatrix.fromDense(data, rows, cols, null): a typed error (was a plain TypeError reading .sparsity of null)', () => {
    attempt(() => CsrMatrix.fromDense(new Float32Array(4), 2, 2, bad(null)), 'fromDense null options');
  });

  it('toDense() of a valid wide CSR matrix (3 x (2^31 - 1), no entries): ERR_SHAPE (was a plain RangeError)', () => {
    const wide = new CsrMatrix(3, 2 ** 31 - 1, new Int32Array(4), new Int32Array(0), new Float32Array(0));
    attempt(() => wide.toDense(), 'wide toDense');
  });

  it('Matrix.toDense() after the data buffer was transferred: a typed error, like the products (ERR_FORMAT) (was a plain TypeError)', () => {
    const data = Float32Array.of(1, 2);
    const m = new Matrix(data, 1, 2);
    detach(data);
    expectOutcome(attempt(() => matmul(m, Float32Array.of(1, 1), 1)), false, ['ERR_FORMAT']);
    attempt(() => m.toDense(), 'detached toDense');
  });
});
