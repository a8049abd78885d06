/**
 * Normalisation ops with their exact analytic gradients: batch norm (statistics per channel
 * over the batch and the spatial axes), layer norm (per sample over all sample axes) and group
 * norm (per sample over groups of channels). Inputs are batch-last: [C, n], [C, L, n],
 * [C, H, W, n]; the channel axis is axis 0. Statistics are accumulated in float64.
 *
 * With x^ = (x - mean) / sqrt(var + eps) over a set of K values and dy the upstream gradient
 * times the affine weight, the input gradient is
 *   dx = (dy - mean(dy) - x^ * mean(dy * x^)) / sqrt(var + eps)
 * (biased variance, as PyTorch normalises with).
 */
import { ShapeError, SparsennTypeError } from '../../errors.js';
import { Parameter } from '../parameter.js';
import { accumulateOwnedGrad, opResult, Tensor } from '../tensor.js';

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function checkTensor(t: unknown, what: string): Tensor {
  if (!(t instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `${what} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  return t;
}

function checkAffine(t: Tensor | null | undefined, size: number, what: string, op: string): Tensor | null {
  if (t === null || t === undefined) return null;
  checkTensor(t, `${op} ${what}`);
  if (t.size !== size) throw new ShapeError('ERR_SHAPE', `${op} ${what} has ${t.size} values ${fmtShape(t.shape)}, expected ${size}`);
  return t;
}

function checkEps(eps: unknown, op: string): number {
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps))
    throw new SparsennTypeError('ERR_TYPE', `${op} eps must be a finite number >= 0, got ${String(eps)}`);
  return eps;
}

/** Hands a parameter gradient over, zeroing the entries a mask prunes. */
function accumulateParamGrad(p: Tensor, g: Float64Array): void {
  if (!p.requiresGrad) return;
  const out = Float32Array.from(g);
  if (p instanceof Parameter && p.mask) {
    const m = p.mask;
    for (let i = 0; i < out.length; i++) if (m[i] === 0) out[i] = 0;
  }
  accumulateOwnedGrad(p, out);
}

export interface BatchNormOpOptions {
  /** Normalise with the batch statistics (true) or with runningMean / runningVar (false). */
  training: boolean;
  /**
   * Running estimates [C]: read when not training; when training and given, updated in place
   * as r = (1 - momentum) r + momentum * batch statistic (the variance unbiased, PyTorch's rule).
   */
  runningMean?: Float32Array | null;
  runningVar?: Float32Array | null;
  /** Default 0.1. */
  momentum?: number;
  /** Default 1e-5. */
  eps?: number;
}

/**
 * Batch normalisation of x [C, ...spatial, n] per channel c (axis 0): statistics over every
 * other axis (spatial and batch), then y = weight[c] x^ + bias[c] (weight/bias null: 1 / 0).
 */
export function batchNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, opts: BatchNormOpOptions): Tensor {
  checkTensor(x, 'batchNorm input');
  if (x.rank < 2) throw new ShapeError('ERR_SHAPE', `batchNorm needs input [C, ..., batch], got ${fmtShape(x.shape)}`);
  const C = x.shape[0]!;
  const M = C === 0 ? 0 : x.size / C;
  const w = checkAffine(weight, C, 'weight', 'batchNorm');
  const b = checkAffine(bias, C, 'bias', 'batchNorm');
  const eps = checkEps(opts.eps ?? 1e-5, 'batchNorm');
  const momentum = opts.momentum ?? 0.1;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))
    throw new SparsennTypeError('ERR_TYPE', `batchNorm momentum must be a number in [0, 1], got ${String(momentum)}`);
  const rm = opts.runningMean ?? null;
  const rv = opts.runningVar ?? null;
  if ((rm === null) !== (rv === null)) throw new SparsennTypeError('ERR_TYPE', 'batchNorm needs both runningMean and runningVar, or neither');
  if (rm && rv) {
    if (!(rm instanceof Float32Array) || !(rv instanceof Float32Array)) throw new SparsennTypeError('ERR_TYPE', 'batchNorm running statistics must be Float32Arrays');
    if (rm.length !== C || rv.length !== C)
      throw new ShapeError('ERR_SHAPE', `batchNorm running statistics have ${rm.length} and ${rv.length} values, the input has ${C} channels`);
  }
  const training = opts.training;
  if (!training && !rm) throw new SparsennTypeError('ERR_TYPE', 'batchNorm outside training needs runningMean and runningVar');
  if (training && M < 2)
    throw new ShapeError('ERR_SHAPE', `batchNorm in training needs more than 1 value per channel, got input ${fmtShape(x.shape)} (${M} per channel)`);

  const xd = x.data;
  const mean = new Float64Array(C);
  const invStd = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const base = c * M;
    if (training) {
      let s = 0;
      for (let i = 0; i < M; i++) s += xd[base + i]!;
      const mu = s / M;
      let sq = 0;
      for (let i = 0; i < M; i++) {
        const d = xd[base + i]! - mu;
        sq += d * d;
      }
      const variance = sq / M;
      mean[c] = mu;
      invStd[c] = 1 / Math.sqrt(variance + eps);
      if (rm && rv) {
        rm[c] = (1 - momentum) * rm[c]! + momentum * mu;
        rv[c] = (1 - momentum) * rv[c]! + (momentum * sq) / (M - 1);
      }
    } else {
      mean[c] = rm![c]!;
      invStd[c] = 1 / Math.sqrt(rv![c]! + eps);
    }
  }
  const wd = w?.data;
  const bd = b?.data;
  const y = new Float32Array(x.size);
  for (let c = 0; c < C; c++) {
    const base = c * M;
    const mu = mean[c]!;
    const k = invStd[c]! * (wd ? wd[c]! : 1);
    const shift = bd ? bd[c]! : 0;
    for (let i = 0; i < M; i++) y[base + i] = (xd[base + i]! - mu) * k + shift;
  }
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  return opResult(y, x.shape, inputs, training ? 'batchNorm' : 'batchNormEval', (g) => {
    const dw = new Float64Array(C);
    const db = new Float64Array(C);
    const dx = x.requiresGrad ? new Float32Array(x.size) : null;
    for (let c = 0; c < C; c++) {
      const base = c * M;
      const mu = mean[c]!;
      const is = invStd[c]!;
      let sg = 0;
      let sgx = 0;
      for (let i = 0; i < M; i++) {
        const gi = g[base + i]!;
        sg += gi;
        sgx += gi * (xd[base + i]! - mu) * is;
      }
      dw[c] = sgx;
      db[c] = sg;
      if (dx) {
        const wc = wd ? wd[c]! : 1;
        if (training) {
          const mg = sg / M;
          const mgx = sgx / M;
          for (let i = 0; i < M; i++) dx[base + i] = wc * is * (g[base + i]! - mg - (xd[base + i]! - mu) * is * mgx);
        } else {
          const k = wc * is;
          for (let i = 0; i < M; i++) dx[base + i] = g[base + i]! * k;
        }
      }
    }
    if (dx) accumulateOwnedGrad(x, dx);
    if (w) accumulateParamGrad(w, dw);
    if (b) accumulateParamGrad(b, db);
  });
}

/**
 * Per-sample normalisation of x viewed as [groups, groupSize, n]: statistics per (group, sample)
 * over groupSize values; the affine entry of flat sample index i is i / affineSpan.
 */
function perSampleNorm(
  x: Tensor,
  groups: number,
  groupSize: number,
  affineSpan: number,
  w: Tensor | null,
  b: Tensor | null,
  eps: number,
  op: string,
): Tensor {
  const n = x.batch;
  const xd = x.data;
  const K = groupSize;
  const mean = new Float64Array(groups * n);
  const invStd = new Float64Array(groups * n);
  const acc = new Float64Array(n);
  for (let gr = 0; gr < groups; gr++) {
    const rowBase = gr * K;
    const mu = mean.subarray(gr * n, (gr + 1) * n);
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const row = (rowBase + k) * n;
      for (let j = 0; j < n; j++) acc[j] += xd[row + j]!;
    }
    for (let j = 0; j < n; j++) mu[j] = K > 0 ? acc[j]! / K : 0;
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const row = (rowBase + k) * n;
      for (let j = 0; j < n; j++) {
        const d = xd[row + j]! - mu[j]!;
        acc[j] += d * d;
      }
    }
    for (let j = 0; j < n; j++) invStd[gr * n + j] = 1 / Math.sqrt((K > 0 ? acc[j]! / K : 0) + eps);
  }
  const wd = w?.data;
  const bd = b?.data;
  const y = new Float32Array(x.size);
  const rows = groups * K;
  for (let r = 0; r < rows; r++) {
    const gr = Math.floor(r / K);
    const a = Math.floor(r / affineSpan);
    const wa = wd ? wd[a]! : 1;
    const ba = bd ? bd[a]! : 0;
    const row = r * n;
    const sBase = gr * n;
    for (let j = 0; j < n; j++) y[row + j] = (xd[row + j]! - mean[sBase + j]!) * invStd[sBase + j]! * wa + ba;
  }
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  return opResult(y, x.shape, inputs, op, (g) => {
    const dw = w ? new Float64Array(w.size) : null;
    const db = b ? new Float64Array(b.size) : null;
    if (dw || db)
      for (let r = 0; r < rows; r++) {
        const gr = Math.floor(r / K);
        const a = Math.floor(r / affineSpan);
        const row = r * n;
        const sBase = gr * n;
        let sg = 0;
        let sgx = 0;
        for (let j = 0; j < n; j++) {
          const gi = g[row + j]!;
          sg += gi;
          sgx += gi * (xd[row + j]! - mean[sBase + j]!) * invStd[sBase + j]!;
        }
        if (dw) dw[a] += sgx;
        if (db) db[a] += sg;
      }
    if (x.requiresGrad) {
      const dx = new Float32Array(x.size);
      const s1 = new Float64Array(n);
      const s2 = new Float64Array(n);
      for (let gr = 0; gr < groups; gr++) {
        const sBase = gr * n;
        s1.fill(0);
        s2.fill(0);
        for (let k = 0; k < K; k++) {
          const r = gr * K + k;
          const wa = wd ? wd[Math.floor(r / affineSpan)]! : 1;
          const row = r * n;
          for (let j = 0; j < n; j++) {
            const dy = g[row + j]! * wa;
            s1[j] += dy;
            s2[j] += dy * (xd[row + j]! - mean[sBase + j]!) * invStd[sBase + j]!;
          }
        }
        for (let j = 0; j < n; j++) {
          s1[j] /= K;
          s2[j] /= K;
        }
        for (let k = 0; k < K; k++) {
          const r = gr * K + k;
          const wa = wd ? wd[Math.floor(r / affineSpan)]! : 1;
          const row = r * n;
          for (let j = 0; j < n; j++) {
            const is = invStd[sBase + j]!;
            const xh = (xd[row + j]! - mean[sBase + j]!) * is;
            dx[row + j] = is * (g[row + j]! * wa - s1[j]! - xh * s2[j]!);
          }
        }
      }
      accumulateOwnedGrad(x, dx);
    }
    if (w && dw) accumulateParamGrad(w, dw);
    if (b && db) accumulateParamGrad(b, db);
  });
}

/**
 * Layer normalisation: each sample of x [...normalizedShape, n] is normalised over all its
 * values, then y = weight * x^ + bias element-wise (weight, bias: normalizedShape, or null).
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  checkTensor(x, 'layerNorm input');
  const s = normalizedShape;
  if (x.rank !== s.length + 1 || s.some((d, i) => d !== x.shape[i]))
    throw new ShapeError('ERR_SHAPE', `layerNorm(${fmtShape(s)}) needs input [${[...s, 'batch'].join(', ')}], got ${fmtShape(x.shape)}`);
  let D = 1;
  for (const d of s) D *= d;
  const w = checkAffine(weight, D, 'weight', 'layerNorm');
  const b = checkAffine(bias, D, 'bias', 'layerNorm');
  return perSampleNorm(x, 1, D, 1, w, b, checkEps(eps, 'layerNorm'), 'layerNorm');
}

/**
 * Group normalisation of x [C, ...spatial, n]: the C channels form numGroups groups of C /
 * numGroups consecutive channels; each (group, sample) is normalised over its channels and
 * spatial positions, then y = weight[c] x^ + bias[c] per channel.
 */
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  checkTensor(x, 'groupNorm input');
  if (x.rank < 2) throw new ShapeError('ERR_SHAPE', `groupNorm needs input [C, ..., batch], got ${fmtShape(x.shape)}`);
  const C = x.shape[0]!;
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0)
    throw new ShapeError('ERR_SHAPE', `groupNorm: ${C} channels of input ${fmtShape(x.shape)} cannot be split into ${numGroups} groups`);
  let S = 1;
  for (let i = 1; i < x.rank - 1; i++) S *= x.shape[i]!;
  const w = checkAffine(weight, C, 'weight', 'groupNorm');
  const b = checkAffine(bias, C, 'bias', 'groupNorm');
  return perSampleNorm(x, numGroups, (C / numGroups) * S, Math.max(S, 1), w, b, checkEps(eps, 'groupNorm'), 'groupNorm');
}
