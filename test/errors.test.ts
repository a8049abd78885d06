/**
 * Bad input raises a SparsennError of the right class and `code`, never a crash: first through
 * the TS API, then straight at the native functions (lib/native.ts) with malformed arrays that
 * the TS checks would have stopped, to prove the native boundary validates on its own.
 */
import { describe, expect, it } from 'vitest';
import {
  BsrMatrix,
  CsrMatrix,
  errorFromCode,
  FormatError,
  IndexRangeError,
  Matrix,
  matmul,
  matmulAsync,
  matmulTransposed,
  matmulTransposedAsync,
  NativeError,
  NmMatrix,
  setThreads,
  ShapeError,
  sddmm,
  sddmmAsync,
  SparsennError,
  SparsennTypeError,
} from '../lib/index.js';
import { native } from '../lib/native.js';
import { expectRejects, expectThrows } from './helpers/errors.js';

// Deliberately ill-typed values, passed through `any` to get past the compiler as JS callers do.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const bad = <T = any>(v: unknown): T => v as T;

const f32 = (...v: number[]) => new Float32Array(v);
const i32 = (...v: number[]) => new Int32Array(v);

/** A valid 2x3 CSR [[1, 0, 2], [0, 3, 0]]. */
const csr23 = () => new CsrMatrix(2, 3, i32(0, 2, 3), i32(0, 2, 1), f32(1, 2, 3));

describe('error classes', () => {
  it('every code maps to its class, unknown codes to ERR_INTERNAL', () => {
    const table: Array<[string, new (...a: never[]) => SparsennError]> = [
      ['ERR_TYPE', SparsennTypeError],
      ['ERR_SHAPE', ShapeError],
      ['ERR_FORMAT', FormatError],
      ['ERR_RANGE', IndexRangeError],
      ['ERR_ALIAS', NativeError],
      ['ERR_DISPOSED', NativeError],
      ['ERR_MEMORY', NativeError],
      ['ERR_NATIVE_LOAD', NativeError],
      ['ERR_INTERNAL', NativeError],
    ];
    for (const [code, cls] of table) {
      const e = errorFromCode(code, 'msg');
      expect(e).toBeInstanceOf(cls);
      expect(e).toBeInstanceOf(SparsennError);
      expect(e).toBeInstanceOf(Error);
      expect(e.code).toBe(code);
      expect(e.message).toBe('msg');
      expect(e.name).toBe(cls.name);
    }
    const odd = errorFromCode('ERR_NOPE', 'x');
    expect(odd.code).toBe('ERR_INTERNAL');
    expect(odd).toBeInstanceOf(NativeError);
    expect(errorFromCode('toString', 'x').code).toBe('ERR_INTERNAL');
  });
});

describe('shapes', () => {
  const shapes: unknown[] = [NaN, -1, 1.5, Infinity, -Infinity, '2', null, undefined, 2 ** 31];
  it('NaN, negative, fractional, infinite, non-number and too-large dimensions are ERR_SHAPE', () => {
    for (const s of shapes) {
      const l = `dim ${String(s)}`;
      expectThrows(() => new Matrix(f32(), bad(s), 0), ShapeError, 'ERR_SHAPE', `Matrix rows ${l}`);
      expectThrows(() => new Matrix(f32(), 0, bad(s)), ShapeError, 'ERR_SHAPE', `Matrix cols ${l}`);
      expectThrows(() => Matrix.zeros(bad(s), 1), ShapeError, 'ERR_SHAPE', `zeros ${l}`);
      expectThrows(() => CsrMatrix.fromDense(f32(), bad(s), 0), ShapeError, 'ERR_SHAPE', `CSR fromDense ${l}`);
      expectThrows(() => new CsrMatrix(bad(s), 1, i32(0), i32(), f32()), ShapeError, 'ERR_SHAPE', `CSR ctor ${l}`);
      expectThrows(() => CsrMatrix.fromCoo(1, bad(s), i32(), i32(), f32()), ShapeError, 'ERR_SHAPE', `fromCoo ${l}`);
      expectThrows(() => NmMatrix.fromDense(f32(), bad(s), 4), ShapeError, 'ERR_SHAPE', `NM fromDense ${l}`);
      expectThrows(() => BsrMatrix.fromDense(f32(), 0, bad(s), { blockRows: 1, blockCols: 1 }), ShapeError, 'ERR_SHAPE', `BSR fromDense ${l}`);
    }
  });

  it('rows * cols beyond 2^31 - 1 elements is ERR_SHAPE', () => {
    expectThrows(() => Matrix.zeros(65_536, 65_536), ShapeError, 'ERR_SHAPE');
    expectThrows(() => CsrMatrix.fromDense(f32(), 100_000, 100_000), ShapeError, 'ERR_SHAPE');
  });

  it('data of the wrong length is ERR_SHAPE', () => {
    expectThrows(() => new Matrix(f32(1, 2, 3), 2, 2), ShapeError, 'ERR_SHAPE');
    expectThrows(() => CsrMatrix.fromDense(f32(1, 2, 3), 2, 2), ShapeError, 'ERR_SHAPE');
    expectThrows(() => NmMatrix.fromDense(f32(1, 2, 3), 1, 4), ShapeError, 'ERR_SHAPE');
    expectThrows(() => BsrMatrix.fromDense(f32(1, 2, 3), 2, 2, { blockRows: 1, blockCols: 1 }), ShapeError, 'ERR_SHAPE');
    expectThrows(() => new CsrMatrix(1, 3, i32(0, 2), i32(0, 1), f32(1)), ShapeError, 'ERR_SHAPE', 'colIdx vs values');
    expectThrows(() => CsrMatrix.fromCoo(2, 2, i32(0), i32(0, 1), f32(1, 2)), ShapeError, 'ERR_SHAPE', 'fromCoo rowIdx length');
    expectThrows(() => csr23().withValues(f32(1, 2)), ShapeError, 'ERR_SHAPE', 'withValues');
  });
});

