/**
 * Which data a command trains, calibrates and evaluates on: the full Fashion-MNIST when the
 * Debian package (or SPARSENN_FASHION_MNIST_DIR) provides it, else the subset shipped with
 * sparsenn; `--data subset|full|DIR` chooses.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { loadFashionMnist, type FashionMnistDataset } from '../nn/data/fashion-mnist.js';

export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

export interface DataChoice {
  train: FashionMnistDataset;
  test: FashionMnistDataset;
  /** 'the shipped subset (2,000 / 500)' or the folder of the full set. */
  description: string;
  full: boolean;
}

function fullDir(): string | null {
  const dir = process.env['SPARSENN_FASHION_MNIST_DIR'] ?? DEBIAN_FASHION_MNIST;
  const has = (f: string) => existsSync(join(dir, f)) || existsSync(join(dir, `${f}.gz`));
  return has('train-images-idx3-ubyte') && has('t10k-images-idx3-ubyte') ? dir : null;
}

/** `choice`: 'auto' (full when installed, else the subset), 'subset', 'full', or a folder. */
export async function loadData(choice = 'auto', limit?: number): Promise<DataChoice> {
  let dir: string | null;
  if (choice === 'subset') dir = null;
  else if (choice === 'auto') dir = fullDir();
  else if (choice === 'full') {
    dir = fullDir();
    if (dir === null) throw new FormatError('ERR_FORMAT', `--data full: Fashion-MNIST was not found in ${process.env['SPARSENN_FASHION_MNIST_DIR'] ?? DEBIAN_FASHION_MNIST}; install the Debian package dataset-fashion-mnist or set SPARSENN_FASHION_MNIST_DIR`);
  } else dir = choice;
  const opts = dir === null ? { subset: true } : { dir };
  const [train, test] = await Promise.all([loadFashionMnist({ ...opts, split: 'train', limit }), loadFashionMnist({ ...opts, split: 'test' })]);
  return {
    train,
    test,
    full: dir !== null,
    description: dir === null ? `the Fashion-MNIST subset shipped with sparsenn (${train.length} train / ${test.length} test)` : `Fashion-MNIST from ${dir} (${train.length} train / ${test.length} test)`,
  };
}
