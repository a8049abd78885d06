/**
 * The values an ONNX graph carries during import: constants (folded at import, the batch size
 * a symbol) and activations (graph values of the sparsenn model, batch-last).
 *
 * Layout rule: axis 0 of every graph input is the batch. An ONNX activation [N, d1, ..., dk] is
 * the sparsenn tensor [d1, ..., dk, N]; ONNX axis a >= 1 is sample axis a - 1.
 */
import { LimitError } from '../../errors.js';
import type { GraphValue } from '../../nn/graph.js';
import type { Tensor } from '../../nn/tensor.js';

/**
 * A constant tensor in ONNX layout. Float constants hold float32 values (so folding rounds like
 * a float32 runtime); integer constants hold exact integers in a Float64Array. Integer values
 * from shape arithmetic may depend on the batch size N: element i is data[i] + batch[i] * N.
 */
export interface ConstValue {
  readonly kind: 'const';
  readonly float: boolean;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array;
  /** Per element, the multiple of the batch size N in its value; null when none depends on N. */
  readonly batch: Float64Array | null;
}

/** An activation: a value of the sparsenn graph, with its sample shape and a batch-1 probe. */
export interface ActValue {
  readonly kind: 'act';
  readonly ref: GraphValue;
  /** ONNX dims after the batch (the sparsenn shape without its last axis). */
  readonly shape: readonly number[];
  /**
   * The value computed at import on a batch of one zero-filled sample: it tells each module's
   * output shape exactly as the module computes it.
   */
  readonly probe: Tensor;
}

export type Value = ConstValue | ActValue;

/**
 * The most elements one sample of an activation, or one folded constant, may have during the
 * import in progress (limits.maxValueElements, default 2^27 = 512 MiB of float32): a corrupt
 * or hostile file must not make the importer allocate without bound. Real models stay far
 * below (a 4K RGB image is 2^24.6 values). importOnnx sets it for the (synchronous) import.
 */
let elementLimit = 2 ** 27;
/**
 * Values shape inference may still compute in this import (limits.maxTotalValueElements).
 * Each node's probe runs its module on one sample, so without a total a small file chaining
 * many large nodes would cost minutes and gigabytes.
 */
let workTotal = 2 ** 30;
let workLeft = workTotal;

export function maxImportElements(): number {
  return elementLimit;
}

/** Counts `n` values computed by shape inference against the import's total. */
export function chargeImportWork(n: number): void {
  workLeft -= n;
  if (workLeft < 0)
    throw new LimitError('ERR_LIMIT', `ONNX import: shape inference computes more than ${workTotal} values in all (raise limits.maxTotalValueElements to import this model)`);
}

/** Runs `fn` (synchronous) with the per-value limit `limit` and a fresh total of `total` values. */
export function withElementLimit<T>(limit: number, total: number, fn: () => T): T {
  const outer = [elementLimit, workTotal, workLeft] as const;
  elementLimit = limit;
  workTotal = total;
  workLeft = total;
  try {
    return fn();
  } finally {
    [elementLimit, workTotal, workLeft] = outer;
  }
}

export function size(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** A float constant (values rounded to float32). */
export function floatConst(dims: readonly number[], data: ArrayLike<number>): ConstValue {
  return { kind: 'const', float: true, dims: [...dims], data: Float32Array.from(data), batch: null };
}

/** An integer constant; `batch` gives the multiple of N in each element (see ConstValue). */
export function intConst(dims: readonly number[], data: ArrayLike<number>, batch: ArrayLike<number> | null = null): ConstValue {
  const b = batch && Array.from(batch).some((v) => v !== 0) ? Float64Array.from(batch) : null;
  return { kind: 'const', float: false, dims: [...dims], data: Float64Array.from(data), batch: b };
}

/** Formats a constant's element i, "N" terms included (for messages). */
export function formatElement(c: ConstValue, i: number): string {
  const k = c.batch ? c.batch[i]! : 0;
  const v = c.data[i]!;
  if (k === 0) return String(v);
  const n = k === 1 ? 'N' : `${k}N`;
  return v === 0 ? n : `${n}${v < 0 ? '-' : '+'}${Math.abs(v)}`;
}

export function formatConst(c: ConstValue, limit = 16): string {
  const n = c.data.length;
  const parts: string[] = [];
  for (let i = 0; i < Math.min(n, limit); i++) parts.push(formatElement(c, i));
  return `[${parts.join(', ')}${n > limit ? ', ...' : ''}]`;
}
