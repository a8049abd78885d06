/**
 * Shape and data-movement operators. On constants they fold (Shape of an activation gives
 * [N, d1, ...] with N symbolic); on activations they become Reshape / Flatten / Transpose /
 * Concat / Slice / Gather modules over the sample axes, or nothing at all (Identity, Dropout,
 * float Casts). Anything that would move, merge, slice or gather the batch axis is rejected.
 */
import { Concat, Flatten } from '../../../nn/layers/activations.js';
import { Embedding } from '../../../nn/layers/embedding.js';
import { Elementwise, Gather, Slice, Transpose } from '../../../nn/layers/tensor-ops.js';
import { isFloatType, dataTypeName } from '../dtypes.js';
import type { ImportContext, ImportNode } from '../context.js';
import {
  broadcastDims,
  castConst,
  concatConst,
  constFromTensor,
  expandConst,
  filledConst,
  gatherConst,
  reshapeConst,
  sliceConst,
  transposeConst,
} from '../fold.js';
import { floatConst, formatConst, intConst, maxImportElements, size, type ActValue, type ConstValue, type Value } from '../values.js';
import { fold, onnxRank, reshapeAct, sampleAxisOf, scalarOf, type Converter } from './common.js';
import { ConstantPad } from '../../../nn/layers/axis.js';

/** The value at or beyond which an int64 "end" means "to the end" (saturated to int32 by the decoder). */
const TO_END = 2147483647;