describe('element types', () => {
  const notF32: Array<[string, unknown]> = [
    ['Float64Array', new Float64Array(4)],
    ['plain array', [0, 0, 0, 0]],
    ['Int32Array', new Int32Array(4)],
    ['Uint8Array', new Uint8Array(4)],
    ['DataView', new DataView(new ArrayBuffer(16))],
    ['null', null],
    ['undefined', undefined],
    ['string', 'data'],
  ];
  it('anything but a Float32Array where one is expected is ERR_TYPE', () => {
    for (const [what, v] of notF32) {
      expectThrows(() => new Matrix(bad(v), 2, 2), SparsennTypeError, 'ERR_TYPE', `Matrix data ${what}`);
      expectThrows(() => CsrMatrix.fromDense(bad(v), 2, 2), SparsennTypeError, 'ERR_TYPE', `CSR fromDense ${what}`);
      expectThrows(() => NmMatrix.fromDense(bad(v), 1, 4), SparsennTypeError, 'ERR_TYPE', `NM fromDense ${what}`);
      expectThrows(() => BsrMatrix.fromDense(bad(v), 2, 2, { blockRows: 1, blockCols: 1 }), SparsennTypeError, 'ERR_TYPE', `BSR fromDense ${what}`);
      expectThrows(() => new CsrMatrix(1, 1, i32(0, 0), i32(), bad(v)), SparsennTypeError, 'ERR_TYPE', `CSR values ${what}`);
      const a = csr23();
      expectThrows(() => matmul(a, bad(v), 2), SparsennTypeError, 'ERR_TYPE', `matmul x ${what}`);
      expectThrows(() => matmulTransposed(a, bad(v), 2), SparsennTypeError, 'ERR_TYPE', `matmulTransposed x ${what}`);
      expectThrows(() => sddmm(a, bad(v), f32(1, 2, 3), 1), SparsennTypeError, 'ERR_TYPE', `sddmm a ${what}`);
      expectThrows(() => sddmm(a, f32(1, 2), bad(v), 1), SparsennTypeError, 'ERR_TYPE', `sddmm b ${what}`);
      if (v !== undefined) {
        expectThrows(() => matmul(a, f32(1, 2, 3), 1, { bias: bad(v) }), SparsennTypeError, 'ERR_TYPE', `bias ${what}`);
        expectThrows(() => matmul(a, f32(1, 2, 3), 1, { out: bad(v) }), SparsennTypeError, 'ERR_TYPE', `out ${what}`);
        expectThrows(() => matmulTransposed(a, f32(1, 2), 1, { out: bad(v) }), SparsennTypeError, 'ERR_TYPE', `transposed out ${what}`);
      }
    }
  });

  it('index arrays must be Int32Array / Uint8Array', () => {
    expectThrows(() => new CsrMatrix(1, 2, bad([0, 1]), i32(0), f32(1)), SparsennTypeError, 'ERR_TYPE', 'rowPtr plain array');
    expectThrows(() => new CsrMatrix(1, 2, i32(0, 1), bad(new Uint32Array([0])), f32(1)), SparsennTypeError, 'ERR_TYPE', 'colIdx Uint32Array');
    expectThrows(() => new CsrMatrix(1, 2, bad(new Float32Array([0, 1])), i32(0), f32(1)), SparsennTypeError, 'ERR_TYPE', 'rowPtr Float32Array');
    expectThrows(() => CsrMatrix.fromCoo(1, 1, bad([0]), i32(0), f32(1)), SparsennTypeError, 'ERR_TYPE', 'fromCoo rowIdx array');
    expectThrows(() => new NmMatrix(1, 4, { n: 2, m: 4 }, f32(1, 2), bad(new Int8Array([0, 1]))), SparsennTypeError, 'ERR_TYPE', 'NM indices Int8Array');
    expectThrows(() => new NmMatrix(1, 4, { n: 2, m: 4 }, f32(1, 2), bad(new Uint8ClampedArray([0, 1]))), SparsennTypeError, 'ERR_TYPE', 'NM indices Uint8ClampedArray');
    expectThrows(
      () => new BsrMatrix(2, 2, { blockRows: 1, blockCols: 1 }, i32(0, 0, 0), bad(new Float64Array()), f32()),
      SparsennTypeError,
      'ERR_TYPE',
      'BSR colIdx Float64Array',
    );
  });

  it('a non-matrix left operand is ERR_TYPE', () => {
    for (const v of [null, undefined, {}, { rows: 1, cols: 1 }, f32(1), 'csr']) {
      expectThrows(() => matmul(bad(v), f32(1), 1), SparsennTypeError, 'ERR_TYPE', `matmul a ${String(v)}`);
      expectThrows(() => matmulTransposed(bad(v), f32(1), 1), SparsennTypeError, 'ERR_TYPE', `matmulTransposed a ${String(v)}`);
      expectThrows(() => sddmm(bad(v), f32(1), f32(1), 1), SparsennTypeError, 'ERR_TYPE', `sddmm pattern ${String(v)}`);
    }
  });
});

