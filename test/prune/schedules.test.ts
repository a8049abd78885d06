/**
 * Pruning schedules (lib/prune/schedules.ts) through fit(): polynomialDecay prunes exactly at
 * t0, t0 + Δt, ..., t0 + nΔt to Zhu & Gupta's s_t = s_f + (s_i - s_f)(1 - (t - t0)/(nΔt))^3
 * (written out here), reaching it exactly per layer ('layer' scope) and in total ('global');
 * the mask a step trains with is the one of the last pruning step; masks only ever lose entries
 * and pruned weights stay exactly zero under the optimizer; oneShot prunes once at atStep;
 * constantSparsity every `frequency` steps between beginStep and endStep; bad options throw
 * typed errors.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError } from '../../lib/errors.js';
import type { Dataset } from '../../lib/nn/data/dataset.js';
import { ReLU } from '../../lib/nn/layers/activations.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { SGD } from '../../lib/nn/optim/sgd.js';
import { Random } from '../../lib/nn/random.js';
import { fit, type Callback } from '../../lib/nn/train/fit.js';
import { Pruner, type PrunerOptions } from '../../lib/prune/pruner.js';
import { constantSparsity, oneShot, polynomialDecay, polynomialSparsity, type PruningSchedule } from '../../lib/prune/schedules.js';
import { expectThrows } from '../helpers/errors.js';

// --------------------------------------------------------------------------- helpers ----

function dataset(n: number, seed: number): Dataset {
  const rng = new Random(seed);
  return {
    length: n,
    sampleShape: [6],
    images: Float32Array.from({ length: n * 6 }, () => rng.normal()),
    labels: Int32Array.from({ length: n }, () => rng.int(3)),
    numClasses: 3,
  };
}

function mlp(seed: number): Sequential {
  return new Sequential(new Linear(6, 20, { rng: new Random(seed) }), new ReLU(), new Linear(20, 12, { rng: new Random(seed + 1) }), new ReLU(), new Linear(12, 3, { rng: new Random(seed + 2) }));
}

const STEPS_PER_EPOCH = 8; // 64 samples, batches of 8
const EPOCHS = 4;

interface Trace {
  /** Masks each step trains with (after the schedule ran in onStepBegin), per target. */
  masks: Uint8Array[][];
}

/** Trains 32 steps with the schedule first in the callbacks, recording masks and checking invariants. */
async function run(model: Sequential, pruner: Pruner, schedule: PruningSchedule): Promise<Trace> {
  const trace: Trace = { masks: [] };
  const full = (t: Pruner['targets'][number]) => Uint8Array.from(t.param.mask ?? new Uint8Array(t.param.size).fill(1));
  const recorder: Callback = {
    onStepBegin: (info) => {
      expect(info.globalStep).toBe(trace.masks.length);
      const now = pruner.targets.map(full);
      const prev = trace.masks[trace.masks.length - 1];
      if (prev)
        now.forEach((m, i) => {
          for (let j = 0; j < m.length; j++) if (m[j] === 1 && prev[i]![j] === 0) expect.fail(`step ${info.globalStep}: ${pruner.targets[i]!.name}[${j}] regrew`);
        });
      trace.masks.push(now);
    },
    onStepEnd: () => {
      // the optimizer never moves a pruned weight
      for (const t of pruner.targets) t.param.mask?.forEach((v, j) => v === 0 && t.param.data[j] !== 0 && expect.fail(`${t.name}[${j}] is pruned but nonzero`));
    },
  };
  await fit(model, dataset(64, 3), { optimizer: new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }), epochs: EPOCHS, batchSize: 8, callbacks: [schedule, recorder], progress: false });
  expect(trace.masks).toHaveLength(STEPS_PER_EPOCH * EPOCHS);
  return trace;
}

const kept = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);

/** Zhu & Gupta, written out. */
const zhuGupta = (t: number, si: number, sf: number, t0: number, n: number, dt: number) => sf + (si - sf) * (1 - (t - t0) / (n * dt)) ** 3;

// ------------------------------------------------------------------ polynomialDecay ----

