/**
 * The executable steps of a plan. A step reads and writes whole batch-last buffers of the
 * run's workspace (one per value, shared where liveness allows); products run the chosen
 * kernel for the batch size bucket of the run, with the bias and ReLU in the kernel epilogue.
 */
import { native } from '../native.js';
import type { Module } from '../nn/module.js';
import { noGrad, Tensor } from '../nn/tensor.js';
import type { KernelScratch, LayerKernel } from './layer-kernels.js';

/** The buffers of one run: a buffer per value (sized for the run's batch) and scratch space. */
export interface Workspace extends KernelScratch {
  /** The batch-size bucket whose kernel choices this run uses. */
  readonly bucket: number;
  value(v: number): Float32Array;
}

export interface Step {
  run(ws: Workspace): void;
  /** The same result with the products off the event loop. */
  runAsync(ws: Workspace): Promise<void>;
}

/** A Linear or Conv2d: the layer kernel chosen for the run's batch-size bucket. */
export class ProductStep implements Step {
  constructor(
    readonly name: string,
    readonly input: number,
    readonly output: number,
    /** Per bucket, the kernel of the chosen format (layer-kernels.ts). */
    readonly kernels: readonly LayerKernel[],
  ) {}

  // Straight to the native code: compile() checked every shape, and native code checks every
  // length again.
  run(ws: Workspace): void {
    this.kernels[ws.bucket]!.run(ws.value(this.input), ws.value(this.output), ws);
  }

  runAsync(ws: Workspace): Promise<void> {
    return this.kernels[ws.bucket]!.runAsync(ws.value(this.input), ws.value(this.output), ws);
  }
}

/** Steps with no asynchronous form: the same work either way. */
abstract class SyncStep implements Step {
  abstract run(ws: Workspace): void;
  async runAsync(ws: Workspace): Promise<void> {
    this.run(ws);
  }
}

export class ReluStep implements Step {
  constructor(
    readonly input: number,
    readonly output: number,
  ) {}
  run(ws: Workspace): void {
    native.reluForward(ws.value(this.input), ws.value(this.output));
  }
  async runAsync(ws: Workspace): Promise<void> {
    await native.reluForwardAsync(ws.value(this.input), ws.value(this.output));
  }
}

export class GeluStep implements Step {
  constructor(
    readonly input: number,
    readonly output: number,
  ) {}
  run(ws: Workspace): void {
    native.geluForward(ws.value(this.input), ws.value(this.output));
  }
  async runAsync(ws: Workspace): Promise<void> {
    await native.geluForwardAsync(ws.value(this.input), ws.value(this.output));
  }
}

export class AddStep extends SyncStep {
  constructor(
    readonly a: number,
    readonly b: number,
    readonly output: number,
  ) {
    super();
  }
  run(ws: Workspace): void {
    const a = ws.value(this.a);
    const b = ws.value(this.b);
    const y = ws.value(this.output);
    for (let i = 0; i < y.length; i++) y[i] = a[i]! + b[i]!;
  }
}

/** Concatenation along the first sample axis: batch-last buffers simply follow each other. */
export class ConcatStep extends SyncStep {
  constructor(
    readonly inputs: readonly number[],
    readonly output: number,
  ) {
    super();
  }
  run(ws: Workspace): void {
    const y = ws.value(this.output);
    let offset = 0;
    for (const v of this.inputs) {
      const x = ws.value(v);
      y.set(x, offset);
      offset += x.length;
    }
  }
}

export class MaxPoolStep implements Step {
  constructor(
    readonly input: number,
    readonly output: number,
    /** [c, h, w, kh, kw, sh, sw, ph, pw, oh, ow]. */
    readonly geometry: readonly number[],
  ) {}
  // No argmax: inference has no backward pass.
  private args(ws: Workspace): [Float32Array, Int32Array, Float32Array] {
    const [c, h, w, ...rest] = this.geometry;
    return [ws.value(this.input), Int32Array.from([c!, h!, w!, ws.n, ...rest]), ws.value(this.output)];
  }
  run(ws: Workspace): void {
    native.maxPoolForward(...this.args(ws));
  }
  async runAsync(ws: Workspace): Promise<void> {
    await native.maxPoolForwardAsync(...this.args(ws));
  }
}

/** Any other layer: its own forward (eval mode, no autograd) on tensors over the buffers. */
export class ModuleStep extends SyncStep {
  constructor(
    readonly module: Module,
    readonly inputs: ReadonlyArray<{ value: number; shape: readonly number[] }>,
    readonly output: number,
  ) {
    super();
  }
  run(ws: Workspace): void {
    const xs = this.inputs.map((i) => new Tensor(ws.value(i.value), [...i.shape, ws.n]));
    const y = noGrad(() => this.module.forward(...xs));
    ws.value(this.output).set(y.data);
  }
}
