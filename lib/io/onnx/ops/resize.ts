/**
 * Resize (opsets 10, 11, 13, 18+ without the newer attributes) and Upsample (opset 9) of images
 * [N, C, H, W] -> Resize on H and W. Opsets below 11 map output pixels to input pixels
 * 'asymmetric'ally and round nearest neighbours down (up when shrinking), as ONNX Runtime does.
 */
import { Resize } from '../../../nn/layers/tensor-ops.js';
import type { CoordinateTransformationMode, NearestMode, ResizeMode } from '../../../nn/ops/resize.js';
import type { ImportContext, ImportNode } from '../context.js';
import { maxImportElements, type ActValue, type ConstValue, type Value } from '../values.js';
import type { Converter } from './common.js';

const CT_MODES: readonly string[] = ['half_pixel', 'pytorch_half_pixel', 'asymmetric', 'align_corners', 'tf_half_pixel_for_nn'];
const NEAREST_MODES: readonly string[] = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

function checkImage(ctx: ImportContext, node: ImportNode, x: ActValue): void {
  if (x.shape.length !== 3) return ctx.fail(node, `sparsenn resizes images [N, C, H, W], got [N, ${x.shape.join(', ')}]`);
}

/** Rejects an output size no real model asks for before anything is allocated. */
function checkOutput(ctx: ImportContext, node: ImportNode, x: ActValue, oh: number, ow: number): void {
  const n = x.shape[0]! * oh * ow;
  if (!(n <= maxImportElements())) ctx.fail(node, `the resized sample [${x.shape[0]}, ${oh}, ${ow}] would have more than ${maxImportElements()} values`);
}

function modeOf(ctx: ImportContext, node: ImportNode): ResizeMode {
  const mode = ctx.attrs(node).string('mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear')
    return ctx.fail(node, `mode '${mode}' is not supported (nearest and linear are)`);
  return mode === 'bilinear' ? 'linear' : mode;
}

/** [sh, sw] from ONNX scales [1, 1, sh, sw]. */
function spatialScales(ctx: ImportContext, node: ImportNode, c: ConstValue): [number, number] {
  const s = Array.from(c.data);
  if (s.length !== 4) return ctx.fail(node, `scales [${s.join(', ')}] must have 4 entries (N, C, H, W)`);
  if (s[0] !== 1 || s[1] !== 1) return ctx.fail(node, `scales [${s.join(', ')}] resize the batch or channel axis; only H and W can be resized`);
  return [s[2]!, s[3]!];
}

/** Opsets < 11 (and Upsample): scales only, asymmetric coordinates, floor/ceil nearest. */
function legacy(ctx: ImportContext, node: ImportNode, inputs: ReadonlyArray<Value | undefined>): ActValue {
  const x = ctx.act(node, inputs, 0, 'X');
  checkImage(ctx, node, x);
  let scales: [number, number];
  const attr = ctx.attrs(node).floats('scales');
  if (inputs[1]) scales = spatialScales(ctx, node, ctx.konst(node, inputs, 1, 'scales'));
  else if (attr) scales = spatialScales(ctx, node, { kind: 'const', float: true, dims: [attr.length], data: Float32Array.from(attr), batch: null });
  else return ctx.fail(node, 'scales are required');
  const up = scales.every((s) => s >= 1);
  const down = scales.every((s) => s < 1);
  checkOutput(ctx, node, x, Math.floor(x.shape[1]! * scales[0]), Math.floor(x.shape[2]! * scales[1]));
  if (!up && !down) return ctx.fail(node, `scales [${scales.join(', ')}] enlarge one axis and shrink the other, which this opset's nearest rounding does not define per axis`);
  return ctx.emit(node, new Resize({ mode: modeOf(ctx, node), scales, coordinateTransformationMode: 'asymmetric', nearestMode: up ? 'floor' : 'ceil' }), [x]);
}

const resize: Converter = (ctx, node, inputs) => {
  if (ctx.opset < 11) return legacy(ctx, node, inputs);
  const x = ctx.act(node, inputs, 0, 'X');
  checkImage(ctx, node, x);
  const at = ctx.attrs(node);
  const ct = at.string('coordinate_transformation_mode', 'half_pixel');
  if (!CT_MODES.includes(ct)) return ctx.fail(node, `coordinate_transformation_mode '${ct}' is not supported (${CT_MODES.join(', ')} are)`);
  const nearest = at.string('nearest_mode', 'round_prefer_floor');
  if (!NEAREST_MODES.includes(nearest)) return ctx.fail(node, `nearest_mode '${nearest}' is not supported`);
  if (at.int('exclude_outside', 0) !== 0) return ctx.fail(node, 'exclude_outside = 1 is not supported');
  if (at.int('antialias', 0) !== 0) return ctx.fail(node, 'antialias = 1 is not supported');
  if (at.has('axes')) return ctx.fail(node, 'the axes attribute is not supported');
  if (at.string('keep_aspect_ratio_policy', 'stretch') !== 'stretch') return ctx.fail(node, 'keep_aspect_ratio_policy other than stretch is not supported');
  const common = { mode: modeOf(ctx, node), coordinateTransformationMode: ct as CoordinateTransformationMode, nearestMode: nearest as NearestMode };
  const scales = inputs[2] && inputs[2].kind === 'const' && inputs[2].data.length > 0 ? inputs[2] : undefined;
  if (inputs[2] && inputs[2].kind !== 'const') return ctx.fail(node, 'scales must be a constant');
  if (scales) {
    const sc = spatialScales(ctx, node, scales);
    checkOutput(ctx, node, x, Math.floor(x.shape[1]! * sc[0]), Math.floor(x.shape[2]! * sc[1]));
    return ctx.emit(node, new Resize({ ...common, scales: sc }), [x]);
  }
  const sizes = inputs[3] ? ctx.konst(node, inputs, 3, 'sizes') : undefined;
  if (!sizes || sizes.data.length !== 4) return ctx.fail(node, 'needs scales or sizes for the 4 axes (N, C, H, W)');
  const s = Array.from(sizes.data);
  const k = sizes.batch ? Array.from(sizes.batch) : [0, 0, 0, 0];
  const batchOk = (k[0] === 1 && s[0] === 0) || (k[0] === 0 && ctx.fixedBatch !== null && s[0] === ctx.fixedBatch);
  if (!batchOk || k.slice(1).some((v) => v !== 0) || s[1] !== x.shape[0])
    return ctx.fail(node, `sizes must keep the batch and the ${x.shape[0]} channels, got [${s.map((v, i) => (k[i] ? 'N' : v)).join(', ')}]`);
  checkOutput(ctx, node, x, s[2]!, s[3]!);
  return ctx.emit(node, new Resize({ ...common, sizes: [s[2]!, s[3]!] }), [x]);
};

export const resizeOps: Record<string, Converter> = {
  Resize: resize,
  Upsample: (ctx, node, inputs) => legacy(ctx, node, inputs),
};
