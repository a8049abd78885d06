/** The benchmark models, built the same way for every run (the tfjs peer mirrors them). */
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, sparseKaiming, Random } from '../../lib/index.js';

export type ModelName = 'lenet300' | 'lenet300-sparse90' | 'cnn';

/** LeNet-300-100: 784-300-100-10 with ReLU. */
export function lenet300(): Sequential {
  return new Sequential({
    fc1: new Linear(784, 300),
    relu1: new ReLU(),
    fc2: new Linear(300, 100),
    relu2: new ReLU(),
    fc3: new Linear(100, 10),
  });
}

/**
 * LeNet-300-100 with 90% of every weight matrix pruned at random before training (static
 * sparse training), the kept weights drawn by the variance-corrected initialiser.
 */
export function lenet300Sparse(density: number, seed: number): Sequential {
  const model = lenet300();
  const rng = new Random(seed);
  for (const [name, p] of model.namedParameters()) {
    if (!name.endsWith('weight')) continue;
    const mask = new Uint8Array(p.size);
    // exactly round(density * size) kept, chosen uniformly
    const idx = Int32Array.from({ length: p.size }, (_, i) => i);
    rng.shuffle(idx);
    const keep = Math.max(1, Math.round(density * p.size));
    for (let i = 0; i < keep; i++) mask[idx[i]!] = 1;
    sparseKaiming(p.data, p.shape, { mask, rng, nonlinearity: name.startsWith('fc3') ? 'linear' : 'relu' });
    p.setMask(mask);
  }
  return model;
}

/** Two 5x5 conv layers (16, 32 channels, 'same' padding) with 2x2 max pooling, then 1568-128-10. */
export function smallCnn(): Sequential {
  return new Sequential({
    conv1: new Conv2d(1, 16, 5, { padding: 2 }),
    relu1: new ReLU(),
    pool1: new MaxPool2d(2),
    conv2: new Conv2d(16, 32, 5, { padding: 2 }),
    relu2: new ReLU(),
    pool2: new MaxPool2d(2),
    flatten: new Flatten(),
    fc1: new Linear(32 * 7 * 7, 128),
    relu3: new ReLU(),
    fc2: new Linear(128, 10),
  });
}
