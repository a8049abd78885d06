/**
 * The pruning toolkit under bad input and failures: non-finite scores are refused, a failing
 * metric or training step leaves the model as it was, per-module train/eval modes survive
 * calibration, and unknown option values give typed errors.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, SparsennTypeError } from '../../lib/errors.js';
import { BatchNorm1d } from '../../lib/nn/layers/norm.js';
import { ReLU } from '../../lib/nn/layers/activations.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { SGD } from '../../lib/nn/optim/sgd.js';
import { Random } from '../../lib/nn/random.js';
import { fit, type Callback } from '../../lib/nn/train/fit.js';
import type { Dataset } from '../../lib/nn/data/dataset.js';
import { obd, taylor } from '../../lib/prune/criteria.js';
import { RigL } from '../../lib/prune/dst.js';
import { l0Gates } from '../../lib/prune/l0.js';
import { iterativePruning } from '../../lib/prune/lottery.js';
import { Pruner, prune } from '../../lib/prune/pruner.js';
import { constantSparsity } from '../../lib/prune/schedules.js';
import { sensitivity } from '../../lib/prune/scope.js';
import { sparseInit } from '../../lib/prune/sparse-init.js';
import { pruneTargets } from '../../lib/prune/targets.js';
import type { Criterion } from '../../lib/prune/types.js';
import { expectThrows } from '../helpers/errors.js';

function mlp(seed: number): Sequential {
  const rng = new Random(seed);
  return new Sequential({ fc1: new Linear(6, 8, { rng }), bn: new BatchNorm1d(8), relu: new ReLU(), fc2: new Linear(8, 3, { rng }) });
}

function data(n: number, seed: number): Dataset {
  const rng = new Random(seed);
  return {
    length: n,
    sampleShape: [6],
    images: Float32Array.from({ length: n * 6 }, () => rng.normal()),
    labels: Int32Array.from({ length: n }, () => rng.int(3)),
    numClasses: 3,
  };
}

const constant = (name: string, value: number, at = -1): Criterion => ({
  name,
  score: (ts) => ts.map((t) => Float32Array.from({ length: t.param.size }, (_, j) => (j === at ? value : j))),
});

describe('bad scores and options', () => {
  it('refuses NaN and +Infinity scores with ERR_RANGE, before changing any mask', () => {
    for (const bad of [NaN, Infinity]) {
      const m = mlp(1);
      expectThrows(() => prune(m, { sparsity: 0.5, criterion: constant('bad', bad, 3) }), IndexRangeError, 'ERR_RANGE', String(bad));
      for (const p of m.parameters()) expect(p.mask).toBeNull();
    }
    // -Infinity is allowed: it means "prune first"
    const m = mlp(1);
    prune(m, { sparsity: 0.5, criterion: constant('ok', -Infinity, 3) });
    expect(m.namedParameters()[0]![1].mask![3]).toBe(0);
  });

  it('gives typed errors for unknown option values', async () => {
    expectThrows(() => sparseInit(mlp(1), { sparsity: 0.5, distribution: 'ERK' as 'erk' }), SparsennTypeError, 'ERR_TYPE', 'distribution');
    await expect(iterativePruning(mlp(1), { sparsities: [0.5], train: async () => {}, rewind: 'initial' as 'init' })).rejects.toMatchObject({ code: 'ERR_TYPE' });
    const pruner = new Pruner(mlp(1));
    expectThrows(() => constantSparsity(pruner, 0.5, { beginStep: 10, endStep: 5 }), IndexRangeError, 'ERR_RANGE', 'end before begin');
  });

  it('a /g RegExp pattern selects every match (no lastIndex carried between names)', () => {
    const m = new Sequential({ a: new Linear(2, 2), b: new Linear(2, 2), c: new Linear(2, 2) });
    expect(pruneTargets(m, { include: [/weight/g] }).map((t) => t.name)).toEqual(['a.weight', 'b.weight', 'c.weight']);
  });
});

describe('failures leave the model as it was', () => {
  it('a sensitivity metric that throws restores the layer it was scanning', () => {
    const m = mlp(2);
    const before = m.parameters().map((p) => p.data.slice());
    let calls = 0;
    const metric = () => {
      if (++calls === 3) throw new Error('metric failed');
      return 1;
    };
    expect(() => new Pruner(m, { scope: sensitivity(metric), onWarning: () => {} }).pruneTo(0.5)).toThrow('metric failed');
    m.parameters().forEach((p, i) => {
      expect(p.mask).toBeNull();
      expect(p.data).toEqual(before[i]);
    });
  });

  it('calibration keeps each module’s own train/eval mode and the caller’s gradients', () => {
    const m = mlp(3);
    m.train();
    const bn = m.children().find(([n]) => n === 'bn')![1];
    bn.eval(); // frozen batch norm
    const p0 = m.parameters()[0]!;
    p0.grad = new Float32Array(p0.size).fill(0.25);
    for (const c of [taylor(), obd()]) c.score(pruneTargets(m), { model: m, calibration: { data: data(16, 1), batchSize: 8 } });
    expect(m.training).toBe(true);
    expect(bn.training).toBe(false);
    expect(p0.grad).toEqual(new Float32Array(p0.size).fill(0.25));
  });

  it('an error inside fit() puts L0-gated weights back and switches RigL’s capture off', async () => {
    const m = mlp(4);
    const theta = m.parameters().map((p) => p.data.slice());
    const gates = l0Gates(m, { lambda: 1e-3, seed: 1 });
    const boom: Callback = {
      onAfterBackward: () => {
        throw new Error('boom');
      },
    };
    await expect(fit(m, data(16, 2), { optimizer: new SGD(m.parameters(), { lr: 0.1 }), epochs: 1, batchSize: 8, callbacks: [gates, boom], progress: false })).rejects.toThrow('boom');
    m.parameters().forEach((p, i) => expect(p.data).toEqual(theta[i]));

    const s = mlp(5);
    sparseInit(s, { sparsity: 0.5, seed: 1 });
    const rigl = RigL(s, { endStep: 100, updateEvery: 1 });
    const failAtUpdate: Callback = {
      onAfterBackward: (info) => {
        if (info.globalStep === 1) throw new Error('boom');
      },
    };
    await expect(fit(s, data(16, 3), { optimizer: new SGD(s.parameters(), { lr: 0.1 }), epochs: 1, batchSize: 8, callbacks: [rigl, failAtUpdate], progress: false })).rejects.toThrow('boom');
    for (const t of rigl.targets) {
      expect(t.param.captureDenseGrad).toBe(false);
      expect(t.param.denseGrad).toBeNull();
    }
  });
});

describe('sparseInit gains', () => {
  it('uses the ReLU gain for a hidden layer even when the output layer is kept dense', () => {
    const rng = new Random(9);
    const m = new Sequential({ a: new Linear(400, 400, { rng }), r1: new ReLU(), b: new Linear(400, 400, { rng }), r2: new ReLU(), out: new Linear(400, 10, { rng }) });
    sparseInit(m, { sparsity: 0.9, keepDense: 'last', seed: 3 });
    const w = m.namedParameters().find(([n]) => n === 'b.weight')![1];
    const kept = Array.from(w.data).filter((_, i) => w.mask![i] === 1);
    const variance = kept.reduce((a, v) => a + v * v, 0) / kept.length;
    // Var = 2 / (s * fan_in) = 2 / (0.1 * 400) = 0.05; 16,000 samples: relative std error ~1.1%
    expect(variance).toBeGreaterThan(0.05 * 0.95);
    expect(variance).toBeLessThan(0.05 * 1.05);
  });
});
