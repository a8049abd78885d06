/**
 * Trainable parameters and their masks.
 *
 * A mask is the single source of truth for which weights exist: a masked weight is zero in
 * the forward pass, its gradient is zero, and optimizers neither update it nor keep state for
 * it. Pruning edits masks through {@link Parameter.setMask}; nothing else changes them.
 */
import { ShapeError, SparsennTypeError } from '../errors.js';
import { Tensor } from './tensor.js';

/** The kept entries of a mask in the forms the sparse kernels and optimizers use. */
export interface MaskPattern {
  /** Flat indices of the kept weights, increasing. */
  readonly active: Int32Array;
  /** CSR row pointers and column indices of the kept weights, seen as rows x cols. */
  readonly rows: number;
  readonly cols: number;
  readonly rowPtr: Int32Array;
  readonly colIdx: Int32Array;
}

export class Parameter extends Tensor {
  private maskArray: Uint8Array | null = null;
  private pattern: MaskPattern | null = null;
  /** Bumped whenever the mask changes (caches keyed on it go stale). */
  maskVersion = 0;
  private spareGrad: Float32Array | null = null;
  /**
   * The gradient of a sparse-executed weight at its kept entries only (in maskPattern() order),
   * for the mask version `compactVersion`: what the SDDMM produces. Optimizers use it as is;
   * reading `grad` expands it into the dense array.
   */
  private compact: Float32Array | null = null;
  private compactVersion = -1;
  /**
   * When true, backward passes also add the full dense weight gradient, pruned positions
   * included, to {@link denseGrad}. Dynamic sparse training (RigL's grow step) sets it for the
   * update steps only: on sparse-executed layers it costs a dense GEMM.
   */
  captureDenseGrad = false;
  /** The captured dense gradient (see captureDenseGrad); whoever set the flag clears this. */
  denseGrad: Float32Array | null = null;

  constructor(data: Float32Array, shape: readonly number[]) {
    super(data, shape, true);
  }

  /** The mask (1 = kept, 0 = pruned), or null when every weight is kept. Read-only: edit it with setMask(). */
  get mask(): Readonly<Uint8Array> | null {
    return this.maskArray;
  }

  /**
   * Sets the mask (1 = keep, 0 = prune; null removes it) and zeroes the pruned weights, their
   * gradients, and nothing else: optimizer state of pruned weights is cleared by the optimizer
   * when it next sees the new mask version.
   */
  setMask(mask: Uint8Array | null): void {
    if (mask !== null) {
      if (!(mask instanceof Uint8Array)) throw new SparsennTypeError('ERR_TYPE', 'a mask must be a Uint8Array of 0/1 or null');
      if (mask.length !== this.size)
        throw new ShapeError('ERR_SHAPE', `mask has ${mask.length} entries, the parameter [${this.shape.join(', ')}] has ${this.size}`);
      for (let i = 0; i < mask.length; i++)
        if (mask[i]! > 1) throw new SparsennTypeError('ERR_TYPE', `mask entries must be 0 or 1, found ${mask[i]} at ${i}`);
      this.maskArray = mask.slice();
    } else {
      this.maskArray = null;
    }
    this.pattern = null;
    this.maskVersion++;
    this.applyMask();
  }

  /** The dense gradient (pruned entries exactly zero), expanding a compact one first. */
  override get grad(): Float32Array | null {
    if (this.compact) this.expandCompact();
    return super.grad;
  }

  override set grad(g: Float32Array | null) {
    this.compact = null;
    super.grad = g;
  }

  /** Whether a gradient is held (dense or compact), without expanding it. */
  hasGrad(): boolean {
    return this.compact !== null || super.grad !== null;
  }

