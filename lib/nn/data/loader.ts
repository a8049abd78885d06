/**
 * Mini-batches over a {@link Dataset} in sparsenn's batch-last layout: a batch of `size` samples of
 * shape `sampleShape` is a Float32Array of shape `[...sampleShape, size]` whose last axis (the
 * batch) is contiguous, the dense operand layout the sparse kernels want (`x[f * size + b]` is
 * feature `f` of sample `b`).
 *
 * Shuffling is reproducible: the order of epoch `e` depends only on `(seed, e)` (see
 * {@link DataLoader.order}), so a run can be resumed at any epoch.
 */
import { IndexRangeError, SparsennTypeError } from '../../errors.js';
import { float32Uninit } from '../../alloc.js';
import { native } from '../../native.js';
import { Random } from '../random.js';
import { sampleSize, validateDataset, type Dataset } from './dataset.js';

export interface DataLoaderOptions {
  /** Samples per batch, a positive integer. */
  batchSize: number;
  /** Reshuffle every epoch. Default false (dataset order). */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Seed of the shuffles, a safe integer. Default 0: runs are reproducible unless you vary it. */
  seed?: number;
}

/** One mini-batch. */
export interface Batch {
  /** The samples, batch-last: `x[f * size + b]` is value `f` (row-major in sampleShape) of sample `b`. */
  x: Float32Array;
  /** `[...sampleShape, size]`. */
  shape: number[];
  /** The labels, `y[b]` for sample `b`. */
  y: Int32Array;
  /** Samples in this batch (batchSize, or fewer for the last one). */
  size: number;
  /** The dataset index of each sample in the batch. */
  indices: Int32Array;
}

/**
 * Iterates a dataset in mini-batches. `for (const batch of loader)` runs one epoch and each new
 * loop starts the next epoch (0, 1, 2, …); `loader.epoch(e)` gives the batches of epoch `e`
 * directly. Each batch is freshly allocated, so batches may be kept.
 */
export class DataLoader implements Iterable<Batch> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly #features: number;
  readonly #random: Random;
  #nextEpoch = 0;

  /**
   * @throws {SparsennTypeError} ERR_TYPE for options of the wrong type (batchSize not an integer,
   *   shuffle not a boolean, seed not a safe integer, …) or a malformed dataset.
   * @throws {IndexRangeError} ERR_RANGE when batchSize < 1 or a label is out of range.
   * @throws {ShapeError} ERR_SHAPE when the dataset's arrays disagree with its length and shape.
   */
  constructor(dataset: Dataset, options: DataLoaderOptions) {
    validateDataset(dataset, 'DataLoader: dataset');
    if (options === null || typeof options !== 'object') {
      throw new SparsennTypeError('ERR_TYPE', `DataLoader: options must be an object with a batchSize, got ${String(options)}`);
    }
    const { batchSize, shuffle = false, dropLast = false, seed = 0 } = options;
    if (typeof batchSize !== 'number' || !Number.isInteger(batchSize)) {
      throw new SparsennTypeError('ERR_TYPE', `DataLoader: batchSize must be an integer, got ${String(batchSize)}`);
    }
    if (batchSize < 1) throw new IndexRangeError('ERR_RANGE', `DataLoader: batchSize must be >= 1, got ${batchSize}`);
    if (typeof shuffle !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `DataLoader: shuffle must be a boolean, got ${String(shuffle)}`);
    if (typeof dropLast !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `DataLoader: dropLast must be a boolean, got ${String(dropLast)}`);
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
      throw new SparsennTypeError('ERR_TYPE', `DataLoader: seed must be a safe integer, got ${String(seed)}`);
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.seed = seed;
    this.#features = sampleSize(dataset.sampleShape);
    this.#random = new Random(seed);
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /**
   * The sample order of epoch `e`: the identity without shuffle, else a permutation that depends
   * only on (seed, e). Includes the samples a dropLast batch leaves out (at the end).
   * @throws {SparsennTypeError} ERR_TYPE / {@link IndexRangeError} ERR_RANGE unless `e` is a
   *   non-negative safe integer.
   */
  order(e: number): Int32Array {
    checkEpoch(e);
    const n = this.dataset.length;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    if (this.shuffle) this.#random.fork(e).shuffle(order);
    return order;
  }

  /** The batches of epoch `e` (reproducible: the same e gives the same batches). */
  epoch(e: number): IterableIterator<Batch> {
    const order = this.order(e); // validates now, not at the first next()
    return this.#batches(order);
  }

  /** One epoch: the first loop over the loader is epoch 0, the next epoch 1, and so on. */
  [Symbol.iterator](): IterableIterator<Batch> {
    return this.epoch(this.#nextEpoch++);
  }

  /**
   * Gathers the given dataset samples into one batch-last batch.
   * @throws {SparsennTypeError} ERR_TYPE when `indices` is not an Int32Array.
   * @throws {IndexRangeError} ERR_RANGE for an index outside the dataset.
   */
  batch(indices: Int32Array): Batch {
    if (!(indices instanceof Int32Array)) {
      throw new SparsennTypeError('ERR_TYPE', `DataLoader.batch: indices must be an Int32Array, got ${Object.prototype.toString.call(indices)}`);
    }
    const n = this.dataset.length;
    for (let b = 0; b < indices.length; b++) {
      const i = indices[b];
      if (i < 0 || i >= n) throw new IndexRangeError('ERR_RANGE', `DataLoader.batch: index ${i} at position ${b} is outside the dataset: expected 0 <= index < ${n}`);
    }
    return this.#gather(indices);
  }

  *#batches(order: Int32Array): IterableIterator<Batch> {
    const count = this.length;
    const bs = this.batchSize;
    for (let k = 0; k < count; k++) {
      const start = k * bs;
      yield this.#gather(order.slice(start, Math.min(start + bs, order.length)));
    }
  }

  /** The blocked transpose from sample-major rows to batch-last columns (indices checked). */
  #gather(indices: Int32Array): Batch {
    const size = indices.length;
    const f = this.#features;
    const images = this.dataset.images;
    const labels = this.dataset.labels;
    const x = float32Uninit(f * size);
    const y = new Int32Array(size);
    for (let b = 0; b < size; b++) y[b] = labels[indices[b]];
    native.gatherTranspose(images, f, indices, x); // rows to batch-last in one blocked pass
    return { x, shape: [...this.dataset.sampleShape, size], y, size, indices };
  }
}

function checkEpoch(e: number): void {
  if (typeof e !== 'number' || !Number.isSafeInteger(e)) {
    throw new SparsennTypeError('ERR_TYPE', `DataLoader: epoch must be a safe integer, got ${String(e)}`);
  }
  if (e < 0) throw new IndexRangeError('ERR_RANGE', `DataLoader: epoch must be >= 0, got ${e}`);
}
