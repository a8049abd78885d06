/**
 * Modules over the general tensor ops of ops/ (broadcast.ts, unary.ts, matmul-acts.ts,
 * indexing.ts, reduce.ts, resize.ts, conv-transpose.ts): the building blocks the ONNX importer
 * maps operators to (and the exporter maps back). Inputs are batch-last; every axis is a sample
 * axis (0 = the first non-batch axis, negative counts back from the last sample axis).
 *
 * ```
 * new Elementwise(op: 'add' | 'sub' | 'mul' | 'div' | 'pow', opts?: { constant?: { data: Float32Array; shape: number[] }; constantFirst?: boolean })
 * new Unary(op: 'sqrt' | 'erf' | 'exp' | 'log' | 'neg' | 'abs' | 'reciprocal')
 * new Clip(min: number, max: number)                      // ±Infinity allowed
 * new MatMulActs()                                        // forward(a, b)
 * new Transpose(perm: number[])
 * new Slice(starts: number[], ends: number[], axes?: number[] | null, steps?: number[] | null)
 * new Gather(indices: Int32Array | number[], indicesShape: number[], axis: number)
 * new ReduceMean(axes: number[] | null, keepdims = true)  // null: every sample axis
 * new Resize(opts: ResizeOptions)                         // [C, H, W, n]
 * new ConvTranspose2d(inChannels, outChannels, kernelSize, opts?: ConvTranspose2dOptions)
 * new Identity()
 * ```
 *
 * Constants (the Elementwise operand, the Gather indices) are module buffers (`constant`,
 * `indices`), so stateDict() and saveModel() carry them; config() holds only shapes and
 * attributes, and fromConfig() rebuilds the module with zero-filled buffers for loadStateDict().
 * Each type is listed in lib/nn/registry.ts, so moduleFromConfig() rebuilds it.
 */
import { checkCount } from '../../checks.js';
import { FormatError, ShapeError, SparsennTypeError } from '../../errors.js';
import { kaimingUniform, uniform, type InitOptions } from '../init.js';
import { Module, type ModuleConfig } from '../module.js';
import { toPair, type Pair } from '../ops/conv.js';
import { checkBinaryOp, checkConstant, elementwise, elementwiseConst, type BinaryOp } from '../ops/broadcast.js';
import { checkConvTransposeOptions, convTranspose2d } from '../ops/conv-transpose.js';
import { checkSliceArgs, gather, slice, transpose } from '../ops/indexing.js';
import { matmulActs } from '../ops/matmul-acts.js';
import { reduceMean } from '../ops/reduce.js';
import { checkResizeOptions, resize, type CoordinateTransformationMode, type NearestMode, type ResizeMode, type ResizeOptions } from '../ops/resize.js';
import { checkClipBounds, checkUnaryOp, clip, unary, type UnaryOpName } from '../ops/unary.js';
import { Parameter } from '../parameter.js';
import { shapeSize, Tensor } from '../tensor.js';
import { stateArray } from '../state-arrays.js';

function checkInput(x: unknown, layer: string, what = 'input'): Tensor {
  if (!(x instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `${layer}: ${what} must be a Tensor, got ${x === undefined ? 'nothing' : typeof x}`);
  return x;
}

function checkArity(inputs: readonly unknown[], expected: number, layer: string): void {
  if (inputs.length !== expected)
    throw new SparsennTypeError('ERR_TYPE', `${layer}.forward takes ${expected} input${expected === 1 ? '' : 's'}, got ${inputs.length}`);
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new SparsennTypeError('ERR_TYPE', `${what} must be an array of integers, got ${v === null ? 'null' : typeof v}`);
  const out = Array.from(v as ArrayLike<number>);
  for (const [i, d] of out.entries())
    if (typeof d !== 'number' || !Number.isInteger(d)) throw new SparsennTypeError('ERR_TYPE', `${what}[${i}] must be an integer, got ${String(d)}`);
  return out;
}

function checkAxis(axis: unknown, what: string): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) throw new SparsennTypeError('ERR_TYPE', `${what} must be an integer, got ${String(axis)}`);
  return axis;
}

// ----------------------------------------------------------------------------- arithmetic --

export interface ElementwiseOptions {
  /** A constant operand of a sample shape (no batch axis), broadcast numpy-style; copied. */
  constant?: { data: Float32Array; shape: readonly number[] };
  /** With a constant: compute constant op x (e.g. 1 / x, 2 ^ x) instead of x op constant. */
  constantFirst?: boolean;
}

