/**
 * N:M semi-structured sparse matrix: along each row, every group of M consecutive columns keeps
 * exactly N entries (2:4, 1:4, 4:8, ... any 1 <= N <= M <= 16 here). Storage is regular: for
 * row r and group g the N kept values sit at values[(r * groups + g) * N + j], and their offsets
 * inside the group (0..M-1, strictly increasing) in `indices` at the same position — one byte
 * of metadata per kept value instead of a 4-byte column index, and no row pointers at all,
 * since every row holds the same count. When cols is not a multiple of M the last group is
 * shorter; it must still have room for N entries.
 */
import { checkCount, checkDim, checkFloat32, checkLength, checkUint8, elementCount } from '../checks.js';
import { FormatError, IndexRangeError, ShapeError } from '../errors.js';
import { native, type NativeMatrix } from '../native.js';
import { MatrixBase } from '../tensor/base.js';
import { CsrMatrix } from './csr.js';

export interface NmPattern {
  /** Entries kept per group. */
  n: number;
  /** Group length. */
  m: number;
}

export const MAX_NM_GROUP = 16;

export class NmMatrix extends MatrixBase {
  readonly format = 'nm' as const;
  readonly n: number;
  readonly m: number;
  /** Groups per row: ceil(cols / m). */
  readonly groups: number;
  readonly values: Float32Array;
  /** Offset of each kept value inside its group. */
  readonly indices: Uint8Array;

  constructor(rows: number, cols: number, pattern: NmPattern, values: Float32Array, indices: Uint8Array) {
    checkDim(rows, 'rows');
    checkDim(cols, 'cols');
    const { n, m } = checkPattern(pattern, cols);
    checkFloat32(values, 'values');
    checkUint8(indices, 'indices');
    const groups = Math.ceil(cols / m);
    const expected = elementCount(rows, groups * n, 'N:M storage');
    checkLength(values, expected, 'values (rows * ceil(cols / M) * N)');
    checkLength(indices, expected, 'indices (rows * ceil(cols / M) * N)');
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groups; g++) {
        const width = Math.min(m, cols - g * m);
        for (let j = 0; j < n; j++) {
          const p = (r * groups + g) * n + j;
          if (indices[p] >= width) throw new IndexRangeError('ERR_RANGE', `N:M offset ${indices[p]} at row ${r}, group ${g} is out of range; expected < ${width}`);
          if (j > 0 && indices[p] <= indices[p - 1]) throw new FormatError('ERR_FORMAT', `N:M offsets in row ${r}, group ${g} must be strictly increasing`);
        }
      }
    }
    super(rows, cols);
    this.n = n;
    this.m = m;
    this.groups = groups;
    this.values = values;
    this.indices = indices;
  }

  /**
   * Keeps, in every group of M consecutive columns of each row, the N entries of largest
   * magnitude (ties go to the lower column), as N:M hardware and kernels expect.
   */
  static fromDense(data: Float32Array, rows: number, cols: number, pattern: NmPattern = { n: 2, m: 4 }): NmMatrix {
    checkDim(rows, 'rows');
    checkDim(cols, 'cols');
    checkFloat32(data, 'data');
    checkLength(data, elementCount(rows, cols, 'matrix'), 'data (rows * cols)');
    const { n, m } = checkPattern(pattern, cols);
    const groups = Math.ceil(cols / m);
    const values = new Float32Array(rows * groups * n);
    const indices = new Uint8Array(rows * groups * n);
    const order = new Int32Array(m);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groups; g++) {
        const base = r * cols + g * m;
        const width = Math.min(m, cols - g * m);
        for (let i = 0; i < width; i++) order[i] = i;
        // Partial selection by magnitude, stable on ties (insertion sort: width <= 16).
        for (let i = 1; i < width; i++) {
          const v = order[i];
          const mag = magnitude(data[base + v]);
          let j = i - 1;
          while (j >= 0 && magnitude(data[base + order[j]]) < mag) {
            order[j + 1] = order[j];
            j--;
          }
          order[j + 1] = v;
        }
        const kept = Array.from(order.subarray(0, n)).sort((a, b) => a - b);
        for (let j = 0; j < n; j++) {
          const p = (r * groups + g) * n + j;
          indices[p] = kept[j];
          values[p] = data[base + kept[j]];
        }
      }
    }
    return new NmMatrix(rows, cols, { n, m }, values, indices);
  }

  /** Stored entries: rows * groups * N (explicit zeros included). */
  get nnz(): number {
    return this.values.length;
  }

  get byteSize(): number {
    return this.values.byteLength + this.indices.byteLength;
  }

  /** Column of the entry stored at position p. */
  columnAt(p: number): number {
    const group = Math.floor(p / this.n) % this.groups;
    return group * this.m + this.indices[p];
  }

  toDense(): Float32Array {
    const out = new Float32Array(this.rows * this.cols);
    const perRow = this.groups * this.n;
    for (let p = 0; p < this.values.length; p++) {
      const r = Math.floor(p / perRow);
      out[r * this.cols + this.columnAt(p)] = this.values[p];
    }
    return out;
  }

  /** The same entries as CSR (explicit zeros kept). */
  toCsr(): CsrMatrix {
    const perRow = this.groups * this.n;
    const rowPtr = new Int32Array(this.rows + 1);
    for (let r = 0; r <= this.rows; r++) rowPtr[r] = r * perRow;
    const colIdx = new Int32Array(this.values.length);
    for (let p = 0; p < colIdx.length; p++) colIdx[p] = this.columnAt(p);
    return new CsrMatrix(this.rows, this.cols, rowPtr, colIdx, this.values.slice());
  }

  /** The transpose. Its rows are not N:M in general, so it is returned as CSR. */
  transpose(): CsrMatrix {
    return this.toCsr().transpose();
  }

  protected createNative(): NativeMatrix {
    return native.prepareNm(this.rows, this.cols, this.n, this.m, this.values, this.indices);
  }
}

function magnitude(v: number): number {
  return Number.isNaN(v) ? -1 : Math.abs(v);
}

function checkPattern(pattern: NmPattern, cols: number): NmPattern {
  if (typeof pattern !== 'object' || pattern === null) throw new FormatError('ERR_FORMAT', 'N:M pattern must be an object { n, m }');
  const m = checkCount(pattern.m, 'M (group length)', 1, MAX_NM_GROUP);
  const n = checkCount(pattern.n, 'N (kept per group)', 1, m);
  const rem = cols % m;
  if (rem !== 0 && rem < n) {
    throw new ShapeError('ERR_SHAPE', `cols = ${cols} leaves a last group of ${rem} columns, fewer than N = ${n}; use a column count that is a multiple of M = ${m} or leaves at least N in the last group`);
  }
  return { n, m };
}
