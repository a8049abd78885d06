/**
 * The unit graph of a model, for connectivity and percolation: which units (features of a
 * [F, n] tensor, channels of a [C, H, W, n] one) each layer's output units are wired to through
 * kept weights.
 *
 * A unit is one index along a tensor's first axis. A Linear's unit j is connected to input unit
 * c when any kept weight of row j reads c (one weight per feature; span weights when the
 * Linear reads an unflattened [C, H, W] tensor); a Conv2d's output channel o is connected to
 * input channel i (in o's group) when any kernel tap between them is kept. "Kept" is the mask,
 * or a nonzero weight when the weight has no mask (as sparsityReport counts). Biases and
 * weight values play no part: this is the wiring, not the function.
 *
 * A ConvTranspose2d (weight [in, out / groups, kh, kw]) wires its channels like a Conv2d: output
 * channel o is connected to input channel i of its group when any tap between them is kept. An
 * AlongAxis whose inner Linear works along the first sample axis (the unit axis) is wired like
 * that Linear's mask, one weight per unit pair.
 *
 * Layers without weights move units as follows: element-wise activations, Unary, Clip,
 * Identity, dropout, batch norm, pooling and Resize keep each unit (op 'same'), and so do the
 * layers that act on other axes only: Transpose, Slice, Gather, ReduceMean and ConstantPad that
 * leave the first axis as it is, an Elementwise with a constant operand that does not broadcast
 * over it, a LayerNorm applied by an AlongAxis along another axis; Flatten / Reshape split a
 * unit into consecutive sub-units (channel c of [C, H, W] becomes features c*H*W ...
 * (c+1)*H*W-1); Add, an Elementwise of two activations of equal shape, and Concat along a
 * non-first axis, merge the units of equal index ('sum'); Concat along the first axis stacks
 * them ('concat'); LayerNorm (also by an AlongAxis along the first axis), Softmax over the first
 * axis and GroupNorm make every output unit of a block depend on every input unit of it
 * ('mix'). Anything else is refused with ERR_TYPE, as is computation a container does outside
 * its modules: layers that move, select, pad or average units along the first axis, broadcast
 * over it, or multiply two activations (MatMulActs: attention), a Linear along another axis
 * (it mixes features inside each unit), a Reshape that merges units, Embedding, a custom layer.
 */
import { ShapeError, SparsennTypeError } from '../errors.js';
import { Add, Concat, Dropout, Flatten, GELU, HardSigmoid, HardSwish, LeakyReLU, ReLU, Reshape, Sigmoid, Softmax, Tanh } from '../nn/layers/activations.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { BatchNormBase, GroupNorm, LayerNorm } from '../nn/layers/norm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../nn/layers/pool.js';
import { AlongAxis, ConstantPad } from '../nn/layers/axis.js';
import { Clip, ConvTranspose2d, Elementwise, Gather, Identity, MatMulActs, ReduceMean, Resize, Slice, Transpose, Unary } from '../nn/layers/tensor-ops.js';
import type { Module } from '../nn/module.js';
import { sampleAxis } from '../nn/ops/elementwise.js';
import type { Parameter } from '../nn/parameter.js';
import type { Tensor } from '../nn/tensor.js';
import { producers, typeName, type LeafCall, type ModelTrace, type SampleShape } from '../nn/trace.js';
import { traceForAnalysis } from './trace.js';

/** Output unit j reads input units cols[rowPtr[j]] ... cols[rowPtr[j+1]-1] (CSR, sorted). */
export interface WeightOp {
  readonly kind: 'weights';
  readonly rowPtr: Int32Array;
  readonly cols: Int32Array;
  /** Potential input units per output unit (inputs, or input channels per group). */
  readonly fanIn: number;
  /** Potential output units per input unit (outputs, or output channels per group). */
  readonly fanOut: number;
  readonly groups: number;
  /** Weights per potential unit pair (kh * kw for a Conv2d, the span for a Linear). */
  readonly taps: number;
  /** Kept weights. */
  readonly nnz: number;
  readonly size: number;
}

