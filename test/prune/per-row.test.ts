/** unstructured({ perRow: true }): every row keeps its own best round((1 - s) * cols) weights. */
import { describe, expect, it } from 'vitest';
import { SparsennTypeError } from '../../lib/errors.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { Random } from '../../lib/nn/random.js';
import { prune } from '../../lib/prune/pruner.js';
import { unstructured } from '../../lib/prune/structures.js';
import { expectThrows } from '../helpers/errors.js';

describe('per-row unstructured pruning', () => {
  it('keeps exactly the largest |w| of each row', () => {
    const layer = new Linear(10, 6, { rng: new Random(4) });
    const w = layer.weight.data.slice();
    prune(new Sequential(layer), { sparsity: 0.7, structure: unstructured({ perRow: true }), onWarning: () => {} });
    const mask = layer.weight.mask!;
    for (let r = 0; r < 6; r++) {
      const row = Array.from(w.subarray(r * 10, (r + 1) * 10), Math.abs);
      const expected = row.map((v, c) => [v, c] as const).sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, c]) => c).sort((a, b) => a - b);
      const kept = [...Array(10).keys()].filter((c) => mask[r * 10 + c] === 1);
      expect(kept).toEqual(expected);
    }
  });

  it('cannot be combined with the global scope', () => {
    expectThrows(() => prune(new Sequential(new Linear(4, 4)), { sparsity: 0.5, scope: 'global', structure: unstructured({ perRow: true }) }), SparsennTypeError, 'ERR_TYPE');
  });
});
