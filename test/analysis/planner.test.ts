import { describe, expect, it } from 'vitest';
import { applyPlan, planSparsity } from '../../lib/analysis/planner.js';
import { Conv2d, Flatten, IndexRangeError, Linear, manualSeed, ReLU, Sequential, sizeReport, SparsennTypeError } from '../../lib/index.js';
import { expectThrows } from '../helpers/errors.js';

function mlp(): Sequential {
  manualSeed(3);
  return new Sequential({ fc1: new Linear(256, 128), relu1: new ReLU(), fc2: new Linear(128, 64), relu2: new ReLU(), fc3: new Linear(64, 10) });
}

const fast = { timingCache: false as const, sparsities: [0.5, 0.8, 0.9, 0.95] };

function entropyBytes(n: number, k: number): number {
  const p = k / n;
  return p <= 0 || p >= 1 ? 0 : Math.ceil((n * -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p))) / 8);
}

describe('planSparsity: the latency / size planner', () => {
  it('meets a size budget, and the pruned model is as small as the plan says', () => {
    const model = mlp();
    const dense = (256 * 128 + 128 * 64 + 64 * 10) * 4;
    const plan = planSparsity(model, { budget: { sizeBytes: 0.2 * dense }, structures: ['unstructured'], ...fast });
    expect(plan.denseBytes).toBe(dense);
    expect(plan.feasible).toBe(true);
    expect(plan.bytes).toBeLessThanOrEqual(0.2 * dense);
    applyPlan(model, plan);
    const weights = new Map(model.namedParameters());
    let actual = 0;
    for (const l of plan.layers) {
      const p = weights.get(l.name)!;
      const kept = p.mask ? p.mask.reduce((a, b) => a + b, 0) : p.size;
      if (l.chosen.structure === 'dense') expect(kept).toBe(p.size);
      else expect(kept).toBe(Math.round((1 - l.chosen.sparsity) * p.size));
      // The planner's estimate: kept values at 4 bytes + the mask at N·H(p) bits.
      expect(l.chosen.bytes).toBe(kept * 4 + entropyBytes(p.size, kept));
      actual += l.chosen.bytes;
    }
    expect(actual).toBe(plan.bytes);
    // The .spnn file's weights (values + coded masks) are within the estimate: its mask coder is below N·H(p).
    const file = sizeReport(model).tensors.filter((t) => t.name.endsWith('weight'));
    expect(file.reduce((a, t) => a + t.valueBytes + t.indexBytes, 0)).toBeLessThanOrEqual(plan.bytes + 16 * file.length);
  });

  it('damage is the share of weight energy the structure removes, on the real weights', () => {
    const model = mlp();
    const plan = planSparsity(model, { budget: { sizeBytes: 1e9 }, structures: ['unstructured', '2:4'], ...fast });
    const w = model.namedParameters().find(([n]) => n === 'fc2.weight')![1].data;
    const e = Array.from(w, (v) => v * v).sort((a, b) => a - b);
    const total = e.reduce((a, b) => a + b, 0);
    const layer = plan.layers.find((l) => l.name === 'fc2.weight')!;
    for (const s of [0.5, 0.9]) {
      const removed = e.slice(0, Math.round(s * e.length)).reduce((a, b) => a + b, 0);
      expect(layer.options.find((o) => o.structure === 'unstructured' && o.sparsity === s)!.damage).toBeCloseTo(removed / total, 6);
    }
    // 2:4 keeps the 2 largest of every 4: its damage is at least unstructured 50%'s.
    const nm = layer.options.find((o) => o.structure === '2:4')!;
    expect(nm.sparsity).toBe(0.5);
    expect(nm.damage).toBeGreaterThanOrEqual(layer.options.find((o) => o.sparsity === 0.5 && o.structure === 'unstructured')!.damage - 1e-12);
    // A budget the dense model already meets changes nothing.
    expect(plan.layers.every((l) => l.chosen.structure === 'dense')).toBe(true);
    expect(plan.feasible).toBe(true);
  });

  it('meets a latency budget by its estimates; a tighter budget costs at least as much damage', () => {
    // Layers large enough that the product, not the call overhead, sets the time: at 90–95%
    // sparsity CSR is several times faster than dense, far beyond timing noise.
    manualSeed(5);
    const model = new Sequential({ fc1: new Linear(1024, 512), relu: new ReLU(), fc2: new Linear(512, 256) });
    const loose = planSparsity(model, { budget: { latencyMs: 1e9 }, batchSize: 32, ...fast });
    const half = planSparsity(model, { budget: { latencyMs: 0.6 * loose.denseLatencyMs }, batchSize: 32, ...fast });
    const damage = (p: typeof half) => p.layers.reduce((a, l) => a + l.chosen.damage, 0);
    expect(half.feasible).toBe(true);
    expect(half.latencyMs).toBeLessThanOrEqual(0.6 * loose.denseLatencyMs);
    expect(half.latencyMs).toBeCloseTo(half.layers.reduce((a, l) => a + l.chosen.latencyMs, 0), 9);
    expect(damage(half)).toBeGreaterThanOrEqual(damage(loose));
    for (const l of half.layers) expect(l.columns).toBe(32);
  });

  it('says when a budget cannot be met, and takes every layer to its smallest option', () => {
    const plan = planSparsity(mlp(), { budget: { sizeBytes: 1 }, structures: ['unstructured'], ...fast });
    expect(plan.feasible).toBe(false);
    for (const l of plan.layers) expect(l.chosen.bytes).toBe(Math.min(...l.options.map((o) => o.bytes)));
  });

  it('counts a convolution over its output positions', () => {
    manualSeed(4);
    const model = new Sequential({ conv: new Conv2d(2, 8, 3, { padding: 1 }), relu: new ReLU(), flat: new Flatten(), fc: new Linear(8 * 6 * 6, 4) });
    const plan = planSparsity(model, { sampleShape: [2, 6, 6], budget: { sizeBytes: 1e9 }, batchSize: 2, ...fast });
    expect(plan.layers.map((l) => l.columns)).toEqual([36 * 2, 2]);
    expectThrows(() => planSparsity(model, { budget: { sizeBytes: 1e9 }, ...fast }), SparsennTypeError, 'ERR_TYPE');
  });

  it('rejects bad options with typed errors', () => {
    const model = mlp();
    expectThrows(() => planSparsity(model, { budget: {} }), SparsennTypeError, 'ERR_TYPE');
    expectThrows(() => planSparsity(model, { budget: { sizeBytes: -1 } }), IndexRangeError, 'ERR_RANGE');
    expectThrows(() => planSparsity(model, { budget: { sizeBytes: 1 }, structures: ['diagonal'] }), SparsennTypeError, 'ERR_TYPE');
    expectThrows(() => planSparsity(model, { budget: { sizeBytes: 1 }, sparsities: [1.5] }), IndexRangeError, 'ERR_RANGE');
  });
});