describe('polynomialDecay', () => {
  const opts = { initialSparsity: 0.1, finalSparsity: 0.85, beginStep: 2, endStep: 26, frequency: 3 }; // n = 8
  const grid = Array.from({ length: 9 }, (_, k) => 2 + 3 * k);

  it('polynomialSparsity is the cubic between t0 and t0 + nΔt, clamped outside; power changes the exponent', () => {
    for (let t = 2; t <= 26; t++) expect(polynomialSparsity(t, opts)).toBeCloseTo(zhuGupta(t, 0.1, 0.85, 2, 8, 3), 14);
    expect(polynomialSparsity(0, opts)).toBeCloseTo(0.1, 14);
    expect(polynomialSparsity(100, opts)).toBeCloseTo(0.85, 14);
    expect(polynomialSparsity(14, { ...opts, power: 1 })).toBeCloseTo(0.1 + 0.75 * 0.5, 14);
    expect(polynomialSparsity(5, { finalSparsity: 0.9, endStep: 10 })).toBeCloseTo(0.9 - 0.9 * 0.5 ** 3, 14);
  });

  it.each<[string, PrunerOptions]>([
    ['layer', { scope: 'layer', minFanOut: 0 }],
    ['global', { scope: 'global', onWarning: () => {} }],
  ])("prunes at t0 + kΔt only, to s_t exactly ('%s' scope), and each step trains with the last step's mask", async (scopeName, popts) => {
    const model = mlp(10);
    const pruner = new Pruner(model, popts);
    const schedule = polynomialDecay(pruner, opts);
    const trace = await run(model, pruner, schedule);
    expect(schedule.history.map((e) => e.step)).toEqual(grid);
    const sizes = pruner.targets.map((t) => t.param.size);
    const N = sizes.reduce((a, b) => a + b, 0);
    schedule.history.forEach((e) => {
      const s = zhuGupta(e.step, 0.1, 0.85, 2, 8, 3);
      expect(e.target).toBeCloseTo(s, 14);
      if (scopeName === 'layer') e.result.layers.forEach((l, i) => expect(l.kept, `${l.name} at step ${e.step}`).toBe(Math.round((1 - e.target) * sizes[i]!)));
      else expect(e.result.layers.reduce((a, l) => a + l.kept, 0)).toBe(Math.round((1 - e.target) * N));
      // the mask step e.step trains with is the one just reached
      trace.masks[e.step]!.forEach((m, i) => expect(kept(m)).toBe(e.result.layers[i]!.kept));
    });
    for (let t = 0; t < trace.masks.length; t++) {
      expect(schedule.sparsityAt(t) === null).toBe(!grid.includes(t));
      if (t < 2) trace.masks[t]!.forEach((m) => expect(kept(m)).toBe(m.length));
      // between pruning steps the masks do not change
      else if (!grid.includes(t)) trace.masks[t]!.forEach((m, i) => expect(m).toEqual(trace.masks[t - 1]![i]));
    }
    // the final sparsity is reached and held to the end
    const last = trace.masks[trace.masks.length - 1]!;
    const total = last.reduce((a, m) => a + kept(m), 0);
    if (scopeName === 'global') expect(total).toBe(Math.round(0.15 * N));
    else last.forEach((m, i) => expect(kept(m)).toBe(Math.round(0.15 * sizes[i]!)));
  });

  it('rejects bad options with ERR_RANGE', () => {
    const p = new Pruner(mlp(11));
    const bad: Array<[string, Parameters<typeof polynomialDecay>[1]]> = [
      ['span not a multiple of frequency', { finalSparsity: 0.5, beginStep: 0, endStep: 10, frequency: 3 }],
      ['end before begin', { finalSparsity: 0.5, beginStep: 10, endStep: 4, frequency: 2 }],
      ['finalSparsity > 1', { finalSparsity: 1.5, endStep: 10, frequency: 5 }],
      ['finalSparsity < 0', { finalSparsity: -0.2, endStep: 10, frequency: 5 }],
      ['initialSparsity NaN', { initialSparsity: NaN, finalSparsity: 0.5, endStep: 10, frequency: 5 }],
      ['frequency 0', { finalSparsity: 0.5, endStep: 10, frequency: 0 }],
      ['negative beginStep', { finalSparsity: 0.5, beginStep: -1, endStep: 9, frequency: 5 }],
      ['fractional endStep', { finalSparsity: 0.5, endStep: 10.5, frequency: 5 }],
      ['power 0', { finalSparsity: 0.5, endStep: 10, frequency: 5, power: 0 }],
    ];
    for (const [label, o] of bad) expectThrows(() => polynomialDecay(p, o), IndexRangeError, 'ERR_RANGE', label);
  });
});

