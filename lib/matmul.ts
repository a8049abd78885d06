/**
 * The products. Every one has a synchronous form, which runs on the calling thread (and the
 * native thread pool) and is right for small work, and an `…Async` form that runs off the
 * event loop on a libuv worker and resolves with the same result.
 *
 * An async product works on a snapshot: its input arrays are copied when it is called, and
 * the result is written into `out` (if given) on the JS thread once the product has finished.
 * So changing, transferring (postMessage, structuredClone) or detaching an input meanwhile
 * changes nothing, and native code never touches memory the caller gave away; an `out` that
 * was detached before the result arrived rejects with ERR_DETACHED.
 *
 * Layout: X is K x n row-major (the batch of n columns contiguous per input feature), Y is
 * M x n; n = 1 is a matrix-vector product and uses the SpMV/GEMV kernels.
 */
import { checkCount, checkFloat32, checkLength, checkNoOverlap, MAX_DIM } from './checks.js';
import { FormatError, IndexRangeError, NativeError, SparsennTypeError } from './errors.js';
import { native } from './native.js';
import { kNative, MatrixBase } from './tensor/base.js';
import type { Matrix } from './tensor/matrix.js';
import { CsrMatrix } from './sparse/csr.js';
import type { NmMatrix } from './sparse/nm.js';
import type { BsrMatrix } from './sparse/bsr.js';

/** Any matrix a product accepts as its left operand. */
export type AnyMatrix = Matrix | CsrMatrix | NmMatrix | BsrMatrix;

export type Activation = 'none' | 'relu';

export interface MatmulOptions {
  /** Added to every output row r: y[r, :] += bias[r]. Length = rows of A. */
  bias?: Float32Array;
  /** Applied after the bias. Default 'none'. */
  activation?: Activation;
  /** Write the result here (length rows * n, not overlapping any input) instead of a new array. */
  out?: Float32Array;
}

function checkOperand(a: unknown, what: string): MatrixBase {
  if (!(a instanceof MatrixBase)) throw new SparsennTypeError('ERR_TYPE', `${what} must be a Matrix, CsrMatrix, NmMatrix or BsrMatrix`);
  return a;
}

