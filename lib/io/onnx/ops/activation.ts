/**
 * Activations and element-wise math: the layers of lib/nn where one matches (ReLU, LeakyReLU,
 * Sigmoid, Tanh, HardSigmoid, HardSwish, GELU, Softmax), Clip and Unary otherwise. Constants
 * are folded.
 */
import { GELU, HardSigmoid, HardSwish, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh } from '../../../nn/layers/activations.js';
import { Clip, Elementwise, Unary } from '../../../nn/layers/tensor-ops.js';
import type { Module } from '../../../nn/module.js';
import type { UnaryOpName } from '../../../nn/ops/unary.js';
import type { ImportContext, ImportNode } from '../context.js';
import { unaryConst, type FoldUnary } from '../fold.js';
import { floatConst, size, type ActValue, type ConstValue, type Value } from '../values.js';
import { fold, reshapeAct, sampleAxisOf, scalarOf, type Converter } from './common.js';

/** The largest float32: ONNX's default Clip bounds are ±this, meaning "no bound". */
const FLT_MAX = 3.4028234663852886e38;

/** Maps a constant element-wise with `f` (float result). */
function mapConst(c: ConstValue, f: (v: number) => number): ConstValue {
  return floatConst(c.dims, Array.from(c.data, f));
}

/** A converter for a one-input op: `fold` on constants, `make` builds the module for activations. */
function unaryOp(foldFn: (ctx: ImportContext, node: ImportNode, c: ConstValue) => Value, make: (ctx: ImportContext, node: ImportNode, x: ActValue) => Module): Converter {
  return (ctx, node, inputs) => {
    const x = inputs[0];
    if (!x) return ctx.fail(node, 'the input is missing');
    if (x.kind === 'const') return foldFn(ctx, node, x);
    return ctx.emit(node, make(ctx, node, x), [x]);
  };
}

function foldWith(op: FoldUnary): (ctx: ImportContext, node: ImportNode, c: ConstValue) => Value {
  return (ctx, node, c) => fold(ctx, node, () => unaryConst(op, c));
}

/** A Unary module op, folded on constants. */
function math(op: UnaryOpName & FoldUnary): Converter {
  return unaryOp(foldWith(op), () => new Unary(op));
}

const hardSigmoid: Converter = (ctx, node, inputs) => {
  const at = ctx.attrs(node);
  const alpha = at.float('alpha', 0.2);
  const beta = at.float('beta', 0.5);
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  if (x.kind === 'const') return mapConst(x, (v) => Math.max(0, Math.min(1, alpha * v + beta)));
  // PyTorch's hardsigmoid is relu6(x + 3) / 6: alpha = 1/6 (as a float32), beta = 0.5.
  if (Math.abs(alpha - 1 / 6) < 1e-7 && beta === 0.5) return ctx.emit(node, new HardSigmoid(), [x]);
  const scaled = ctx.emit(node, new Elementwise('mul', { constant: { data: Float32Array.of(alpha), shape: [] } }), [x], 'alpha');
  const shifted = ctx.emit(node, new Elementwise('add', { constant: { data: Float32Array.of(beta), shape: [] } }), [scaled], 'beta');
  return ctx.emit(node, new Clip(0, 1), [shifted]);
};

const clipOp: Converter = (ctx, node, inputs) => {
  let lo = -Infinity;
  let hi = Infinity;
  if (ctx.opset < 11) {
    const at = ctx.attrs(node);
    lo = at.float('min', -FLT_MAX);
    hi = at.float('max', FLT_MAX);
  } else {
    if (inputs[1]) lo = scalarOf(ctx, node, ctx.konst(node, inputs, 1, 'min'), 'min');
    if (inputs[2]) hi = scalarOf(ctx, node, ctx.konst(node, inputs, 2, 'max'), 'max');
  }
  if (lo <= -FLT_MAX) lo = -Infinity;
  if (hi >= FLT_MAX) hi = Infinity;
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  if (x.kind === 'const') {
    const out = Array.from(x.data, (v) => Math.min(hi, Math.max(lo, v)));
    return x.float ? floatConst(x.dims, out) : { ...x, data: Float64Array.from(out) };
  }
  if (lo === 0 && hi === Infinity) return ctx.emit(node, new ReLU(), [x]);
  return ctx.emit(node, new Clip(lo, hi), [x]);
};

/** Softmax over the activation's axis; before opset 13 over all axes from `axis` on, flattened. */
const softmaxOp: Converter = (ctx, node, inputs) => {
  const x = ctx.act(node, inputs, 0, 'the input');
  const at = ctx.attrs(node);
  const legacy = ctx.opset < 13;
  const axis = at.int('axis', legacy ? 1 : -1);
  const a = sampleAxisOf(ctx, node, x, axis);
  if (!legacy || a === x.shape.length - 1) return ctx.emit(node, new Softmax(a), [x]);
  // Opsets < 13 coerce the input to 2-D [prod(dims < axis), prod(dims >= axis)].
  const lead = x.shape.slice(0, a);
  const p = size(x.shape.slice(a));
  const flat = reshapeAct(ctx, node, x, [...lead, p], 'flat');
  const y = ctx.emit(node, new Softmax(lead.length), [flat]);
  return reshapeAct(ctx, node, y, x.shape, 'unflat');
};

const gelu: Converter = unaryOp(
  (ctx, node) => ctx.fail(node, 'GELU of a constant is not folded'),
  (ctx, node) => {
    const approximate = ctx.attrs(node).string('approximate', 'none');
    if (approximate !== 'none' && approximate !== 'tanh') return ctx.fail(node, `approximate '${approximate}' is not 'none' or 'tanh'`);
    return new GELU(approximate);
  },
);

export const activationOps: Record<string, Converter> = {
  Relu: unaryOp(foldWith('relu'), () => new ReLU()),
  LeakyRelu: unaryOp(
    (ctx, node, c) => {
      const alpha = ctx.attrs(node).float('alpha', 0.01);
      return mapConst(c, (v) => (v >= 0 ? v : alpha * v));
    },
    (ctx, node) => new LeakyReLU(ctx.attrs(node).float('alpha', 0.01)),
  ),
  Sigmoid: unaryOp(foldWith('sigmoid'), () => new Sigmoid()),
  Tanh: unaryOp(foldWith('tanh'), () => new Tanh()),
  HardSigmoid: hardSigmoid,
  HardSwish: unaryOp(
    (_ctx, _node, c) => mapConst(c, (v) => (v * Math.max(0, Math.min(6, v + 3))) / 6),
    () => new HardSwish(),
  ),
  Clip: clipOp,
  Softmax: softmaxOp,
  Gelu: gelu,
  'sparsenn:Gelu': gelu,
  Erf: math('erf'),
  Sqrt: math('sqrt'),
  Exp: math('exp'),
  Log: math('log'),
  Neg: math('neg'),
  Abs: math('abs'),
  Reciprocal: math('reciprocal'),
};
