/** ReduceMean over sample axes -> ReduceMean (reducing the batch axis is rejected); folded on constants. */
import { ReduceMean } from '../../../nn/layers/tensor-ops.js';
import { reduceMeanConst } from '../fold.js';
import { fold, sampleAxisOf, type Converter } from './common.js';

const reduceMean: Converter = (ctx, node, inputs) => {
  const x = inputs[0];
  if (!x) return ctx.fail(node, 'the input is missing');
  const at = ctx.attrs(node);
  const keepdims = at.int('keepdims', 1) === 1;
  // Opset 18 moved axes from an attribute to an optional input.
  let axes: number[] | null;
  if (ctx.opset < 18) axes = at.ints('axes') ?? null;
  else {
    axes = inputs[1] ? ctx.numbers(node, inputs, 1, 'axes') : null;
    if (axes && axes.length === 0) axes = null;
    if (!axes && at.int('noop_with_empty_axes', 0) === 1) return x;
  }
  if (x.kind === 'const') return fold(ctx, node, () => reduceMeanConst(x, axes, keepdims));
  if (!axes) return ctx.fail(node, 'without axes ReduceMean averages over every axis, the batch included; sparsenn keeps samples separate');
  const sample = axes.map((a) => sampleAxisOf(ctx, node, x, a));
  return ctx.emit(node, new ReduceMean(sample, keepdims), [x]);
};

export const reduceOps: Record<string, Converter> = {
  ReduceMean: reduceMean,
};
