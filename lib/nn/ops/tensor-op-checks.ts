/**
 * Argument checks and error-message formatting shared by the general tensor ops (broadcast.ts,
 * unary.ts, matmul-acts.ts, indexing.ts, reduce.ts, resize.ts, conv-transpose.ts), kept in one
 * place so every op rejects bad input with the same typed errors and wording.
 *
 * A value is [d0, ..., dk, n] with the batch n last and contiguous. Every axis argument names a
 * SAMPLE axis 0..k (negative counts back from the last sample axis, -1 = dk); the batch axis is
 * never touched, so each op works on the sample shape [d0, ..., dk] and keeps n. ONNX axis a + 1
 * is our sample axis a.
 */
import { ShapeError, SparsennTypeError } from '../../errors.js';
import { Tensor } from '../tensor.js';
import { sampleAxis } from './elementwise.js';

/** A shape as `[a, b, c]` for error messages. */
export function fmt(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

/** What a bad argument was, for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return typeof v === 'object' ? (v.constructor?.name ?? 'an object') : `${typeof v} ${String(v)}`;
}

/** A batch-last tensor (rank >= 1: at least the batch axis). */
export function checkActivation(t: unknown, what: string): Tensor {
  if (!(t instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `${what} must be a Tensor, got ${describe(t)}`);
  if (t.rank < 1) throw new ShapeError('ERR_SHAPE', `${what} must be a batch-last tensor [...sample, batch], got a scalar`);
  return t;
}

/** An array (or typed array) of integers, copied into a plain array. */
export function checkIntArray(v: unknown, what: string): number[] {
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new SparsennTypeError('ERR_TYPE', `${what} must be an array of integers, got ${describe(v)}`);
  const out = Array.from(v as ArrayLike<number>);
  for (const [i, d] of out.entries())
    if (typeof d !== 'number' || !Number.isInteger(d)) throw new SparsennTypeError('ERR_TYPE', `${what}[${i}] must be an integer, got ${String(d)}`);
  return out;
}

/** Resolves a list of sample axes (negative allowed), rejecting repeats. */
export function sampleAxes(axes: readonly number[], x: Tensor, what: string): number[] {
  const out = axes.map((a) => sampleAxis(a, x.rank, what, x.shape));
  const seen = new Set<number>();
  for (const [i, a] of out.entries()) {
    if (seen.has(a)) throw new ShapeError('ERR_SHAPE', `${what}: axis ${axes[i]} repeats sample axis ${a} (axes ${fmt(axes)})`);
    seen.add(a);
  }
  return out;
}
