/**
 * What every matrix type shares: shape, counts, and the lazily prepared native copy that the
 * kernels run on. The typed arrays a matrix exposes are its own; treat them as read-only. The
 * native copy is made (validated, converted and packed) the first time the matrix is
 * multiplied, or by prepare(), and reused after that: plan once, run many. Changing the arrays
 * afterwards does not change the prepared copy; build a new matrix instead.
 */
import type { NativeMatrix } from '../native.js';

/** Internal key of the native handle; not exported from the package. */
export const kNative: unique symbol = Symbol('sparsenn.native');

export type MatrixFormat = 'dense' | 'csr' | 'nm' | 'bsr';

export abstract class MatrixBase {
  abstract readonly format: MatrixFormat;
  readonly rows: number;
  readonly cols: number;
  #handle: NativeMatrix | null = null;

  protected constructor(rows: number, cols: number) {
    this.rows = rows;
    this.cols = cols;
  }

  /** Stored entries (for dense: nonzero entries). */
  abstract get nnz(): number;
  /** Bytes of the arrays that hold this matrix (values and indices). */
  abstract get byteSize(): number;
  /** A new row-major rows x cols Float32Array. */
  abstract toDense(): Float32Array;

  /** Fraction of the rows x cols entries that are stored (0 for an empty shape). */
  get density(): number {
    const size = this.rows * this.cols;
    return size === 0 ? 0 : this.nnz / size;
  }

  /** 1 - density. */
  get sparsity(): number {
    return 1 - this.density;
  }

  protected abstract createNative(): NativeMatrix;

  /** Prepares the native copy now rather than on the first product; returns this. */
  prepare(): this {
    this[kNative]();
    return this;
  }

  /** Frees the native copy (the next product prepares it again). */
  dispose(): void {
    this.#handle?.dispose();
    this.#handle = null;
  }

  /** @internal */
  [kNative](): NativeMatrix {
    if (this.#handle === null) this.#handle = this.createNative();
    return this.#handle;
  }
}
