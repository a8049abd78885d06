/**
 * InferenceSession: a compiled model. run() and runAsync() take batch-last tensors of any batch
 * size and return every named output. Buffers are planned once (values whose lifetimes do not
 * overlap share a buffer) and allocated per batch size on first use; each concurrent run takes
 * its own set, so overlapping runAsync() calls are safe.
 */
import { NativeError } from '../errors.js';
import { Tensor } from '../nn/tensor.js';
import { parseSessionInputs, type SessionInputs, type ValueSpec } from './inputs.js';
import type { LayerKernel } from './layer-kernels.js';
import type { PlanReport } from './plan-report.js';
import type { Step, Workspace } from './steps.js';

export interface SessionValue {
  readonly name: string;
  readonly value: number;
  readonly shape: readonly number[];
}

/** What compile() hands the session. */
export interface SessionParts {
  readonly inputs: readonly SessionValue[];
  readonly outputs: readonly SessionValue[];
  readonly steps: readonly Step[];
  /** Per value: the buffer slot it lives in (-1 for model inputs, which use the caller's arrays). */
  readonly slotOf: readonly number[];
  /** Per slot: floats per sample. */
  readonly slotSizes: readonly number[];
  /** Per value: floats per sample. */
  readonly valueSizes: readonly number[];
  /** Per value: the model input it aliases, or -1. */
  readonly inputOf: readonly number[];
  readonly batchSizes: readonly number[];
  readonly kernels: readonly LayerKernel[];
  /** Other native resources to free on dispose() (a CUDA plan's device memory). */
  readonly release: ReadonlyArray<() => void>;
  readonly report: PlanReport;
}

export type { SessionInputs, ValueSpec } from './inputs.js';

/**
 * The buffers of runs with one batch size: a slot per planned buffer, a view per value (made
 * once, so a run allocates nothing but its outputs), scratch space, and the run's inputs.
 */
class RunBuffers implements Workspace {
  readonly bucket: number;
  readonly #views: Float32Array[];
  readonly #inputOf: readonly number[];
  readonly #scratch = new Map<string, Float32Array>();
  inputs: Float32Array[] = [];

  constructor(
    p: SessionParts,
    readonly n: number,
  ) {
    let best = 0;
    p.batchSizes.forEach((b, i) => {
      if (Math.abs(Math.log(n / b)) < Math.abs(Math.log(n / p.batchSizes[best]!))) best = i;
    });
    this.bucket = best;
    const slots = p.slotSizes.map((size) => new Float32Array(size * n));
    const none = new Float32Array(0);
    this.#views = p.slotOf.map((slot, v) => (slot < 0 ? none : slots[slot]!.subarray(0, p.valueSizes[v]! * n)));
    this.#inputOf = p.inputOf;
  }

  value(v: number): Float32Array {
    const input = this.#inputOf[v]!;
    return input >= 0 ? this.inputs[input]! : this.#views[v]!;
  }

  scratch(key: string, length: number): Float32Array {
    let a = this.#scratch.get(key);
    if (!a || a.length < length) this.#scratch.set(key, (a = new Float32Array(length)));
    return a.subarray(0, length);
  }
}

export class InferenceSession {
  readonly #parts: SessionParts;
  readonly #pool = new Map<number, RunBuffers[]>();
  #disposed = false;

  /** @internal Use compile(). */
  constructor(parts: SessionParts) {
    this.#parts = parts;
  }

  get inputNames(): string[] {
    return this.#parts.inputs.map((i) => i.name);
  }

  get outputNames(): string[] {
    return this.#parts.outputs.map((o) => o.name);
  }

  /** Each input's name and per-sample shape (a run's tensors add the batch as the last axis). */
  get inputs(): ValueSpec[] {
    return this.#parts.inputs.map((i) => ({ name: i.name, shape: [...i.shape] }));
  }

  /** Each output's name and per-sample shape. */
  get outputs(): ValueSpec[] {
    return this.#parts.outputs.map((o) => ({ name: o.name, shape: [...o.shape] }));
  }

  /** Where the session runs: 'cuda' for a device plan, else 'cpu' (see plan().deviceNote). */
  get device(): 'cpu' | 'cuda' {
    return this.#parts.report.device;
  }

  /** Runs the plan on the calling thread (products use the native thread pool). */
  run(inputs: SessionInputs): Record<string, Tensor> {
    const { arrays, n } = this.#inputs(inputs);
    if (n === 0) return this.#empty();
    const ws = this.#take(n, arrays);
    try {
      for (const s of this.#parts.steps) s.run(ws);
      return this.#outputs(ws);
    } finally {
      this.#give(ws);
    }
  }

  /**
   * Runs the plan off the event loop: every native step (products, im2col, ReLU, GELU, max
   * pooling) runs on a libuv worker, one after another. What stays on the calling thread is
   * the copying of residual Adds and Concats and any layer without a native step (run as its
   * own forward, see the plan's steps). The inputs are copied when it is called, so changing,
   * transferring or detaching them meanwhile does not affect the run; disposing the session
   * meanwhile rejects it with ERR_DISPOSED after its current step.
   */
  async runAsync(inputs: SessionInputs): Promise<Record<string, Tensor>> {
    const { arrays, n } = this.#inputs(inputs);
    if (n === 0) return this.#empty();
    const ws = this.#take(n, arrays.map((a) => a.slice()));
    try {
      for (const s of this.#parts.steps) {
        await s.runAsync(ws);
        this.#check();
      }
      return this.#outputs(ws);
    } finally {
      this.#give(ws);
    }
  }

  /** The plan: per layer the format chosen for each expected batch size and the timings behind it. */
  plan(): PlanReport {
    return structuredClone(this.#parts.report);
  }

  /** Frees the native matrices; the session cannot run afterwards. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const k of this.#parts.kernels) k.dispose();
    for (const r of this.#parts.release) r();
    this.#pool.clear();
  }

  #check(): void {
    if (this.#disposed) throw new NativeError('ERR_DISPOSED', 'the inference session was disposed');
  }

  #inputs(inputs: SessionInputs): { arrays: Float32Array[]; n: number } {
    this.#check();
    return parseSessionInputs(inputs, this.#parts.inputs);
  }

  #empty(): Record<string, Tensor> {
    return Object.fromEntries(this.#parts.outputs.map((o) => [o.name, new Tensor(new Float32Array(0), [...o.shape, 0])]));
  }

  #take(n: number, inputs: Float32Array[]): RunBuffers {
    const ws = this.#pool.get(n)?.pop() ?? new RunBuffers(this.#parts, n);
    ws.inputs = inputs;
    return ws;
  }

  #give(ws: RunBuffers): void {
    ws.inputs = [];
    if (this.#disposed) return;
    const n = ws.n;
    // Keep buffer sets for the few most recent batch sizes only.
    if (!this.#pool.has(n) && this.#pool.size >= 4) this.#pool.delete(this.#pool.keys().next().value!);
    const list = this.#pool.get(n) ?? [];
    if (list.length < 4) list.push(ws);
    this.#pool.set(n, list);
  }

  #outputs(ws: Workspace): Record<string, Tensor> {
    return Object.fromEntries(this.#parts.outputs.map((o) => [o.name, new Tensor(ws.value(o.value).slice(), [...o.shape, ws.n])]));
  }
}
