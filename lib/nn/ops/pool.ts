/**
 * 2-D pooling in the batch-last layout ([C, H, W, n] -> [C, OH, OW, n]), with PyTorch's
 * semantics, and its backward. Every inner loop runs over the n contiguous batch values of one
 * position, in the input and the output alike.
 *
 * - maxPool2d: padding counts as -Infinity (it never wins); NaN propagates like PyTorch's
 *   (a NaN is taken as the maximum); ties go to the first position in the window (row-major).
 *   The forward records the argmax of every output, and the backward routes each output's
 *   gradient to it alone.
 * - avgPool2d: the mean over the window, dividing by the window size including padding
 *   (countIncludePad, the default) or by the number of input positions it covers.
 * - globalAvgPool: the mean over H and W, [C, H, W, n] -> [C, n].
 */
import { float32Uninit } from '../../alloc.js';
import { native } from '../../native.js';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { accumulateOwnedGrad, opResult, type Tensor } from '../tensor.js';
import { checkImage, convOutputSize, toPair, type Pair } from './conv.js';

/** Options of {@link maxPool2d} and {@link avgPool2d}. */
export interface Pool2dOptions {
  kernelSize: Pair;
  /** Default: the kernel size. */
  stride?: Pair;
  /** Implicit padding on each side, at most half the kernel; default 0. */
  padding?: Pair;
  /** Round the output size up instead of down (PyTorch's ceil_mode); default false. */
  ceilMode?: boolean;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by the full window, padding included (default true), or by the input positions covered. */
  countIncludePad?: boolean;
}

interface PoolGeometry {
  c: number;
  h: number;
  w: number;
  n: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  oh: number;
  ow: number;
}

/** PyTorch's pooling_output_shape: in ceil mode the last window must start inside the input or the left padding. */
function poolOutputSize(size: number, kernel: number, stride: number, padding: number, ceilMode: boolean): number {
  if (!ceilMode) return convOutputSize(size, kernel, stride, padding);
  let out = Math.floor((size + 2 * padding - kernel + stride - 1) / stride) + 1;
  if ((out - 1) * stride >= size + padding) out--;
  return out;
}

