/** The in-memory dataset that the data loaders and the training engine consume. */
import { ShapeError, SparsennTypeError, IndexRangeError } from '../../errors.js';

/**
 * A labelled classification dataset held in memory.
 *
 * `images` is sample-major: sample `i` occupies `images[i * F, (i + 1) * F)` where
 * `F = prod(sampleShape)` (for Fashion-MNIST, sampleShape [1, 28, 28] is channel, height, width).
 * The {@link DataLoader} turns it into sparsenn's batch-last layout.
 */
export interface Dataset {
  /** Number of samples. */
  readonly length: number;
  /** The shape of one sample, e.g. [1, 28, 28]. */
  readonly sampleShape: number[];
  /** `length * prod(sampleShape)` values, sample-major (pixels scaled to [0, 1] for images). */
  readonly images: Float32Array;
  /** One class index per sample, each in [0, numClasses). */
  readonly labels: Int32Array;
  /** Number of classes. */
  readonly numClasses: number;
}

/** The number of values in one sample: the product of `sampleShape`. */
export function sampleSize(sampleShape: readonly number[]): number {
  let f = 1;
  for (const d of sampleShape) f *= d;
  return f;
}

/**
 * Checks that `ds` is a consistent {@link Dataset}: array types, lengths that match `length` and
 * `sampleShape`, and labels in [0, numClasses). O(length) for the label scan.
 * @throws {SparsennTypeError} ERR_TYPE for wrong types.
 * @throws {ShapeError} ERR_SHAPE for lengths that do not agree.
 * @throws {IndexRangeError} ERR_RANGE for a label out of range.
 */
export function validateDataset(ds: Dataset, label = 'dataset'): void {
  if (ds === null || typeof ds !== 'object') throw new SparsennTypeError('ERR_TYPE', `${label}: expected a Dataset object, got ${String(ds)}`);
  if (!Number.isSafeInteger(ds.length) || ds.length < 0) {
    throw new SparsennTypeError('ERR_TYPE', `${label}: length must be a non-negative integer, got ${String(ds.length)}`);
  }
  if (!Array.isArray(ds.sampleShape) || !ds.sampleShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new ShapeError('ERR_SHAPE', `${label}: sampleShape must be an array of positive integers, got ${JSON.stringify(ds.sampleShape)}`);
  }
  if (!(ds.images instanceof Float32Array)) {
    throw new SparsennTypeError('ERR_TYPE', `${label}: images must be a Float32Array, got ${Object.prototype.toString.call(ds.images)}`);
  }
  if (!(ds.labels instanceof Int32Array)) {
    throw new SparsennTypeError('ERR_TYPE', `${label}: labels must be an Int32Array, got ${Object.prototype.toString.call(ds.labels)}`);
  }
  if (!Number.isSafeInteger(ds.numClasses) || ds.numClasses < 1) {
    throw new SparsennTypeError('ERR_TYPE', `${label}: numClasses must be a positive integer, got ${String(ds.numClasses)}`);
  }
  const f = sampleSize(ds.sampleShape);
  if (ds.images.length !== ds.length * f) {
    throw new ShapeError(
      'ERR_SHAPE',
      `${label}: images has ${ds.images.length} values, expected length * prod(sampleShape) = ${ds.length} * ${f} = ${ds.length * f}`,
    );
  }
  if (ds.labels.length !== ds.length) {
    throw new ShapeError('ERR_SHAPE', `${label}: labels has ${ds.labels.length} entries, expected one per sample (${ds.length})`);
  }
  const labels = ds.labels;
  const k = ds.numClasses;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y < 0 || y >= k) throw new IndexRangeError('ERR_RANGE', `${label}: label ${y} of sample ${i} is out of range: expected 0 <= label < ${k}`);
  }
}