export type UnitOp =
  | WeightOp
  | { readonly kind: 'same' }
  | { readonly kind: 'split'; readonly factor: number }
  | { readonly kind: 'sum' }
  | { readonly kind: 'concat' }
  | { readonly kind: 'mix'; readonly block: number };

/** One leaf call seen at the unit level. */
export interface UnitStep {
  readonly call: LeafCall;
  readonly op: UnitOp;
  /** Units of each input and of the output. */
  readonly inUnits: readonly number[];
  readonly outUnits: number;
}

export interface UnitGraph {
  readonly trace: ModelTrace;
  readonly steps: readonly UnitStep[];
  /** The call that produced each tensor (null for a model input). */
  readonly producer: ReadonlyMap<Tensor, LeafCall | null>;
}

/** Units along the first axis of a tensor (1 for a rank-1 tensor: the batch alone). */
export function unitsOf(t: Tensor): number {
  return t.rank >= 2 ? t.shape[0]! : 1;
}

/** 1 where a weight is kept: its mask, or nonzero without one. */
function kept(p: Parameter): ArrayLike<number> {
  if (p.mask) return p.mask;
  // a plain loop: Uint8Array.from(data, fn) is far slower on millions of weights
  const k = new Uint8Array(p.size);
  for (let i = 0; i < k.length; i++) k[i] = p.data[i] !== 0 ? 1 : 0;
  return k;
}

/**
 * CSR of the unit pairs with at least one kept weight: output unit r, input unit c is connected
 * when any of `taps` consecutive entries at entry(r, c) is kept. Two passes (count, then fill)
 * keep it to typed arrays on layers with millions of weights.
 */
function unitPairs(k: ArrayLike<number>, rows: number, units: number, taps: number, entry: (r: number, c: number) => number, column: (r: number, c: number) => number) {
  const rowPtr = new Int32Array(rows + 1);
  const connected = (r: number, c: number) => {
    const base = entry(r, c);
    for (let t = 0; t < taps; t++) if (k[base + t]) return true;
    return false;
  };
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let c = 0; c < units; c++) if (connected(r, c)) n++;
    rowPtr[r + 1] = rowPtr[r]! + n;
  }
  const cols = new Int32Array(rowPtr[rows]!);
  for (let r = 0, at = 0; r < rows; r++) for (let c = 0; c < units; c++) if (connected(r, c)) cols[at++] = column(r, c);
  let nnz = 0;
  for (let i = 0; i < k.length; i++) nnz += k[i]!;
  return { rowPtr, cols, nnz };
}

function linearOp(m: Linear, inUnits: number): WeightOp {
  // a Linear reading an unflattened [C, H, W] tensor: unit c is the span features c*span ...
  const span = m.inFeatures / inUnits;
  const pairs = unitPairs(kept(m.weight), m.outFeatures, inUnits, span, (r, c) => r * m.inFeatures + c * span, (_r, c) => c);
  return { kind: 'weights', ...pairs, fanIn: inUnits, fanOut: m.outFeatures, groups: 1, taps: span, size: m.weight.size };
}

function convOp(m: Conv2d): WeightOp {
  const icg = m.inChannels / m.groups;
  const ocg = m.outChannels / m.groups;
  const taps = m.kernelSize[0] * m.kernelSize[1];
  // output channel o of group floor(o / ocg) reads input channels g * icg ... (g + 1) * icg - 1
  const pairs = unitPairs(kept(m.weight), m.outChannels, icg, taps, (o, i) => (o * icg + i) * taps, (o, i) => Math.floor(o / ocg) * icg + i);
  return { kind: 'weights', ...pairs, fanIn: icg, fanOut: ocg, groups: m.groups, taps, size: m.weight.size };
}

function convTransposeOp(m: ConvTranspose2d): WeightOp {
  const icg = m.inChannels / m.groups;
  const ocg = m.outChannels / m.groups;
  const taps = m.kernelSize[0] * m.kernelSize[1];
  // weight [in, ocg, kh, kw]: output channel o (group g = floor(o / ocg), o % ocg within it)
  // reads input channels g * icg ... (g + 1) * icg - 1
  const group = (o: number) => Math.floor(o / ocg);
  const pairs = unitPairs(kept(m.weight), m.outChannels, icg, taps, (o, i) => ((group(o) * icg + i) * ocg + (o % ocg)) * taps, (o, i) => group(o) * icg + i);
  return { kind: 'weights', ...pairs, fanIn: icg, fanOut: ocg, groups: m.groups, taps, size: m.weight.size };
}