/**
 * A binary op with numpy broadcasting over the sample shapes: of two activations
 * (forward(a, b), same batch size) or of an activation and a constant buffer (forward(x)).
 */
export class Elementwise extends Module {
  readonly op: BinaryOp;
  readonly constantFirst: boolean;
  /** The constant operand (the buffer `constant`, updated in place by loadStateDict), or null. */
  readonly constant: Float32Array | null;
  /** The constant's sample shape, or null without a constant. */
  readonly constantShape: readonly number[] | null;

  constructor(op: BinaryOp, opts: ElementwiseOptions = {}) {
    super();
    this.op = checkBinaryOp(op, 'Elementwise');
    if (typeof opts !== 'object' || opts === null) throw new SparsennTypeError('ERR_TYPE', 'Elementwise options must be an object');
    this.constantFirst = opts.constantFirst ?? false;
    if (typeof this.constantFirst !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `Elementwise constantFirst must be a boolean, got ${String(opts.constantFirst)}`);
    if (opts.constant !== undefined) {
      const c = checkConstant(opts.constant, 'Elementwise constant');
      this.constantShape = Object.freeze([...c.shape]);
      this.constant = this.registerBuffer('constant', c.data.slice(), [...c.shape]);
    } else {
      if (this.constantFirst) throw new SparsennTypeError('ERR_TYPE', 'Elementwise: constantFirst needs a constant');
      this.constant = null;
      this.constantShape = null;
    }
  }

  forward(...inputs: Tensor[]): Tensor {
    if (this.constant) {
      checkArity(inputs, 1, `Elementwise(${this.op}, constant)`);
      return elementwiseConst(this.op, checkInput(inputs[0], 'Elementwise'), { data: this.constant, shape: this.constantShape! }, this.constantFirst);
    }
    checkArity(inputs, 2, `Elementwise(${this.op})`);
    return elementwise(this.op, checkInput(inputs[0], 'Elementwise', 'first input'), checkInput(inputs[1], 'Elementwise', 'second input'));
  }

  config(): ModuleConfig {
    return { type: 'Elementwise', op: this.op, constantShape: this.constantShape ? [...this.constantShape] : null, constantFirst: this.constantFirst };
  }

  static fromConfig(c: ModuleConfig): Elementwise {
    const shape = c['constantShape'];
    if (shape === null || shape === undefined) return new Elementwise(c['op'] as BinaryOp);
    const s = intList(shape, 'Elementwise constantShape');
    return new Elementwise(c['op'] as BinaryOp, {
      constant: { data: stateArray(shapeSize(s, 'Elementwise constantShape')), shape: s },
      constantFirst: (c['constantFirst'] as boolean | undefined) ?? false,
    });
  }
}

/** An element-wise math function with its derivative. */
export class Unary extends Module {
  readonly op: UnaryOpName;
  constructor(op: UnaryOpName) {
    super();
    this.op = checkUnaryOp(op, 'Unary');
  }
  forward(x: Tensor): Tensor {
    return unary(this.op, checkInput(x, 'Unary'));
  }
  config(): ModuleConfig {
    return { type: 'Unary', op: this.op };
  }
  static fromConfig(c: ModuleConfig): Unary {
    return new Unary(c['op'] as UnaryOpName);
  }
}

/** min(max(x, min), max); ±Infinity leaves a side open (ONNX Clip; ReLU6 is Clip(0, 6)). */
export class Clip extends Module {
  readonly min: number;
  readonly max: number;
  constructor(min = -Infinity, max = Infinity) {
    super();
    [this.min, this.max] = checkClipBounds(min, max, 'Clip');
  }
  forward(x: Tensor): Tensor {
    return clip(checkInput(x, 'Clip'), this.min, this.max);
  }
  /** Infinite bounds are null in the JSON (JSON has no Infinity). */
  config(): ModuleConfig {
    return { type: 'Clip', min: Number.isFinite(this.min) ? this.min : null, max: Number.isFinite(this.max) ? this.max : null };
  }
  static fromConfig(c: ModuleConfig): Clip {
    return new Clip((c['min'] as number | null | undefined) ?? -Infinity, (c['max'] as number | null | undefined) ?? Infinity);
  }
}

