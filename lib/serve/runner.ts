/**
 * What a serving worker runs. A runner module exports `createRunner(init)`; the pool's workers
 * import it, build one runner each from the shared model bytes, and call `run` per batch. The
 * default runner compiles the model with sparsenn (sparsenn-runner.ts); a custom one (another
 * engine, for a like-for-like comparison) only has to follow this interface.
 */
import type { ValueSpec } from '../infer/inputs.js';
import type { BatchLayout } from './batch-layout.js';

export interface Runner {
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  /** The layout of the arrays `run` takes and returns. */
  readonly layout: BatchLayout;
  /**
   * One batch: an array per input (n samples) → an array per output. The outputs' buffers are
   * transferred to the pool (detached here), so return arrays the runner does not reuse.
   */
  run(arrays: Float32Array[], n: number): Float32Array[] | Promise<Float32Array[]>;
  close?(): void | Promise<void>;
}

export interface RunnerInit {
  /** The model file's bytes (a view of memory shared by every worker: do not write to it). */
  readonly bytes: Uint8Array;
  /** The pool's runnerOptions (structured-cloned). */
  readonly options: unknown;
}

export type CreateRunner = (init: RunnerInit) => Runner | Promise<Runner>;
