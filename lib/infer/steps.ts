/**
 * The executable steps of a plan. A step reads and writes whole batch-last buffers of the
 * run's workspace (one per value, shared where liveness allows); products run the chosen
 * kernel for the batch size bucket of the run, with the bias and ReLU in the kernel epilogue.
 */
import { matmulAsync, type AnyMatrix } from '../matmul.js';
import { native } from '../native.js';
import type { Module } from '../nn/module.js';
import { noGrad, Tensor } from '../nn/tensor.js';
import { kNative, type MatrixBase } from '../tensor/base.js';
import { convChunkRows, isIdentityConv, type ConvShape } from './lower.js';

/** The buffers of one run: a buffer per value (sized for the run's batch) and scratch space. */
export interface Workspace {
  readonly n: number;
  /** The batch-size bucket whose kernel choices this run uses. */
  readonly bucket: number;
  value(v: number): Float32Array;
  scratch(key: string, length: number): Float32Array;
  scratchInt(key: string, length: number): Int32Array;
}

export interface Step {
  run(ws: Workspace): void;
  /** The same result with the products off the event loop. */
  runAsync(ws: Workspace): Promise<void>;
}

export class ProductStep implements Step {
  constructor(
    readonly name: string,
    readonly input: number,
    readonly output: number,
    /** Per bucket, the matrices (one per group) of the chosen format. */
    readonly matrices: MatrixBase[][],
    readonly rows: number,
    readonly cols: number,
    readonly bias: Float32Array | null,
    readonly relu: boolean,
    readonly conv: ConvShape | null,
  ) {}

  /**
   * The products of one run, chunk by chunk: each chunk is [matrix, x, columns, bias, out] per
   * group, and `after` copies a chunk's output into place (convolutions in row blocks, see
   * convChunkRows; everything else is one chunk written in place).
   */
  private *chunks(ws: Workspace): Generator<{ products: Array<[MatrixBase, Float32Array, number, Float32Array | null, Float32Array]>; after?: () => void }> {
    const mats = this.matrices[ws.bucket]!;
    const x = ws.value(this.input);
    const y = ws.value(this.output);
    const c = this.conv;
    if (c === null) {
      yield { products: [[mats[0]!, x, ws.n, this.bias, y]] };
      return;
    }
    const n = ws.n;
    const allCols = c.oh * c.ow * n;
    const group = (src: Float32Array, out: Float32Array, cols: number) =>
      mats.map((m, g): [MatrixBase, Float32Array, number, Float32Array | null, Float32Array] => [
        m,
        src.subarray(g * this.cols * cols, (g + 1) * this.cols * cols),
        cols,
        this.bias?.subarray(g * this.rows, (g + 1) * this.rows) ?? null,
        out.subarray(g * this.rows * cols, (g + 1) * this.rows * cols),
      ]);
    if (isIdentityConv(c)) {
      yield { products: group(x, y, allCols) };
      return;
    }
    const geometry = Int32Array.from([c.c, c.h, c.w, n, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.oh, c.ow]);
    const step = convChunkRows(c, n);
    if (step >= c.oh) {
      const col = ws.scratch('col', c.c * c.kh * c.kw * allCols);
      native.im2col(x, geometry, col);
      yield { products: group(col, y, allCols) };
      return;
    }
    const outRows = mats.length * this.rows;
    for (let o0 = 0; o0 < c.oh; o0 += step) {
      const o1 = Math.min(c.oh, o0 + step);
      const cols = (o1 - o0) * c.ow * n;
      const col = ws.scratch('col', c.c * c.kh * c.kw * cols);
      native.im2colRows(x, geometry, o0, o1, col);
      const tmp = ws.scratch('chunk', outRows * cols);
      const offset = o0 * c.ow * n;
      yield {
        products: group(col, tmp, cols),
        after: () => {
          for (let r = 0; r < outRows; r++) y.set(tmp.subarray(r * cols, (r + 1) * cols), r * allCols + offset);
        },
      };
    }
  }

  run(ws: Workspace): void {
    // Straight to the native product: compile() checked every shape, and native code checks
    // every length again.
    for (const chunk of this.chunks(ws)) {
      for (const [m, x, n, bias, out] of chunk.products) native.matmul(m[kNative](), x, n, bias, this.relu, out);
      chunk.after?.();
    }
  }

  async runAsync(ws: Workspace): Promise<void> {
    const activation = this.relu ? 'relu' : 'none';
    for (const chunk of this.chunks(ws)) {
      await Promise.all(chunk.products.map(([m, x, n, bias, out]) => matmulAsync(m as AnyMatrix, x, n, { bias: bias ?? undefined, activation, out })));
      chunk.after?.();
    }
  }
}

/** Steps with no asynchronous form: the same work either way. */
abstract class SyncStep implements Step {
  abstract run(ws: Workspace): void;
  async runAsync(ws: Workspace): Promise<void> {
    this.run(ws);
  }
}

export class ReluStep extends SyncStep {
  constructor(
    readonly input: number,
    readonly output: number,
  ) {
    super();
  }
  run(ws: Workspace): void {
    native.reluForward(ws.value(this.input), ws.value(this.output));
  }
}

export class GeluStep extends SyncStep {
  constructor(
    readonly input: number,
    readonly output: number,
  ) {
    super();
  }
  run(ws: Workspace): void {
    native.geluForward(ws.value(this.input), ws.value(this.output));
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

export class MaxPoolStep extends SyncStep {
  constructor(
    readonly input: number,
    readonly output: number,
    /** [c, h, w, kh, kw, sh, sw, ph, pw, oh, ow]. */
    readonly geometry: readonly number[],
  ) {
    super();
  }
  run(ws: Workspace): void {
    const [c, h, w, ...rest] = this.geometry;
    const y = ws.value(this.output);
    native.maxPoolForward(ws.value(this.input), Int32Array.from([c!, h!, w!, ws.n, ...rest]), y, ws.scratchInt('argmax', y.length));
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