/** numpy matmul of two activations' sample shapes per batch element (attention's Q K^T and A V). */
export class MatMulActs extends Module {
  forward(...inputs: Tensor[]): Tensor {
    checkArity(inputs, 2, 'MatMulActs');
    return matmulActs(checkInput(inputs[0], 'MatMulActs', 'first input'), checkInput(inputs[1], 'MatMulActs', 'second input'));
  }
  config(): ModuleConfig {
    return { type: 'MatMulActs' };
  }
  static fromConfig(): MatMulActs {
    return new MatMulActs();
  }
}

// -------------------------------------------------------------------------- data movement --

/** Permutes the sample axes: output axis i is input axis perm[i]. */
export class Transpose extends Module {
  readonly perm: readonly number[];
  constructor(perm: readonly number[]) {
    super();
    const p = intList(perm, 'Transpose perm');
    const seen = new Set(p.map((a) => (a < 0 ? a + p.length : a)));
    if (seen.size !== p.length || [...seen].some((a) => a < 0 || a >= p.length))
      throw new ShapeError('ERR_SHAPE', `Transpose perm [${p.join(', ')}] must be a permutation of the sample axes 0..${p.length - 1}`);
    this.perm = Object.freeze(p);
  }
  forward(x: Tensor): Tensor {
    return transpose(checkInput(x, 'Transpose'), this.perm);
  }
  config(): ModuleConfig {
    return { type: 'Transpose', perm: [...this.perm] };
  }
  static fromConfig(c: ModuleConfig): Transpose {
    return new Transpose(c['perm'] as number[]);
  }
}

/** JSON-safe slice bounds: ±Infinity (and anything beyond) become ±(2^53 - 1), which clamp the same. */
function boundList(v: readonly number[]): number[] {
  return v.map((d) => Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, d)));
}

/** ONNX Slice over sample axes (clamped starts and ends, negative indices and steps). */
export class Slice extends Module {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** null: axes 0, 1, ... (one per start). */
  readonly axes: readonly number[] | null;
  /** null: all 1. */
  readonly steps: readonly number[] | null;
  constructor(starts: readonly number[], ends: readonly number[], axes: readonly number[] | null = null, steps: readonly number[] | null = null) {
    super();
    checkSliceArgs(starts, ends, axes, steps, 'Slice');
    const ax = axes === null ? null : Array.from(axes);
    if (ax && new Set(ax).size !== ax.length) throw new ShapeError('ERR_SHAPE', `Slice axes [${ax.join(', ')}] repeat an axis`);
    this.starts = Object.freeze(boundList(Array.from(starts)));
    this.ends = Object.freeze(boundList(Array.from(ends)));
    this.axes = ax ? Object.freeze(ax) : null;
    this.steps = steps === null ? null : Object.freeze(Array.from(steps));
  }
  forward(x: Tensor): Tensor {
    return slice(checkInput(x, 'Slice'), this.starts, this.ends, this.axes, this.steps);
  }
  config(): ModuleConfig {
    return { type: 'Slice', starts: [...this.starts], ends: [...this.ends], axes: this.axes ? [...this.axes] : null, steps: this.steps ? [...this.steps] : null };
  }
  static fromConfig(c: ModuleConfig): Slice {
    return new Slice(c['starts'] as number[], c['ends'] as number[], (c['axes'] as number[] | null | undefined) ?? null, (c['steps'] as number[] | null | undefined) ?? null);
  }
}

/** Largest |index| a float32 buffer holds exactly. */
const MAX_EXACT_INDEX = 2 ** 24;

/**
 * ONNX Gather along a sample axis with constant indices (the buffer `indices`, of shape
 * indicesShape; stored as float32, exact below 2^24). indicesShape [] drops the axis.
 */
export class Gather extends Module {
  readonly indicesShape: readonly number[];
  readonly axis: number;
  private readonly indexBuffer: Float32Array;

  constructor(indices: Int32Array | readonly number[], indicesShape: readonly number[], axis: number) {
    super();
    const idx = intList(indices, 'Gather indices');
    const shape = intList(indicesShape, 'Gather indicesShape');
    const size = shapeSize(shape, 'Gather indicesShape');
    if (size !== idx.length) throw new ShapeError('ERR_SHAPE', `Gather: ${idx.length} indices for indicesShape [${shape.join(', ')}] (${size} entries)`);
    for (const v of idx)
      if (Math.abs(v) >= MAX_EXACT_INDEX) throw new FormatError('ERR_FORMAT', `Gather index ${v} is too large (|index| must be below 2^24)`);
    this.indicesShape = Object.freeze(shape);
    this.axis = checkAxis(axis, 'Gather axis');
    this.indexBuffer = this.registerBuffer('indices', Float32Array.from(idx), [...shape]);
  }

