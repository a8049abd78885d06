/**
 * Add, Sub, Mul, Div, Pow (and a few comparisons, constants only). Constants fold (with the
 * symbolic batch size, for shape arithmetic); an activation and a constant become an
 * Elementwise with the constant as a sample-shaped buffer; two activations of the same rank
 * become Add (same shapes) or a broadcasting Elementwise.
 */
import { Add } from '../../../nn/layers/activations.js';
import { Elementwise } from '../../../nn/layers/tensor-ops.js';
import type { BinaryOp } from '../../../nn/ops/broadcast.js';
import { binaryConst, broadcastDims, whereConst, type FoldBinary } from '../fold.js';
import type { ActValue } from '../values.js';
import { fold, onnxRank, sampleConstant, type Converter } from './common.js';

function binary(op: BinaryOp): Converter {
  return (ctx, node, inputs) => {
    const [a, b] = inputs;
    if (!a || !b) return ctx.fail(node, `${node.opType} needs two inputs`);
    if (a.kind === 'const' && b.kind === 'const') return fold(ctx, node, () => binaryConst(op, a, b));
    if (a.kind === 'act' && b.kind === 'act') {
      if (onnxRank(a) !== onnxRank(b))
        return ctx.fail(
          node,
          `the activations [N, ${a.shape.join(', ')}] and [N, ${b.shape.join(', ')}] have different ranks, so numpy broadcasting would align the batch axis of one with a sample axis of the other`,
        );
      if (!broadcastDims(a.shape, b.shape)) return ctx.fail(node, `the activations [N, ${a.shape.join(', ')}] and [N, ${b.shape.join(', ')}] do not broadcast`);
      const same = a.shape.every((d, i) => d === b.shape[i]);
      return ctx.emit(node, op === 'add' && same ? new Add() : new Elementwise(op), [a, b]);
    }
    const x = (a.kind === 'act' ? a : b) as ActValue;
    const c = a.kind === 'const' ? a : b.kind === 'const' ? b : null;
    const constantFirst = a.kind === 'const';
    const k = sampleConstant(ctx, node, c!, x);
    const out = broadcastDims(x.shape, k.shape);
    if (!out) return ctx.fail(node, `the constant [${c!.dims.join(', ')}] does not broadcast against the activation [N, ${x.shape.join(', ')}]`);
    // x + 0, x - 0, x * 1, x / 1 (PyTorch leaves some in): the activation itself.
    const unchanged = out.length === x.shape.length && out.every((d, i) => d === x.shape[i]);
    const neutral = op === 'add' || (op === 'sub' && !constantFirst) ? 0 : (op === 'mul' || ((op === 'div' || op === 'pow') && !constantFirst)) ? 1 : NaN;
    if (unchanged && k.data.every((v) => v === neutral)) return x;
    return ctx.emit(node, new Elementwise(op, { constant: k, constantFirst }), [x]);
  };
}

/** Ops sparsenn only evaluates on constants (shape arithmetic in exported graphs); Max and Min take any number of inputs. */
function constantOnly(op: FoldBinary): Converter {
  return (ctx, node, inputs) => {
    if (inputs.length < 2 && op !== 'max' && op !== 'min') return ctx.fail(node, `${node.opType} needs two inputs`);
    let acc = ctx.konst(node, inputs, 0, 'input 0');
    for (let i = 1; i < inputs.length; i++) {
      const next = ctx.konst(node, inputs, i, `input ${i}`);
      acc = fold(ctx, node, () => binaryConst(op, acc, next));
    }
    return acc;
  };
}

export const arithOps: Record<string, Converter> = {
  Add: binary('add'),
  Sub: binary('sub'),
  Mul: binary('mul'),
  Div: binary('div'),
  Pow: binary('pow'),
  Equal: constantOnly('equal'),
  Less: constantOnly('less'),
  Greater: constantOnly('greater'),
  Max: constantOnly('max'),
  Min: constantOnly('min'),
  Where: (ctx, node, inputs) => {
    const c = ctx.konst(node, inputs, 0, 'condition');
    const x = ctx.konst(node, inputs, 1, 'X');
    const y = ctx.konst(node, inputs, 2, 'Y');
    return fold(ctx, node, () => whereConst(c, x, y));
  },
};