/** Normalises an axis of a tensor of rank `rank` ([-rank, rank)). */
function axisIn(ctx: ImportContext, node: ImportNode, axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) return ctx.fail(node, `${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Axes from an attribute (older opsets) or an optional constant input (newer). */
function axesOf(ctx: ImportContext, node: ImportNode, inputs: ReadonlyArray<Value | undefined>, inputSince: number, index: number): number[] | null {
  if (ctx.opset < inputSince) return ctx.attrs(node).ints('axes') ?? null;
  return inputs[index] ? ctx.numbers(node, inputs, index, 'axes') : null;
}

// ---------------------------------------------------------------------------------- shape --

const shapeOp: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  const dims = x.kind === 'const' ? [...x.dims] : [0, ...x.shape];
  const batch = dims.map((_, i) => (x.kind === 'act' && i === 0 ? 1 : 0));
  // Opset 15: an optional [start, end) slice of the shape.
  const at = ctx.attrs(node);
  const r = dims.length;
  const clamp = (v: number): number => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const s = clamp(at.int('start', 0));
  const e = at.has('end') ? clamp(at.int('end')!) : r;
  const n = Math.max(0, e - s);
  return intConst([n], dims.slice(s, s + n), batch.slice(s, s + n));
};

const sizeOp: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  return x.kind === 'const' ? intConst([], [size(x.dims)]) : intConst([], [0], [size(x.shape)]);
};

// -------------------------------------------------------------------------------- reshape --

/**
 * The sample shape an ONNX Reshape target gives an activation: its first entry must denote the
 * batch (N from Shape, 0 = copy, -1 = whatever is left once the rest takes the whole sample, or
 * the fixed batch size the inputs declare), and no later entry may depend on N.
 */
function reshapeTarget(ctx: ImportContext, node: ImportNode, x: ActValue, target: ConstValue, allowZero: boolean): number[] {
  const t = Array.from(target.data);
  const k = target.batch ? Array.from(target.batch) : t.map(() => 0);
  const show = (): string => `target shape ${formatConst(target)} for the input [N, ${x.shape.join(', ')}]`;
  if (target.dims.length !== 1 || t.length === 0) return ctx.fail(node, `the ${show()} must be a 1-D list with the batch first`);
  const sampleSize = size(x.shape);
  const rest: number[] = [];
  let infer = -1;
  for (let i = 1; i < t.length; i++) {
    if (k[i] !== 0) return ctx.fail(node, `the ${show()} moves the batch size to axis ${i}; sparsenn keeps the batch on axis 0`);
    let d = t[i]!;
    if (d === 0 && !allowZero) {
      if (i - 1 >= x.shape.length) return ctx.fail(node, `the ${show()} copies (0) axis ${i}, which the input lacks`);
      d = x.shape[i - 1]!;
    }
    if (d === -1) {
      if (infer >= 0) return ctx.fail(node, `the ${show()} has more than one -1`);
      infer = rest.length;
    } else if (!Number.isInteger(d) || d < 0) return ctx.fail(node, `the ${show()} has an invalid entry ${d}`);
    rest.push(d);
  }
  const known = rest.reduce((p, d) => (d === -1 ? p : p * d), 1);
  if (infer >= 0) {
    if (known === 0 || sampleSize % known !== 0) return ctx.fail(node, `the ${show()} cannot infer its -1`);
    rest[infer] = sampleSize / known;
  }
  const first = t[0]!;
  const firstIsBatch =
    (k[0] === 1 && first === 0) ||
    (k[0] === 0 && first === 0 && !allowZero) ||
    (k[0] === 0 && first === -1 && infer < 0) ||
    (k[0] === 0 && ctx.fixedBatch !== null && first === ctx.fixedBatch);
  if (!firstIsBatch || size(rest) !== sampleSize)
    return ctx.fail(
      node,
      `the ${show()} would merge the batch axis with other axes or move it; sparsenn keeps the batch separate (axis 0 must stay the batch size N, written as N, 0 or -1, and the other axes must hold the ${sampleSize} values of one sample)`,
    );
  return rest;
}

/** A constant's Reshape target, resolved (0 copies, one -1 inferred). */
function constTarget(ctx: ImportContext, node: ImportNode, c: ConstValue, target: ConstValue, allowZero: boolean): number[] {
  if (target.batch) return ctx.fail(node, `reshaping a constant to the batch-dependent shape ${formatConst(target)} is not supported`);
  const t = Array.from(target.data, (d, i) => (d === 0 && !allowZero ? (c.dims[i] ?? 0) : d));
  const known = t.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const n = size(c.dims);
  return t.map((d) => (d === -1 ? (known === 0 ? 0 : n / known) : d));
}

const reshape: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  const target = ctx.konst(node, inputs, 1, 'the target shape');
  const allowZero = ctx.attrs(node).int('allowzero', 0) === 1;
  if (x.kind === 'const') return fold(ctx, node, () => reshapeConst(x, constTarget(ctx, node, x, target, allowZero)));
  return reshapeAct(ctx, node, x, reshapeTarget(ctx, node, x, target, allowZero));
};

const flatten: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  const r = x.kind === 'const' ? x.dims.length : onnxRank(x);
  const axis = ctx.attrs(node).int('axis', 1);
  const a = axis < 0 ? axis + r : axis;
  if (a < 0 || a > r) return ctx.fail(node, `axis ${axis} is out of range for rank ${r}`);
  if (x.kind === 'const') return fold(ctx, node, () => reshapeConst(x, [size(x.dims.slice(0, a)), size(x.dims.slice(a))]));
  if (a !== 1) return ctx.fail(node, `Flatten with axis ${axis} merges the batch axis with others; sparsenn converts axis 1 only ([N, ...] -> [N, features])`);
  return x.shape.length === 1 ? x : ctx.emit(node, new Flatten(), [x]);
};

const squeeze: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  const axes = axesOf(ctx, node, inputs, 13, 1);
  const dims = x.kind === 'const' ? [...x.dims] : [0, ...x.shape];
  const r = dims.length;
  const drop = new Set(axes ? axes.map((a) => axisIn(ctx, node, a, r)) : dims.map((d, i) => (d === 1 && (x.kind === 'const' || i > 0) ? i : -1)).filter((i) => i >= 0));
  for (const a of drop) {
    if (x.kind === 'act' && a === 0) return ctx.fail(node, 'squeezing axis 0 would remove the batch axis');
    if (dims[a] !== 1) return ctx.fail(node, `axis ${a} has size ${dims[a]}, not 1`);
  }
  const kept = dims.filter((_, i) => !drop.has(i));
  if (x.kind === 'const') return fold(ctx, node, () => reshapeConst(x, kept));
  return reshapeAct(ctx, node, x, kept.slice(1));
};

const unsqueeze: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  const axes = axesOf(ctx, node, inputs, 13, 1);
  if (!axes) return ctx.fail(node, 'axes are required');
  const dims = x.kind === 'const' ? [...x.dims] : [0, ...x.shape];
  const r = dims.length + axes.length;
  const at = new Set(axes.map((a) => axisIn(ctx, node, a, r)));
  if (at.size !== axes.length) return ctx.fail(node, `axes [${axes.join(', ')}] repeat an axis`);
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(at.has(i) ? 1 : dims[j++]!);
  if (x.kind === 'const') return fold(ctx, node, () => reshapeConst(x, out));
  if (at.has(0)) return ctx.fail(node, 'inserting an axis before the batch axis would move it; sparsenn keeps the batch on axis 0');
  return reshapeAct(ctx, node, x, out.slice(1));
};

// ---------------------------------------------------------------------- data movement ops --

const transposeOp: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  const r = x.kind === 'const' ? x.dims.length : onnxRank(x);
  const perm = ctx.attrs(node).ints('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  if (x.kind === 'const') return fold(ctx, node, () => transposeConst(x, perm));
  if (perm.length !== r || new Set(perm).size !== r || perm.some((p) => p < 0 || p >= r))
    return ctx.fail(node, `perm [${perm.join(', ')}] is not a permutation of the ${r} axes`);
  if (perm[0] !== 0) return ctx.fail(node, `perm [${perm.join(', ')}] moves the batch axis (axis 0 must stay first)`);
  const sample = perm.slice(1).map((p) => p - 1);
  if (sample.every((p, i) => p === i)) return x;
  return ctx.emit(node, new Transpose(sample), [x]);
};

const concat: Converter = (ctx, node, inputs) => {
  const list = inputs.filter((v): v is Value => v !== undefined);
  if (list.length === 0) return ctx.fail(node, 'Concat needs inputs');
  const axis = ctx.attrs(node).int('axis');
  if (axis === undefined) return ctx.fail(node, 'the axis attribute is required');
  if (list.every((v) => v.kind === 'const')) return fold(ctx, node, () => concatConst(list as ConstValue[], axis));
  if (list.some((v) => v.kind === 'const'))
    return ctx.fail(node, 'joining an activation with a constant is not supported (the constant would have to be repeated for every sample)');
  const acts = list as ActValue[];
  const a = sampleAxisOf(ctx, node, acts[0]!, axis);
  if (acts.length === 1) return acts[0]!;
  return ctx.emit(node, new Concat(a), acts);
};

const sliceOp: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  let starts: ConstValue;
  let ends: ConstValue;
  let axes: number[] | null;
  let steps: number[] | null = null;
  if (ctx.opset < 10) {
    const at = ctx.attrs(node);
    const s = at.ints('starts');
    const e = at.ints('ends');
    if (!s || !e) return ctx.fail(node, 'starts and ends are required');
    starts = intConst([s.length], s);
    ends = intConst([e.length], e);
    axes = at.ints('axes') ?? null;
  } else {
    starts = ctx.konst(node, inputs, 1, 'starts');
    ends = ctx.konst(node, inputs, 2, 'ends');
    axes = inputs[3] ? ctx.numbers(node, inputs, 3, 'axes') : null;
    steps = inputs[4] ? ctx.numbers(node, inputs, 4, 'steps') : null;
  }
  const n = starts.data.length;
  if (ends.data.length !== n || (axes && axes.length !== n) || (steps && steps.length !== n))
    return ctx.fail(node, 'starts, ends, axes and steps must have the same length');
  const ax = axes ?? Array.from({ length: n }, (_, i) => i);
  const st = steps ?? new Array<number>(n).fill(1);
  if (x.kind === 'const') {
    if (starts.batch || ends.batch) return ctx.fail(node, 'slicing a constant with batch-dependent bounds is not supported');
    return fold(ctx, node, () => sliceConst(x, Array.from(starts.data), Array.from(ends.data), ax, st));
  }
  const r = onnxRank(x);
  const out = { starts: [] as number[], ends: [] as number[], axes: [] as number[], steps: [] as number[] };
  for (let i = 0; i < n; i++) {
    const a = axisIn(ctx, node, ax[i]!, r);
    const ks = starts.batch ? starts.batch[i]! : 0;
    const ke = ends.batch ? ends.batch[i]! : 0;
    if (a === 0) {
      // The whole batch (0 to the end, or to N) is a no-op; anything else slices the batch.
      const whole = ks === 0 && starts.data[i] === 0 && st[i] === 1 && ((ke === 0 && ends.data[i]! >= TO_END) || (ke === 1 && ends.data[i] === 0));
      if (!whole) return ctx.fail(node, 'slicing axis 0 would slice the batch; sparsenn keeps every sample');
      continue;
    }
    if (ks !== 0 || ke !== 0) return ctx.fail(node, `the bounds on axis ${a} depend on the batch size`);
    out.starts.push(starts.data[i]!);
    out.ends.push(ends.data[i]!);
    out.axes.push(a - 1);
    out.steps.push(st[i]!);
  }
  if (out.axes.length === 0) return x;
  return ctx.emit(node, new Slice(out.starts, out.ends, out.axes, out.steps), [x]);
};

const gatherOp: Converter = (ctx, node, inputs) => {
  const [data, indices] = inputs;
  if (!data || !indices) return ctx.fail(node, 'Gather needs data and indices');
  const axis = ctx.attrs(node).int('axis', 0);
  if (data.kind === 'const' && indices.kind === 'const') return fold(ctx, node, () => gatherConst(data, indices, axis));
  if (data.kind === 'act' && indices.kind === 'const') {
    if (indices.batch) return ctx.fail(node, 'indices that depend on the batch size are not supported');
    const a = sampleAxisOf(ctx, node, data, axis);
    return ctx.emit(node, new Gather(Int32Array.from(indices.data), [...indices.dims], a), [data]);
  }
  if (data.kind === 'const' && indices.kind === 'act') {
    // A lookup table indexed by the input: an embedding.
    if (data.dims.length !== 2 || axis !== 0 || data.batch || !data.float)
      return ctx.fail(node, `gathering from a constant by input-dependent indices is supported as an embedding lookup only (a float table [num, dim], axis 0), got [${data.dims.join(', ')}] axis ${axis}`);
    const [num, dim] = data.dims as [number, number];
    const emb = new Embedding(num, dim);
    emb.weight.data.set(data.data);
    return ctx.emit(node, emb, [indices]);
  }
  return ctx.fail(node, 'gathering with indices computed from the input out of an input-dependent tensor is not supported');
};

const expand: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  const shape = ctx.konst(node, inputs, 1, 'shape');
  if (x.kind === 'const') {
    if (shape.batch) return ctx.fail(node, `expanding a constant to the batch-dependent shape ${formatConst(shape)} is not supported`);
    return fold(ctx, node, () => expandConst(x, Array.from(shape.data)));
  }
  const t = Array.from(shape.data);
  const k = shape.batch ? Array.from(shape.batch) : t.map(() => 0);
  const r = onnxRank(x);
  if (t.length > r) return ctx.fail(node, `expanding [N, ${x.shape.join(', ')}] to ${formatConst(shape)} adds axes before the batch`);
  if (t.length === r && !(t[0] === 1 && k[0] === 0) && !(t[0] === 0 && k[0] === 1))
    return ctx.fail(node, `expanding to ${formatConst(shape)} would change the batch axis`);
  const sampleTarget = (t.length === r ? t.slice(1) : t).map((d, i) => {
    if ((t.length === r ? k[i + 1] : k[i]) !== 0) return ctx.fail(node, `the shape ${formatConst(shape)} moves the batch size`);
    return d;
  });
  // Dims are sizes: a negative one would make a negative constant size below (found by the fuzzer).
  if (sampleTarget.some((d) => !Number.isInteger(d) || d < 0)) return ctx.fail(node, `the shape ${formatConst(shape)} has a dimension that is not a non-negative integer`);
  const out = broadcastDims(x.shape, sampleTarget);
  if (!out) return ctx.fail(node, `[N, ${x.shape.join(', ')}] does not expand to ${formatConst(shape)}`);
  if (out.length === x.shape.length && out.every((d, i) => d === x.shape[i])) return x;
  // Both the result and the zero constant that does the broadcast (the target alone can be huge
  // when the result is empty: the loader fuzzer found [2^31 - 1, 1] against a 0-sized input).
  if (!(size(out) <= maxImportElements()) || !(size(sampleTarget) <= maxImportElements()))
    return ctx.fail(node, `the expanded sample would have more than ${maxImportElements()} values`);
  // Adding zeros of the target shape broadcasts x to it (and back-propagates by summing).
  return ctx.emit(node, new Elementwise('add', { constant: { data: new Float32Array(size(sampleTarget)), shape: sampleTarget } }), [x]);
};

// ------------------------------------------------------------------------ pass-through ops --

/** Pad in constant mode over sample axes (zeros everywhere: the input itself). */
const pad: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  if (x.kind === 'const') return ctx.fail(node, 'padding a constant is not folded');
  const at = ctx.attrs(node);
  const mode = at.string('mode', 'constant');
  if (mode !== 'constant') return ctx.fail(node, `mode '${mode}' is not supported (only constant padding is)`);
  let pads: number[];
  let value = 0;
  if (ctx.opset < 11) {
    const p = at.ints('pads');
    if (!p) return ctx.fail(node, 'pads are required');
    pads = p;
    value = at.float('value', 0);
  } else {
    pads = ctx.numbers(node, inputs, 1, 'pads');
    if (inputs[2]) value = scalarOf(ctx, node, ctx.konst(node, inputs, 2, 'constant_value'), 'constant_value');
    if (inputs[3]) return ctx.fail(node, 'the axes input is not supported');
  }
  const r = onnxRank(x);
  if (pads.length !== 2 * r) return ctx.fail(node, `pads [${pads.join(', ')}] must have ${2 * r} entries`);
  if (pads.some((p) => p < 0)) return ctx.fail(node, `negative pads [${pads.join(', ')}] (cropping) are not supported`);
  if (pads[0] !== 0 || pads[r] !== 0) return ctx.fail(node, 'padding the batch axis would add samples');
  const sample = [...pads.slice(1, r), ...pads.slice(r + 1)];
  if (sample.every((p) => p === 0)) return x;
  const padded = size(x.shape.map((d, i) => d + sample[i]! + sample[i + r - 1]!));
  if (!(padded <= maxImportElements())) return ctx.fail(node, `the padded sample would have ${padded} values, more than sparsenn imports`);
  return ctx.emit(node, new ConstantPad(sample, value), [x]);
};

const cast: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  const to = ctx.attrs(node).int('to');
  if (to === undefined) return ctx.fail(node, "the attribute 'to' is required");
  if (x.kind === 'const') return fold(ctx, node, () => castConst(x, to));
  if (!isFloatType(to)) return ctx.fail(node, `casting an activation to ${dataTypeName(to)} is not supported (sparsenn activations are float32)`);
  return x;
};

const identity: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  return x;
};

const dropout: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  if (inputs[2]) {
    const training = ctx.konst(node, inputs, 2, 'training_mode');
    if (training.data.some((v) => v !== 0)) return ctx.fail(node, 'training_mode = true is not supported: sparsenn imports models for inference');
  }
  // Inference: the input passes through; the mask output is not available.
  return [x];
};

const constant: Converter = (ctx, node) => {
  const at = ctx.attrs(node);
  const t = at.tensor('value');
  if (t) return constFromTensor(t);
  const f = at.float('value_float');
  if (f !== undefined) return floatConst([], [f]);
  const fs = at.floats('value_floats');
  if (fs) return floatConst([fs.length], fs);
  const i = at.int('value_int');
  if (i !== undefined) return intConst([], [i]);
  const is = at.ints('value_ints');
  if (is) return intConst([is.length], is);
  return ctx.fail(node, `needs a value sparsenn reads (value, value_float(s), value_int(s)); it has ${at.names().join(', ') || 'none'}`);
};

const constantOfShape: Converter = (ctx, node, inputs) => {
  const shape = ctx.konst(node, inputs, 0, 'the shape');
  if (shape.batch) return ctx.fail(node, `the shape ${formatConst(shape)} depends on the batch size; sparsenn cannot make a batch-sized constant`);
  const t = ctx.attrs(node).tensor('value');
  const float = t ? isFloatType(t.dataType) : true;
  const v = t ? (t.data[0] ?? 0) : 0;
  return filledConst(Array.from(shape.data), v, float);
};

const range: Converter = (ctx, node, inputs) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => {
    const c = ctx.konst(node, inputs, i, ['start', 'limit', 'delta'][i]);
    if (c.batch || c.data.length !== 1) return ctx.fail(node, 'Range needs scalar constants that do not depend on the batch size');
    return c;
  }) as [ConstValue, ConstValue, ConstValue];
  const s = start.data[0]!;
  const d = delta.data[0]!;
  if (d === 0) return ctx.fail(node, 'delta is 0');
  const n = Math.max(0, Math.ceil((limit.data[0]! - s) / d));
  if (!(n <= maxImportElements())) return ctx.fail(node, `the range has ${n} values, more than sparsenn imports`);
  const values = Array.from({ length: n }, (_, i) => s + i * d);
  return start.float ? floatConst([n], values) : intConst([n], values);
};

export const shapeOps: Record<string, Converter> = {
  Shape: shapeOp,
  Size: sizeOp,
  Reshape: reshape,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Transpose: transposeOp,
  Concat: concat,
  Slice: sliceOp,
  Gather: gatherOp,
  Expand: expand,
  Pad: pad,
  Cast: cast,
  Identity: identity,
  Dropout: dropout,
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Range: range,
};