function poolGeometry(x: Tensor, opts: Pool2dOptions, what: string): PoolGeometry {
  if (opts === null || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', `${what}: options { kernelSize, stride?, padding? } are required`);
  const [c, h, w, n] = checkImage(x, what);
  const [kh, kw] = toPair(opts.kernelSize, `${what}: kernelSize`, 1);
  const [sh, sw] = toPair(opts.stride ?? [kh, kw], `${what}: stride`, 1);
  const [ph, pw] = toPair(opts.padding ?? 0, `${what}: padding`, 0);
  const ceilMode = opts.ceilMode ?? false;
  if (typeof ceilMode !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `${what}: ceilMode must be a boolean, got ${typeof ceilMode}`);
  if (2 * ph > kh || 2 * pw > kw)
    throw new IndexRangeError('ERR_RANGE', `${what}: padding must be at most half the kernel size, got padding [${ph}, ${pw}] for kernel [${kh}, ${kw}]`);
  const oh = poolOutputSize(h, kh, sh, ph, ceilMode);
  const ow = poolOutputSize(w, kw, sw, pw, ceilMode);
  if (oh < 1 || ow < 1)
    throw new ShapeError(
      'ERR_SHAPE',
      `${what}: the ${kh}x${kw} window (padding [${ph}, ${pw}]) needs an input of at least ${kh - 2 * ph}x${kw - 2 * pw}, got ${h}x${w} (input shape [${x.shape.join(', ')}])`,
    );
  return { c, h, w, n, kh, kw, sh, sw, ph, pw, oh, ow };
}

/**
 * Max pooling of a batch-last x [C, H, W, n] -> [C, OH, OW, n], OH = floor((H + 2p - k) / s) + 1
 * (ceil in ceilMode). Padding never wins; ties go to the first position of the window.
 */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const g = poolGeometry(x, opts, 'maxPool2d');
  const { c, h, w, n, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const out = float32Uninit(c * oh * ow * n);
  // The flat input index of each output's maximum (native loops: a JS compare per element
  // mispredicts on real activations).
  const arg = new Int32Array(out.length);
  native.maxPoolForward(x.data, Int32Array.from([c, h, w, n, kh, kw, sh, sw, ph, pw, oh, ow]), out, arg);
  return opResult(out, [c, oh, ow, n], [x], 'maxPool2d', (grad) => {
    const dx = new Float32Array(x.size);
    native.maxPoolBackward(grad, arg, dx);
    accumulateOwnedGrad(x, dx);
  });
}

/**
 * Average pooling of a batch-last x [C, H, W, n] -> [C, OH, OW, n]. With countIncludePad
 * (default) the divisor is the window size (clipped, as PyTorch does, to the padded input in
 * ceil mode), else the number of input positions the window covers.
 */
export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  const g = poolGeometry(x, opts, 'avgPool2d');
  const countIncludePad = opts.countIncludePad ?? true;
  if (typeof countIncludePad !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `avgPool2d: countIncludePad must be a boolean, got ${typeof countIncludePad}`);
  const { c, h, w, n, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const xd = x.data;
  const out = new Float32Array(c * oh * ow * n);
  // Per output position (not per channel or sample): window bounds and 1 / divisor.
  const positions = oh * ow;
  const hs = new Int32Array(positions);
  const he = new Int32Array(positions);
  const ws = new Int32Array(positions);
  const we = new Int32Array(positions);
  const scale = new Float64Array(positions);
  for (let o = 0; o < oh; o++)
    for (let q = 0; q < ow; q++) {
      const p = o * ow + q;
      let h0 = o * sh - ph;
      let w0 = q * sw - pw;
      let h1 = Math.min(h0 + kh, h + ph);
      let w1 = Math.min(w0 + kw, w + pw);
      const poolSize = (h1 - h0) * (w1 - w0);
      h0 = Math.max(h0, 0);
      w0 = Math.max(w0, 0);
      h1 = Math.min(h1, h);
      w1 = Math.min(w1, w);
      hs[p] = h0;
      he[p] = h1;
      ws[p] = w0;
      we[p] = w1;
      const covered = Math.max(h1 - h0, 0) * Math.max(w1 - w0, 0);
      const divisor = countIncludePad ? poolSize : covered;
      scale[p] = covered === 0 ? 0 : 1 / divisor;
    }
  const acc = new Float64Array(n);
  for (let ci = 0; ci < c; ci++)
    for (let p = 0; p < positions; p++) {
      acc.fill(0);
      for (let ih = hs[p]!; ih < he[p]!; ih++)
        for (let iw = ws[p]!; iw < we[p]!; iw++) {
          const ib = ((ci * h + ih) * w + iw) * n;
          for (let b = 0; b < n; b++) acc[b]! += xd[ib + b]!;
        }
      const ob = (ci * positions + p) * n;
      const s = scale[p]!;
      for (let b = 0; b < n; b++) out[ob + b] = acc[b]! * s;
    }
  return opResult(out, [c, oh, ow, n], [x], 'avgPool2d', (grad) => {
    const dx = new Float32Array(x.size);
    for (let ci = 0; ci < c; ci++)
      for (let p = 0; p < positions; p++) {
        const ob = (ci * positions + p) * n;
        const s = scale[p]!;
        for (let ih = hs[p]!; ih < he[p]!; ih++)
          for (let iw = ws[p]!; iw < we[p]!; iw++) {
            const ib = ((ci * h + ih) * w + iw) * n;
            for (let b = 0; b < n; b++) dx[ib + b]! += grad[ob + b]! * s;
          }
      }
    accumulateOwnedGrad(x, dx);
  });
}

/** The mean over the spatial axes: [C, H, W, n] -> [C, n]. */
export function globalAvgPool(x: Tensor): Tensor {
  const [c, h, w, n] = checkImage(x, 'globalAvgPool');
  const hw = h * w;
  if (hw === 0) throw new ShapeError('ERR_SHAPE', `globalAvgPool: expected a non-empty spatial extent, got shape [${x.shape.join(', ')}]`);
  const xd = x.data;
  const out = new Float32Array(c * n);
  const acc = new Float64Array(n);
  const s = 1 / hw;
  for (let ci = 0; ci < c; ci++) {
    acc.fill(0);
    const base = ci * hw * n;
    for (let p = 0; p < hw; p++) {
      const ib = base + p * n;
      for (let b = 0; b < n; b++) acc[b]! += xd[ib + b]!;
    }
    for (let b = 0; b < n; b++) out[ci * n + b] = acc[b]! * s;
  }
  return opResult(out, [c, n], [x], 'globalAvgPool', (grad) => {
    const dx = new Float32Array(x.size);
    const row = new Float32Array(n);
    for (let ci = 0; ci < c; ci++) {
      for (let b = 0; b < n; b++) row[b] = grad[ci * n + b]! * s;
      const base = ci * hw * n;
      for (let p = 0; p < hw; p++) {
        const ib = base + p * n;
        for (let b = 0; b < n; b++) dx[ib + b] = row[b]!;
      }
    }
    accumulateOwnedGrad(x, dx);
  });
}
