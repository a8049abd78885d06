/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017; Zalando Research, MIT license): 70,000 28x28
 * grey-scale images of clothing in 10 classes, 60,000 for training and 10,000 for test.
 *
 * The full set is read from a folder of the four original IDX files — by default the one the
 * Debian/Ubuntu package `dataset-fashion-mnist` installs — and a class-balanced subset of 2,000
 * training and 500 test images ships with sparsenn in data/fashion-mnist-subset (made by
 * scripts/make-fashion-subset.ts) for tests and quick examples.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, IndexRangeError, SparsennTypeError } from '../../errors.js';
import { packageRoot } from '../../package-root.js';
import type { Dataset } from './dataset.js';
import { readIdxFile, readIdxFileSync, type IdxArray } from './idx.js';

/** The 10 class names, indexed by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Mean of the training pixels scaled to [0, 1]. */
export const FASHION_MNIST_MEAN = 0.286;
/** Standard deviation of the training pixels scaled to [0, 1]. */
export const FASHION_MNIST_STD = 0.353;

/** Where the Debian package dataset-fashion-mnist installs the files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

const SIDE = 28;
const NUM_CLASSES = 10;

export interface FashionMnistOptions {
  /**
   * Folder holding the IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
   * t10k-…). Default: `$SPARSENN_FASHION_MNIST_DIR`, else /usr/share/datasets/fashion-mnist.
   */
  dir?: string;
  /** 'train' (default) or 'test'. */
  split?: 'train' | 'test';
  /** Keep only the first `limit` samples. */
  limit?: number;
  /** Load the small class-balanced subset shipped with sparsenn (2,000 train / 500 test). */
  subset?: boolean;
  /**
   * Standardise pixels with the Fashion-MNIST mean 0.2860 and std 0.3530 after scaling to
   * [0, 1]. Default false: pixels are just scaled to [0, 1].
   */
  normalize?: boolean;
}

/** The dataset plus its class names. */
export interface FashionMnistDataset extends Dataset {
  readonly split: 'train' | 'test';
  readonly classNames: readonly string[];
}

interface Plan {
  split: 'train' | 'test';
  images: string;
  labels: string;
  limit: number;
  normalize: boolean;
}

