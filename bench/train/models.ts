/** The benchmark models, built the same way for every run (the tfjs peer mirrors them). */
import { lenet300, sparseKaiming, Random, type Sequential } from '../../lib/index.js';

export { lenet300, smallCnn } from '../../lib/index.js';

export type ModelName = 'lenet300' | 'lenet300-sparse90' | 'cnn';

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
