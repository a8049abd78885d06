/**
 * Conv -> Conv2d and ConvTranspose -> ConvTranspose2d, with the weight as the layer's Parameter.
 * 1-D convolutions ([N, C, L]) run as 2-D ones of height 1 between two Reshapes. Uneven Conv
 * padding becomes a ConstantPad in front of the Conv2d; ConvTranspose maps uneven padding onto
 * PyTorch's output_padding where it can.
 */
import { Conv2d } from '../../../nn/layers/conv.js';
import { ConvTranspose2d } from '../../../nn/layers/tensor-ops.js';
import type { ImportContext, ImportNode } from '../context.js';
import { ConstantPad } from '../../../nn/layers/axis.js';
import { maxImportElements, type ActValue, type ConstValue } from '../values.js';
import { reshapeAct, resolveAutoPad, symmetricPads, type Converter } from './common.js';

interface ConvGeometry {
  x: ActValue;
  w: ConstValue;
  bias: Float32Array | null;
  spatial: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  group: number;
}

function geometry(ctx: ImportContext, node: ImportNode, inputs: Parameters<Converter>[2]): ConvGeometry {
  const x = ctx.act(node, inputs, 0, 'X');
  const w = ctx.konst(node, inputs, 1, 'W (the weight)');
  if (w.batch) return ctx.fail(node, 'the weight depends on the batch size');
  const spatial = x.shape.length - 1;
  if (spatial !== 1 && spatial !== 2)
    return ctx.fail(node, `sparsenn converts 1-D and 2-D convolutions ([N, C, L] or [N, C, H, W]), got input [N, ${x.shape.join(', ')}]`);
  if (w.dims.length !== spatial + 2) return ctx.fail(node, `the weight [${w.dims.join(', ')}] must have ${spatial + 2} dims for input [N, ${x.shape.join(', ')}]`);
  const at = ctx.attrs(node);
  const kernel = w.dims.slice(2);
  const ks = at.ints('kernel_shape');
  if (ks && (ks.length !== spatial || ks.some((k, i) => k !== kernel[i])))
    return ctx.fail(node, `kernel_shape [${ks.join(', ')}] does not match the weight [${w.dims.join(', ')}]`);
  const ones = new Array<number>(spatial).fill(1);
  const strides = at.ints('strides', ones);
  const dilations = at.ints('dilations', ones);
  if (strides.length !== spatial || dilations.length !== spatial)
    return ctx.fail(node, `strides [${strides.join(', ')}] and dilations [${dilations.join(', ')}] need ${spatial} entries`);
  const group = at.int('group', 1);
  let bias: Float32Array | null = null;
  if (inputs[2]) {
    const b = ctx.konst(node, inputs, 2, 'B (the bias)');
    if (b.batch) return ctx.fail(node, 'the bias depends on the batch size');
    bias = Float32Array.from(b.data);
  }
  return { x, w, bias, spatial, kernel, strides, dilations, group };
}

/** A 1-D geometry as 2-D with a leading axis of 1. */
function as2d(v: readonly number[], one: number): [number, number] {
  return v.length === 1 ? [one, v[0]!] : [v[0]!, v[1]!];
}

const conv: Converter = (ctx, node, inputs) => {
  const g = geometry(ctx, node, inputs);
  const { x, w, spatial, kernel, strides, dilations, group } = g;
  const [m, cg] = w.dims as [number, number];
  const c = x.shape[0]!;
  if (cg * group !== c) return ctx.fail(node, `the weight [${w.dims.join(', ')}] with group ${group} expects ${cg * group} input channels, got ${c}`);
  if (m % group !== 0) return ctx.fail(node, `group ${group} does not divide the ${m} output channels`);
  if (g.bias && g.bias.length !== m) return ctx.fail(node, `the bias has ${g.bias.length} values for ${m} output channels`);
  const at = ctx.attrs(node);
  const pads = resolveAutoPad(ctx, node, at.string('auto_pad', 'NOTSET'), at.ints('pads'), x.shape.slice(1), kernel, strides, dilations);
  // Uneven padding: an explicit ConstantPad in front of an unpadded convolution.
  let sym = symmetricPads(pads);
  let input = x;
  if (!sym) {
    input = ctx.emit(node, new ConstantPad([0, ...pads.slice(0, spatial), 0, ...pads.slice(spatial)], 0), [x], 'pad');
    sym = new Array<number>(spatial).fill(0);
  }
  const layer = new Conv2d(c, m, as2d(kernel, 1), {
    stride: as2d(strides, 1),
    padding: as2d(sym, 0),
    dilation: as2d(dilations, 1),
    groups: group,
    bias: g.bias !== null,
  });
  layer.weight.data.set(w.data);
  if (g.bias) layer.bias!.data.set(g.bias);
  if (spatial === 2) return ctx.emit(node, layer, [input]);
  const x2 = reshapeAct(ctx, node, input, [c, 1, input.shape[1]!], 'as2d');
  const y2 = ctx.emit(node, layer, [x2]);
  return reshapeAct(ctx, node, y2, [y2.shape[0]!, y2.shape[2]!], 'as1d');
};