// ------------------------------------------------------------------------- oneShot ----

describe('oneShot', () => {
  it('prunes once, at atStep, and the mask stays fixed after it', async () => {
    const model = mlp(20);
    const pruner = new Pruner(model, { minFanOut: 0 });
    const schedule = oneShot(pruner, 0.7, { atStep: 5 });
    const trace = await run(model, pruner, schedule);
    expect(schedule.history).toHaveLength(1);
    expect(schedule.history[0]!.step).toBe(5);
    expect(schedule.history[0]!.target).toBe(0.7);
    for (let t = 0; t < trace.masks.length; t++) {
      expect(schedule.sparsityAt(t)).toBe(t === 5 ? 0.7 : null);
      trace.masks[t]!.forEach((m, i) => {
        if (t < 5) expect(kept(m)).toBe(m.length);
        else expect(m).toEqual(trace.masks[5]![i]);
      });
    }
    trace.masks[5]!.forEach((m) => expect(kept(m)).toBe(Math.round(0.3 * m.length)));
  });

  it('defaults to step 0 and rejects bad sparsities and steps (ERR_RANGE)', () => {
    const p = new Pruner(mlp(21));
    const s = oneShot(p, 0.5);
    expect(s.sparsityAt(0)).toBe(0.5);
    expect(s.sparsityAt(1)).toBeNull();
    expectThrows(() => oneShot(p, 2), IndexRangeError, 'ERR_RANGE', 'sparsity 2');
    expectThrows(() => oneShot(p, 0.5, { atStep: -1 }), IndexRangeError, 'ERR_RANGE', 'atStep -1');
    expectThrows(() => oneShot(p, 0.5, { atStep: 0.5 }), IndexRangeError, 'ERR_RANGE', 'atStep 0.5');
  });
});

// --------------------------------------------------------------- constantSparsity ----

describe('constantSparsity', () => {
  it('prunes at beginStep and every `frequency` steps until endStep (inclusive)', async () => {
    const model = mlp(30);
    const pruner = new Pruner(model, { minFanOut: 0 });
    const schedule = constantSparsity(pruner, 0.6, { beginStep: 3, frequency: 5, endStep: 18 });
    const trace = await run(model, pruner, schedule);
    expect(schedule.history.map((e) => e.step)).toEqual([3, 8, 13, 18]);
    for (const e of schedule.history) {
      expect(e.target).toBe(0.6);
      e.result.layers.forEach((l) => expect(l.kept).toBe(Math.round(0.4 * l.size)));
    }
    for (let t = 0; t < 32; t++) expect(schedule.sparsityAt(t)).toBe([3, 8, 13, 18].includes(t) ? 0.6 : null);
    trace.masks[31]!.forEach((m) => expect(kept(m)).toBe(Math.round(0.4 * m.length)));
  });

  it('without endStep, prunes to the end of training; defaults frequency 100 and beginStep 0', async () => {
    const model = mlp(31);
    const pruner = new Pruner(model, { minFanOut: 0 });
    const schedule = constantSparsity(pruner, 0.5, { beginStep: 4, frequency: 9 });
    await run(model, pruner, schedule);
    expect(schedule.history.map((e) => e.step)).toEqual([4, 13, 22, 31]);
    const d = constantSparsity(pruner, 0.5);
    expect([0, 1, 99, 100, 200, 250].map((t) => d.sparsityAt(t))).toEqual([0.5, null, null, 0.5, 0.5, null]);
  });

  it('rejects bad options with ERR_RANGE', () => {
    const p = new Pruner(mlp(32));
    expectThrows(() => constantSparsity(p, -0.5), IndexRangeError, 'ERR_RANGE', 'sparsity');
    expectThrows(() => constantSparsity(p, 0.5, { frequency: 0 }), IndexRangeError, 'ERR_RANGE', 'frequency 0');
    expectThrows(() => constantSparsity(p, 0.5, { beginStep: -3 }), IndexRangeError, 'ERR_RANGE', 'beginStep');
    expectThrows(() => constantSparsity(p, 0.5, { endStep: 2.5 }), IndexRangeError, 'ERR_RANGE', 'endStep');
  });
});