describe('CSR structure', () => {
  it('rowPtr of the wrong length is ERR_FORMAT', () => {
    expectThrows(() => new CsrMatrix(2, 3, i32(0, 3), i32(0, 1, 2), f32(1, 2, 3)), FormatError, 'ERR_FORMAT');
    expectThrows(() => new CsrMatrix(0, 3, i32(), i32(), f32()), FormatError, 'ERR_FORMAT', 'empty rowPtr for 0 rows');
  });
  it('rowPtr[0] != 0 is ERR_FORMAT', () => {
    expectThrows(() => new CsrMatrix(2, 3, i32(1, 2, 3), i32(0, 1, 2), f32(1, 2, 3)), FormatError, 'ERR_FORMAT');
    expectThrows(() => new CsrMatrix(1, 3, i32(-1, 1), i32(0), f32(1)), FormatError, 'ERR_FORMAT', 'negative rowPtr[0]');
  });
  it('non-monotone row pointers are ERR_FORMAT', () => {
    expectThrows(() => new CsrMatrix(3, 3, i32(0, 2, 1, 3), i32(0, 1, 2), f32(1, 2, 3)), FormatError, 'ERR_FORMAT');
  });
  it('rowPtr past the stored entries, or short of them, is ERR_FORMAT', () => {
    expectThrows(() => new CsrMatrix(2, 3, i32(0, 1, 5), i32(0, 1), f32(1, 2)), FormatError, 'ERR_FORMAT', 'past the end');
    expectThrows(() => new CsrMatrix(2, 3, i32(0, 1, 1), i32(0, 1), f32(1, 2)), FormatError, 'ERR_FORMAT', 'short of nnz');
  });
  it('out-of-range and negative column indices are ERR_RANGE', () => {
    expectThrows(() => new CsrMatrix(1, 3, i32(0, 1), i32(3), f32(1)), IndexRangeError, 'ERR_RANGE', 'col == cols');
    expectThrows(() => new CsrMatrix(1, 3, i32(0, 1), i32(-1), f32(1)), IndexRangeError, 'ERR_RANGE', 'negative col');
    expectThrows(() => new CsrMatrix(1, 3, i32(0, 1), i32(2 ** 31 - 1), f32(1)), IndexRangeError, 'ERR_RANGE', 'huge col');
    expectThrows(() => CsrMatrix.fromCoo(2, 2, i32(0), i32(2), f32(1)), IndexRangeError, 'ERR_RANGE', 'fromCoo col');
    expectThrows(() => CsrMatrix.fromCoo(2, 2, i32(-1), i32(0), f32(1)), IndexRangeError, 'ERR_RANGE', 'fromCoo negative row');
    expectThrows(() => CsrMatrix.fromCoo(2, 2, i32(2), i32(0), f32(1)), IndexRangeError, 'ERR_RANGE', 'fromCoo row');
  });
  it('unsorted or duplicate columns in a row are ERR_FORMAT', () => {
    expectThrows(() => new CsrMatrix(1, 3, i32(0, 2), i32(2, 0), f32(1, 2)), FormatError, 'ERR_FORMAT', 'unsorted');
    expectThrows(() => new CsrMatrix(1, 3, i32(0, 2), i32(1, 1), f32(1, 2)), FormatError, 'ERR_FORMAT', 'duplicate');
  });
  it('the order within a row is per row: a later row may restart at column 0', () => {
    expect(() => new CsrMatrix(2, 3, i32(0, 1, 2), i32(2, 0), f32(1, 2))).not.toThrow();
  });
});

describe('selection targets', () => {
  const d = f32(1, 2, 3, 4);
  it('more than one target, or none with other keys, is ERR_RANGE', () => {
    expectThrows(() => CsrMatrix.fromDense(d, 2, 2, { sparsity: 0.5, density: 0.5 }), IndexRangeError, 'ERR_RANGE');
    expectThrows(() => CsrMatrix.fromDense(d, 2, 2, { threshold: 1, nnz: 2 }), IndexRangeError, 'ERR_RANGE', 'threshold + nnz');
    expectThrows(() => BsrMatrix.fromDense(d, 2, 2, { blockRows: 1, blockCols: 1, nnz: 1, sparsity: 0 }), IndexRangeError, 'ERR_RANGE');
  });
  it('targets out of range are ERR_RANGE', () => {
    for (const t of [{ sparsity: -0.1 }, { sparsity: 1.5 }, { density: NaN }, { density: 2 }, { nnz: 5 }, { nnz: -1 }, { nnz: 1.5 }, { sparsity: bad('0.5') }]) {
      expectThrows(() => CsrMatrix.fromDense(d, 2, 2, t), IndexRangeError, 'ERR_RANGE', JSON.stringify(t));
      expectThrows(() => BsrMatrix.fromDense(d, 2, 2, { blockRows: 1, blockCols: 1, ...t }), IndexRangeError, 'ERR_RANGE', `BSR ${JSON.stringify(t)}`);
    }
  });
  it('a NaN threshold is ERR_RANGE', () => {
    expectThrows(() => CsrMatrix.fromDense(d, 2, 2, { threshold: NaN }), IndexRangeError, 'ERR_RANGE');
    expectThrows(() => CsrMatrix.fromDense(d, 2, 2, { threshold: bad('1') }), IndexRangeError, 'ERR_RANGE');
  });
});

describe('N:M', () => {
  it('N > M, M > 16, N or M below 1 or fractional are ERR_RANGE', () => {
    for (const p of [{ n: 5, m: 4 }, { n: 1, m: 17 }, { n: 2, m: 32 }, { n: 0, m: 4 }, { n: 1, m: 0 }, { n: 1.5, m: 4 }, { n: 2, m: NaN }]) {
      expectThrows(() => NmMatrix.fromDense(new Float32Array(32), 1, 32, p), IndexRangeError, 'ERR_RANGE', JSON.stringify(p));
    }
  });
  it('a missing pattern object is ERR_FORMAT', () => {
    expectThrows(() => new NmMatrix(1, 4, bad(null), f32(1, 2), new Uint8Array([0, 1])), FormatError, 'ERR_FORMAT');
  });
  it('a last group narrower than N is ERR_SHAPE', () => {
    expectThrows(() => NmMatrix.fromDense(new Float32Array(5), 1, 5, { n: 2, m: 4 }), ShapeError, 'ERR_SHAPE');
    expectThrows(() => NmMatrix.fromDense(new Float32Array(11), 1, 11, { n: 4, m: 8 }), ShapeError, 'ERR_SHAPE');
  });
  it('bad offsets: outside the group is ERR_RANGE, not increasing is ERR_FORMAT, wrong count is ERR_SHAPE', () => {
    const v = f32(1, 2);
    expectThrows(() => new NmMatrix(1, 4, { n: 2, m: 4 }, v, new Uint8Array([0, 4])), IndexRangeError, 'ERR_RANGE', 'offset == M');
    expectThrows(() => new NmMatrix(1, 6, { n: 2, m: 4 }, f32(1, 2, 3, 4), new Uint8Array([0, 1, 0, 2])), IndexRangeError, 'ERR_RANGE', 'offset past a partial group');
    expectThrows(() => new NmMatrix(1, 4, { n: 2, m: 4 }, v, new Uint8Array([2, 1])), FormatError, 'ERR_FORMAT', 'decreasing');
    expectThrows(() => new NmMatrix(1, 4, { n: 2, m: 4 }, v, new Uint8Array([1, 1])), FormatError, 'ERR_FORMAT', 'repeated');
    expectThrows(() => new NmMatrix(1, 8, { n: 2, m: 4 }, v, new Uint8Array([0, 1])), ShapeError, 'ERR_SHAPE', 'too few values');
  });
});

