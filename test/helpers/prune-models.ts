/** Small models shared by the channel-dependency and shrink tests. */
import { Flatten, ReLU } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { BatchNorm2d } from '../../lib/nn/layers/norm.js';
import { MaxPool2d } from '../../lib/nn/layers/pool.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';

/** Conv-BN-ReLU-MaxPool-Conv-ReLU-Flatten-Linear-ReLU-Linear on [3, 8, 8] inputs. */
export function cnn(): Sequential {
  return new Sequential({
    conv1: new Conv2d(3, 8, 3, { padding: 1 }),
    bn1: new BatchNorm2d(8),
    relu1: new ReLU(),
    pool: new MaxPool2d(2),
    conv2: new Conv2d(8, 6, 3, { padding: 1 }),
    relu2: new ReLU(),
    flat: new Flatten(),
    fc1: new Linear(96, 10),
    relu3: new ReLU(),
    fc2: new Linear(10, 3),
  });
}
