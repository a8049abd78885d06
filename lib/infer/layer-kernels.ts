/**
 * The ways one product layer (a Linear or Conv2d after folding) can run, one object per format
 * candidate. compile() times each candidate as a whole, so a convolution's im2col counts against
 * the formats that need it and the direct sparse convolution competes on equal terms:
 * - MatrixKernel: the weight matrix (any format) times the batch-last input; a Linear, or a
 *   1x1 stride-1 unpadded convolution whose input already is its im2col.
 * - Im2colKernel: im2col in row blocks (so the columns stay in cache, see convChunkRows) and the
 *   weight matrix of each group times them.
 * - DirectConvKernel: the native direct sparse convolution on the batch-last image (no im2col):
 *   each kept weight multiplies contiguous input runs (width stride 1 only).
 * All of them write bias and ReLU in the kernel epilogue.
 */
import { NativeError } from '../errors.js';
import { native, type NativeMatrix } from '../native.js';
import { CsrMatrix } from '../sparse/csr.js';
import { kNative, type MatrixBase } from '../tensor/base.js';
import type { FormatName } from './formats.js';
import { convChunkRows, type ConvShape } from './lower.js';

/** The buffers a run lends a kernel: its batch size and named scratch arrays. */
export interface KernelScratch {
  readonly n: number;
  scratch(key: string, length: number): Float32Array;
}

export interface LayerKernel {
  readonly format: FormatName;
  /** y = layer(x) for a batch of scratch.n samples (batch-last buffers). */
  run(x: Float32Array, y: Float32Array, ws: KernelScratch): void;
  /** The same with the products off the event loop. */
  runAsync(x: Float32Array, y: Float32Array, ws: KernelScratch): Promise<void>;
  /** Stored weight entries (for the plan report). */
  readonly nnz: number;
  dispose(): void;
}

/** What every product shares: the folded bias and whether ReLU is fused. */
export interface Epilogue {
  readonly bias: Float32Array | null;
  readonly relu: boolean;
}

type Product = [handle: NativeMatrix, x: Float32Array, n: number, bias: Float32Array | null, out: Float32Array];

function runProducts(products: Product[], relu: boolean): void {
  for (const [m, x, n, bias, out] of products) native.matmul(m, x, n, bias, relu, out);
}

async function runProductsAsync(products: Product[], relu: boolean): Promise<void> {
  await Promise.all(products.map(([m, x, n, bias, out]) => native.matmulAsync(m, x, n, bias, relu, out)));
}

/** The products of one group-wise multiply: matrix g times its slice of x, into its slice of y. */
function groupProducts(mats: readonly MatrixBase[], rows: number, cols: number, ep: Epilogue, x: Float32Array, y: Float32Array, n: number): Product[] {
  return mats.map((m, g) => [
    m[kNative](),
    x.subarray(g * cols * n, (g + 1) * cols * n),
    n,
    ep.bias?.subarray(g * rows, (g + 1) * rows) ?? null,
    y.subarray(g * rows * n, (g + 1) * rows * n),
  ]);
}

/** A kernel that multiplies one weight matrix per group (any matrix format). */
abstract class GroupMatrixKernel implements LayerKernel {
  constructor(
    readonly format: FormatName,
    /** One matrix per group (rows x cols each). */
    readonly matrices: readonly MatrixBase[],
    readonly ep: Epilogue,
  ) {}

  get nnz(): number {
    return this.matrices.reduce((a, m) => a + m.nnz, 0);
  }

  abstract run(x: Float32Array, y: Float32Array, ws: KernelScratch): void;
  abstract runAsync(x: Float32Array, y: Float32Array, ws: KernelScratch): Promise<void>;

  dispose(): void {
    for (const m of this.matrices) m.dispose();
  }
}

export class MatrixKernel extends GroupMatrixKernel {
  constructor(
    format: FormatName,
    matrices: readonly MatrixBase[],
    ep: Epilogue,
    /** Columns per sample: 1 for a Linear, oh * ow for a 1x1 convolution. */
    readonly positions: number,
  ) {
    super(format, matrices, ep);
  }

  private products(x: Float32Array, y: Float32Array, n: number): Product[] {
    const m0 = this.matrices[0]!;
    return groupProducts(this.matrices, m0.rows, m0.cols, this.ep, x, y, n * this.positions);
  }

  run(x: Float32Array, y: Float32Array, ws: KernelScratch): void {
    // One group (every Linear): straight to the native call, no views to build per run.
    if (this.matrices.length === 1) native.matmul(this.matrices[0]![kNative](), x, ws.n * this.positions, this.ep.bias, this.ep.relu, y);
    else runProducts(this.products(x, y, ws.n), this.ep.relu);
  }