describe('BSR', () => {
  it('block sizes outside 1..64 or not integers are ERR_RANGE', () => {
    for (const [br, bc] of [[0, 1], [1, 0], [65, 1], [1, 65], [1.5, 1], [NaN, 1], [-4, 4]]) {
      expectThrows(() => BsrMatrix.fromDense(f32(1), 1, 1, { blockRows: br, blockCols: bc }), IndexRangeError, 'ERR_RANGE', `${br}x${bc}`);
      expectThrows(() => new BsrMatrix(1, 1, { blockRows: br, blockCols: bc }, i32(0, 0), i32(), f32()), IndexRangeError, 'ERR_RANGE', `ctor ${br}x${bc}`);
    }
    expectThrows(() => BsrMatrix.fromDense(f32(1), 1, 1, bad(undefined)), IndexRangeError, 'ERR_RANGE', 'no options');
  });
  it('a block height the kernels lack (3x1) is ERR_FORMAT when multiplied', async () => {
    const a = BsrMatrix.fromDense(new Float32Array(36).fill(1), 6, 6, { blockRows: 3, blockCols: 1 });
    expectThrows(() => matmul(a, new Float32Array(6), 1), FormatError, 'ERR_FORMAT');
    expectThrows(() => a.prepare(), FormatError, 'ERR_FORMAT', 'prepare');
    await expectRejects(matmulAsync(a, new Float32Array(6), 1), FormatError, 'ERR_FORMAT', 'async');
  });
  it('malformed BSR structure is caught by the constructor', () => {
    const s = { blockRows: 2, blockCols: 2 };
    expectThrows(() => new BsrMatrix(4, 4, s, i32(0, 1), i32(0), f32(1, 2, 3, 4)), FormatError, 'ERR_FORMAT', 'rowPtr length');
    expectThrows(() => new BsrMatrix(4, 4, s, i32(0, 2, 1), i32(0), f32(1, 2, 3, 4)), FormatError, 'ERR_FORMAT', 'non-monotone');
    expectThrows(() => new BsrMatrix(4, 4, s, i32(0, 1, 1), i32(2), f32(1, 2, 3, 4)), IndexRangeError, 'ERR_RANGE', 'block col');
    expectThrows(() => new BsrMatrix(4, 4, s, i32(0, 2, 2), i32(1, 0), new Float32Array(8)), FormatError, 'ERR_FORMAT', 'unsorted');
    expectThrows(() => new BsrMatrix(4, 4, s, i32(0, 1, 1), i32(0), f32(1, 2, 3)), ShapeError, 'ERR_SHAPE', 'values length');
  });
});

