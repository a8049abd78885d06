/**
 * ONNX Resize of the H and W axes of an image batch [C, H, W, n], with its gradient:
 * `resize(x, opts)` in 'nearest' or 'linear' (bilinear) mode, given scales or output sizes, with
 * ONNX's coordinate transformation and nearest-rounding modes. The option types and their check
 * live here too: the Resize module and the ONNX importer use them.
 */
import { float32Uninit } from '../../alloc.js';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { accumulateOwnedGrad, opResult, type Tensor } from '../tensor.js';
import { toPair } from './conv.js';
import { checkActivation, describe, fmt } from './tensor-op-checks.js';

export type ResizeMode = 'nearest' | 'linear';
export type CoordinateTransformationMode = 'half_pixel' | 'pytorch_half_pixel' | 'asymmetric' | 'align_corners' | 'tf_half_pixel_for_nn';
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';

/** Options of {@link resize}: exactly one of `scales` and `sizes` (for H and W). */
export interface ResizeOptions {
  /** Default 'nearest' (ONNX's default). 'linear' is bilinear on H and W. */
  mode?: ResizeMode;
  /** Output = floor(input * scale) per axis; scales > 0. */
  scales?: readonly [number, number];
  /** Output sizes [OH, OW] (>= 1); the scale is then OH / H (and OW / W). */
  sizes?: readonly [number, number];
  /** How an output coordinate maps to an input one; default 'half_pixel'. */
  coordinateTransformationMode?: CoordinateTransformationMode;
  /** Rounding of the mapped coordinate in 'nearest' mode; default 'round_prefer_floor'. */
  nearestMode?: NearestMode;
}

const RESIZE_MODES: readonly ResizeMode[] = ['nearest', 'linear'];
const CT_MODES: readonly CoordinateTransformationMode[] = ['half_pixel', 'pytorch_half_pixel', 'asymmetric', 'align_corners', 'tf_half_pixel_for_nn'];
const NEAREST_MODES: readonly NearestMode[] = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

/** Resize options with every default filled in, checked. */
export interface ResolvedResizeOptions {
  mode: ResizeMode;
  scales: [number, number] | null;
  sizes: [number, number] | null;
  coordinateTransformationMode: CoordinateTransformationMode;
  nearestMode: NearestMode;
}

export function checkResizeOptions(opts: ResizeOptions, what = 'resize'): ResolvedResizeOptions {
  if (typeof opts !== 'object' || opts === null) throw new SparsennTypeError('ERR_TYPE', `${what}: options must be an object, got ${describe(opts)}`);
  const mode = opts.mode ?? 'nearest';
  if (!RESIZE_MODES.includes(mode)) throw new SparsennTypeError('ERR_TYPE', `${what}: mode must be one of ${RESIZE_MODES.join(', ')}, got ${String(mode)}`);
  const ct = opts.coordinateTransformationMode ?? 'half_pixel';
  if (!CT_MODES.includes(ct)) throw new SparsennTypeError('ERR_TYPE', `${what}: coordinateTransformationMode must be one of ${CT_MODES.join(', ')}, got ${String(ct)}`);
  const nm = opts.nearestMode ?? 'round_prefer_floor';
  if (!NEAREST_MODES.includes(nm)) throw new SparsennTypeError('ERR_TYPE', `${what}: nearestMode must be one of ${NEAREST_MODES.join(', ')}, got ${String(nm)}`);
  const hasScales = opts.scales !== undefined && opts.scales !== null;
  const hasSizes = opts.sizes !== undefined && opts.sizes !== null;
  if (hasScales === hasSizes) throw new SparsennTypeError('ERR_TYPE', `${what}: give exactly one of scales [sh, sw] and sizes [OH, OW]`);
  let scales: [number, number] | null = null;
  let sizes: [number, number] | null = null;
  if (hasScales) {
    const s = opts.scales as unknown;
    if (!Array.isArray(s) || s.length !== 2 || s.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v <= 0))
      throw new IndexRangeError('ERR_RANGE', `${what}: scales must be two finite numbers > 0 [sh, sw], got ${Array.isArray(s) ? fmt(s) : describe(s)}`);
    scales = [s[0] as number, s[1] as number];
  } else {
    sizes = toPair(opts.sizes, `${what}: sizes`, 1);
  }
  return { mode, scales, sizes, coordinateTransformationMode: ct, nearestMode: nm };
}

/** Per output index along one axis: the two input taps and the weight of the second. */
interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float64Array;
}

function roundNearest(v: number, mode: NearestMode): number {
  switch (mode) {
    case 'floor':
      return Math.floor(v);
    case 'ceil':
      return Math.ceil(v);
    case 'round_prefer_floor':
      return Number.isInteger(v - 0.5) ? Math.floor(v) : Math.round(v);
    case 'round_prefer_ceil':
      return Number.isInteger(v - 0.5) ? Math.ceil(v) : Math.round(v);
  }
}