  runAsync(x: Float32Array, y: Float32Array, ws: KernelScratch): Promise<void> {
    return runProductsAsync(this.products(x, y, ws.n), this.ep.relu);
  }
}

export class Im2colKernel extends GroupMatrixKernel {
  constructor(
    format: FormatName,
    matrices: readonly MatrixBase[],
    ep: Epilogue,
    readonly conv: ConvShape,
  ) {
    super(format, matrices, ep);
  }

  /**
   * The chunks of one run: each writes the im2col of a block of output rows (convChunkRows) and
   * multiplies it, into y itself when one chunk covers every row, else into a scratch block
   * that `after` copies into place.
   */
  private *chunks(x: Float32Array, y: Float32Array, ws: KernelScratch): Generator<{ o0: number; o1: number; geometry: Int32Array; col: Float32Array; products: Product[]; after?: () => void }> {
    const c = this.conv;
    const n = ws.n;
    const m0 = this.matrices[0]!;
    const allCols = c.oh * c.ow * n;
    const geometry = Int32Array.from([c.c, c.h, c.w, n, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.oh, c.ow]);
    const step = convChunkRows(c, n);
    const outRows = this.matrices.length * m0.rows;
    for (let o0 = 0; o0 < c.oh; o0 += step) {
      const o1 = Math.min(c.oh, o0 + step);
      const cols = (o1 - o0) * c.ow * n;
      const col = ws.scratch('col', m0.cols * this.matrices.length * cols);
      if (step >= c.oh) {
        yield { o0, o1, geometry, col, products: groupProducts(this.matrices, m0.rows, m0.cols, this.ep, col, y, allCols) };
        return;
      }
      const tmp = ws.scratch('chunk', outRows * cols);
      const offset = o0 * c.ow * n;
      yield {
        o0,
        o1,
        geometry,
        col,
        products: groupProducts(this.matrices, m0.rows, m0.cols, this.ep, col, tmp, cols),
        after: () => {
          for (let r = 0; r < outRows; r++) y.set(tmp.subarray(r * cols, (r + 1) * cols), r * allCols + offset);
        },
      };
    }
  }

  run(x: Float32Array, y: Float32Array, ws: KernelScratch): void {
    for (const chunk of this.chunks(x, y, ws)) {
      native.im2colRows(x, chunk.geometry, chunk.o0, chunk.o1, chunk.col);
      runProducts(chunk.products, this.ep.relu);
      chunk.after?.();
    }
  }

  async runAsync(x: Float32Array, y: Float32Array, ws: KernelScratch): Promise<void> {
    for (const chunk of this.chunks(x, y, ws)) {
      await native.im2colRowsAsync(x, chunk.geometry, chunk.o0, chunk.o1, chunk.col);
      await runProductsAsync(chunk.products, this.ep.relu);
      chunk.after?.();
    }
  }

}

/** Whether the direct sparse convolution can run this geometry (it walks input rows at width stride 1). */
export function directConvFits(c: ConvShape): boolean {
  return c.sw === 1;
}

export class DirectConvKernel implements LayerKernel {
  readonly format = 'direct';
  readonly nnz: number;
  #handle: NativeMatrix | null;

  /** `weight`: [groups * rows, cols] row-major, zeros where pruned. */
  constructor(weight: Float32Array, groups: number, rows: number, cols: number, readonly ep: Epilogue, readonly conv: ConvShape) {
    const csr = CsrMatrix.fromDense(weight, groups * rows, cols);
    this.nnz = csr.nnz;
    const c = conv;
    const geometry = Int32Array.from([c.c, c.h, c.w, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.oh, c.ow]);
    this.#handle = native.prepareConv(groups * rows, cols, groups, geometry, csr.rowPtr, csr.colIdx, csr.values);
  }

  private handle(): NativeMatrix {
    if (this.#handle === null) throw new NativeError('ERR_DISPOSED', 'the direct convolution was disposed');
    return this.#handle;
  }

  run(x: Float32Array, y: Float32Array, ws: KernelScratch): void {
    native.matmul(this.handle(), x, ws.n, this.ep.bias, this.ep.relu, y);
  }

  async runAsync(x: Float32Array, y: Float32Array, ws: KernelScratch): Promise<void> {
    await native.matmulAsync(this.handle(), x, ws.n, this.ep.bias, this.ep.relu, y);
  }

  dispose(): void {
    this.#handle?.dispose();
    this.#handle = null;
  }
}
