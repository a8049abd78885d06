/** Dense row-major float32 matrix: the dense operand of every product and the GEMM weight type. */
import { checkDim, checkFloat32, checkLength, elementCount } from '../checks.js';
import { FormatError } from '../errors.js';
import { native, type NativeMatrix } from '../native.js';
import { MatrixBase } from './base.js';

export class Matrix extends MatrixBase {
  readonly format = 'dense' as const;
  /** Row-major values, length rows * cols (shared with the caller, not copied). */
  readonly data: Float32Array;

  constructor(data: Float32Array, rows: number, cols: number) {
    checkDim(rows, 'rows');
    checkDim(cols, 'cols');
    checkFloat32(data, 'data');
    checkLength(data, elementCount(rows, cols, 'matrix'), 'data (rows * cols)');
    super(rows, cols);
    this.data = data;
  }

  /** Same as the constructor; mirrors CsrMatrix.fromDense. */
  static fromDense(data: Float32Array, rows: number, cols: number): Matrix {
    return new Matrix(data, rows, cols);
  }

  static zeros(rows: number, cols: number): Matrix {
    return new Matrix(new Float32Array(elementCount(checkDim(rows, 'rows'), checkDim(cols, 'cols'), 'matrix')), rows, cols);
  }

  get nnz(): number {
    let n = 0;
    for (let i = 0; i < this.data.length; i++) if (this.data[i] !== 0) n++;
    return n;
  }

  get byteSize(): number {
    return this.data.byteLength;
  }

  toDense(): Float32Array {
    const d = this.#data();
    return d.length === 0 ? new Float32Array(0) : d.slice(); // an empty array may be detached
  }

  transpose(): Matrix {
    return new Matrix(transposeDense(this.#data(), this.rows, this.cols), this.cols, this.rows);
  }

  /** The data, checked: its buffer may have been transferred since the matrix was made. */
  #data(): Float32Array {
    if (this.data.length !== this.rows * this.cols)
      throw new FormatError('ERR_FORMAT', `the matrix's data holds ${this.data.length} floats, expected rows * cols = ${this.rows * this.cols} (was its buffer transferred?)`);
    return this.data;
  }

  protected createNative(): NativeMatrix {
    return native.prepareDense(this.rows, this.cols, this.data);
  }
}

/** Row-major transpose of a rows x cols array. */
export function transposeDense(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}
