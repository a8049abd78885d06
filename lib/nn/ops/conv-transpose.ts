/**
 * 2-D transposed convolution (PyTorch's ConvTranspose2d, ONNX ConvTranspose) of batch-last
 * images, with gradients for the input, the (possibly masked) weight and the bias:
 * `convTranspose2d(x, weight [Cin, Cout / groups, kh, kw], bias | null, opts)`, its option check
 * (shared with the ConvTranspose2d module) and its output-size formula. Computed with the same
 * native GEMM, im2col and col2im kernels as conv2d (ops/conv.ts).
 */
import { float32Uninit } from '../../alloc.js';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { native } from '../../native.js';
import { Parameter } from '../parameter.js';
import { accumulateOwnedGrad, opResult, Tensor } from '../tensor.js';
import { toPair, type Pair } from './conv.js';
import { checkActivation, describe, fmt } from './tensor-op-checks.js';

/** Options of {@link convTranspose2d}; PyTorch's meaning and defaults. */
export interface ConvTranspose2dOpOptions {
  /** Default 1. */
  stride?: Pair;
  /** Removed from each side of the full output; default 0. */
  padding?: Pair;
  /** Added to the bottom / right of the output; must be smaller than the stride or the dilation; default 0. */
  outputPadding?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** Default 1. */
  groups?: number;
}

/** The checked geometry of a transposed convolution. */
export interface ConvTransposeGeometry {
  stride: [number, number];
  padding: [number, number];
  outputPadding: [number, number];
  dilation: [number, number];
  groups: number;
}

export function checkConvTransposeOptions(opts: ConvTranspose2dOpOptions, what = 'convTranspose2d'): ConvTransposeGeometry {
  const stride = toPair(opts.stride ?? 1, `${what}: stride`, 1);
  const padding = toPair(opts.padding ?? 0, `${what}: padding`, 0);
  const outputPadding = toPair(opts.outputPadding ?? 0, `${what}: outputPadding`, 0);
  const dilation = toPair(opts.dilation ?? 1, `${what}: dilation`, 1);
  const groups = opts.groups ?? 1;
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1)
    throw new IndexRangeError('ERR_RANGE', `${what}: groups must be an integer >= 1, got ${String(groups)}`);
  for (let a = 0; a < 2; a++)
    if (outputPadding[a]! >= stride[a]! && outputPadding[a]! >= dilation[a]!)
      throw new IndexRangeError(
        'ERR_RANGE',
        `${what}: outputPadding ${fmt(outputPadding)} must be smaller than the stride ${fmt(stride)} or the dilation ${fmt(dilation)} on each axis`,
      );
  return { stride, padding, outputPadding, dilation, groups };
}

/** Output size of a transposed convolution axis: (in - 1) s - 2 p + d (k - 1) + outputPadding + 1. */
export function convTransposeOutputSize(size: number, kernel: number, stride: number, padding: number, dilation: number, outputPadding: number): number {
  return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1;
}

