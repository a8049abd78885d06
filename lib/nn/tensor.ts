/**
 * Tensors and reverse-mode autograd.
 *
 * Layout: sparsenn tensors are **batch-last**. A batch of n samples of shape [C, H, W] is a
 * tensor of shape [C, H, W, n], row-major, so the n values of one feature are contiguous: the
 * layout the kernels want (each weight row multiplies a contiguous run of the batch, and
 * im2col copies whole runs). A batch of feature vectors is [F, n]. Parameters keep PyTorch's
 * layout (Linear weight [out, in], Conv2d weight [out, in / groups, kh, kw]).
 *
 * Autograd is define-by-run: every op whose inputs need gradients records a {@link GradNode}
 * on its output; {@link Tensor.backward} walks the recorded graph in reverse topological order.
 */
import { ShapeError, SparsennTypeError } from '../errors.js';

/** The backward step of one recorded op. */
export interface GradNode {
  /** The op's name, for error messages and graph dumps. */
  readonly op: string;
  /** The op's tensor inputs (only those that need gradients matter). */
  readonly inputs: readonly Tensor[];
  /** Given d(loss)/d(output), accumulates d(loss)/d(input) into each input that needs it. */
  backward(gradOutput: Float32Array): void;
  /** Frees native resources held for the backward pass (called once the pass is done). */
  release?(): void;
}

let gradEnabled = true;

/** Whether ops currently record gradients (false inside {@link noGrad}). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording gradients (inference, evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Number of elements of a shape, checking that every dimension is a non-negative integer. */
export function shapeSize(shape: readonly number[], what = 'shape'): number {
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError('ERR_SHAPE', `${what} [${shape.join(', ')}] must hold non-negative integers`);
    size *= d;
  }
  if (size > 2 ** 31 - 1) throw new ShapeError('ERR_SHAPE', `${what} [${shape.join(', ')}] has more than 2^31 - 1 elements`);
  return size;
}

export class Tensor {
  readonly shape: readonly number[];
  data: Float32Array;
  private gradArray: Float32Array | null = null;
  requiresGrad: boolean;
  /** The op that produced this tensor, when it was recorded; null for leaves. */
  node: GradNode | null = null;

  constructor(data: Float32Array, shape: readonly number[], requiresGrad = false) {
    if (!(data instanceof Float32Array)) throw new SparsennTypeError('ERR_TYPE', 'tensor data must be a Float32Array');
    const size = shapeSize(shape);
    if (data.length !== size)
      throw new ShapeError('ERR_SHAPE', `tensor data has ${data.length} elements, shape [${shape.join(', ')}] needs ${size}`);
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
  }

  /** d(loss)/d(this), filled by backward() for tensors that need gradients. */
  get grad(): Float32Array | null {
    return this.gradArray;
  }

  set grad(g: Float32Array | null) {
    this.gradArray = g;
  }

  static zeros(shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)), shape, requiresGrad);
  }

  static from(values: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(Float32Array.from(values), shape, requiresGrad);
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The batch size: the last dimension (1 for a rank-0 tensor). */
  get batch(): number {
    return this.shape.length === 0 ? 1 : this.shape[this.shape.length - 1]!;
  }

  /** A leaf copy that does not track gradients. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false);
  }

  /** The single value of a one-element tensor (e.g. a loss). */
  item(): number {
    if (this.data.length !== 1) throw new ShapeError('ERR_SHAPE', `item() needs a one-element tensor, got shape [${this.shape.join(', ')}]`);
    return this.data[0]!;
  }

  /**
   * Back-propagates from this tensor. A scalar needs no seed (d loss / d loss = 1); otherwise
   * pass d(loss)/d(this). Gradients accumulate into `grad` of every leaf that requires them;
   * intermediate gradients are freed as soon as they have been used.
   */
  backward(seed?: Float32Array): void {
    if (seed === undefined) {
      if (this.size !== 1) throw new ShapeError('ERR_SHAPE', `backward() without a seed needs a scalar, got shape [${this.shape.join(', ')}]`);
      seed = new Float32Array([1]);
    } else if (seed.length !== this.size) {
      throw new ShapeError('ERR_SHAPE', `backward seed has ${seed.length} elements, expected ${this.size}`);
    }
    if (!this.requiresGrad)
      throw new SparsennTypeError('ERR_TYPE', 'backward() on a tensor that does not require gradients (no parameter or input with requiresGrad reaches it)');
    const order = topologicalOrder(this);
    accumulateGrad(this, seed);
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const node = t.node!;
      const g = t.grad;
      if (g) node.backward(g);
      node.release?.();
      // An intermediate result's gradient is not needed once passed on; its node neither.
      t.grad = null;
      t.node = null;
    }
  }
}

/** Tensors with recorded nodes reachable from `root`, inputs before the ops that use them. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: Array<{ t: Tensor; next: number }> = [];
  if (root.node) {
    stack.push({ t: root, next: 0 });
    seen.add(root);
  }
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const inputs = top.t.node!.inputs;
    if (top.next < inputs.length) {
      const child = inputs[top.next++]!;
      if (child.node && !seen.has(child)) {
        seen.add(child);
        stack.push({ t: child, next: 0 });
      }
    } else {
      order.push(top.t);
      stack.pop();
    }
  }
  return order;
}

/**
 * Adds `g` into `t.grad`. The first gradient is copied (ops may reuse their buffers), later
 * ones are summed (a tensor used by several ops).
 */
export function accumulateGrad(t: Tensor, g: Float32Array): void {
  if (!t.requiresGrad) return;
  if (t.grad === null) {
    t.grad = g.slice();
    return;
  }
  const acc = t.grad;
  for (let i = 0; i < acc.length; i++) acc[i]! += g[i]!;
}

/**
 * Like accumulateGrad, but takes ownership of `g` when it is the first gradient (no copy): for
 * ops that allocated `g` themselves and will not touch it again.
 */
export function accumulateOwnedGrad(t: Tensor, g: Float32Array): void {
  if (!t.requiresGrad) return;
  if (t.grad === null) t.grad = g;
  else accumulateGrad(t, g);
}

/** Whether a new op on these inputs must be recorded. */
export function needsGrad(...inputs: Array<Tensor | null | undefined>): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * The output of an op: a tensor that records `node` when any input needs gradients (and
 * gradients are enabled), else a plain tensor.
 */
export function opResult(data: Float32Array, shape: readonly number[], inputs: readonly Tensor[], op: string, backward: (g: Float32Array) => void, release?: () => void): Tensor {
  const record = needsGrad(...inputs);
  const out = new Tensor(data, shape, record);
  if (record) out.node = { op, inputs, backward, release };
  else release?.();
  return out;
}
