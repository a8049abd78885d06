/**
 * Block sparse row matrix: the matrix is tiled into blockRows x blockCols blocks and only
 * nonzero blocks are stored, each as blockRows * blockCols values (row-major inside the block),
 * with one block-column index per block and row pointers per block row. Row blocks (4x1, 8x1)
 * let the kernel load each vector of X once for several output rows. Edge blocks past the last
 * row or column are padded with zeros. The native kernels take block heights 1, 2, 4 and 8.
 */
import { checkCompressed, checkCount, checkDim, checkFloat32, checkInt32, checkLength, elementCount } from '../checks.js';
import { FormatError } from '../errors.js';
import { native, type NativeMatrix } from '../native.js';
import { keepCount, topKMask, type KeepTarget } from '../select.js';
import { MatrixBase } from '../tensor/base.js';

export interface BlockShape {
  blockRows: number;
  blockCols: number;
}

export interface BsrFromDenseOptions extends BlockShape, KeepTarget {}

export const MAX_BLOCK = 64;

export class BsrMatrix extends MatrixBase {
  readonly format = 'bsr' as const;
  readonly blockRows: number;
  readonly blockCols: number;
  /** Per block row: the range of its blocks (length ceil(rows / blockRows) + 1). */
  readonly rowPtr: Int32Array;
  /** Block-column index of each block, strictly increasing within a block row. */
  readonly colIdx: Int32Array;
  readonly values: Float32Array;

  constructor(rows: number, cols: number, shape: BlockShape, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array) {
    checkDim(rows, 'rows');
    checkDim(cols, 'cols');
    const blockRows = checkCount(shape?.blockRows, 'blockRows', 1, MAX_BLOCK);
    const blockCols = checkCount(shape?.blockCols, 'blockCols', 1, MAX_BLOCK);
    checkInt32(rowPtr, 'rowPtr');
    checkInt32(colIdx, 'colIdx');
    checkFloat32(values, 'values');
    checkCompressed(rowPtr, colIdx, Math.ceil(rows / blockRows), Math.ceil(cols / blockCols), 'BSR');
    checkLength(values, colIdx.length * blockRows * blockCols, 'values (blocks * blockRows * blockCols)');
    super(rows, cols);
    this.blockRows = blockRows;
    this.blockCols = blockCols;
    this.rowPtr = rowPtr;
    this.colIdx = colIdx;
    this.values = values;
  }