function findFile(dir: string, base: string): string | null {
  for (const name of [`${base}.gz`, base]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

function plan(opts: FashionMnistOptions | undefined): Plan {
  const o = opts ?? {};
  if (typeof o !== 'object') throw new SparsennTypeError('ERR_TYPE', `loadFashionMnist: options must be an object, got ${String(o)}`);
  const split = o.split ?? 'train';
  if (split !== 'train' && split !== 'test') {
    throw new SparsennTypeError('ERR_TYPE', `loadFashionMnist: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  }
  if (o.subset !== undefined && typeof o.subset !== 'boolean') {
    throw new SparsennTypeError('ERR_TYPE', `loadFashionMnist: subset must be a boolean, got ${String(o.subset)}`);
  }
  if (o.normalize !== undefined && typeof o.normalize !== 'boolean') {
    throw new SparsennTypeError('ERR_TYPE', `loadFashionMnist: normalize must be a boolean, got ${String(o.normalize)}`);
  }
  if (o.dir !== undefined && typeof o.dir !== 'string') {
    throw new SparsennTypeError('ERR_TYPE', `loadFashionMnist: dir must be a string, got ${String(o.dir)}`);
  }
  if (o.subset && o.dir !== undefined) {
    throw new SparsennTypeError('ERR_TYPE', 'loadFashionMnist: pass either subset: true (the copy shipped with sparsenn) or dir, not both');
  }
  let limit = Infinity;
  if (o.limit !== undefined) {
    if (typeof o.limit !== 'number' || !Number.isInteger(o.limit)) {
      throw new SparsennTypeError('ERR_TYPE', `loadFashionMnist: limit must be an integer, got ${String(o.limit)}`);
    }
    if (o.limit < 0) throw new IndexRangeError('ERR_RANGE', `loadFashionMnist: limit must be >= 0, got ${o.limit}`);
    limit = o.limit;
  }

  const env = process.env.SPARSENN_FASHION_MNIST_DIR;
  const dir = o.subset
    ? join(packageRoot(), 'data', 'fashion-mnist-subset')
    : o.dir ?? (env !== undefined && env !== '' ? env : FASHION_MNIST_DEFAULT_DIR);
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = findFile(dir, `${prefix}-images-idx3-ubyte`);
  const labels = findFile(dir, `${prefix}-labels-idx1-ubyte`);
  if (images === null || labels === null) {
    const missing = [images === null ? `${prefix}-images-idx3-ubyte.gz` : null, labels === null ? `${prefix}-labels-idx1-ubyte.gz` : null]
      .filter((x) => x !== null)
      .join(' and ');
    const hint = o.subset
      ? 'the sparsenn installation lacks its data/ folder; reinstall it, or load the full set with `apt-get install dataset-fashion-mnist`'
      : 'install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass `dir` (or set SPARSENN_FASHION_MNIST_DIR) to a folder with the four IDX files, ' +
        'or use `subset: true` for the small subset shipped with sparsenn';
    throw new FormatError('ERR_FORMAT', `fashion-mnist: no ${split} data in ${dir} (missing ${missing}, plain or gzipped): ${hint}`);
  }
  return { split, images, labels, limit, normalize: o.normalize ?? false };
}

function build(p: Plan, img: IdxArray, lab: IdxArray): FashionMnistDataset {
  if (img.dtype !== 'u8' || img.shape.length !== 3 || img.shape[1] !== SIDE || img.shape[2] !== SIDE) {
    throw new FormatError('ERR_FORMAT', `fashion-mnist: ${p.images} holds [${img.shape.join(', ')}] of ${img.dtype}: expected [n, 28, 28] of u8`);
  }
  if (lab.dtype !== 'u8' || lab.shape.length !== 1) {
    throw new FormatError('ERR_FORMAT', `fashion-mnist: ${p.labels} holds [${lab.shape.join(', ')}] of ${lab.dtype}: expected [n] of u8`);
  }
  if (img.shape[0] !== lab.shape[0]) {
    throw new FormatError(
      'ERR_FORMAT',
      `fashion-mnist: ${p.images} has ${img.shape[0]} images but ${p.labels} has ${lab.shape[0]} labels: expected the same count`,
    );
  }
  const n = Math.min(img.shape[0], p.limit);
  const pixels = img.data as Uint8Array;
  const rawLabels = lab.data as Uint8Array;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = rawLabels[i];
    if (y >= NUM_CLASSES) {
      throw new FormatError('ERR_FORMAT', `fashion-mnist: ${p.labels}: label ${y} of sample ${i}: expected a class in 0..9`);
    }
    labels[i] = y;
  }
  // One table lookup per pixel: exactly the float32 of (v / 255 - mean) / std for each byte v.
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = p.normalize ? (v / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD : v / 255;
  const f = SIDE * SIDE;
  const images = new Float32Array(n * f);
  for (let i = 0; i < images.length; i++) images[i] = lut[pixels[i]];
  return { length: n, sampleShape: [1, SIDE, SIDE], images, labels, numClasses: NUM_CLASSES, split: p.split, classNames: FASHION_MNIST_CLASSES };
}

/**
 * Loads Fashion-MNIST as a {@link Dataset} with sampleShape [1, 28, 28], pixels scaled to [0, 1]
 * (or standardised with `normalize`). Both files are read and inflated off the event loop.
 * @throws {FormatError} ERR_FORMAT when the files are missing (the message says how to get them)
 *   or malformed (counts that disagree, labels beyond 9, wrong shapes).
 * @throws {SparsennTypeError} ERR_TYPE / {@link IndexRangeError} ERR_RANGE for bad options.
 */
export async function loadFashionMnist(opts?: FashionMnistOptions): Promise<FashionMnistDataset> {
  const p = plan(opts);
  const [img, lab] = await Promise.all([readIdxFile(p.images), readIdxFile(p.labels)]);
  return build(p, img, lab);
}

/** The synchronous {@link loadFashionMnist}. */
export function loadFashionMnistSync(opts?: FashionMnistOptions): FashionMnistDataset {
  const p = plan(opts);
  return build(p, readIdxFileSync(p.images), readIdxFileSync(p.labels));
}
