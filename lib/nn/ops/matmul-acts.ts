/**
 * The numpy matmul of two activations, per batch element, with its gradient: `matmulActs(a, b)`
 * multiplies the trailing two sample axes of each batch element's a and b (attention's Q K^T and
 * A V, ONNX MatMul with no constant operand), broadcasting the leading sample axes. Products of
 * an activation by a weight matrix are not here: they go through lib/matmul.ts (Linear).
 */
import { float32Uninit } from '../../alloc.js';
import { ShapeError } from '../../errors.js';
import { native } from '../../native.js';
import { accumulateOwnedGrad, opResult, type Tensor } from '../tensor.js';
import { broadcastMap, broadcastShapes } from './broadcast.js';
import { prod, sampleShapeOf } from './index-maps.js';
import { checkActivation, fmt } from './tensor-op-checks.js';

/** Below this many multiply-adds a small product runs in JS (a native call costs more). */
const NATIVE_GEMM_MIN_WORK = 2048;

/**
 * C (m x p) = op(A) op(B), op(A) m x k, op(B) k x p; A stored m x k (k x m when transA), B stored
 * k x p (p x k when transB). Overwrites C.
 */
function smallGemm(m: number, k: number, p: number, A: Float32Array, transA: boolean, B: Float32Array, transB: boolean, C: Float32Array): void {
  if (m * k * p >= NATIVE_GEMM_MIN_WORK) {
    native.gemm(m, k, p, A, transA, B, transB, C);
    return;
  }
  C.fill(0);
  for (let i = 0; i < m; i++) {
    const crow = i * p;
    for (let kk = 0; kk < k; kk++) {
      const av = transA ? A[kk * m + i]! : A[i * k + kk]!;
      if (av === 0) continue;
      if (transB) for (let j = 0; j < p; j++) C[crow + j]! += av * B[j * k + kk]!;
      else {
        const brow = kk * p;
        for (let j = 0; j < p; j++) C[crow + j]! += av * B[brow + j]!;
      }
    }
  }
}

/** [size, n] (batch-last) -> [n, size] (sample-major) and back. */
function toSampleMajor(data: Float32Array, size: number, n: number): Float32Array {
  if (n === 1 || size === 0) return data;
  return native.transpose(size, n, data, float32Uninit(size * n));
}

function toBatchLast(data: Float32Array, size: number, n: number): Float32Array {
  if (n === 1 || size === 0) return data;
  return native.transpose(n, size, data, float32Uninit(size * n));
}

/**
 * The numpy matmul of two activations' sample shapes, per batch element: a [..., m, k, n] and
 * b [..., k, p, n] give [...broadcast(leading dims), m, p, n]. A rank-1 sample shape [k] is a
 * row vector on the left (its m axis is dropped from the result) and a column vector on the
 * right (its p axis is dropped). Both must have the same batch n. The products run sample-major
 * (each sample's matrices contiguous) on the native GEMM.
 */
export function matmulActs(a: Tensor, b: Tensor): Tensor {
  checkActivation(a, 'matmulActs: a');
  checkActivation(b, 'matmulActs: b');
  if (a.batch !== b.batch)
    throw new ShapeError('ERR_SHAPE', `matmulActs: the batch sizes differ (a ${fmt(a.shape)}, b ${fmt(b.shape)}; the last axis is the batch and must match)`);
  const sa = sampleShapeOf(a);
  const sb = sampleShapeOf(b);
  if (sa.length === 0 || sb.length === 0)
    throw new ShapeError('ERR_SHAPE', `matmulActs needs at least one sample axis on each side, got a ${fmt(a.shape)} and b ${fmt(b.shape)}`);
  const a2 = sa.length === 1 ? [1, sa[0]!] : sa;
  const b2 = sb.length === 1 ? [sb[0]!, 1] : sb;
  const m = a2[a2.length - 2]!;
  const k = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  const p = b2[b2.length - 1]!;
  if (k !== k2)
    throw new ShapeError(
      'ERR_SHAPE',
      `matmulActs: inner dimensions differ: a's sample shape ${fmt(sa)} ends in k = ${k}, b's sample shape ${fmt(sb)} has ${k2} rows (a [..., m, k] x b [..., k, p])`,
    );
  const leadA = a2.slice(0, -2);
  const leadB = b2.slice(0, -2);
  const lead = broadcastShapes(leadA, leadB, 'matmulActs (leading dims)');
  const outSample = [...lead];
  if (sa.length > 1) outSample.push(m);
  if (sb.length > 1) outSample.push(p);
  const n = a.batch;
  const mapA = broadcastMap(lead, leadA);
  const mapB = broadcastMap(lead, leadB);
  const L = mapA.length;
  const sizeA = prod(sa);
  const sizeB = prod(sb);
  const sizeC = L * m * p;
  const At = toSampleMajor(a.data, sizeA, n);
  const Bt = toSampleMajor(b.data, sizeB, n);
  const Ct = float32Uninit(sizeC * n);
  const mk = m * k;
  const kp = k * p;
  const mp = m * p;
  for (let j = 0; j < n; j++)
    for (let l = 0; l < L; l++) {
      const oa = j * sizeA + mapA[l]! * mk;
      const ob = j * sizeB + mapB[l]! * kp;
      const oc = j * sizeC + l * mp;
      smallGemm(m, k, p, At.subarray(oa, oa + mk), false, Bt.subarray(ob, ob + kp), false, Ct.subarray(oc, oc + mp));
    }
  const y = toBatchLast(Ct, sizeC, n);
  return opResult(y, [...outSample, n], [a, b], 'matmulActs', (g) => {
    const Gt = toSampleMajor(g, sizeC, n);
    const tmp = new Float32Array(Math.max(mk, kp));
    // Leading positions broadcast from one block of a (or b) add their gradients into it.
    const accumulate = (dst: Float32Array, off: number, len: number) => {
      for (let i = 0; i < len; i++) dst[off + i]! += tmp[i]!;
    };
    if (a.requiresGrad) {
      const dAt = new Float32Array(sizeA * n);
      const t = tmp.subarray(0, mk);
      for (let j = 0; j < n; j++)
        for (let l = 0; l < L; l++) {
          const ob = j * sizeB + mapB[l]! * kp;
          const oc = j * sizeC + l * mp;
          // dA (m x k) = G (m x p) B^T.
          smallGemm(m, p, k, Gt.subarray(oc, oc + mp), false, Bt.subarray(ob, ob + kp), true, t);
          accumulate(dAt, j * sizeA + mapA[l]! * mk, mk);
        }
      accumulateOwnedGrad(a, n === 1 ? dAt : toBatchLast(dAt, sizeA, n));
    }
    if (b.requiresGrad) {
      const dBt = new Float32Array(sizeB * n);
      const t = tmp.subarray(0, kp);
      for (let j = 0; j < n; j++)
        for (let l = 0; l < L; l++) {
          const oa = j * sizeA + mapA[l]! * mk;
          const oc = j * sizeC + l * mp;
          // dB (k x p) = A^T G.
          smallGemm(k, m, p, At.subarray(oa, oa + mk), true, Gt.subarray(oc, oc + mp), false, t);
          accumulate(dBt, j * sizeB + mapB[l]! * kp, kp);
        }
      accumulateOwnedGrad(b, n === 1 ? dBt : toBatchLast(dBt, sizeB, n));
    }
  });
}
