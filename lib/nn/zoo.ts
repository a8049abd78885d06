/**
 * Reference models used by the demo, the CLI and the benchmarks, built the same way everywhere:
 * LeNet-300-100, a small CNN for 28x28 images, and a transformer-sized MLP block.
 */
import { Flatten, GELU, ReLU } from './layers/activations.js';
import { Conv2d } from './layers/conv.js';
import { Linear } from './layers/linear.js';
import { MaxPool2d } from './layers/pool.js';
import { Sequential } from './layers/sequential.js';

/** LeNet-300-100 (Han et al. 2015): 784-300-100-10 with ReLU; input [784] or [1, 28, 28]. */
export function lenet300(): Sequential {
  return new Sequential({
    fc1: new Linear(784, 300),
    relu1: new ReLU(),
    fc2: new Linear(300, 100),
    relu2: new ReLU(),
    fc3: new Linear(100, 10),
  });
}

/** Two 5x5 conv layers (16, 32 channels, 'same' padding) with 2x2 max pooling, then 1568-128-10; input [1, 28, 28]. */
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

/**
 * The feed-forward block of a BERT-base encoder layer: d → 4d → d (768 → 3072 → 768 by default)
 * with GELU, or ReLU when asked; input [d].
 */
export function mlpBlock(d = 768, activation: 'gelu' | 'relu' = 'gelu'): Sequential {
  return new Sequential({
    fc1: new Linear(d, 4 * d),
    act: activation === 'gelu' ? new GELU() : new ReLU(),
    fc2: new Linear(4 * d, d),
  });
}
