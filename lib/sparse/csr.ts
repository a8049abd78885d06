/**
 * Compressed sparse row matrix (float32 values, int32 row pointers and column indices, columns
 * strictly increasing within a row). The native copy narrows column indices to 16 bits when
 * cols <= 65536, which cuts the bytes an SpMV streams from 8 to 6 per entry.
 */
import { checkCompressed, checkDim, checkFloat32, checkInt32, checkLength, elementCount } from '../checks.js';
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import { native, type NativeMatrix } from '../native.js';
import { keepCount, topKMask, type KeepTarget } from '../select.js';
import { MatrixBase } from '../tensor/base.js';

/** How fromDense chooses the entries to store. */
export interface CsrFromDenseOptions extends KeepTarget {
  /** Keep entries with |value| > threshold (default: keep every nonzero). */
  threshold?: number;
}

export class CsrMatrix extends MatrixBase {
  readonly format = 'csr' as const;
  readonly rowPtr: Int32Array;
  readonly colIdx: Int32Array;
  readonly values: Float32Array;

  /** Wraps the three arrays (not copied) after checking the structure. */
  constructor(rows: number, cols: number, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array) {
    checkDim(rows, 'rows');
    checkDim(cols, 'cols');
    checkInt32(rowPtr, 'rowPtr');
    checkInt32(colIdx, 'colIdx');
    checkFloat32(values, 'values');
    checkLength(colIdx, values.length, 'colIdx (one per value)');
    checkCompressed(rowPtr, colIdx, rows, cols, 'CSR');
    super(rows, cols);
    this.rowPtr = rowPtr;
    this.colIdx = colIdx;
    this.values = values;
  }

  /**
   * From a dense row-major array. By default every nonzero is stored (NaN counts as nonzero).
   * With `threshold`, entries with |value| > threshold are stored. With `sparsity`, `density`
   * or `nnz`, exactly that many entries of largest magnitude are stored (ties go to the
   * lower flat index), zeros included if the target asks for more entries than are nonzero.
   */
  static fromDense(data: Float32Array, rows: number, cols: number, opts: CsrFromDenseOptions = {}): CsrMatrix {
    if (opts === null || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', `CsrMatrix.fromDense options must be an object, got ${opts === null ? 'null' : typeof opts}`);
    checkDim(rows, 'rows');
    checkDim(cols, 'cols');
    checkFloat32(data, 'data');
    const size = elementCount(rows, cols, 'matrix');
    checkLength(data, size, 'data (rows * cols)');
    let keep: (i: number) => boolean;
    if (opts.sparsity !== undefined || opts.density !== undefined || opts.nnz !== undefined) {
      if (opts.threshold !== undefined) throw new IndexRangeError('ERR_RANGE', 'CsrMatrix.fromDense: give either threshold or a sparsity/density/nnz target, not both');
      const k = keepCount(size, opts, 'CsrMatrix.fromDense');
      const mask = topKMask(Float64Array.from(data, Math.abs), k);
      keep = (i) => mask[i] === 1;
    } else if (opts.threshold !== undefined) {
      const t = opts.threshold;
      if (typeof t !== 'number' || Number.isNaN(t)) throw new IndexRangeError('ERR_RANGE', `threshold must be a number, got ${String(t)}`);
      keep = (i) => Math.abs(data[i]) > t;
    } else {
      keep = (i) => data[i] !== 0;
    }
    const rowPtr = new Int32Array(rows + 1);
    let nnz = 0;
    for (let i = 0; i < size; i++) if (keep(i)) nnz++;
    const colIdx = new Int32Array(nnz);
    const values = new Float32Array(nnz);
    let p = 0;
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) {
        if (keep(base + c)) {
          colIdx[p] = c;
          values[p] = data[base + c];
          p++;
        }
      }
      rowPtr[r + 1] = p;
    }
    return new CsrMatrix(rows, cols, rowPtr, colIdx, values);
  }

  /** From coordinate triplets in any order; duplicates are summed. */
  static fromCoo(rows: number, cols: number, rowIdx: Int32Array, colIdx: Int32Array, values: Float32Array): CsrMatrix {
    checkDim(rows, 'rows');
    checkDim(cols, 'cols');
    checkInt32(rowIdx, 'rowIdx');
    checkInt32(colIdx, 'colIdx');
    checkFloat32(values, 'values');
    checkLength(rowIdx, values.length, 'rowIdx (one per value)');
    checkLength(colIdx, values.length, 'colIdx (one per value)');
    const n = values.length;
    for (let i = 0; i < n; i++) {
      if (rowIdx[i] < 0 || rowIdx[i] >= rows) throw new IndexRangeError('ERR_RANGE', `row index ${rowIdx[i]} at ${i} is out of range; expected 0 <= row < ${rows}`);
      if (colIdx[i] < 0 || colIdx[i] >= cols) throw new IndexRangeError('ERR_RANGE', `column index ${colIdx[i]} at ${i} is out of range; expected 0 <= col < ${cols}`);
    }
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => rowIdx[a] - rowIdx[b] || colIdx[a] - colIdx[b] || a - b);
    const rp = new Int32Array(rows + 1);
    const ci: number[] = [];
    const vs: number[] = [];
    let lastR = -1;
    let lastC = -1;
    for (const i of order) {
      if (rowIdx[i] === lastR && colIdx[i] === lastC) {
        vs[vs.length - 1] = Math.fround(vs[vs.length - 1] + values[i]);
        continue;
      }
      lastR = rowIdx[i];
      lastC = colIdx[i];
      ci.push(lastC);
      vs.push(values[i]);
      rp[lastR + 1]++;
    }
    for (let r = 0; r < rows; r++) rp[r + 1] += rp[r];
    return new CsrMatrix(rows, cols, rp, Int32Array.from(ci), Float32Array.from(vs));
  }

  get nnz(): number {
    return this.values.length;
  }

  get byteSize(): number {
    return this.rowPtr.byteLength + this.colIdx.byteLength + this.values.byteLength;
  }

  toDense(): Float32Array {
    const out = new Float32Array(elementCount(this.rows, this.cols, 'the dense form'));
    for (let r = 0; r < this.rows; r++) {
      for (let p = this.rowPtr[r]; p < this.rowPtr[r + 1]; p++) out[r * this.cols + this.colIdx[p]] = this.values[p];
    }
    return out;
  }

  /** The cols x rows transpose, as a new CSR matrix (counting sort: O(nnz + rows + cols)). */
  transpose(): CsrMatrix {
    const { rows, cols, rowPtr, colIdx, values } = this;
    const tp = new Int32Array(cols + 1);
    for (let p = 0; p < colIdx.length; p++) tp[colIdx[p] + 1]++;
    for (let c = 0; c < cols; c++) tp[c + 1] += tp[c];
    const next = tp.slice(0, cols);
    const tc = new Int32Array(colIdx.length);
    const tv = new Float32Array(values.length);
    for (let r = 0; r < rows; r++) {
      for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) {
        const q = next[colIdx[p]]++;
        tc[q] = r;
        tv[q] = values[p];
      }
    }
    return new CsrMatrix(cols, rows, tp, tc, tv);
  }

  /** The same pattern with other values (e.g. gradients from sddmm). */
  withValues(values: Float32Array): CsrMatrix {
    checkFloat32(values, 'values');
    checkLength(values, this.nnz, 'values (nnz)');
    return new CsrMatrix(this.rows, this.cols, this.rowPtr, this.colIdx, values);
  }

  protected createNative(): NativeMatrix {
    return native.prepareCsr(this.rows, this.cols, this.rowPtr, this.colIdx, this.values);
  }
}