describe('product arguments', () => {
  const a = csr23(); // 2 x 3
  it('x of the wrong length is ERR_SHAPE', () => {
    expectThrows(() => matmul(a, f32(1, 2), 1), ShapeError, 'ERR_SHAPE');
    expectThrows(() => matmul(a, new Float32Array(6), 3), ShapeError, 'ERR_SHAPE', 'n = 3 with 6 values');
    expectThrows(() => matmulTransposed(a, f32(1, 2, 3), 1), ShapeError, 'ERR_SHAPE', 'transposed');
    expectThrows(() => sddmm(a, f32(1, 2, 3), f32(1, 2, 3), 1), ShapeError, 'ERR_SHAPE', 'sddmm a');
    expectThrows(() => sddmm(a, f32(1, 2), f32(1, 2), 1), ShapeError, 'ERR_SHAPE', 'sddmm b');
  });
  it('a bad n is ERR_RANGE', () => {
    for (const n of [-1, 1.5, NaN, Infinity, bad('1'), bad(null)]) {
      expectThrows(() => matmul(a, f32(1, 2, 3), n), IndexRangeError, 'ERR_RANGE', `matmul n ${String(n)}`);
      expectThrows(() => matmulTransposed(a, f32(1, 2), n), IndexRangeError, 'ERR_RANGE', `transposed n ${String(n)}`);
      expectThrows(() => sddmm(a, f32(1, 2), f32(1, 2, 3), n), IndexRangeError, 'ERR_RANGE', `sddmm n ${String(n)}`);
    }
  });
  it('bias of the wrong length is ERR_SHAPE', () => {
    expectThrows(() => matmul(a, f32(1, 2, 3), 1, { bias: f32(1) }), ShapeError, 'ERR_SHAPE');
    expectThrows(() => matmul(a, f32(1, 2, 3), 1, { bias: f32(1, 2, 3) }), ShapeError, 'ERR_SHAPE', 'bias of cols length');
  });
  it('out of the wrong length is ERR_SHAPE', () => {
    expectThrows(() => matmul(a, f32(1, 2, 3), 1, { out: f32(0) }), ShapeError, 'ERR_SHAPE');
    expectThrows(() => matmulTransposed(a, f32(1, 2), 1, { out: f32(0, 0) }), ShapeError, 'ERR_SHAPE', 'transposed');
  });
  it("activation other than 'none' | 'relu' is ERR_RANGE", () => {
    // (undefined and null mean the default, 'none', like every other optional field read with ??)
    for (const act of ['gelu', 'RELU', '', 0, true]) {
      expectThrows(() => matmul(a, f32(1, 2, 3), 1, { activation: bad(act) }), IndexRangeError, 'ERR_RANGE', String(act));
    }
  });
  it('matmulTransposed on a dense or BSR matrix, and sddmm on anything but CSR, is ERR_FORMAT', () => {
    expectThrows(() => matmulTransposed(bad(Matrix.zeros(2, 3)), f32(1, 2), 1), FormatError, 'ERR_FORMAT', 'dense');
    const bsr = BsrMatrix.fromDense(new Float32Array(6), 2, 3, { blockRows: 1, blockCols: 1 });
    expectThrows(() => matmulTransposed(bad(bsr), f32(1, 2), 1), FormatError, 'ERR_FORMAT', 'bsr');
    expectThrows(() => sddmm(bad(Matrix.zeros(2, 3)), f32(1, 2), f32(1, 2, 3), 1), FormatError, 'ERR_FORMAT', 'sddmm dense');
    const nm = NmMatrix.fromDense(new Float32Array(8), 2, 4);
    expectThrows(() => sddmm(bad(nm), f32(1, 2), f32(1, 2, 3, 4), 1), FormatError, 'ERR_FORMAT', 'sddmm nm');
  });

  it('element-wise outputs sharing memory with their inputs are ERR_ALIAS (the kernels read inputs after writing)', () => {
    const x = new Float32Array(64).fill(-3);
    expectThrows(() => native.geluForward(x, x), NativeError, 'ERR_ALIAS', 'gelu in place');
    expectThrows(() => native.reluForward(x.subarray(0, 32), x.subarray(16, 48)), NativeError, 'ERR_ALIAS', 'relu overlapping');
    expectThrows(() => native.geluBackward(x, x.slice(), x), NativeError, 'ERR_ALIAS', 'gelu backward out = x');
    const img = new Float32Array(16);
    const pool = i32(1, 4, 4, 1, 2, 2, 2, 2, 0, 0, 2, 2);
    expectThrows(() => native.maxPoolForward(img, pool, img.subarray(0, 4)), NativeError, 'ERR_ALIAS', 'pool out in x');
    const geo = i32(1, 4, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4);
    const big = new Float32Array(16 + 9 * 16);
    expectThrows(() => native.im2colRows(big.subarray(0, 16), geo, 0, 4, big.subarray(8, 8 + 144)), NativeError, 'ERR_ALIAS', 'im2col col over x');
    // Disjoint parts of one buffer are fine, and the results are right.
    const buf = new Float32Array(128).fill(-3);
    native.geluForward(buf.subarray(0, 64), buf.subarray(64));
    expect(buf[64]).toBeCloseTo(-3 * 0.0013498980316301, 7);
  });

  it('out sharing memory with x or bias is ERR_ALIAS', () => {
    const sq = new CsrMatrix(3, 3, i32(0, 1, 2, 3), i32(0, 1, 2), f32(1, 2, 3));
    const x = f32(1, 2, 3);
    expectThrows(() => matmul(sq, x, 1, { out: x }), NativeError, 'ERR_ALIAS', 'out = x');
    const buf = new Float32Array(8);
    expectThrows(() => matmul(sq, buf.subarray(0, 3), 1, { out: buf.subarray(2, 5) }), NativeError, 'ERR_ALIAS', 'partial overlap');
    const bias = f32(0, 0, 0);
    expectThrows(() => matmul(sq, x, 1, { bias, out: bias }), NativeError, 'ERR_ALIAS', 'out = bias');
    expectThrows(() => matmulTransposed(sq, x, 1, { out: x }), NativeError, 'ERR_ALIAS', 'transposed out = x');
    const overBuf = new Float32Array(6);
    // Same buffer, disjoint ranges: not an alias.
    const y = matmul(sq, overBuf.subarray(0, 3).fill(1), 1, { out: overBuf.subarray(3, 6) });
    expect(Array.from(y)).toEqual([1, 2, 3]);
    // A Float32Array over x's bytes through another view is still caught.
    const xb = new Float32Array(3);
    expectThrows(() => matmul(sq, xb, 1, { out: new Float32Array(xb.buffer) }), NativeError, 'ERR_ALIAS', 'second view');
  });

  it('the async forms reject with the same classes (and never throw synchronously)', async () => {
    const sq = new CsrMatrix(3, 3, i32(0, 1, 2, 3), i32(0, 1, 2), f32(1, 2, 3));
    const x = f32(1, 2, 3);
    await expectRejects(matmulAsync(a, f32(1), 1), ShapeError, 'ERR_SHAPE', 'matmulAsync x');
    await expectRejects(matmulAsync(sq, x, 1, { out: x }), NativeError, 'ERR_ALIAS', 'matmulAsync alias');
    await expectRejects(matmulAsync(a, f32(1, 2, 3), 1, { activation: bad('gelu') }), IndexRangeError, 'ERR_RANGE', 'matmulAsync gelu');
    await expectRejects(matmulTransposedAsync(bad(Matrix.zeros(1, 1)), f32(1), 1), FormatError, 'ERR_FORMAT', 'transposedAsync dense');
    await expectRejects(sddmmAsync(a, f32(1), f32(1, 2, 3), 1), ShapeError, 'ERR_SHAPE', 'sddmmAsync');
  });

  it('a result beyond 2^31 - 1 elements is ERR_RANGE, before anything is allocated', () => {
    const tall = new CsrMatrix(2 ** 20, 0, new Int32Array(2 ** 20 + 1), i32(), f32());
    expectThrows(() => matmul(tall, f32(), 2 ** 11), IndexRangeError, 'ERR_RANGE', 'matmul rows * n');
    const wide = new CsrMatrix(0, 2 ** 20, i32(0), i32(), f32());
    expectThrows(() => matmulTransposed(wide, f32(), 2 ** 11), IndexRangeError, 'ERR_RANGE', 'matmulTransposed cols * n');
    expectThrows(() => native.matmul(native.prepareDense(2 ** 16, 0, f32()), f32(), 2 ** 15, null, false), IndexRangeError, 'ERR_RANGE', 'native');
  });

  it('setThreads rejects 0, fractions, NaN and > 1024 with ERR_RANGE', () => {
    for (const t of [0, -1, 1.5, NaN, 1025, bad('2')]) expectThrows(() => setThreads(t), IndexRangeError, 'ERR_RANGE', String(t));
  });
});

