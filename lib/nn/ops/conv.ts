/**
 * 2-D convolution by im2col, in the batch-last layout, with its backward.
 *
 * An input [Cin, H, W, n] becomes the column matrix col [Cin * kh * kw, OH * OW * n]: row
 * (ci, ki, kj), column (oh, ow, b) holds x[ci, oh * sh - ph + ki * dh, ow * sw - pw + kj * dw, b]
 * (zero in the padding). Because the batch is the innermost axis of both, every copy is a run of
 * n contiguous values (a run of OW * n values when the stride is 1), and the product
 * W [Cout, Cin * kh * kw] · col is already the batch-last output [Cout, OH, OW, n].
 *
 * With one group the product is {@link weightProduct}: a masked weight runs on the sparse
 * kernels exactly as a Linear layer's does, and im2col is an autograd op of its own (its
 * backward is col2im, accumulating), so the recorded chain is im2col -> weightProduct -> view.
 * With several groups (depthwise included) each group is one dense GEMM on its rows of W (rows
 * are contiguous) and its slice of col, in one op with a hand-written backward; pruned weights
 * are zero by the Parameter invariant and their gradient is masked to exactly zero.
 *
 * A 1x1 kernel with stride 1 and no padding needs no im2col at all: col is x itself.
 */
import { checkCount } from '../../checks.js';
import { ShapeError, SparsennTypeError } from '../../errors.js';
import { float32Uninit } from '../../alloc.js';
import { native } from '../../native.js';
import { Parameter } from '../parameter.js';
import { accumulateOwnedGrad, opResult, Tensor } from '../tensor.js';
import { rowSums, weightProduct, type WeightExecution } from './weight-product.js';

/** A (height, width) pair; a single number means the same for both. */
export type Pair = number | readonly [number, number];

/** Options of {@link conv2d}. Missing entries take PyTorch's defaults. */
export interface Conv2dOpOptions {
  /** Default [1, 1]. */
  stride?: Pair;
  /** Zero padding on each side; default [0, 0]. */
  padding?: Pair;
  /** Default [1, 1]. */
  dilation?: Pair;
  /** Input and output channels are split into this many groups; default 1. */
  groups?: number;
  /**
   * How a masked weight runs (see weightProduct): 'auto' (default) picks the sparse kernels by
   * density. Only used with one group; grouped convolutions always run dense (masked).
   */
  execution?: WeightExecution;
}