const convTranspose: Converter = (ctx, node, inputs) => {
  const g = geometry(ctx, node, inputs);
  const { x, w, spatial, kernel, strides, dilations, group } = g;
  const c = x.shape[0]!;
  if (w.dims[0] !== c) return ctx.fail(node, `the weight [${w.dims.join(', ')}] expects ${w.dims[0]} input channels, got ${c}`);
  if (c % group !== 0) return ctx.fail(node, `group ${group} does not divide the ${c} input channels`);
  const m = w.dims[1]! * group;
  if (g.bias && g.bias.length !== m) return ctx.fail(node, `the bias has ${g.bias.length} values for ${m} output channels`);
  const at = ctx.attrs(node);
  const outputPadding = at.ints('output_padding', new Array<number>(spatial).fill(0));
  const autoPad = at.string('auto_pad', 'NOTSET');
  const outputShape = at.ints('output_shape');
  const inSize = x.shape.slice(1);
  let pads = at.ints('pads', new Array<number>(2 * spatial).fill(0));
  if (outputShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    // ONNX's rule: the total padding follows from the requested output size, split evenly with
    // the odd one at the beginning unless SAME_UPPER.
    const want = outputShape ? outputShape.slice(-spatial) : inSize.map((d, i) => d * strides[i]!);
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < spatial; i++) {
      const total = strides[i]! * (inSize[i]! - 1) + outputPadding[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - want[i]!;
      if (total < 0) return ctx.fail(node, `output_shape [${want.join(', ')}] is larger than the transposed convolution can produce`);
      const half = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? half : total - half);
      end.push(autoPad === 'SAME_UPPER' ? total - half : half);
    }
    pads = [...begin, ...end];
  } else if (autoPad === 'VALID') {
    pads = new Array<number>(2 * spatial).fill(0);
  }
  if (pads.length !== 2 * spatial) return ctx.fail(node, `pads [${pads.join(', ')}] must have ${2 * spatial} entries`);
  // PyTorch crops `padding` at the start and `padding - output_padding` at the end.
  const padding = pads.slice(0, spatial);
  const extra = outputPadding.map((op, i) => op + pads[i]! - pads[i + spatial]!);
  if (extra.some((e, i) => e < 0 || e >= Math.max(strides[i]!, dilations[i]!)))
    return ctx.fail(node, `padding [${pads.join(', ')}] with output_padding [${outputPadding.join(', ')}] cannot be expressed as PyTorch's padding and output_padding`);
  const outSize = inSize.map((d, i) => (d - 1) * strides[i]! - 2 * padding[i]! + dilations[i]! * (kernel[i]! - 1) + extra[i]! + 1);
  if (!(m * outSize.reduce((p, d) => p * d, 1) <= maxImportElements()))
    return ctx.fail(node, `its output [${m}, ${outSize.join(', ')}] would have more than ${maxImportElements()} values per sample`);
  const layer = new ConvTranspose2d(c, m, as2d(kernel, 1), {
    stride: as2d(strides, 1),
    padding: as2d(padding, 0),
    outputPadding: as2d(extra, 0),
    dilation: as2d(dilations, 1),
    groups: group,
    bias: g.bias !== null,
  });
  layer.weight.data.set(w.data);
  if (g.bias) layer.bias!.data.set(g.bias);
  if (spatial === 2) return ctx.emit(node, layer, [x]);
  const x2 = reshapeAct(ctx, node, x, [c, 1, x.shape[1]!], 'as2d');
  const y2 = ctx.emit(node, layer, [x2]);
  return reshapeAct(ctx, node, y2, [y2.shape[0]!, y2.shape[2]!], 'as1d');
};

export const convOps: Record<string, Converter> = {
  Conv: conv,
  ConvTranspose: convTranspose,
};
