/**
 * The arrays a module allocates for its parameters, buffers and constants when it is
 * constructed. While an architecture from a file is rebuilt (moduleFromConfig with a
 * `maxElements` limit), every such array is charged against that budget before it is
 * allocated, so a small hostile file cannot make a constructor allocate gigabytes (a
 * LayerNorm of [65536, 65536] in a 1 KB header, say).
 */
import { LimitError } from '../errors.js';

let budget: { limit: number; left: number } | null = null;

/** A zeroed Float32Array of n elements for a module's state; charged while a budget is set. */
export function stateArray(n: number): Float32Array {
  if (budget !== null) {
    if (!(n <= budget.left))
      throw new LimitError('ERR_LIMIT', `the architecture's parameters and buffers need more than ${budget.limit} elements in all (raise limits.maxElements to load a model this large)`);
    budget.left -= n;
  }
  return new Float32Array(n);
}

/** Runs `fn` with a fresh budget of `limit` elements (Infinity: none); budgets do not nest. */
export function withStateBudget<T>(limit: number, fn: () => T): T {
  if (budget !== null || limit === Infinity) return fn();
  budget = { limit, left: limit };
  try {
    return fn();
  } finally {
    budget = null;
  }
}