/** Options of {@link im2col}. */
export interface Im2colOptions {
  kernelSize: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

/** Everything the im2col / col2im loops need. */
export interface ConvGeometry {
  /** Input channels, height, width, batch. */
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly n: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly dh: number;
  readonly dw: number;
  /** Output height and width. */
  readonly oh: number;
  readonly ow: number;
}

/**
 * Normalises a number or [h, w] pair of integers >= `min` (IndexRangeError otherwise; a value
 * that is neither a number nor a two-element array is a SparsennTypeError).
 */
export function toPair(value: unknown, name: string, min: number): [number, number] {
  if (typeof value === 'number') {
    checkCount(value, name, min);
    return [value, value];
  }
  if (Array.isArray(value) && value.length === 2) {
    checkCount(value[0], `${name}[0]`, min);
    checkCount(value[1], `${name}[1]`, min);
    return [value[0] as number, value[1] as number];
  }
  throw new SparsennTypeError('ERR_TYPE', `${name} must be an integer or a pair [h, w] of integers, got ${describe(value)}`);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** Output size of a convolution or pooling axis: floor((size + 2p - d(k - 1) - 1) / s) + 1. */
export function convOutputSize(size: number, kernel: number, stride: number, padding: number, dilation = 1): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Checks that `x` is a rank-4 batch-last tensor and returns its dims. */
export function checkImage(x: unknown, what: string): [number, number, number, number] {
  if (!(x instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `${what}: the input must be a Tensor, got ${describe(x)}`);
  if (x.rank !== 4) throw new ShapeError('ERR_SHAPE', `${what}: expected an input of rank 4 [C, H, W, batch], got shape [${x.shape.join(', ')}]`);
  return [x.shape[0]!, x.shape[1]!, x.shape[2]!, x.shape[3]!];
}

/**
 * The geometry of a convolution of `x` ([c, h, w, n]) with a kh x kw kernel; ShapeError when
 * the (padded, dilated) kernel does not fit the input (output size < 1).
 */
export function convGeometry(x: Tensor, kernel: [number, number], stride: [number, number], padding: [number, number], dilation: [number, number], what: string): ConvGeometry {
  const [c, h, w, n] = checkImage(x, what);
  const [kh, kw] = kernel;
  const [sh, sw] = stride;
  const [ph, pw] = padding;
  const [dh, dw] = dilation;
  const oh = convOutputSize(h, kh, sh, ph, dh);
  const ow = convOutputSize(w, kw, sw, pw, dw);
  if (oh < 1 || ow < 1) {
    const needH = dh * (kh - 1) + 1 - 2 * ph;
    const needW = dw * (kw - 1) + 1 - 2 * pw;
    throw new ShapeError(
      'ERR_SHAPE',
      `${what}: the ${kh}x${kw} kernel (dilation [${dh}, ${dw}], padding [${ph}, ${pw}]) needs an input of at least ${needH}x${needW}, got ${h}x${w} (input shape [${x.shape.join(', ')}])`,
    );
  }
  return { c, h, w, n, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow };
}

function geometryArray(g: ConvGeometry): Int32Array {
  return Int32Array.from([g.c, g.h, g.w, g.n, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow]);
}

/** Whether col would equal x (1x1 kernel, stride 1, no padding). */
function isIdentity(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;
}

/** A tensor with the same data and a new shape; the gradient passes through unchanged. */
function view(x: Tensor, shape: readonly number[], op: string): Tensor {
  // The gradient handed to a node is the engine's own buffer (freed right after), so it can
  // be passed on without a copy.
  return opResult(x.data, shape, [x], op, (g) => accumulateOwnedGrad(x, g));
}

function im2colGeometry(x: Tensor, g: ConvGeometry): Tensor {
  const rows = g.c * g.kh * g.kw;
  const cols = g.oh * g.ow * g.n;
  if (isIdentity(g)) return view(x, [rows, cols], 'im2col');
  // Native loops (the JS ones remain as the reference the tests compare with).
  const geom = geometryArray(g);
  const col = float32Uninit(rows * cols);
  native.im2col(x.data, geom, col);
  return opResult(col, [rows, cols], [x], 'im2col', (grad) => {
    const dx = new Float32Array(x.size);
    native.col2imAdd(grad, geom, dx);
    accumulateOwnedGrad(x, dx);
  });
}

/**
 * The im2col columns of a batch-last image x [C, H, W, n]: a tensor
 * [C * kh * kw, OH * OW * n] (rows (c, ki, kj), columns (oh, ow, b)), recorded for autograd
 * (its backward is col2im).
 */
export function im2col(x: Tensor, opts: Im2colOptions): Tensor {
  const kernel = toPair(opts.kernelSize, 'im2col: kernelSize', 1);
  const stride = toPair(opts.stride ?? 1, 'im2col: stride', 1);
  const padding = toPair(opts.padding ?? 0, 'im2col: padding', 0);
  const dilation = toPair(opts.dilation ?? 1, 'im2col: dilation', 1);
  return im2colGeometry(x, convGeometry(x, kernel, stride, padding, dilation, 'im2col'));
}

/**
 * 2-D convolution (PyTorch's cross-correlation) of a batch-last input x [Cin, H, W, n] with a
 * weight w [Cout, Cin / groups, kh, kw] and an optional bias [Cout]: output
 * [Cout, OH, OW, n], OH = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1 (OW likewise).
 * Records autograd for x, w and bias; the gradient of a pruned (masked) weight is exactly 0.
 */
export function conv2d(x: Tensor, w: Parameter, bias: Parameter | null, opts: Conv2dOpOptions = {}): Tensor {
  if (!(w instanceof Parameter)) throw new SparsennTypeError('ERR_TYPE', `conv2d: the weight must be a Parameter, got ${describe(w)}`);
  if (bias !== null && !(bias instanceof Parameter)) throw new SparsennTypeError('ERR_TYPE', `conv2d: the bias must be a Parameter or null, got ${describe(bias)}`);
  const stride = toPair(opts.stride ?? 1, 'conv2d: stride', 1);
  const padding = toPair(opts.padding ?? 0, 'conv2d: padding', 0);
  const dilation = toPair(opts.dilation ?? 1, 'conv2d: dilation', 1);
  const groups = checkCount(opts.groups ?? 1, 'conv2d: groups', 1);
  const execution = opts.execution ?? 'auto';
  if (execution !== 'auto' && execution !== 'dense' && execution !== 'sparse')
    throw new SparsennTypeError('ERR_TYPE', `conv2d: execution must be 'auto', 'dense' or 'sparse', got ${String(execution)}`);
  if (w.rank !== 4) throw new ShapeError('ERR_SHAPE', `conv2d: expected a weight of rank 4 [Cout, Cin / groups, kh, kw], got shape [${w.shape.join(', ')}]`);
  const [cout, cinG, kh, kw] = w.shape as [number, number, number, number];
  if (cout === 0 || cinG === 0 || kh === 0 || kw === 0)
    throw new ShapeError('ERR_SHAPE', `conv2d: expected a weight with no zero dimension, got shape [${w.shape.join(', ')}]`);
  if (cout % groups !== 0) throw new ShapeError('ERR_SHAPE', `conv2d: groups (${groups}) must divide the output channels, got ${cout} (weight [${w.shape.join(', ')}])`);
  const cin = cinG * groups;
  const dims = checkImage(x, 'conv2d');
  if (dims[0] !== cin)
    throw new ShapeError(
      'ERR_SHAPE',
      `conv2d: expected an input [${cin}, H, W, batch] (weight [${w.shape.join(', ')}], groups ${groups}), got shape [${x.shape.join(', ')}]`,
    );
  if (bias && (bias.rank !== 1 || bias.size !== cout))
    throw new ShapeError('ERR_SHAPE', `conv2d: expected a bias of shape [${cout}], got [${bias.shape.join(', ')}]`);
  const g = convGeometry(x, [kh, kw], stride, padding, dilation, 'conv2d');
  if (groups === 1) {
    const col = im2colGeometry(x, g);
    const y = weightProduct(col, w, bias, execution);
    return view(y, [cout, g.oh, g.ow, g.n], 'conv2d');
  }
  return groupedConv(x, w, bias, g, groups);
}

/** One dense GEMM per group on the group's weight rows and column rows, all in one op. */
function groupedConv(x: Tensor, w: Parameter, bias: Parameter | null, g: ConvGeometry, groups: number): Tensor {
  const cout = w.shape[0]!;
  const coutG = cout / groups;
  const k = (g.c / groups) * g.kh * g.kw; // rows of col per group = columns of W
  const len = g.oh * g.ow * g.n;
  const identity = isIdentity(g);
  let col: Float32Array;
  if (identity) col = x.data;
  else {
    col = float32Uninit(g.c * g.kh * g.kw * len);
    native.im2col(x.data, geometryArray(g), col);
  }
  const y = new Float32Array(cout * len);
  // dX needs the weights of this forward pass, even if they are updated before backward().
  const wd = x.requiresGrad && w.requiresGrad ? w.data.slice() : w.data;
  // Group gi's block of an array holding `groups` equal blocks.
  const part = (a: Float32Array, gi: number) => a.subarray((gi * a.length) / groups, ((gi + 1) * a.length) / groups);
  const eachGroup = (body: (gi: number) => void) => {
    if (len > 0) for (let gi = 0; gi < groups; gi++) body(gi);
  };
  const colG = col.subarray(0, groups * k * len); // (the identity case's x is exactly that long)
  eachGroup((gi) => native.gemm(coutG, k, len, part(wd, gi), false, part(colG, gi), false, part(y, gi), bias ? part(bias.data, gi) : null));
  const inputs = bias ? [x, w, bias] : [x, w];
  return opResult(y, [cout, g.oh, g.ow, g.n], inputs, 'conv2d(grouped)', (grad) => {
    if (x.requiresGrad) {
      const dcol = new Float32Array(groups * k * len);
      eachGroup((gi) => native.gemm(k, coutG, len, part(wd, gi), true, part(grad, gi), false, part(dcol, gi)));
      if (identity) accumulateOwnedGrad(x, dcol);
      else {
        const dx = new Float32Array(x.size);
        native.col2imAdd(dcol, geometryArray(g), dx);
        accumulateOwnedGrad(x, dx);
      }
    }
    if (w.requiresGrad) {
      const dw = new Float32Array(w.size);
      eachGroup((gi) => native.gemm(coutG, len, k, part(grad, gi), false, part(colG, gi), true, part(dw, gi)));
      w.captureDense(dw);
      const mask = w.mask;
      if (mask) for (let i = 0; i < dw.length; i++) if (mask[i] === 0) dw[i] = 0;
      accumulateOwnedGrad(w, dw);
    }
    if (bias?.requiresGrad) accumulateOwnedGrad(bias, rowSums(grad, cout, len));
  });
}
