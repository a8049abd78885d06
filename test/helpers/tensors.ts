/** Seeded random tensors and masks for tests. */
import { Tensor } from '../../lib/nn/tensor.js';
import { mulberry32 } from './random.js';

/** A tensor of values uniform in [-1, 1), from `seed`. */
export function randomTensor(shape: number[], seed: number, requiresGrad = false): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = rng() * 2 - 1;
  return t;
}

/** A 0/1 mask keeping each entry with probability `density`, from `seed`. */
export function randomMask(size: number, density: number, seed: number): Uint8Array {
  const rng = mulberry32(seed);
  return new Uint8Array(size).map(() => (rng() < density ? 1 : 0));
}