/** ONNX Resize's coordinate mapping and interpolation taps along one axis (ONNX Runtime's clamping). */
function axisTaps(inLen: number, outLen: number, scale: number, o: ResolvedResizeOptions): AxisTaps {
  const i0 = new Int32Array(outLen);
  const i1 = new Int32Array(outLen);
  const w1 = new Float64Array(outLen);
  for (let x = 0; x < outLen; x++) {
    let xo: number;
    switch (o.coordinateTransformationMode) {
      case 'half_pixel':
        xo = (x + 0.5) / scale - 0.5;
        break;
      case 'pytorch_half_pixel':
        xo = outLen > 1 ? (x + 0.5) / scale - 0.5 : 0;
        break;
      case 'asymmetric':
        xo = x / scale;
        break;
      case 'align_corners':
        xo = outLen === 1 ? 0 : (x * (inLen - 1)) / (outLen - 1);
        break;
      case 'tf_half_pixel_for_nn':
        xo = (x + 0.5) / scale;
        break;
    }
    if (o.mode === 'nearest') {
      const i = Math.min(Math.max(roundNearest(xo, o.nearestMode), 0), inLen - 1);
      i0[x] = i;
      i1[x] = i;
      w1[x] = 0;
    } else {
      const c = Math.min(Math.max(xo, 0), inLen - 1);
      const f = Math.floor(c);
      i0[x] = f;
      i1[x] = Math.min(f + 1, inLen - 1);
      w1[x] = c - f;
    }
  }
  return { i0, i1, w1 };
}

/** The output size [OH, OW] of a resize of an H x W image. */
export function resizeOutputSize(h: number, w: number, o: ResolvedResizeOptions): [number, number] {
  if (o.sizes) return [o.sizes[0], o.sizes[1]];
  return [Math.floor(h * o.scales![0]), Math.floor(w * o.scales![1])];
}

/**
 * ONNX Resize of the H and W axes of [C, H, W, n]: 'nearest' or 'linear' (bilinear) with the
 * given coordinate transformation; indices outside the image are clamped to the edge (ONNX
 * Runtime's behaviour). Output [C, OH, OW, n]; the gradient scatters with the same weights.
 */
export function resize(x: Tensor, opts: ResizeOptions): Tensor {
  checkActivation(x, 'resize: x');
  const o = checkResizeOptions(opts);
  if (x.rank !== 4) throw new ShapeError('ERR_SHAPE', `resize needs an image batch [C, H, W, batch], got ${fmt(x.shape)}`);
  const [c, h, w, n] = x.shape as [number, number, number, number];
  if (h === 0 || w === 0) throw new ShapeError('ERR_SHAPE', `resize needs a non-empty image, got ${fmt(x.shape)}`);
  const [oh, ow] = resizeOutputSize(h, w, o);
  if (oh < 1 || ow < 1) throw new ShapeError('ERR_SHAPE', `resize: the output ${oh}x${ow} of the ${h}x${w} input is empty (scales ${fmt(o.scales ?? [])})`);
  const sh = o.scales ? o.scales[0] : oh / h;
  const sw = o.scales ? o.scales[1] : ow / w;
  const ty = axisTaps(h, oh, sh, o);
  const tx = axisTaps(w, ow, sw, o);
  const xd = x.data;
  const y = float32Uninit(c * oh * ow * n);
  const rowIn = w * n;
  const plane = h * rowIn;
  for (let ci = 0; ci < c; ci++)
    for (let yi = 0; yi < oh; yi++) {
      const wy = ty.w1[yi]!;
      const r0 = ci * plane + ty.i0[yi]! * rowIn;
      const r1 = ci * plane + ty.i1[yi]! * rowIn;
      for (let xi = 0; xi < ow; xi++) {
        const wx = tx.w1[xi]!;
        const c0 = tx.i0[xi]! * n;
        const c1 = tx.i1[xi]! * n;
        const w00 = (1 - wy) * (1 - wx), w01 = (1 - wy) * wx, w10 = wy * (1 - wx), w11 = wy * wx;
        const dst = ((ci * oh + yi) * ow + xi) * n;
        for (let j = 0; j < n; j++)
          y[dst + j] = w00 * xd[r0 + c0 + j]! + w01 * xd[r0 + c1 + j]! + w10 * xd[r1 + c0 + j]! + w11 * xd[r1 + c1 + j]!;
      }
    }
  return opResult(y, [c, oh, ow, n], [x], 'resize', (g) => {
    const dx = new Float32Array(x.size);
    for (let ci = 0; ci < c; ci++)
      for (let yi = 0; yi < oh; yi++) {
        const wy = ty.w1[yi]!;
        const r0 = ci * plane + ty.i0[yi]! * rowIn;
        const r1 = ci * plane + ty.i1[yi]! * rowIn;
        for (let xi = 0; xi < ow; xi++) {
          const wx = tx.w1[xi]!;
          const c0 = tx.i0[xi]! * n;
          const c1 = tx.i1[xi]! * n;
          const w00 = (1 - wy) * (1 - wx), w01 = (1 - wy) * wx, w10 = wy * (1 - wx), w11 = wy * wx;
          const src = ((ci * oh + yi) * ow + xi) * n;
          for (let j = 0; j < n; j++) {
            const gv = g[src + j]!;
            dx[r0 + c0 + j]! += w00 * gv;
            dx[r0 + c1 + j]! += w01 * gv;
            dx[r1 + c0 + j]! += w10 * gv;
            dx[r1 + c1 + j]! += w11 * gv;
          }
        }
      }
    accumulateOwnedGrad(x, dx);
  });
}
