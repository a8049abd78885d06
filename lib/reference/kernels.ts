/**
 * Plain float64 reference products: the test oracle for every native kernel. Deliberately
 * simple loops over dense operands, sharing no code with the native side.
 */

type Real = Float32Array | Float64Array;

/** Y = A X (+ bias, ReLU) in float64; A rows x cols dense, X cols x n. */
export function referenceMatmul(a: Real, rows: number, cols: number, x: Real, n: number, bias?: Real, relu = false): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[r] : 0;
      for (let k = 0; k < cols; k++) s += a[r * cols + k] * x[k * n + j];
      y[r * n + j] = relu ? (s > 0 || Number.isNaN(s) ? s : 0) : s;
    }
  }
  return y;
}

/** sum_k |A[r,k]| |X[k,j]| (+ |bias[r]|): the scale of float32 rounding error in Y[r,j]. */
export function referenceAbsMatmul(a: Real, rows: number, cols: number, x: Real, n: number, bias?: Real): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? Math.abs(bias[r]) : 0;
      for (let k = 0; k < cols; k++) s += Math.abs(a[r * cols + k] * x[k * n + j]);
      y[r * n + j] = s;
    }
  }
  return y;
}

/** Y = Aᵀ X in float64; A rows x cols dense, X rows x n, Y cols x n. */
export function referenceMatmulTransposed(a: Real, rows: number, cols: number, x: Real, n: number): Float64Array {
  const y = new Float64Array(cols * n);
  for (let c = 0; c < cols; c++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += a[r * cols + c] * x[r * n + j];
      y[c * n + j] = s;
    }
  }
  return y;
}

/** out[p] = dot(A[r, :], B[col[p], :]) over a CSR pattern; A rows x n, B cols x n. */
export function referenceSddmm(rowPtr: Int32Array, colIdx: Int32Array, a: Real, b: Real, n: number): Float64Array {
  const out = new Float64Array(colIdx.length);
  for (let r = 0; r + 1 < rowPtr.length; r++) {
    for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[r * n + j] * b[colIdx[p] * n + j];
      out[p] = s;
    }
  }
  return out;
}
