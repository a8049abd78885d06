/**
 * Embedding: a lookup table of learned vectors. Token ids come as a batch-last tensor of
 * integer values stored as floats, [n] or [L, n] (any [...s, n]); the output puts the
 * embedding axis just before the batch: [D, n], [L, D, n] ([...s, D, n]).
 */
import { checkCount } from '../../checks.js';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { defaultRandom, type InitOptions } from '../init.js';
import { Module, type ModuleConfig } from '../module.js';
import { Parameter } from '../parameter.js';
import { accumulateOwnedGrad, opResult, Tensor } from '../tensor.js';
import { stateArray } from '../state-arrays.js';

/** Coordinates of flat index `flat` in `shape`, for messages. */
function coords(flat: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    out[i] = d === 0 ? 0 : flat % d;
    flat = d === 0 ? 0 : Math.floor(flat / d);
  }
  return out;
}

/**
 * Looks up rows of `weight` [num, D]: out[..., d, j] = weight[ids[..., j], d]. The gradient goes
 * to `weight` only (summed over repeated ids); ids get none.
 * @throws {IndexRangeError} ERR_RANGE when an id is not an integer in [0, num).
 */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  if (!(ids instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', 'embedding ids must be a Tensor of integer values');
  if (!(weight instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', 'embedding weight must be a Tensor');
  if (weight.rank !== 2) throw new ShapeError('ERR_SHAPE', `embedding weight must be [numEmbeddings, embeddingDim], got [${weight.shape.join(', ')}]`);
  if (ids.rank < 1) throw new ShapeError('ERR_SHAPE', 'embedding ids must be batch-last ([batch] or [length, batch]), got a scalar');
  const [num, D] = weight.shape as [number, number];
  const n = ids.batch;
  const L = n === 0 ? 0 : ids.size / n;
  const idd = ids.data;
  const rows = new Int32Array(ids.size);
  for (let i = 0; i < idd.length; i++) {
    const v = idd[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= num)
      throw new IndexRangeError(
        'ERR_RANGE',
        `embedding id ${v} at [${coords(i, ids.shape).join(', ')}] of ids [${ids.shape.join(', ')}] is not an integer in [0, ${num})`,
      );
    rows[i] = v;
  }
  const wd = weight.data;
  const y = new Float32Array(L * D * n);
  for (let l = 0; l < L; l++)
    for (let j = 0; j < n; j++) {
      const src = rows[l * n + j]! * D;
      const dst = l * D * n + j;
      for (let d = 0; d < D; d++) y[dst + d * n] = wd[src + d]!;
    }
  const shape = [...ids.shape.slice(0, -1), D, n];
  return opResult(y, shape, [weight], 'embedding', (g) => {
    const dw = new Float32Array(weight.size);
    for (let l = 0; l < L; l++)
      for (let j = 0; j < n; j++) {
        const dst = rows[l * n + j]! * D;
        const src = l * D * n + j;
        for (let d = 0; d < D; d++) dw[dst + d] += g[src + d * n]!;
      }
    if (weight instanceof Parameter && weight.mask) {
      const m = weight.mask;
      for (let i = 0; i < dw.length; i++) if (m[i] === 0) dw[i] = 0;
    }
    accumulateOwnedGrad(weight, dw);
  });
}

export type EmbeddingOptions = InitOptions;

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** [numEmbeddings, embeddingDim], initialised N(0, 1) like PyTorch. */
  readonly weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = checkCount(numEmbeddings, 'Embedding numEmbeddings', 1);
    this.embeddingDim = checkCount(embeddingDim, 'Embedding embeddingDim', 1);
    const rng = opts.rng ?? defaultRandom();
    const w = stateArray(numEmbeddings * embeddingDim);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal();
    this.weight = this.registerParameter('weight', new Parameter(w, [numEmbeddings, embeddingDim]));
  }

  /** ids [n] or [L, n] (integer values as floats) -> [D, n] or [L, D, n]. */
  forward(ids: Tensor): Tensor {
    if (!(ids instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `Embedding(${this.numEmbeddings}, ${this.embeddingDim}): ids must be a Tensor`);
    return embedding(ids, this.weight);
  }

  config(): ModuleConfig {
    return { type: 'Embedding', numEmbeddings: this.numEmbeddings, embeddingDim: this.embeddingDim };
  }

  static fromConfig(c: ModuleConfig): Embedding {
    return new Embedding(c['numEmbeddings'] as number, c['embeddingDim'] as number);
  }
}