  /**
   * Adds `part` (one value per kept entry, maskPattern() order) to the gradient: kept compact
   * while the gradient is only ever sparse, scattered into the dense one otherwise.
   */
  accumulateKeptGrad(part: Float32Array, takeOwnership = false): void {
    const active = this.maskPattern().active;
    if (part.length !== active.length) throw new ShapeError('ERR_SHAPE', `kept-entry gradient has ${part.length} values, the mask keeps ${active.length}`);
    if (super.grad === null && this.compact === null) {
      this.compact = takeOwnership ? part : part.slice();
      this.compactVersion = this.maskVersion;
      return;
    }
    if (this.compact && this.compactVersion === this.maskVersion) {
      const c = this.compact;
      for (let i = 0; i < c.length; i++) c[i]! += part[i]!;
      return;
    }
    const g = this.grad!; // expands any compact gradient
    for (let i = 0; i < active.length; i++) g[active[i]!]! += part[i]!;
  }

  /**
   * The gradient for an update over `indices` (maskPattern().active, or null for all entries):
   * the compact array when it lines up with them, else the dense one. Null without a gradient.
   */
  gradFor(indices: Int32Array | null): { values: Float32Array; compact: boolean } | null {
    if (this.compact && indices !== null && this.compactVersion === this.maskVersion && indices === this.maskPattern().active)
      return { values: this.compact, compact: true };
    const g = this.grad;
    return g ? { values: g, compact: false } : null;
  }

  private expandCompact(): void {
    const c = this.compact!;
    this.compact = null;
    const dense = this.takeZeroedGrad();
    // a compact gradient of an older mask is scattered by that mask's pattern (pruned entries
    // are zeroed again by applyMask below)
    const active = this.compactVersion === this.maskVersion ? this.maskPattern().active : null;
    if (active && active.length === c.length) for (let i = 0; i < c.length; i++) dense[active[i]!] = c[i]!;
    super.grad = dense;
  }

  /**
   * Drops the gradient (grad = null). Its buffer is kept for reuse by the next backward pass
   * that fills a gradient entry by entry (the sparse kernels), so do not hold on to p.grad
   * across zeroGrad() if you need its values later: copy them.
   */
  zeroGrad(): void {
    const g = super.grad;
    if (g && g.length === this.size) this.spareGrad = g;
    this.compact = null;
    super.grad = null;
  }

  /** A zeroed gradient buffer: the spare one from the last zeroGrad(), or a new one. */
  takeZeroedGrad(): Float32Array {
    const spare = this.spareGrad;
    this.spareGrad = null;
    return spare ? spare.fill(0) : new Float32Array(this.size);
  }

  /** Adds a dense gradient (pruned positions included) to denseGrad, if capture is on. */
  captureDense(dw: Float32Array): void {
    if (!this.captureDenseGrad) return;
    if (this.denseGrad === null) this.denseGrad = dw.slice();
    else for (let i = 0; i < dw.length; i++) this.denseGrad[i]! += dw[i]!;
  }

  /** Fraction of weights kept (1 without a mask). */
  density(): number {
    if (!this.maskArray) return 1;
    return this.size === 0 ? 1 : this.maskPattern().active.length / this.size;
  }

  /** Zeroes pruned weights (and their gradients): restores the invariant after outside edits. */
  applyMask(): void {
    const m = this.maskArray;
    if (!m) return;
    const w = this.data;
    if (this.compact && this.compactVersion !== this.maskVersion) this.compact = null; // its pattern is gone
    const g = super.grad;
    for (let i = 0; i < m.length; i++)
      if (m[i] === 0) {
        w[i] = 0;
        if (g) g[i] = 0;
      }
  }

  /** The mask's kept entries, with the parameter seen as shape[0] x (everything else). */
  maskPattern(): MaskPattern {
    if (this.pattern) return this.pattern;
    const rows = this.shape.length === 0 ? 1 : this.shape[0]!;
    const cols = rows === 0 ? 0 : this.size / rows;
    const m = this.maskArray;
    let count = 0;
    if (m) for (let i = 0; i < m.length; i++) count += m[i]!;
    else count = this.size;
    const active = new Int32Array(count);
    const rowPtr = new Int32Array(rows + 1);
    const colIdx = new Int32Array(count);
    let k = 0;
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++)
        if (!m || m[base + c] === 1) {
          active[k] = base + c;
          colIdx[k++] = c;
        }
      rowPtr[r + 1] = k;
    }
    this.pattern = { active, rows, cols, rowPtr, colIdx };
    return this.pattern;
  }
}
