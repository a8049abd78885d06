/**
 * Error bounds that lib/reference/kernels.ts does not provide directly: the sum of |terms| of
 * Aᵀ X and of an SDDMM, the scale of float32 rounding error in each output.
 */
import { referenceAbsMatmul, transposeDense } from '../../lib/index.js';

/** sum_r |A[r,c]| |X[r,j]|: the bound for Y = Aᵀ X (A rows x cols dense, X rows x n). */
export function referenceAbsMatmulTransposed(a: Float32Array, rows: number, cols: number, x: Float32Array, n: number): Float64Array {
  return referenceAbsMatmul(transposeDense(a, rows, cols), cols, rows, x, n);
}

/** sum_j |A[r,j]| |B[col,j]| for every stored (r, col) of the pattern. */
export function referenceAbsSddmm(rowPtr: Int32Array, colIdx: Int32Array, a: Float32Array, b: Float32Array, n: number): Float64Array {
  const out = new Float64Array(colIdx.length);
  for (let r = 0; r + 1 < rowPtr.length; r++) {
    for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.abs(a[r * n + j] * b[colIdx[p] * n + j]);
      out[p] = s;
    }
  }
  return out;
}