function checkOptions(opts: unknown): void {
  if (opts === null || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', `options must be an object, got ${opts === null ? 'null' : typeof opts}`);
}

/**
 * A private copy for an async call (the snapshot rule's first half). An empty array is made
 * afresh: slice() throws on a detached buffer, and an empty input may legitimately be detached.
 */
function snapshot(a: Float32Array): Float32Array {
  return a.length === 0 ? new Float32Array(0) : a.slice();
}

function matmulArgs(a: AnyMatrix, x: Float32Array, n: number, opts: MatmulOptions) {
  checkOptions(opts);
  const m = checkOperand(a, 'a');
  checkFloat32(x, 'x');
  checkCount(n, 'n', 0, MAX_DIM);
  checkLength(x, m.cols * n, `x (cols * n = ${m.cols} * ${n})`);
  if (opts.bias !== undefined) {
    checkFloat32(opts.bias, 'bias');
    checkLength(opts.bias, m.rows, 'bias (rows)');
  }
  if (opts.out !== undefined) {
    checkFloat32(opts.out, 'out');
    checkLength(opts.out, m.rows * n, 'out (rows * n)');
  }
  const activation = opts.activation ?? 'none';
  if (activation !== 'none' && activation !== 'relu') throw new IndexRangeError('ERR_RANGE', `activation must be 'none' or 'relu', got ${String(activation)}`);
  return [m[kNative](), x, n, opts.bias ?? null, activation === 'relu', opts.out] as const;
}

/** Y = A X (+ bias, activation): A is rows x cols (any format), X is cols x n, Y is rows x n. */
export function matmul(a: AnyMatrix, x: Float32Array, n: number, opts: MatmulOptions = {}): Float32Array {
  return native.matmul(...matmulArgs(a, x, n, opts));
}

/** {@link matmul} off the event loop. */
export async function matmulAsync(a: AnyMatrix, x: Float32Array, n: number, opts: MatmulOptions = {}): Promise<Float32Array> {
  const [h, xs, count, bias, relu, out] = matmulArgs(a, x, n, opts);
  if (out) checkNoOverlap(out, [xs, bias], 'out');
  return settleInto(native.matmulAsync(h, snapshot(xs), count, bias ? snapshot(bias) : null, relu), out);
}

/** The snapshot rule's second half: the result lands in `out` on the JS thread, if `out` is still there. */
async function settleInto(result: Promise<Float32Array>, out: Float32Array | undefined): Promise<Float32Array> {
  const length = out?.length;
  const y = await result;
  if (out === undefined) return y;
  if (out.length !== length) throw new NativeError('ERR_DETACHED', 'out was transferred or detached while the product ran; the result was not written');
  if (y.length > 0) out.set(y); // an empty out may be detached: nothing to write
  return out;
}

function csrOperand(a: unknown, op: string) {
  const m = checkOperand(a, 'a');
  if (m.format !== 'csr' && m.format !== 'nm') throw new FormatError('ERR_FORMAT', `${op} needs a CsrMatrix or NmMatrix, got ${m.format}`);
  return m;
}

function transposedArgs(a: CsrMatrix | NmMatrix, x: Float32Array, n: number, out?: Float32Array) {
  const m = csrOperand(a, 'matmulTransposed');
  checkFloat32(x, 'x');
  checkCount(n, 'n', 0, MAX_DIM);
  checkLength(x, m.rows * n, `x (rows * n = ${m.rows} * ${n})`);
  if (out !== undefined) {
    checkFloat32(out, 'out');
    checkLength(out, m.cols * n, 'out (cols * n)');
  }
  return [m[kNative](), x, n, out] as const;
}

/**
 * Y = Aᵀ X without forming Aᵀ: A is rows x cols, X is rows x n, Y is cols x n. This is the
 * backward pass of a sparse layer with respect to its input.
 */
export function matmulTransposed(a: CsrMatrix | NmMatrix, x: Float32Array, n: number, opts: { out?: Float32Array } = {}): Float32Array {
  checkOptions(opts);
  return native.matmulTransposed(...transposedArgs(a, x, n, opts.out));
}

/** {@link matmulTransposed} off the event loop. */
export async function matmulTransposedAsync(a: CsrMatrix | NmMatrix, x: Float32Array, n: number, opts: { out?: Float32Array } = {}): Promise<Float32Array> {
  checkOptions(opts);
  const [h, xs, count, out] = transposedArgs(a, x, n, opts.out);
  if (out) checkNoOverlap(out, [xs], 'out');
  return settleInto(native.matmulTransposedAsync(h, snapshot(xs), count), out);
}

function sddmmArgs(pattern: CsrMatrix, a: Float32Array, b: Float32Array, n: number) {
  const p = csrOperand(pattern, 'sddmm');
  if (!(p instanceof CsrMatrix)) throw new FormatError('ERR_FORMAT', 'sddmm needs a CsrMatrix pattern');
  checkFloat32(a, 'a');
  checkFloat32(b, 'b');
  checkCount(n, 'n', 0, MAX_DIM);
  checkLength(a, p.rows * n, `a (rows * n = ${p.rows} * ${n})`);
  checkLength(b, p.cols * n, `b (cols * n = ${p.cols} * ${n})`);
  return [p, p[kNative](), a, b, n] as const;
}

/**
 * Sampled dense-dense product: for every stored (r, c) of `pattern`, dot(A[r, :], B[c, :]),
 * with A rows x n and B cols x n. Returns a CsrMatrix of the same pattern holding those values.
 * With A = dY and B = X this is a sparse layer's weight gradient, computed only where the
 * mask keeps a weight.
 */
export function sddmm(pattern: CsrMatrix, a: Float32Array, b: Float32Array, n: number): CsrMatrix {
  const [p, h, ...rest] = sddmmArgs(pattern, a, b, n);
  return p.withValues(native.sddmm(h, ...rest));
}

/** {@link sddmm} off the event loop. */
export async function sddmmAsync(pattern: CsrMatrix, a: Float32Array, b: Float32Array, n: number): Promise<CsrMatrix> {
  const [p, h, as, bs, count] = sddmmArgs(pattern, a, b, n);
  return p.withValues(await native.sddmmAsync(h, snapshot(as), snapshot(bs), count));
}