/**
 * 2-D transposed convolution (PyTorch's ConvTranspose2d, the adjoint of conv2d) of a batch-last
 * x [Cin, H, W, n] with weight [Cin, Cout / groups, kh, kw] and an optional bias [Cout]: output
 * [Cout, OH, OW, n], OH = (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1. Computed as a GEMM
 * W^T x into im2col columns, col2im onto the full (unpadded) output, then the crop by the
 * padding. The gradient of a masked (pruned) weight is exactly 0.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null, opts: ConvTranspose2dOpOptions = {}): Tensor {
  checkActivation(x, 'convTranspose2d: x');
  if (!(weight instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `convTranspose2d: the weight must be a Tensor, got ${describe(weight)}`);
  if (bias !== null && !(bias instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `convTranspose2d: the bias must be a Tensor or null, got ${describe(bias)}`);
  const geo = checkConvTransposeOptions(opts);
  const { groups } = geo;
  if (weight.rank !== 4) throw new ShapeError('ERR_SHAPE', `convTranspose2d: expected a weight [Cin, Cout / groups, kh, kw], got ${fmt(weight.shape)}`);
  const [cin, coutG, kh, kw] = weight.shape as [number, number, number, number];
  if (cin === 0 || coutG === 0 || kh === 0 || kw === 0) throw new ShapeError('ERR_SHAPE', `convTranspose2d: the weight ${fmt(weight.shape)} has a zero dimension`);
  if (cin % groups !== 0) throw new ShapeError('ERR_SHAPE', `convTranspose2d: groups (${groups}) must divide the input channels ${cin} (weight ${fmt(weight.shape)})`);
  const cout = coutG * groups;
  if (x.rank !== 4 || x.shape[0] !== cin)
    throw new ShapeError('ERR_SHAPE', `convTranspose2d: expected an input [${cin}, H, W, batch] (weight ${fmt(weight.shape)}), got ${fmt(x.shape)}`);
  if (bias && (bias.rank !== 1 || bias.size !== cout)) throw new ShapeError('ERR_SHAPE', `convTranspose2d: expected a bias of shape [${cout}], got ${fmt(bias.shape)}`);
  const [, h, w, n] = x.shape as [number, number, number, number];
  const [sh, sw] = geo.stride;
  const [ph, pw] = geo.padding;
  const [dh, dw] = geo.dilation;
  const [oph, opw] = geo.outputPadding;
  if (h === 0 || w === 0) throw new ShapeError('ERR_SHAPE', `convTranspose2d needs a non-empty image, got ${fmt(x.shape)}`);
  // The full output, before the padding is cropped: the conv2d input that x is the output of.
  const fh = (h - 1) * sh + dh * (kh - 1) + 1;
  const fw = (w - 1) * sw + dw * (kw - 1) + 1;
  const oh = fh - 2 * ph + oph;
  const ow = fw - 2 * pw + opw;
  if (oh < 1 || ow < 1)
    throw new ShapeError('ERR_SHAPE', `convTranspose2d: the padding ${fmt(geo.padding)} leaves an empty output (${oh}x${ow}) for the ${h}x${w} input`);
  const geom = Int32Array.from([cout, fh, fw, n, kh, kw, sh, sw, 0, 0, dh, dw, h, w]);
  const rowsG = coutG * kh * kw; // col rows per group
  const cinG = cin / groups;
  const len = h * w * n;
  const mask = weight instanceof Parameter ? weight.mask : null;
  // dx needs this forward pass's weights even if an optimizer step changes them before backward().
  const wd = x.requiresGrad && weight.requiresGrad ? weight.data.slice() : weight.data;
  const part = (a: Float32Array, gi: number, size: number) => a.subarray(gi * size, (gi + 1) * size);
  const col = float32Uninit(cout * kh * kw * len);
  const full = new Float32Array(cout * fh * fw * n);
  if (len > 0) {
    for (let gi = 0; gi < groups; gi++)
      native.gemm(rowsG, cinG, len, part(wd, gi, cinG * rowsG), true, part(x.data, gi, cinG * len), false, part(col, gi, rowsG * len));
    native.col2imAdd(col, geom, full);
  }
  const cropped = ph === 0 && pw === 0 && oh === fh && ow === fw;
  const y = cropped ? full : new Float32Array(cout * oh * ow * n);
  if (!cropped) cropCopy(full, y, cout, fh, fw, oh, ow, ph, pw, n, false);
  if (bias) {
    const plane = oh * ow * n;
    for (let c = 0; c < cout; c++) {
      const b = bias.data[c]!;
      for (let i = c * plane; i < (c + 1) * plane; i++) y[i]! += b;
    }
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return opResult(y, [cout, oh, ow, n], inputs, 'convTranspose2d', (g) => {
    let gfull = g;
    if (!cropped) {
      gfull = new Float32Array(cout * fh * fw * n);
      cropCopy(gfull, g, cout, fh, fw, oh, ow, ph, pw, n, true);
    }
    const dcol = float32Uninit(cout * kh * kw * len);
    if (len > 0) native.im2col(gfull, geom, dcol);
    if (x.requiresGrad) {
      const dx = new Float32Array(x.size);
      if (len > 0)
        for (let gi = 0; gi < groups; gi++)
          native.gemm(cinG, rowsG, len, part(wd, gi, cinG * rowsG), false, part(dcol, gi, rowsG * len), false, part(dx, gi, cinG * len));
      accumulateOwnedGrad(x, dx);
    }
    if (weight.requiresGrad) {
      const dw = new Float32Array(weight.size);
      if (len > 0)
        for (let gi = 0; gi < groups; gi++)
          native.gemm(cinG, len, rowsG, part(x.data, gi, cinG * len), false, part(dcol, gi, rowsG * len), true, part(dw, gi, cinG * rowsG));
      if (weight instanceof Parameter) weight.captureDense(dw);
      if (mask) for (let i = 0; i < dw.length; i++) if (mask[i] === 0) dw[i] = 0;
      accumulateOwnedGrad(weight, dw);
    }
    if (bias?.requiresGrad) {
      const db = new Float32Array(cout);
      const plane = oh * ow * n;
      for (let c = 0; c < cout; c++) {
        let s = 0;
        for (let i = c * plane; i < (c + 1) * plane; i++) s += g[i]!;
        db[c] = s;
      }
      accumulateOwnedGrad(bias, db);
    }
  });
}

/**
 * Copies between the full output [C, fh, fw, n] and the cropped one [C, oh, ow, n] (rows and
 * columns offset by the padding; cropped positions past the full output are zero). `toFull`
 * copies cropped -> full (the backward), else full -> cropped.
 */
function cropCopy(full: Float32Array, out: Float32Array, c: number, fh: number, fw: number, oh: number, ow: number, ph: number, pw: number, n: number, toFull: boolean): void {
  const cols = Math.max(0, Math.min(ow, fw - pw));
  for (let ci = 0; ci < c; ci++)
    for (let yi = 0; yi < oh; yi++) {
      const fy = yi + ph;
      if (fy >= fh) break;
      const fo = ((ci * fh + fy) * fw + pw) * n;
      const oo = (ci * oh + yi) * ow * n;
      if (toFull) full.set(out.subarray(oo, oo + cols * n), fo);
      else out.set(full.subarray(fo, fo + cols * n), oo);
    }
}
