/** The messages between the pool and its workers. */
import type { ValueSpec } from '../infer/inputs.js';
import type { BatchLayout } from './batch-layout.js';

export interface WireError {
  code: string;
  message: string;
  name: string;
}

/** A batch to run: arrays per input in `layout` (the worker converts to its runner's). */
export type FromPool = { type: 'run'; id: number; arrays: Float32Array[]; n: number; layout: BatchLayout } | { type: 'close' };

export type ToPool =
  | { type: 'ready'; inputs: ValueSpec[]; outputs: ValueSpec[]; layout: BatchLayout }
  | { type: 'init-failed'; error: WireError }
  | { type: 'result'; id: number; outputs: Float32Array[] }
  | { type: 'failed'; id: number; error: WireError };
