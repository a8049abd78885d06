/**
 * The storage formats a layer's weights can run in, and which of them fit a given weight
 * exactly: dense always; CSR always; N:M when every group of M consecutive columns holds at
 * most N nonzeros; block-sparse when the nonzeros fill their blocks well enough that the
 * padding zeros do not swamp the kernel; for a convolution also 'direct' (the direct sparse
 * convolution, no im2col) when its geometry allows. Each candidate builds the whole layer
 * kernel (layer-kernels.ts), which the plan times (timing.ts).
 */
import { IndexRangeError } from '../errors.js';
import type { MatrixBase } from '../tensor/base.js';
import { Matrix } from '../tensor/matrix.js';
import { BsrMatrix } from '../sparse/bsr.js';
import { CsrMatrix } from '../sparse/csr.js';
import { NmMatrix } from '../sparse/nm.js';
import { DirectConvKernel, directConvFits, Im2colKernel, MatrixKernel, type LayerKernel } from './layer-kernels.js';
import { isIdentityConv, type ProductOp } from './lower.js';

/** 'dense', 'csr', 'n:m' (e.g. '2:4') or 'bsr RxC' (e.g. 'bsr 4x1'). */
export type FormatName = string;

export interface FormatCandidate {
  readonly format: FormatName;
  /** False for a format that fits but cannot win (CSR of a nearly dense matrix): built only when forced. */
  readonly worthTiming: boolean;
  /** The layer's kernel in this format, prepared. */
  build(): LayerKernel;
}

/** N:M patterns tried, sparsest first (the N:M format needs at least N columns in a partial last group). */
const NM_PATTERNS: ReadonlyArray<[number, number]> = [
  [1, 8],
  [1, 4],
  [2, 8],
  [2, 4],
  [4, 8],
];
const BLOCKS: ReadonlyArray<[number, number]> = [
  [8, 1],
  [4, 1],
  [1, 8],
  [1, 4],
  [4, 4],
  [2, 2],
];
/** A block format is a candidate when at least this share of its stored entries are nonzero. */
const MIN_BLOCK_FILL = 0.6;
/** CSR is not a candidate above this density (it cannot beat dense there). */
const MAX_CSR_DENSITY = 0.7;

function slices(weight: Float32Array, groups: number, rows: number, cols: number): Float32Array[] {
  return Array.from({ length: groups }, (_, g) => weight.subarray(g * rows * cols, (g + 1) * rows * cols));
}

function nmHolds(w: Float32Array, rows: number, cols: number, n: number, m: number): boolean {
  for (let r = 0; r < rows; r++)
    for (let g = 0; g < cols; g += m) {
      let count = 0;
      const end = Math.min(cols, g + m);
      for (let c = g; c < end; c++) if (w[r * cols + c] !== 0) count++;
      if (count > n) return false;
    }
  return true;
}

function blockFill(w: Float32Array, rows: number, cols: number, br: number, bc: number): number {
  const bCols = Math.ceil(cols / bc);
  const used = new Uint8Array(Math.ceil(rows / br) * bCols);
  let nnz = 0;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++)
      if (w[r * cols + c] !== 0) {
        nnz++;
        used[Math.floor(r / br) * bCols + Math.floor(c / bc)] = 1;
      }
  let blocks = 0;
  for (const u of used) blocks += u;
  return blocks === 0 ? 0 : nnz / (blocks * br * bc);
}

function nonzeros(w: Float32Array): number {
  let n = 0;
  for (const v of w) if (v !== 0) n++;
  return n;
}

/** Every format that holds the product's weight ([groups * rows, cols] row-major) exactly. */
export function candidates(op: ProductOp): FormatCandidate[] {
  const { weight, groups, rows, cols, conv } = op;
  const ep = { bias: op.bias, relu: op.relu };
  const parts = slices(weight, groups, rows, cols);
  const density = weight.length === 0 ? 1 : nonzeros(weight) / weight.length;
  // A matrix format runs on the input itself (Linear, 1x1 convolution) or on its im2col.
  const kernel = (format: FormatName, make: (w: Float32Array) => MatrixBase) => (): LayerKernel => {
    const mats = parts.map((w) => make(w).prepare());
    if (conv === null) return new MatrixKernel(format, mats, ep, 1);
    return isIdentityConv(conv) ? new MatrixKernel(format, mats, ep, conv.oh * conv.ow) : new Im2colKernel(format, mats, ep, conv);
  };
  const out: FormatCandidate[] = [
    { format: 'dense', worthTiming: true, build: kernel('dense', (w) => new Matrix(w.slice(), rows, cols)) },
    { format: 'csr', worthTiming: density <= MAX_CSR_DENSITY, build: kernel('csr', (w) => CsrMatrix.fromDense(w, rows, cols)) },
  ];
  if (conv !== null && directConvFits(conv))
    out.push({ format: 'direct', worthTiming: density <= MAX_CSR_DENSITY, build: () => new DirectConvKernel(weight, groups, rows, cols, ep, conv) });
  const nm = NM_PATTERNS.find(([n, m]) => m <= cols && (cols % m === 0 || cols % m >= n) && parts.every((w) => nmHolds(w, rows, cols, n, m)));
  if (nm) {
    const [n, m] = nm;
    out.push({ format: `${n}:${m}`, worthTiming: true, build: kernel(`${n}:${m}`, (w) => NmMatrix.fromDense(w, rows, cols, { n, m })) });
  }
  if (density <= MAX_CSR_DENSITY)
    for (const [br, bc] of BLOCKS)
      if (br <= rows && bc <= cols && parts.every((w) => blockFill(w, rows, cols, br, bc) >= MIN_BLOCK_FILL))
        out.push({ format: `bsr ${br}x${bc}`, worthTiming: true, build: kernel(`bsr ${br}x${bc}`, (w) => BsrMatrix.fromDense(w, rows, cols, { blockRows: br, blockCols: bc })) });
  return out;
}

/** The candidate for a format the caller forced (an error naming the formats that fit otherwise). */
export function forcedCandidate(all: FormatCandidate[], format: FormatName, layer: string): FormatCandidate {
  const found = all.find((c) => c.format === format);
  if (found) return found;
  if (format === 'nm') {
    const nm = all.find((c) => /^\d+:\d+$/.test(c.format));
    if (nm) return nm;
  }
  if (format === 'bsr') {
    const bsr = all.find((c) => c.format.startsWith('bsr'));
    if (bsr) return bsr;
  }
  throw new IndexRangeError('ERR_RANGE', `layer '${layer}' cannot run as '${format}'; its weights fit: ${all.map((c) => c.format).join(', ')}`);
}