describe('the native boundary validates on its own', () => {
  const rp = i32(0, 2, 3);
  const ci = i32(0, 2, 1);
  const v = f32(1, 2, 3);

  it('prepareCsr: malformed arrays are typed errors', () => {
    expectThrows(() => native.prepareCsr(2, 3, i32(0, 2, 9), ci, v), FormatError, 'ERR_FORMAT', 'rowPtr past the end');
    expectThrows(() => native.prepareCsr(2, 3, i32(0, 2 ** 30, 3), ci, v), FormatError, 'ERR_FORMAT', 'rowPtr jumps far past the end');
    expectThrows(() => native.prepareCsr(2, 3, i32(0, 4, 3), ci, v), FormatError, 'ERR_FORMAT', 'non-monotone');
    expectThrows(() => native.prepareCsr(2, 3, i32(1, 2, 3), ci, v), FormatError, 'ERR_FORMAT', 'rowPtr[0]');
    expectThrows(() => native.prepareCsr(2, 3, i32(0, 2), ci, v), FormatError, 'ERR_FORMAT', 'rowPtr short');
    expectThrows(() => native.prepareCsr(2, 3, i32(), i32(), f32()), FormatError, 'ERR_FORMAT', 'rowPtr empty');
    expectThrows(() => native.prepareCsr(2, 3, rp, i32(0, 2), v), FormatError, 'ERR_FORMAT', 'colIdx short');
    expectThrows(() => native.prepareCsr(2, 3, rp, i32(0, 3, 1), v), IndexRangeError, 'ERR_RANGE', 'col == cols');
    expectThrows(() => native.prepareCsr(2, 3, rp, i32(0, -5, 1), v), IndexRangeError, 'ERR_RANGE', 'negative col');
    expectThrows(() => native.prepareCsr(2, 3, rp, i32(0, 70000, 1), v), IndexRangeError, 'ERR_RANGE', 'col beyond 16 bits');
    expectThrows(() => native.prepareCsr(2, 3, rp, i32(2, 0, 1), v), FormatError, 'ERR_FORMAT', 'unsorted');
    expectThrows(() => native.prepareCsr(2, 3, rp, i32(1, 1, 1), v), FormatError, 'ERR_FORMAT', 'duplicate');
  });

  it('prepare*: non-typed-array and wrong-typed arguments are ERR_TYPE, bad counts ERR_TYPE / ERR_RANGE', () => {
    expectThrows(() => native.prepareCsr(2, 3, bad([0, 2, 3]), ci, v), SparsennTypeError, 'ERR_TYPE', 'rowPtr array');
    expectThrows(() => native.prepareCsr(2, 3, rp, bad(new Uint32Array(3)), v), SparsennTypeError, 'ERR_TYPE', 'colIdx Uint32Array');
    expectThrows(() => native.prepareCsr(2, 3, rp, ci, bad(new Float64Array(3))), SparsennTypeError, 'ERR_TYPE', 'values Float64Array');
    expectThrows(() => native.prepareCsr(2, 3, rp, ci, bad(undefined)), SparsennTypeError, 'ERR_TYPE', 'values missing');
    expectThrows(() => native.prepareCsr(bad('2'), 3, rp, ci, v), SparsennTypeError, 'ERR_TYPE', 'rows string');
    expectThrows(() => bad<(...a: unknown[]) => unknown>(native.prepareCsr)(), SparsennTypeError, 'ERR_TYPE', 'no arguments');
    for (const d of [-1, 1.5, NaN, Infinity, 2 ** 31]) expectThrows(() => native.prepareCsr(d, 3, rp, ci, v), SparsennError, d === 2 ** 31 ? 'ERR_SHAPE' : 'ERR_RANGE', `rows ${d}`);
    expectThrows(() => native.prepareDense(2, 2, bad([1, 2, 3, 4])), SparsennTypeError, 'ERR_TYPE', 'dense array');
    expectThrows(() => native.prepareDense(2, 2, f32(1, 2, 3)), FormatError, 'ERR_FORMAT', 'dense length');
    expectThrows(() => native.prepareNm(1, 4, 2, 4, f32(1, 2), bad(new Int8Array(2))), SparsennTypeError, 'ERR_TYPE', 'nm indices');
    expectThrows(() => native.prepareBsr(2, 2, 1, 1, rp, ci, bad({})), SparsennTypeError, 'ERR_TYPE', 'bsr values object');
  });

  it('prepareConv: bad geometry, CSR and image lengths are typed errors; a good one convolves', () => {
    // 2 output channels over a 2 x 4 x 4 image, 3x3 kernel, padding 1: 18 weight columns.
    const geo = (...g: number[]) => i32(...g);
    const good = geo(2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4);
    const crp = i32(0, 1, 2);
    const cci = i32(4, 13); // channel 0 centre tap; channel 1 centre tap
    const cv = f32(2, -1);
    const h = native.prepareConv(2, 18, 1, good, crp, cci, cv);
    const x = new Float32Array(2 * 16).map((_, i) => i);
    const y = native.matmul(h, x, 1, null, false);
    expect(y.length).toBe(2 * 16);
    for (let p = 0; p < 16; p++) {
      expect(y[p]).toBe(2 * x[p]!);
      expect(y[16 + p]).toBe(-x[16 + p]!);
    }
    expectThrows(() => native.matmul(h, f32(1, 2), 1, null, false), ShapeError, 'ERR_SHAPE', 'image too short');
    expectThrows(() => native.matmul(h, x, 1, f32(1), false), ShapeError, 'ERR_SHAPE', 'bias per output channel');
    expectThrows(() => native.prepareConv(2, 18, 1, geo(2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4), crp, cci, cv), ShapeError, 'ERR_SHAPE', 'geometry short');
    expectThrows(() => native.prepareConv(2, 18, 1, geo(2, 4, 4, 3, 3, 1, 2, 1, 1, 1, 1, 4, 2), crp, cci, cv), IndexRangeError, 'ERR_RANGE', 'width stride 2');
    expectThrows(() => native.prepareConv(2, 18, 1, geo(2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 5, 4), crp, cci, cv), ShapeError, 'ERR_SHAPE', 'output height');
    expectThrows(() => native.prepareConv(2, 18, 1, geo(2, 4, 4, 3, 3, 1, 1, -1, 1, 1, 1, 2, 4), crp, cci, cv), IndexRangeError, 'ERR_RANGE', 'negative padding');
    expectThrows(() => native.prepareConv(2, 17, 1, good, crp, cci, cv), ShapeError, 'ERR_SHAPE', 'columns');
    expectThrows(() => native.prepareConv(2, 6, 3, good, crp, i32(4, 5), cv), ShapeError, 'ERR_SHAPE', 'groups');
    expectThrows(() => native.prepareConv(2, 18, 1, good, crp, i32(4, 18), cv), IndexRangeError, 'ERR_RANGE', 'tap out of range');
    expectThrows(() => native.prepareConv(2, 18, 1, good, i32(0, 2), cci, cv), FormatError, 'ERR_FORMAT', 'rowPtr short');
    expectThrows(() => native.prepareConv(2, 18, 1, bad([2, 4, 4]), crp, cci, cv), SparsennTypeError, 'ERR_TYPE', 'geometry array');
    h.dispose();
  });

  it('prepareNm: bad patterns, offsets and lengths', () => {
    const idx = (...o: number[]) => new Uint8Array(o);
    expectThrows(() => native.prepareNm(1, 4, 5, 4, f32(1, 2, 3, 4, 5), idx(0, 1, 2, 3, 4)), FormatError, 'ERR_FORMAT', 'N > M');
    expectThrows(() => native.prepareNm(1, 4, 0, 4, f32(), idx()), FormatError, 'ERR_FORMAT', 'N = 0');
    expectThrows(() => native.prepareNm(1, 4, 1, 0, f32(), idx()), FormatError, 'ERR_FORMAT', 'M = 0');
    expectThrows(() => native.prepareNm(1, 4, 1, 256, f32(1), idx(0)), IndexRangeError, 'ERR_RANGE', 'M = 256');
    expectThrows(() => native.prepareNm(1, 4, 2, 4, f32(1, 2), idx(0, 4)), IndexRangeError, 'ERR_RANGE', 'offset == M');
    expectThrows(() => native.prepareNm(1, 4, 2, 4, f32(1, 2), idx(0, 255)), IndexRangeError, 'ERR_RANGE', 'offset 255');
    expectThrows(() => native.prepareNm(1, 6, 2, 4, f32(1, 2, 3, 4), idx(0, 1, 1, 2)), IndexRangeError, 'ERR_RANGE', 'offset past the last column');
    expectThrows(() => native.prepareNm(1, 4, 2, 4, f32(1, 2), idx(3, 1)), FormatError, 'ERR_FORMAT', 'decreasing');
    expectThrows(() => native.prepareNm(1, 4, 2, 4, f32(1, 2), idx(0)), FormatError, 'ERR_FORMAT', 'indices short');
    expectThrows(() => native.prepareNm(2, 4, 2, 4, f32(1, 2), idx(0, 1)), FormatError, 'ERR_FORMAT', 'values short');
  });

  it('prepareBsr: bad block shapes and structure', () => {
    const z = (n: number) => new Float32Array(n);
    expectThrows(() => native.prepareBsr(3, 3, 3, 1, i32(0, 1), i32(0), z(3)), FormatError, 'ERR_FORMAT', 'height 3');
    expectThrows(() => native.prepareBsr(3, 3, 1, 0, i32(0, 0, 0, 0), i32(), z(0)), FormatError, 'ERR_FORMAT', 'width 0');
    expectThrows(() => native.prepareBsr(3, 130, 1, 65, i32(0, 0, 0, 0), i32(), z(0)), FormatError, 'ERR_FORMAT', 'width 65');
    expectThrows(() => native.prepareBsr(4, 4, 2, 2, i32(0, 1), i32(0), z(4)), FormatError, 'ERR_FORMAT', 'rowPtr length');
    expectThrows(() => native.prepareBsr(4, 4, 2, 2, i32(0, 3, 1), i32(0), z(4)), FormatError, 'ERR_FORMAT', 'non-monotone');
    expectThrows(() => native.prepareBsr(4, 4, 2, 2, i32(0, 1, 9), i32(0), z(4)), FormatError, 'ERR_FORMAT', 'rowPtr past the end');
    expectThrows(() => native.prepareBsr(4, 4, 2, 2, i32(1, 1, 1), i32(0), z(4)), FormatError, 'ERR_FORMAT', 'rowPtr[0]');
    expectThrows(() => native.prepareBsr(4, 4, 2, 2, i32(0, 1, 1), i32(2), z(4)), IndexRangeError, 'ERR_RANGE', 'block col');
    expectThrows(() => native.prepareBsr(4, 4, 2, 2, i32(0, 1, 1), i32(-1), z(4)), IndexRangeError, 'ERR_RANGE', 'negative block col');
    expectThrows(() => native.prepareBsr(4, 4, 2, 2, i32(0, 2, 2), i32(1, 1), z(8)), FormatError, 'ERR_FORMAT', 'repeated block col');
    expectThrows(() => native.prepareBsr(4, 4, 2, 2, i32(0, 1, 1), i32(0), z(3)), FormatError, 'ERR_FORMAT', 'values short');
  });

  it('products: handles of the wrong kind, malformed operands, aliasing', () => {
    const h = native.prepareCsr(2, 3, rp, ci, v);
    const dense = native.prepareDense(2, 3, new Float32Array(6));
    const bsr = native.prepareBsr(2, 3, 1, 1, rp, ci, v);
    expect(h.info()).toMatchObject({ disposed: false, format: 'csr', rows: 2, cols: 3 });
    for (const notHandle of [null, undefined, {}, { dispose() {}, info() {} }, f32(1), 7]) {
      expectThrows(() => native.matmul(bad(notHandle), f32(1, 2, 3), 1, null, false), SparsennTypeError, 'ERR_TYPE', `matmul ${String(notHandle)}`);
      expectThrows(() => native.matmulTransposed(bad(notHandle), f32(1, 2), 1), SparsennTypeError, 'ERR_TYPE', `transposed ${String(notHandle)}`);
      expectThrows(() => native.sddmm(bad(notHandle), f32(1, 2), f32(1, 2, 3), 1), SparsennTypeError, 'ERR_TYPE', `sddmm ${String(notHandle)}`);
    }
    expectThrows(() => native.matmulTransposed(dense, f32(1, 2), 1), FormatError, 'ERR_FORMAT', 'transposed on dense');
    expectThrows(() => native.matmulTransposed(bsr, f32(1, 2), 1), FormatError, 'ERR_FORMAT', 'transposed on bsr');
    expectThrows(() => native.sddmm(dense, f32(1, 2), f32(1, 2, 3), 1), FormatError, 'ERR_FORMAT', 'sddmm on dense');
    expectThrows(() => native.matmul(h, f32(1, 2), 1, null, false), ShapeError, 'ERR_SHAPE', 'x short');
    expectThrows(() => native.matmul(h, f32(1, 2, 3, 4), 1, null, false), ShapeError, 'ERR_SHAPE', 'x long');
    expectThrows(() => native.matmul(h, bad([1, 2, 3]), 1, null, false), SparsennTypeError, 'ERR_TYPE', 'x array');
    expectThrows(() => native.matmul(h, f32(1, 2, 3), bad('1'), null, false), SparsennTypeError, 'ERR_TYPE', 'n string');
    expectThrows(() => native.matmul(h, f32(1, 2, 3), -1, null, false), IndexRangeError, 'ERR_RANGE', 'n negative');
    expectThrows(() => native.matmul(h, f32(1, 2, 3), 2 ** 40, null, false), IndexRangeError, 'ERR_RANGE', 'n huge');
    expectThrows(() => native.matmul(h, f32(1, 2, 3), 1, f32(1), false), ShapeError, 'ERR_SHAPE', 'bias short');
    expectThrows(() => native.matmul(h, f32(1, 2, 3), 1, bad(new Float64Array(2)), false), SparsennTypeError, 'ERR_TYPE', 'bias Float64Array');
    expectThrows(() => native.matmul(h, f32(1, 2, 3), 1, null, false, f32(1)), ShapeError, 'ERR_SHAPE', 'out short');
    expectThrows(() => native.matmul(h, f32(1, 2, 3), 1, null, false, bad([0, 0])), SparsennTypeError, 'ERR_TYPE', 'out array');
    const xbuf = new Float32Array(4);
    expectThrows(() => native.matmul(h, xbuf.subarray(0, 3), 1, null, false, xbuf.subarray(2, 4)), NativeError, 'ERR_ALIAS', 'out overlaps x');
    const bias = f32(0, 0);
    expectThrows(() => native.matmul(h, f32(1, 2, 3), 1, bias, false, bias), NativeError, 'ERR_ALIAS', 'out = bias');
    const ab = new Float32Array(5);
    expectThrows(() => native.sddmm(h, ab.subarray(0, 2), f32(1, 2, 3), 1, ab.subarray(1, 4)), NativeError, 'ERR_ALIAS', 'sddmm out overlaps a');
    const bb = new Float32Array(3);
    expectThrows(() => native.sddmm(h, f32(1, 2), bb, 1, bb), NativeError, 'ERR_ALIAS', 'sddmm out = b');
    expectThrows(() => native.sddmm(h, f32(1, 2), f32(1, 2, 3), 1, f32(0)), ShapeError, 'ERR_SHAPE', 'sddmm out short');
    expectThrows(() => native.matmulTransposed(h, f32(1, 2), 1, f32(0)), ShapeError, 'ERR_SHAPE', 'transposed out short');
    // And correct calls still work through the same handles.
    expect(Array.from(native.matmul(h, f32(1, 1, 1), 1, null, false))).toEqual([3, 3]);
    expect(Array.from(native.matmul(bsr, f32(1, 1, 1), 1, null, false))).toEqual([3, 3]);
    h.dispose();
    dense.dispose();
    bsr.dispose();
  });

  it('a disposed handle is ERR_DISPOSED, synchronously and for the async forms', () => {
    const h = native.prepareCsr(2, 3, rp, ci, v);
    h.dispose();
    expect(h.info()).toEqual({ disposed: true });
    expectThrows(() => native.matmul(h, f32(1, 2, 3), 1, null, false), NativeError, 'ERR_DISPOSED', 'matmul');
    expectThrows(() => native.matmulTransposed(h, f32(1, 2), 1), NativeError, 'ERR_DISPOSED', 'transposed');
    expectThrows(() => native.sddmm(h, f32(1, 2), f32(1, 2, 3), 1), NativeError, 'ERR_DISPOSED', 'sddmm');
    expectThrows(() => native.matmulAsync(h, f32(1, 2, 3), 1, null, false), NativeError, 'ERR_DISPOSED', 'matmulAsync');
    expectThrows(() => native.matmulTransposedAsync(h, f32(1, 2), 1), NativeError, 'ERR_DISPOSED', 'transposedAsync');
    expectThrows(() => native.sddmmAsync(h, f32(1, 2), f32(1, 2, 3), 1), NativeError, 'ERR_DISPOSED', 'sddmmAsync');
    h.dispose(); // twice is harmless
  });

  it('disposing while an async product runs does not break it', async () => {
    const h = native.prepareCsr(2, 3, rp, ci, v);
    const p = native.matmulAsync(h, f32(1, 1, 1), 1, null, false);
    h.dispose();
    expect(Array.from(await p)).toEqual([3, 3]);
  });

  it('the async native forms validate synchronously too', () => {
    const h = native.prepareCsr(2, 3, rp, ci, v);
    expectThrows(() => native.matmulAsync(h, f32(1), 1, null, false), ShapeError, 'ERR_SHAPE', 'matmulAsync x');
    expectThrows(() => native.matmulTransposedAsync(h, f32(1), 1), ShapeError, 'ERR_SHAPE', 'transposedAsync x');
    expectThrows(() => native.sddmmAsync(h, f32(1, 2), f32(1, 2, 3), 1, f32(0)), ShapeError, 'ERR_SHAPE', 'sddmmAsync out length');
    expectThrows(() => native.matmulAsync(bad({}), f32(1, 2, 3), 1, null, false), SparsennTypeError, 'ERR_TYPE', 'matmulAsync handle');
    h.dispose();
  });

  it('native setThreads validates its argument', () => {
    for (const t of [0, -1, 1.5, NaN, 2000]) expectThrows(() => native.setThreads(t), IndexRangeError, 'ERR_RANGE', String(t));
    expectThrows(() => native.setThreads(bad('2')), SparsennTypeError, 'ERR_TYPE', 'string');
  });

  it('a disposed matrix object is prepared again on the next product', () => {
    const a = csr23();
    expect(Array.from(matmul(a, f32(1, 1, 1), 1))).toEqual([3, 3]);
    a.dispose();
    expect(Array.from(matmul(a, f32(1, 1, 1), 1))).toEqual([3, 3]);
  });
});
