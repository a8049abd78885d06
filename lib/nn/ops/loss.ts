/** Losses: scalar tensors (mean over the batch) with their gradients. */
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { accumulateOwnedGrad, opResult, Tensor } from '../tensor.js';

export interface CrossEntropyOptions {
  /** Mixes the one-hot target with the uniform distribution: (1 - e) onehot + e / C. Default 0. */
  labelSmoothing?: number;
}

/**
 * Softmax cross-entropy from logits [C, n] (batch-last) against class labels (n integers in
 * [0, C)), averaged over the batch; PyTorch's CrossEntropyLoss with label_smoothing.
 */
export function crossEntropy(logits: Tensor, labels: Int32Array | ArrayLike<number>, opts: CrossEntropyOptions = {}): Tensor {
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new IndexRangeError('ERR_RANGE', `labelSmoothing must be in [0, 1], got ${eps}`);
  if (logits.rank !== 2) throw new ShapeError('ERR_SHAPE', `crossEntropy needs logits [classes, batch], got [${logits.shape.join(', ')}]`);
  const [C, n] = logits.shape as [number, number];
  if (labels.length !== n) throw new ShapeError('ERR_SHAPE', `crossEntropy got ${labels.length} labels for a batch of ${n}`);
  for (let j = 0; j < n; j++) {
    const l = labels[j]!;
    if (!Number.isInteger(l) || l < 0 || l >= C) throw new IndexRangeError('ERR_RANGE', `label ${l} at ${j} is not a class index in [0, ${C})`);
  }
  const x = logits.data;
  // probabilities, column by column (a column is one sample: stride n)
  const prob = new Float32Array(C * n);
  let total = 0;
  for (let j = 0; j < n; j++) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, x[c * n + j]!);
    let sum = 0;
    for (let c = 0; c < C; c++) {
      const e = Math.exp(x[c * n + j]! - max);
      prob[c * n + j] = e;
      sum += e;
    }
    const logSum = Math.log(sum) + max;
    const label = labels[j]!;
    // loss = -(1 - e) log p_label - (e / C) sum_c log p_c
    let sumLogP = 0;
    for (let c = 0; c < C; c++) {
      prob[c * n + j]! /= sum;
      sumLogP += x[c * n + j]! - logSum;
    }
    total += -(1 - eps) * (x[label * n + j]! - logSum) - (eps / C) * sumLogP;
  }
  const out = new Float32Array([n === 0 ? 0 : total / n]);
  return opResult(out, [], [logits], 'crossEntropy', (g) => {
    const scale = g[0]! / Math.max(n, 1);
    const dx = new Float32Array(C * n);
    for (let c = 0; c < C; c++)
      for (let j = 0; j < n; j++) {
        const target = (c === labels[j]! ? 1 - eps : 0) + eps / C;
        dx[c * n + j] = (prob[c * n + j]! - target) * scale;
      }
    accumulateOwnedGrad(logits, dx);
  });
}

/** Mean squared error over every element: mean((pred - target)^2). */
export function mse(pred: Tensor, target: Tensor | Float32Array): Tensor {
  if (!(pred instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', 'mse prediction must be a Tensor');
  if (!(target instanceof Float32Array) && !(target instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', 'mse target must be a Tensor or Float32Array');
  const t = target instanceof Float32Array ? target : target.data;
  if (t.length !== pred.size) throw new ShapeError('ERR_SHAPE', `mse target has ${t.length} values, the prediction [${pred.shape.join(', ')}] has ${pred.size}`);
  const p = pred.data;
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const d = p[i]! - t[i]!;
    s += d * d;
  }
  const size = Math.max(p.length, 1);
  const inputs = target instanceof Float32Array ? [pred] : [pred, target];
  return opResult(new Float32Array([s / size]), [], inputs, 'mse', (g) => {
    const k = (2 * g[0]!) / size;
    if (pred.requiresGrad) {
      const dp = new Float32Array(p.length);
      for (let i = 0; i < p.length; i++) dp[i] = k * (p[i]! - t[i]!);
      accumulateOwnedGrad(pred, dp);
    }
    if (!(target instanceof Float32Array) && target.requiresGrad) {
      const dt = new Float32Array(p.length);
      for (let i = 0; i < p.length; i++) dt[i] = -k * (p[i]! - t[i]!);
      accumulateOwnedGrad(target, dt);
    }
  });
}

/** Index of the largest logit per sample (logits [C, n]). */
export function argmax(logits: Tensor): Int32Array {
  const [C, n] = logits.shape as [number, number];
  const out = new Int32Array(n);
  const x = logits.data;
  for (let j = 0; j < n; j++) {
    let best = 0;
    let bestV = x[j]!;
    for (let c = 1; c < C; c++) {
      const v = x[c * n + j]!;
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[j] = best;
  }
  return out;
}
