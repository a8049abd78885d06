/**
 * Y = W X (+ b): the product behind Linear and Conv2d (on im2col columns), with its backward.
 *
 * W is a parameter seen as rows x cols (its first dimension by the rest), X is cols x n
 * (batch-last), Y rows x n. When W carries a mask sparse enough (see {@link sparseExecution}),
 * the pass runs on the sparse kernels: CSR SpMM forward, transposed SpMM for dX and SDDMM for
 * dW at the kept positions only; otherwise masked dense GEMM. Both give the same results up to
 * float rounding, and in both the gradient of a pruned weight is exactly zero.
 */
import { IndexRangeError, ShapeError } from '../../errors.js';
import { float32Uninit } from '../../alloc.js';
import { native, type NativeMatrix } from '../../native.js';
import type { Parameter } from '../parameter.js';
import { accumulateOwnedGrad, opResult, type Tensor } from '../tensor.js';

/** How a masked weight is executed: 'auto' picks by density, or force one path. */
export type WeightExecution = 'auto' | 'dense' | 'sparse';

let defaultThreshold = 0.3;

/**
 * Sets the density at or below which masked weights run on the sparse kernels in 'auto'
 * mode (default 0.3: measured on this project's kernels, CSR SpMM and its training
 * counterparts overtake dense GEMM between 30% and 50% density, see docs/benchmarks).
 */
export function setSparseThreshold(density: number): void {
  if (!(density >= 0 && density <= 1)) throw new IndexRangeError('ERR_RANGE', `the sparse threshold is a density in [0, 1], got ${density}`);
  defaultThreshold = density;
}

export function getSparseThreshold(): number {
  return defaultThreshold;
}

/** Whether `w` runs sparse under `mode`. */
export function sparseExecution(w: Parameter, mode: WeightExecution): boolean {
  if (mode === 'dense') return false;
  if (mode === 'sparse') return true;
  return w.mask !== null && w.density() <= defaultThreshold;
}

/** Row sums of g (rows x n), the bias gradient: a GEMV with a vector of ones (vectorised). */
let ones = new Float32Array(0);
export function rowSums(g: Float32Array, rows: number, n: number): Float32Array {
  if (ones.length < n) ones = new Float32Array(Math.max(n, 2 * ones.length)).fill(1);
  return native.gemm(rows, n, 1, g, false, ones.subarray(0, n), false);
}


/**
 * Y = W X + b for W (rows x cols) and X (cols x n); `x` may be any tensor whose size is
 * cols * n (e.g. im2col columns). `rows`/`cols` default to W's first dimension and the rest.
 */
export function weightProduct(x: Tensor, w: Parameter, bias: Parameter | null, mode: WeightExecution = 'auto'): Tensor {
  const rows = w.shape[0]!;
  const cols = rows === 0 ? 0 : w.size / rows;
  const n = x.batch;
  if (x.size !== cols * n)
    throw new ShapeError('ERR_SHAPE', `weight [${w.shape.join(', ')}] needs an input of ${cols} features per sample, got shape [${x.shape.join(', ')}]`);
  if (bias && bias.size !== rows) throw new ShapeError('ERR_SHAPE', `bias has ${bias.size} values, expected ${rows}`);
  return sparseExecution(w, mode) ? sparseProduct(x, w, bias, rows, cols, n) : denseProduct(x, w, bias, rows, cols, n);
}

function denseProduct(x: Tensor, w: Parameter, bias: Parameter | null, rows: number, cols: number, n: number): Tensor {
  // The pruned weights are already zero (Parameter keeps that invariant), so the dense
  // product of W is the masked product.
  const y = native.gemm(rows, cols, n, w.data, false, x.data, false, float32Uninit(rows * n), bias ? bias.data : null);
  const inputs = bias ? [x, w, bias] : [x, w];
  // dX needs the weights of this forward pass, even if they are updated before backward().
  const wAtForward = x.requiresGrad && w.requiresGrad ? w.data.slice() : w.data;
  return opResult(y, [rows, n], inputs, 'linear', (g) => {
    if (x.requiresGrad) accumulateOwnedGrad(x, native.gemm(cols, rows, n, wAtForward, true, g, false, float32Uninit(cols * n)));
    if (w.requiresGrad) {
      const dw = native.gemm(rows, n, cols, g, false, x.data, true, float32Uninit(rows * cols));
      w.captureDense(dw);
      const mask = w.mask;
      if (mask) for (let i = 0; i < dw.length; i++) if (mask[i] === 0) dw[i] = 0;
      accumulateOwnedGrad(w, dw);
    }
    if (bias?.requiresGrad) accumulateOwnedGrad(bias, rowSums(g, rows, n));
  });
}

/**
 * The native CSR matrix of a parameter's mask, prepared once per mask version; each step only
 * swaps in the current values (csrSetValues, O(nnz)). `stamp` counts value swaps, so a backward
 * pass can tell whether a later forward pass changed the values under it and restore its own.
 */
interface SparseCache {
  maskVersion: number;
  handle: NativeMatrix;
  stamp: number;
}

const sparseCaches = new WeakMap<Parameter, SparseCache>();

function sparseHandle(w: Parameter, rows: number, cols: number, values: Float32Array): SparseCache {
  let cache = sparseCaches.get(w);
  if (cache && cache.maskVersion === w.maskVersion) {
    native.csrSetValues(cache.handle, values);
    cache.stamp++;
    return cache;
  }
  cache?.handle.dispose(); // the old mask's matrix (a collected parameter frees its own with the handle)
  const pattern = w.maskPattern();
  const handle = native.prepareCsr(rows, cols, pattern.rowPtr, pattern.colIdx, values);
  cache = { maskVersion: w.maskVersion, handle, stamp: 0 };
  sparseCaches.set(w, cache);
  return cache;
}

function sparseProduct(x: Tensor, w: Parameter, bias: Parameter | null, rows: number, cols: number, n: number): Tensor {
  const pattern = w.maskPattern();
  const values = float32Uninit(pattern.active.length);
  native.gather(w.data, pattern.active, values);
  const cache = sparseHandle(w, rows, cols, values);
  const stamp = cache.stamp;
  const maskVersion = w.maskVersion;
  const y = native.matmul(cache.handle, x.data, n, bias ? bias.data : null, false, float32Uninit(rows * n));
  const inputs = bias ? [x, w, bias] : [x, w];
  return opResult(y, [rows, n], inputs, 'linear(sparse)', (g) => {
    if (w.maskVersion !== maskVersion) throw new ShapeError('ERR_SHAPE', 'the mask of a sparse weight changed between its forward and backward pass; change masks between steps');
    if (cache.stamp !== stamp) {
      native.csrSetValues(cache.handle, values);
      cache.stamp++;
    }
    if (x.requiresGrad) accumulateOwnedGrad(x, native.matmulTransposed(cache.handle, g, n, float32Uninit(cols * n)));
    if (w.requiresGrad) {
      w.accumulateKeptGrad(native.sddmm(cache.handle, g, x.data, n), true);
      if (w.captureDenseGrad) w.captureDense(native.gemm(rows, n, cols, g, false, x.data, true, float32Uninit(rows * cols)));
    }
    if (bias?.requiresGrad) accumulateOwnedGrad(bias, rowSums(g, rows, n));
  });
}