/** Layers that keep every unit apart. */
const unitWise = [ReLU, LeakyReLU, GELU, Tanh, Sigmoid, HardSwish, HardSigmoid, Dropout, BatchNormBase, MaxPool2d, AvgPool2d, GlobalAvgPool, Unary, Clip, Identity, Resize];

function refuse(c: LeafCall, why: string, what: string): never {
  throw new SparsennTypeError(
    'ERR_TYPE',
    `${what}: cannot follow units through '${c.name || '(model)'}' (${typeName(c.module)}): ${why}. Supported: Linear, Conv2d, ConvTranspose2d, element-wise activations, Unary, Clip, Identity, Dropout, BatchNorm, pooling, Resize, Flatten / Reshape that split units, Add, Concat, LayerNorm, GroupNorm, Softmax, Elementwise, AlongAxis of a Linear or LayerNorm, and Transpose / Slice / Gather / ReduceMean / ConstantPad that leave the first (unit) axis as it is`,
  );
}

/** A possibly negative sample axis of a sample of rank r, resolved. */
function resolveAxis(axis: number, r: number): number {
  return axis < 0 ? axis + r : axis;
}

/** The sample rank of a tensor (the batch axis excluded). */
function sampleRank(t: Tensor): number {
  return t.rank - 1;
}

/**
 * The step of a layer that acts on sample axes other than the first only ('same'), or a refusal
 * saying what it does to the first axis.
 */
function firstAxisOp(c: LeafCall, what: string, touches: boolean, how: string): UnitOp {
  if (touches) refuse(c, `it ${how} the first sample axis, the unit axis`, what);
  if (unitsOf(c.inputs[0]!) !== unitsOf(c.output)) refuse(c, `it maps ${unitsOf(c.inputs[0]!)} units to ${unitsOf(c.output)}`, what);
  return { kind: 'same' };
}

/** The unit op of the layers the ONNX importer adds; null for other layers. */
function tensorOp(c: LeafCall, what: string): UnitOp | null {
  const m = c.module;
  const x = c.inputs[0]!;
  const r = sampleRank(x);
  if (m instanceof ConvTranspose2d) return convTransposeOp(m);
  if (m instanceof AlongAxis) {
    const a = sampleAxis(m.axis, x.rank, 'AlongAxis', x.shape);
    if (m.layer instanceof Linear) {
      if (a !== 0) refuse(c, `its Linear works along sample axis ${a}, mixing features inside each unit; units are the first sample axis`, what);
      return linearOp(m.layer, unitsOf(x));
    }
    if (m.layer instanceof LayerNorm) return a === 0 ? { kind: 'mix', block: unitsOf(c.output) } : firstAxisOp(c, what, false, '');
    return refuse(c, `it applies a ${typeName(m.layer)} (only a Linear or LayerNorm is followed)`, what);
  }
  if (m instanceof ConstantPad) return firstAxisOp(c, what, r > 0 && (m.pads[0] !== 0 || m.pads[r] !== 0), 'pads');
  if (m instanceof Transpose) return firstAxisOp(c, what, resolveAxis(m.perm[0]!, r) !== 0, 'moves');
  if (m instanceof Slice) {
    const axes = (m.axes ?? m.starts.map((_, i) => i)).map((a) => resolveAxis(a, r));
    const at = axes.indexOf(0);
    // a slice that keeps every unit in order (start 0, step 1) leaves the unit axis as it is
    const whole = at < 0 || ((m.steps?.[at] ?? 1) === 1 && unitsOf(c.output) === unitsOf(x));
    return firstAxisOp(c, what, !whole, 'selects or reorders units along');
  }
  if (m instanceof Gather) return firstAxisOp(c, what, resolveAxis(m.axis, r) === 0, 'gathers along');
  if (m instanceof ReduceMean) {
    const axes = m.axes === null ? [...Array(r).keys()] : m.axes.map((a) => resolveAxis(a, r));
    return firstAxisOp(c, what, axes.includes(0), 'averages over');
  }
  if (m instanceof Elementwise) {
    // Broadcasting may add leading axes or stretch the first one: then the output's first axis is not the input's.
    const sameShape = (t: Tensor) => sampleRank(t) === sampleRank(c.output) && unitsOf(t) === unitsOf(c.output);
    if (m.constant) return firstAxisOp(c, what, !sameShape(x), 'broadcasts a constant over');
    if (!c.inputs.every(sameShape)) refuse(c, 'its inputs differ in rank or units from its output (broadcasting over the unit axis)', what);
    return { kind: 'sum' };
  }
  if (m instanceof MatMulActs) return refuse(c, 'it multiplies two activations (attention): each output unit mixes units of both inputs', what);
  return null;
}

