/**
 * MaxPool / AveragePool -> MaxPool2d / AvgPool2d (1-D pools as 2-D of height 1), and
 * GlobalAveragePool -> GlobalAvgPool followed by a Reshape back to [C, 1, 1].
 */
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../../../nn/layers/pool.js';
import { ReduceMean } from '../../../nn/layers/tensor-ops.js';
import type { Module } from '../../../nn/module.js';
import type { ImportContext, ImportNode } from '../context.js';
import { ConstantPad } from '../../../nn/layers/axis.js';
import type { ActValue } from '../values.js';
import { reshapeAct, resolveAutoPad, symmetricPads, type Converter } from './common.js';

/** ONNX Runtime's pool output length (PyTorch's rule in ceil mode). */
function outputSize(size: number, k: number, s: number, begin: number, end: number, ceil: boolean): number {
  const span = size + begin + end - k;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (out - 1) * s >= size + begin) out--;
  return out;
}

function pool(kind: 'max' | 'avg'): Converter {
  return (ctx, node, inputs) => {
    const x = ctx.act(node, inputs, 0, 'X');
    const spatial = x.shape.length - 1;
    if (spatial !== 1 && spatial !== 2) return ctx.fail(node, `sparsenn converts 1-D and 2-D pools ([N, C, L] or [N, C, H, W]), got [N, ${x.shape.join(', ')}]`);
    const at = ctx.attrs(node);
    const kernel = at.ints('kernel_shape');
    if (!kernel || kernel.length !== spatial) return ctx.fail(node, `kernel_shape must have ${spatial} entries, got [${(kernel ?? []).join(', ')}]`);
    const ones = new Array<number>(spatial).fill(1);
    // ONNX's default stride is 1 (PyTorch's is the kernel).
    const strides = at.ints('strides', ones);
    const dilations = at.ints('dilations', ones);
    if (dilations.some((d) => d !== 1)) return ctx.fail(node, `dilations [${dilations.join(', ')}] are not supported in pools`);
    let ceilMode = at.int('ceil_mode', 0) === 1;
    const pads = resolveAutoPad(ctx, node, at.string('auto_pad', 'NOTSET'), at.ints('pads'), x.shape.slice(1), kernel, strides, dilations);
    const includePad = at.int('count_include_pad', 0) === 1;
    let sym = symmetricPads(pads);
    let input = x;
    if (!sym || sym.some((p, i) => 2 * p > kernel[i]!)) {
      // Padding the pools cannot express: pad explicitly, with -Infinity for a max (it never
      // wins) or zeros for an average that counts them.
      if (kind === 'avg' && !includePad)
        return ctx.fail(node, `padding [${pads.join(', ')}] (uneven, or over half the kernel) is not supported for an average that excludes padding (count_include_pad = 0)`);
      // In ceil mode the last window must start inside the input or its left padding; with
      // explicit padding that rule would see a longer input. A max pool pads the end far enough
      // for floor rounding to reach ONNX's output size (the extra -Infinity never wins); an
      // average must get the size from its own rounding.
      const want = x.shape.slice(1).map((d, i) => outputSize(d, kernel[i]!, strides[i]!, pads[i]!, pads[i + spatial]!, ceilMode));
      const begin = pads.slice(0, spatial);
      let end = pads.slice(spatial);
      if (kind === 'max') {
        end = end.map((e, i) => Math.max(e, (want[i]! - 1) * strides[i]! + kernel[i]! - x.shape[i + 1]! - begin[i]!));
        ceilMode = false;
      }
      input = ctx.emit(node, new ConstantPad([0, ...begin, 0, ...end], kind === 'max' ? -Infinity : 0), [x], 'pad');
      sym = new Array<number>(spatial).fill(0);
      if (kind === 'avg') {
        const got = input.shape.slice(1).map((d, i) => outputSize(d, kernel[i]!, strides[i]!, 0, 0, ceilMode));
        if (!got.every((g, i) => g === want[i]))
          return ctx.fail(node, `ceil_mode with uneven padding [${pads.join(', ')}] gives an output size sparsenn's average pool cannot reproduce`);
      }
    }
    const two = (v: number[], one: number): [number, number] => (v.length === 1 ? [one, v[0]!] : [v[0]!, v[1]!]);
    const opts = { stride: two(strides, 1), padding: two(sym, 0), ceilMode };
    const layer: Module =
      kind === 'max' ? new MaxPool2d(two(kernel, 1), opts) : new AvgPool2d(two(kernel, 1), { ...opts, countIncludePad: includePad });
    if (spatial === 2) return [ctx.emit(node, layer, [input])];
    const x2 = reshapeAct(ctx, node, input, [input.shape[0]!, 1, input.shape[1]!], 'as2d');
    const y2 = ctx.emit(node, layer, [x2]);
    return [reshapeAct(ctx, node, y2, [y2.shape[0]!, y2.shape[2]!], 'as1d')];
  };
}

/** Mean over every spatial axis, kept as 1s: GlobalAvgPool + Reshape for images, ReduceMean otherwise. */
function globalAverage(ctx: ImportContext, node: ImportNode, x: ActValue): ActValue {
  if (x.shape.length < 2) return ctx.fail(node, `GlobalAveragePool needs [N, C, ...spatial], got [N, ${x.shape.join(', ')}]`);
  if (x.shape.length === 3) {
    const y = ctx.emit(node, new GlobalAvgPool(), [x]);
    return reshapeAct(ctx, node, y, [x.shape[0]!, 1, 1], 'keepdims');
  }
  return ctx.emit(node, new ReduceMean(x.shape.slice(1).map((_, i) => i + 1), true), [x]);
}

export const poolOps: Record<string, Converter> = {
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: (ctx, node, inputs) => globalAverage(ctx, node, ctx.act(node, inputs, 0, 'X')),
};
