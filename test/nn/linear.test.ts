import { describe, expect, it } from 'vitest';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Tensor } from '../../lib/nn/tensor.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32 } from '../helpers/random.js';

function randomTensor(shape: number[], seed: number, requiresGrad = true): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = rng() * 2 - 1;
  return t;
}

describe('Linear', () => {
  for (const execution of ['dense', 'sparse'] as const)
    it(`gradients match finite differences (${execution})`, () => {
      const layer = new Linear(7, 5, { execution });
      const mask = new Uint8Array(35).map((_, i) => (i % 3 === 0 ? 0 : 1));
      layer.weight.setMask(mask);
      const x = randomTensor([7, 4], 1);
      gradCheck(() => layer.forward(x), [x, layer.weight, layer.bias!]);
      expect(layer.weight.grad!.every((v, i) => mask[i] === 1 || v === 0)).toBe(true);
    });
});