function stepOf(c: LeafCall, what: string): UnitStep {
  const m = c.module;
  const inUnits = c.inputs.map(unitsOf);
  const outUnits = unitsOf(c.output);
  const step = (op: UnitOp): UnitStep => ({ call: c, op, inUnits, outUnits });
  const same = (): UnitStep => {
    if (inUnits[0] !== outUnits) refuse(c, `it maps ${inUnits[0]} units to ${outUnits}`, what);
    return step({ kind: 'same' });
  };
  if (m instanceof Linear) return step(linearOp(m, inUnits[0]!));
  if (m instanceof Conv2d) return step(convOp(m));
  if (unitWise.some((cls) => m instanceof cls)) return same();
  if (m instanceof Flatten || m instanceof Reshape) {
    const [u] = inUnits as [number];
    if (outUnits === u) return step({ kind: 'same' });
    if (outUnits % u !== 0) refuse(c, `it merges units (${u} units in, ${outUnits} out)`, what);
    return step({ kind: 'split', factor: outUnits / u });
  }
  if (m instanceof Add) {
    if (inUnits.some((u) => u !== outUnits)) refuse(c, 'its inputs differ in units', what);
    return step({ kind: 'sum' });
  }
  if (m instanceof Concat) {
    if (sampleAxis(m.axis, c.output.rank, 'Concat', c.output.shape) === 0) return step({ kind: 'concat' });
    if (inUnits.some((u) => u !== outUnits)) refuse(c, 'its inputs differ in units', what);
    return step({ kind: 'sum' });
  }
  if (m instanceof LayerNorm) return step({ kind: 'mix', block: outUnits });
  if (m instanceof GroupNorm) return step({ kind: 'mix', block: outUnits / m.numGroups });
  if (m instanceof Softmax) return sampleAxis(m.axis, c.output.rank, 'Softmax', c.output.shape) === 0 ? step({ kind: 'mix', block: outUnits }) : same();
  const op = tensorOp(c, what);
  if (op) return step(op);
  return refuse(c, 'unknown layer type', what);
}

/** Traces the model once and builds its unit graph. */
export function unitGraph(model: Module, sampleShape: SampleShape | undefined, what: string): UnitGraph {
  const trace = traceForAnalysis(model, sampleShape, what);
  const { producer, foreign } = producers(trace);
  if (foreign.length > 0)
    throw new SparsennTypeError(
      'ERR_TYPE',
      `${what}: the model computes outside its modules (a tensor of shape [${foreign[0]!.shape.join(', ')}] was used that no layer produced); express that computation with layers (Add, Concat, ...)`,
    );
  const steps = trace.calls.map((c) => stepOf(c, what));
  for (const s of steps)
    if (s.op.kind === 'split' || s.op.kind === 'mix') {
      const n = s.op.kind === 'split' ? s.outUnits / s.op.factor : s.outUnits;
      if (!Number.isInteger(n) || (s.op.kind === 'mix' && s.outUnits % s.op.block !== 0))
        throw new ShapeError('ERR_SHAPE', `${what}: inconsistent units at '${s.call.name}'`);
    }
  return { trace, steps, producer };
}
