/** What the operator converters share: their signature, axis mapping, constant broadcasting. */
import { Reshape } from '../../../nn/layers/activations.js';
import type { ImportContext, ImportNode } from '../context.js';
import { FoldError } from '../fold.js';
import { formatConst, type ActValue, type ConstValue, type Value } from '../values.js';

/**
 * Converts one ONNX node: given its input values (undefined for omitted optional inputs),
 * returns its output values in order (a single value for a one-output node). Converters fold
 * constant inputs themselves and emit modules for activations.
 */
export type Converter = (ctx: ImportContext, node: ImportNode, inputs: ReadonlyArray<Value | undefined>) => Value | ReadonlyArray<Value | undefined>;

/** Runs a constant fold, turning its error into one that names the node. */
export function fold<T>(ctx: ImportContext, node: ImportNode, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FoldError) return ctx.fail(node, e.message);
    throw e;
  }
}

/** The ONNX rank of an activation (the batch included). */
export function onnxRank(x: ActValue): number {
  return x.shape.length + 1;
}

/**
 * The sparsenn sample axis of ONNX axis `axis` of activation `x` (negative counts from the end).
 * Axis 0 is the batch: an operator that would act on it is rejected.
 */
export function sampleAxisOf(ctx: ImportContext, node: ImportNode, x: ActValue, axis: number, what = 'axis'): number {
  const r = onnxRank(x);
  const a = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(a) || a < 0 || a >= r) return ctx.fail(node, `${what} ${axis} is out of range for an input of rank ${r}`);
  if (a === 0)
    return ctx.fail(node, `${what} ${axis} is the batch axis (axis 0 of [N, ${x.shape.join(', ')}]); sparsenn keeps the batch separate and cannot ${what === 'axis' ? 'operate on' : 'use'} it`);
  return a - 1;
}

/**
 * A constant operand of an element-wise op with activation `x`, as a sample-shaped float
 * constant: numpy aligns trailing dims, so a constant of x's full rank must have 1 for the batch
 * (that dim is dropped), and one of higher rank would broadcast the batch into new axes.
 */
export function sampleConstant(ctx: ImportContext, node: ImportNode, c: ConstValue, x: ActValue): { data: Float32Array; shape: number[] } {
  if (c.batch) return ctx.fail(node, `the constant operand ${formatConst(c)} depends on the batch size`);
  const r = onnxRank(x);
  let dims = [...c.dims];
  if (dims.length > r) {
    if (dims.slice(0, dims.length - r + 1).some((d) => d !== 1))
      return ctx.fail(node, `the constant operand [${c.dims.join(', ')}] has more axes than the activation [N, ${x.shape.join(', ')}]`);
    dims = dims.slice(dims.length - r + 1);
  } else if (dims.length === r) {
    if (dims[0] !== 1)
      return ctx.fail(node, `the constant operand [${c.dims.join(', ')}] varies along the batch axis of [N, ${x.shape.join(', ')}] (its first dim must be 1)`);
    dims = dims.slice(1);
  }
  return { data: Float32Array.from(c.data), shape: dims };
}

/** x reshaped to a new sample shape: a Reshape module, or x itself when the shape is unchanged. */
export function reshapeAct(ctx: ImportContext, node: ImportNode, x: ActValue, shape: readonly number[], tag?: string): ActValue {
  if (shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i])) return x;
  return ctx.emit(node, new Reshape(shape), [x], tag);
}

/** The first value of a constant that must hold one number (a scalar or a 1-element tensor). */
export function scalarOf(ctx: ImportContext, node: ImportNode, c: ConstValue, what: string): number {
  if (c.data.length !== 1) return ctx.fail(node, `${what} must be a single value, got a tensor of shape [${c.dims.join(', ')}]`);
  if (c.batch) return ctx.fail(node, `${what} depends on the batch size`);
  return c.data[0]!;
}

/** Spatial pads [b1, b2, ..., e1, e2, ...] as symmetric per-axis pads, or null when asymmetric. */
export function symmetricPads(pads: readonly number[]): number[] | null {
  const k = pads.length / 2;
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    if (pads[i] !== pads[i + k]) return null;
    out.push(pads[i]!);
  }
  return out;
}

/**
 * Pads for auto_pad SAME_UPPER / SAME_LOWER (output = ceil(input / stride)): the total per axis,
 * split with the extra one at the end (UPPER) or the beginning (LOWER). VALID: zeros. NOTSET: `pads`.
 */
export function resolveAutoPad(
  ctx: ImportContext,
  node: ImportNode,
  autoPad: string,
  pads: readonly number[] | undefined,
  input: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
): number[] {
  const k = kernel.length;
  switch (autoPad) {
    case 'NOTSET':
    case '':
      if (pads && pads.length !== 2 * k) return ctx.fail(node, `pads [${pads.join(', ')}] must have ${2 * k} entries`);
      return pads ? [...pads] : new Array<number>(2 * k).fill(0);
    case 'VALID':
      return new Array<number>(2 * k).fill(0);
    case 'SAME_UPPER':
    case 'SAME_LOWER': {
      const begin: number[] = [];
      const end: number[] = [];
      for (let i = 0; i < k; i++) {
        const out = Math.ceil(input[i]! / strides[i]!);
        const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - input[i]!);
        const small = Math.floor(total / 2);
        begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
        end.push(autoPad === 'SAME_UPPER' ? total - small : small);
      }
      return [...begin, ...end];
    }
    default:
      return ctx.fail(node, `auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  }
}