  /**
   * Tiles a dense array into blocks. By default every block with a nonzero entry is stored;
   * with `sparsity`, `density` or `nnz` (counted in blocks), exactly that many blocks of largest
   * L2 norm are kept (ties go to the lower block index).
   */
  static fromDense(data: Float32Array, rows: number, cols: number, opts: BsrFromDenseOptions): BsrMatrix {
    checkDim(rows, 'rows');
    checkDim(cols, 'cols');
    checkFloat32(data, 'data');
    checkLength(data, elementCount(rows, cols, 'matrix'), 'data (rows * cols)');
    const br = checkCount(opts?.blockRows, 'blockRows', 1, MAX_BLOCK);
    const bc = checkCount(opts?.blockCols, 'blockCols', 1, MAX_BLOCK);
    const bRows = Math.ceil(rows / br);
    const bCols = Math.ceil(cols / bc);
    const norms = new Float64Array(bRows * bCols);
    const nonzero = new Uint8Array(bRows * bCols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = data[r * cols + c];
        const b = Math.floor(r / br) * bCols + Math.floor(c / bc);
        if (v !== 0) nonzero[b] = 1;
        norms[b] += Number.isNaN(v) ? Infinity : v * v;
      }
    }
    const targeted = opts.sparsity !== undefined || opts.density !== undefined || opts.nnz !== undefined;
    const keep = targeted ? topKMask(norms, keepCount(norms.length, opts, 'BsrMatrix.fromDense')) : nonzero;
    const rowPtr = new Int32Array(bRows + 1);
    const cols_: number[] = [];
    for (let b = 0; b < bRows; b++) {
      for (let c = 0; c < bCols; c++) if (keep[b * bCols + c]) cols_.push(c);
      rowPtr[b + 1] = cols_.length;
    }
    const colIdx = Int32Array.from(cols_);
    const values = new Float32Array(colIdx.length * br * bc);
    for (let b = 0; b < bRows; b++) {
      for (let q = rowPtr[b]; q < rowPtr[b + 1]; q++) {
        for (let i = 0; i < br; i++) {
          const r = b * br + i;
          if (r >= rows) break;
          for (let j = 0; j < bc; j++) {
            const c = colIdx[q] * bc + j;
            if (c < cols) values[(q * br + i) * bc + j] = data[r * cols + c];
          }
        }
      }
    }
    return new BsrMatrix(rows, cols, { blockRows: br, blockCols: bc }, rowPtr, colIdx, values);
  }

  get blockCount(): number {
    return this.colIdx.length;
  }

  /** Stored entries inside the matrix (the zero padding of edge blocks is not counted). */
  get nnz(): number {
    const { rows, cols, blockRows: br, blockCols: bc } = this;
    const lastRowBlock = this.rowPtr.length - 2;
    const lastColBlock = Math.ceil(cols / bc) - 1;
    const edgeRows = rows - lastRowBlock * br;
    const edgeCols = cols - lastColBlock * bc;
    let n = 0;
    for (let b = 0; b <= lastRowBlock; b++) {
      const h = b === lastRowBlock ? edgeRows : br;
      for (let q = this.rowPtr[b]; q < this.rowPtr[b + 1]; q++) n += h * (this.colIdx[q] === lastColBlock ? edgeCols : bc);
    }
    return n;
  }

  get byteSize(): number {
    return this.rowPtr.byteLength + this.colIdx.byteLength + this.values.byteLength;
  }

  toDense(): Float32Array {
    const { rows, cols, blockRows: br, blockCols: bc } = this;
    const out = new Float32Array(elementCount(rows, cols, 'the dense form'));
    for (let b = 0; b + 1 < this.rowPtr.length; b++) {
      for (let q = this.rowPtr[b]; q < this.rowPtr[b + 1]; q++) {
        for (let i = 0; i < br && b * br + i < rows; i++) {
          for (let j = 0; j < bc && this.colIdx[q] * bc + j < cols; j++) {
            out[(b * br + i) * cols + this.colIdx[q] * bc + j] = this.values[(q * br + i) * bc + j];
          }
        }
      }
    }
    return out;
  }

  /** The transpose, with transposed blocks (a 4x1 matrix becomes 1x4). */
  transpose(): BsrMatrix {
    const { blockRows: br, blockCols: bc } = this;
    const bRows = this.rowPtr.length - 1;
    const bCols = Math.ceil(this.cols / bc);
    const tp = new Int32Array(bCols + 1);
    for (const c of this.colIdx) tp[c + 1]++;
    for (let c = 0; c < bCols; c++) tp[c + 1] += tp[c];
    const next = tp.slice(0, bCols);
    const tc = new Int32Array(this.colIdx.length);
    const tv = new Float32Array(this.values.length);
    for (let b = 0; b < bRows; b++) {
      for (let q = this.rowPtr[b]; q < this.rowPtr[b + 1]; q++) {
        const t = next[this.colIdx[q]]++;
        tc[t] = b;
        for (let i = 0; i < br; i++) for (let j = 0; j < bc; j++) tv[(t * bc + j) * br + i] = this.values[(q * br + i) * bc + j];
      }
    }
    return new BsrMatrix(this.cols, this.rows, { blockRows: bc, blockCols: br }, tp, tc, tv);
  }

  protected createNative(): NativeMatrix {
    if (![1, 2, 4, 8].includes(this.blockRows)) {
      throw new FormatError('ERR_FORMAT', `the BSR kernels support block heights 1, 2, 4 and 8; this matrix has ${this.blockRows} (convert it with BsrMatrix.fromDense(m.toDense(), ...))`);
    }
    return native.prepareBsr(this.rows, this.cols, this.blockRows, this.blockCols, this.rowPtr, this.colIdx, this.values);
  }
}
