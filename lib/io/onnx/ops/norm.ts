/**
 * BatchNormalization -> BatchNorm1d / BatchNorm2d with the running statistics as buffers (the
 * model imports in eval mode, so they are what it normalises with), and LayerNormalization ->
 * LayerNorm, in an AlongAxis when it normalises only the trailing axes.
 */
import { BatchNorm1d, BatchNorm2d, LayerNorm } from '../../../nn/layers/norm.js';
import type { ImportContext, ImportNode } from '../context.js';
import { expandConst } from '../fold.js';
import { AlongAxis } from '../../../nn/layers/axis.js';
import { size, type ActValue, type ConstValue } from '../values.js';
import { fold, reshapeAct, sampleAxisOf, type Converter } from './common.js';

/** A per-channel constant as C values (shape [C] or broadcastable to it). */
function perChannel(ctx: ImportContext, node: ImportNode, c: ConstValue, channels: number, what: string): Float32Array {
  if (c.batch || size(c.dims) !== channels)
    return ctx.fail(node, `${what} has shape [${c.dims.join(', ')}], expected ${channels} values (one per channel)`);
  return Float32Array.from(c.data);
}

const batchNormalization: Converter = (ctx, node, inputs) => {
  const x = ctx.act(node, inputs, 0, 'X');
  const at = ctx.attrs(node);
  if (at.int('training_mode', 0) !== 0) return ctx.fail(node, 'training_mode = 1 is not supported: sparsenn imports models for inference (call train() afterwards to fine-tune)');
  if (at.int('spatial', 1) !== 1) return ctx.fail(node, 'spatial = 0 (statistics per position) is not supported');
  const rank = x.shape.length;
  if (rank < 1 || rank > 3) return ctx.fail(node, `BatchNormalization needs [N, C], [N, C, L] or [N, C, H, W], got [N, ${x.shape.join(', ')}]`);
  const ch = x.shape[0]!;
  const eps = at.float('epsilon', 1e-5);
  // ONNX: running = running * momentum + batch * (1 - momentum); PyTorch's momentum is the other weight.
  const momentum = Math.min(1, Math.max(0, 1 - at.float('momentum', 0.9)));
  const bn = rank === 3 ? new BatchNorm2d(ch, { eps, momentum }) : new BatchNorm1d(ch, { eps, momentum });
  bn.weight!.data.set(perChannel(ctx, node, ctx.konst(node, inputs, 1, 'scale'), ch, 'scale'));
  bn.bias!.data.set(perChannel(ctx, node, ctx.konst(node, inputs, 2, 'B'), ch, 'B'));
  bn.runningMean!.set(perChannel(ctx, node, ctx.konst(node, inputs, 3, 'input_mean'), ch, 'input_mean'));
  bn.runningVar!.set(perChannel(ctx, node, ctx.konst(node, inputs, 4, 'input_var'), ch, 'input_var'));
  return ctx.emit(node, bn, [x]);
};

/**
 * LayerNorm over ONNX axes [axis, rank): the whole sample when axis = 1; otherwise the trailing
 * axes are flattened into one and normalised per position (AlongAxis).
 */
export function layerNormOver(ctx: ImportContext, node: ImportNode, x: ActValue, axis: number, eps: number, scale: ConstValue | null, bias: ConstValue | null): ActValue {
  const a = sampleAxisOf(ctx, node, x, axis);
  const normDims = x.shape.slice(a);
  const lead = x.shape.slice(0, a);
  const p = size(normDims);
  const full = (c: ConstValue | null, what: string): Float32Array | null => {
    if (!c) return null;
    if (c.batch) return ctx.fail(node, `${what} depends on the batch size`);
    const e = fold(ctx, node, () => expandConst(c, normDims));
    if (e.dims.length !== normDims.length || e.dims.some((d, i) => d !== normDims[i]))
      return ctx.fail(node, `${what} [${c.dims.join(', ')}] does not match the normalised shape [${normDims.join(', ')}]`);
    return Float32Array.from(e.data);
  };
  const w = full(scale, 'the scale');
  const b = full(bias, 'the bias');
  const ln = new LayerNorm(a === 0 ? normDims : [p], { eps });
  ln.weight!.data.set(w ?? new Float32Array(p).fill(1));
  ln.bias!.data.set(b ?? new Float32Array(p));
  if (a === 0) return ctx.emit(node, ln, [x]);
  const flat = reshapeAct(ctx, node, x, [...lead, p], 'flat');
  const y = ctx.emit(node, new AlongAxis(ln, -1), [flat]);
  return reshapeAct(ctx, node, y, x.shape, 'unflat');
}

const layerNormalization: Converter = (ctx, node, inputs) => {
  const x = ctx.act(node, inputs, 0, 'X');
  const at = ctx.attrs(node);
  const scale = ctx.konst(node, inputs, 1, 'Scale');
  const bias = inputs[2] ? ctx.konst(node, inputs, 2, 'B') : null;
  return layerNormOver(ctx, node, x, at.int('axis', -1), at.float('epsilon', 1e-5), scale, bias);
};

export const normOps: Record<string, Converter> = {
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
};

/**
 * LayerNorm fused by the importer's pre-pass from its decomposition (ReduceMean, Sub, Pow,
 * ReduceMean, Add eps, Sqrt, Div, then optionally Mul scale and Add bias): inputs [x, scale?,
 * bias?], attributes axis and epsilon.
 */
export const layerNormFused: Converter = (ctx, node, inputs) => {
  const x = ctx.act(node, inputs, 0, 'X');
  const at = ctx.attrs(node);
  const scale = inputs[1] ? ctx.konst(node, inputs, 1, 'the scale') : null;
  const bias = inputs[2] ? ctx.konst(node, inputs, 2, 'the bias') : null;
  return layerNormOver(ctx, node, x, at.int('axis', -1), at.float('epsilon', 1e-5), scale, bias);
};