  /** The current indices (read from the buffer, which loadStateDict may have replaced). */
  get indices(): Int32Array {
    const b = this.indexBuffer;
    const out = new Int32Array(b.length);
    for (let i = 0; i < b.length; i++) {
      const v = b[i]!;
      if (!Number.isInteger(v)) throw new FormatError('ERR_FORMAT', `Gather: the indices buffer holds ${v} at position ${i}, expected integers`);
      out[i] = v;
    }
    return out;
  }

  forward(x: Tensor): Tensor {
    return gather(checkInput(x, 'Gather'), this.indices, this.indicesShape, this.axis);
  }
  config(): ModuleConfig {
    return { type: 'Gather', indicesShape: [...this.indicesShape], axis: this.axis };
  }
  static fromConfig(c: ModuleConfig): Gather {
    const shape = intList(c['indicesShape'], 'Gather indicesShape');
    return new Gather(new Int32Array(shapeSize(shape, 'Gather indicesShape')), shape, c['axis'] as number);
  }
}

/** The mean over sample axes (null: all), keeping them as 1s with keepdims (default true). */
export class ReduceMean extends Module {
  readonly axes: readonly number[] | null;
  readonly keepdims: boolean;
  constructor(axes: readonly number[] | null, keepdims = true) {
    super();
    if (axes !== null) {
      const ax = intList(axes, 'ReduceMean axes');
      if (new Set(ax).size !== ax.length) throw new ShapeError('ERR_SHAPE', `ReduceMean axes [${ax.join(', ')}] repeat an axis`);
      this.axes = Object.freeze(ax);
    } else this.axes = null;
    if (typeof keepdims !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `ReduceMean keepdims must be a boolean, got ${String(keepdims)}`);
    this.keepdims = keepdims;
  }
  forward(x: Tensor): Tensor {
    return reduceMean(checkInput(x, 'ReduceMean'), this.axes, this.keepdims);
  }
  config(): ModuleConfig {
    return { type: 'ReduceMean', axes: this.axes ? [...this.axes] : null, keepdims: this.keepdims };
  }
  static fromConfig(c: ModuleConfig): ReduceMean {
    return new ReduceMean((c['axes'] as number[] | null | undefined) ?? null, (c['keepdims'] as boolean | undefined) ?? true);
  }
}

/** ONNX Resize of the H and W axes of [C, H, W, n] (nearest or bilinear). */
export class Resize extends Module {
  readonly mode: ResizeMode;
  /** [sh, sw], or null when sizes are given. */
  readonly scales: readonly [number, number] | null;
  /** [OH, OW], or null when scales are given. */
  readonly sizes: readonly [number, number] | null;
  readonly coordinateTransformationMode: CoordinateTransformationMode;
  readonly nearestMode: NearestMode;
  constructor(opts: ResizeOptions) {
    super();
    const o = checkResizeOptions(opts, 'Resize');
    this.mode = o.mode;
    this.scales = o.scales ? Object.freeze(o.scales) : null;
    this.sizes = o.sizes ? Object.freeze(o.sizes) : null;
    this.coordinateTransformationMode = o.coordinateTransformationMode;
    this.nearestMode = o.nearestMode;
  }
  forward(x: Tensor): Tensor {
    return resize(checkInput(x, 'Resize'), this.options());
  }
  /** The options, as resize() takes them. */
  options(): ResizeOptions {
    return {
      mode: this.mode,
      ...(this.scales ? { scales: this.scales } : { sizes: this.sizes! }),
      coordinateTransformationMode: this.coordinateTransformationMode,
      nearestMode: this.nearestMode,
    };
  }
  config(): ModuleConfig {
    return {
      type: 'Resize',
      mode: this.mode,
      scales: this.scales ? [...this.scales] : null,
      sizes: this.sizes ? [...this.sizes] : null,
      coordinateTransformationMode: this.coordinateTransformationMode,
      nearestMode: this.nearestMode,
    };
  }
  static fromConfig(c: ModuleConfig): Resize {
    const scales = c['scales'] as [number, number] | null | undefined;
    const sizes = c['sizes'] as [number, number] | null | undefined;
    return new Resize({
      mode: c['mode'] as ResizeMode | undefined,
      ...(scales ? { scales } : {}),
      ...(sizes ? { sizes } : {}),
      coordinateTransformationMode: c['coordinateTransformationMode'] as CoordinateTransformationMode | undefined,
      nearestMode: c['nearestMode'] as NearestMode | undefined,
    });
  }
}

