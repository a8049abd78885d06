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
 * Layers without weights move units as follows: element-wise activations, dropout, batch norm
 * and pooling keep each unit (op 'same'); Flatten / Reshape split a unit into consecutive
 * sub-units (channel c of [C, H, W] becomes features c*H*W ... (c+1)*H*W-1); Add, and Concat
 * along a non-first axis, merge the units of equal index ('sum'); Concat along the first axis
 * stacks them ('concat'); LayerNorm, Softmax over the first axis and GroupNorm make every output
 * unit of a block depend on every input unit of it ('mix'). Anything else (a Reshape that merges
 * units, Embedding, a custom layer) is refused with ERR_TYPE, as is computation a container does
 * outside its modules.
 */
import { ShapeError, SparsennTypeError } from '../errors.js';
import { Add, Concat, Dropout, Flatten, GELU, HardSigmoid, HardSwish, LeakyReLU, ReLU, Reshape, Sigmoid, Softmax, Tanh } from '../nn/layers/activations.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { BatchNormBase, GroupNorm, LayerNorm } from '../nn/layers/norm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../nn/layers/pool.js';
import type { Module } from '../nn/module.js';
import { sampleAxis } from '../nn/ops/elementwise.js';
import type { Parameter } from '../nn/parameter.js';
import type { Tensor } from '../nn/tensor.js';
import { producers, traceShapes, typeName, type LeafCall, type ModelTrace, type SampleShape } from '../nn/trace.js';

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

/** Layers that keep every unit apart. */
const unitWise = [ReLU, LeakyReLU, GELU, Tanh, Sigmoid, HardSwish, HardSigmoid, Dropout, BatchNormBase, MaxPool2d, AvgPool2d, GlobalAvgPool];

function refuse(c: LeafCall, why: string, what: string): never {
  throw new SparsennTypeError(
    'ERR_TYPE',
    `${what}: cannot follow units through '${c.name || '(model)'}' (${typeName(c.module)}): ${why}. Supported: Linear, Conv2d, element-wise activations, Dropout, BatchNorm, pooling, Flatten / Reshape that split units, Add, Concat, LayerNorm, GroupNorm, Softmax`,
  );
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
  return refuse(c, 'unknown layer type', what);
}

/** Traces the model once and builds its unit graph. */
export function unitGraph(model: Module, sampleShape: SampleShape | undefined, what: string): UnitGraph {
  const trace = traceShapes(model, sampleShape, what);
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