// ----------------------------------------------------------------- transposed convolution --

export interface ConvTranspose2dOptions extends InitOptions {
  /** Default 1. */
  stride?: Pair;
  /** Cropped from each side of the full output; default 0. */
  padding?: Pair;
  /** Extra rows / columns at the bottom / right; smaller than the stride or the dilation; default 0. */
  outputPadding?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** Default 1; must divide both channel counts. */
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/**
 * Transposed 2-D convolution (PyTorch's ConvTranspose2d): [Cin, H, W, n] ->
 * [Cout, (H - 1) s - 2 p + d (k - 1) + outputPadding + 1, ..., n]. The weight is
 * [inChannels, outChannels / groups, kh, kw] (PyTorch's layout) and may be pruned (masked).
 */
export class ConvTranspose2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  /** [inChannels, outChannels / groups, kh, kw]. */
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  /** PyTorch's initialisation: Kaiming uniform (a = sqrt(5)) with fan_in = (out / groups) kh kw, bias U(±1/sqrt(fan_in)). */
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: ConvTranspose2dOptions = {}) {
    super();
    this.inChannels = checkCount(inChannels, 'ConvTranspose2d: inChannels', 1);
    this.outChannels = checkCount(outChannels, 'ConvTranspose2d: outChannels', 1);
    this.kernelSize = toPair(kernelSize, 'ConvTranspose2d: kernelSize', 1);
    const geo = checkConvTransposeOptions(opts, 'ConvTranspose2d');
    this.stride = geo.stride;
    this.padding = geo.padding;
    this.outputPadding = geo.outputPadding;
    this.dilation = geo.dilation;
    this.groups = geo.groups;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0)
      throw new ShapeError('ERR_SHAPE', `ConvTranspose2d: groups (${this.groups}) must divide inChannels and outChannels, got ${inChannels} and ${outChannels}`);
    if (opts.bias !== undefined && typeof opts.bias !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `ConvTranspose2d: bias must be a boolean, got ${String(opts.bias)}`);
    const [kh, kw] = this.kernelSize;
    const shape = [inChannels, outChannels / this.groups, kh, kw];
    const fanIn = (outChannels / this.groups) * kh * kw;
    this.weight = this.registerParameter(
      'weight',
      new Parameter(
        kaimingUniform(stateArray(shape.reduce((a, b) => a * b, 1)), shape, { nonlinearity: 'leaky_relu', negativeSlope: Math.sqrt(5), rng: opts.rng }),
        shape,
      ),
    );
    this.bias =
      opts.bias === false
        ? null
        : this.registerParameter('bias', new Parameter(uniform(stateArray(outChannels), 1 / Math.sqrt(fanIn), { rng: opts.rng }), [outChannels]));
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(checkInput(x, 'ConvTranspose2d'), this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }

  config(): ModuleConfig {
    return {
      type: 'ConvTranspose2d',
      inChannels: this.inChannels,
      outChannels: this.outChannels,
      kernelSize: [...this.kernelSize],
      stride: [...this.stride],
      padding: [...this.padding],
      outputPadding: [...this.outputPadding],
      dilation: [...this.dilation],
      groups: this.groups,
      bias: this.bias !== null,
    };
  }

  static fromConfig(c: ModuleConfig): ConvTranspose2d {
    return new ConvTranspose2d(c['inChannels'] as number, c['outChannels'] as number, c['kernelSize'] as Pair, {
      stride: c['stride'] as Pair | undefined,
      padding: c['padding'] as Pair | undefined,
      outputPadding: c['outputPadding'] as Pair | undefined,
      dilation: c['dilation'] as Pair | undefined,
      groups: c['groups'] as number | undefined,
      bias: c['bias'] as boolean | undefined,
    });
  }
}

/** Returns its input (ONNX Identity, Dropout in inference). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return checkInput(x, 'Identity');
  }
  config(): ModuleConfig {
    return { type: 'Identity' };
  }
  static fromConfig(): Identity {
    return new Identity();
  }
}
