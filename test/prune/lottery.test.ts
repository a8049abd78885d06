/**
 * Lottery tickets and rewinding (lib/prune/lottery.ts): after training and pruning, restore()
 * gives exactly the values this file copied itself at step 0 (or at step k, late rewinding) at
 * kept positions and exactly 0 at pruned ones, biases and batch-norm buffers included;
 * iterativePruning reaches each listed sparsity exactly (global) with nested masks, each round
 * starting from the rewound (or, with rewind 'none', the trained) weights; reinitialize keeps
 * the masks, redraws the survivors from the constructors' distribution, reproducibly.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, SparsennTypeError } from '../../lib/errors.js';
import type { Dataset } from '../../lib/nn/data/dataset.js';
import { Flatten, ReLU } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { BatchNorm1d } from '../../lib/nn/layers/norm.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import type { Module } from '../../lib/nn/module.js';
import { SGD } from '../../lib/nn/optim/sgd.js';
import { Random } from '../../lib/nn/random.js';
import { fit, type Callback } from '../../lib/nn/train/fit.js';
import { iterativePruning, reinitialize, rewindCheckpoint, type IterativeRound } from '../../lib/prune/lottery.js';
import { Pruner } from '../../lib/prune/pruner.js';
import { pruneTargets } from '../../lib/prune/targets.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';

// --------------------------------------------------------------------------- helpers ----

const FEATURES = 20;

function dataset(n: number, seed: number): Dataset {
  const rng = new Random(seed);
  return {
    length: n,
    sampleShape: [FEATURES],
    images: Float32Array.from({ length: n * FEATURES }, () => rng.normal()),
    labels: Int32Array.from({ length: n }, () => rng.int(3)),
    numClasses: 3,
  };
}

function model(seed: number): Sequential {
  return new Sequential(new Linear(FEATURES, 40, { rng: new Random(seed) }), new BatchNorm1d(40), new ReLU(), new Linear(40, 3, { rng: new Random(seed + 1) }));
}

/** Copies of every parameter and buffer, in model order. */
interface Snapshot {
  params: Float32Array[];
  buffers: Float32Array[];
  /** The parameters' masks at that time (null: no mask). */
  masks: Array<Uint8Array | null>;
}
const snapshot = (m: Module): Snapshot => ({
  params: m.parameters().map((p) => p.data.slice()),
  buffers: m.namedBuffers().map(([, b]) => b.data.slice()),
  masks: m.parameters().map((p) => (p.mask ? Uint8Array.from(p.mask) : null)),
});

/** `values` with the entries pruned by `masks` set to zero. */
const applyMasks = (values: Float32Array[], masks: Array<Uint8Array | null>) => values.map((v, i) => (masks[i] ? v.map((x, j) => (masks[i]![j] ? x : 0)) : v.slice()));

/** Checks that a round started from `from` (params masked by the round's masks, buffers as they were). */
function expectStartedFrom(start: Snapshot, from: Snapshot, label: string): void {
  expect(start.params, `${label}: parameters`).toEqual(applyMasks(from.params, start.masks));
  expect(start.buffers, `${label}: buffers`).toEqual(from.buffers);
}

/** The snapshot with each masked parameter's pruned entries set to zero. */
function masked(m: Module, s: Snapshot): Float32Array[] {
  return m.parameters().map((p, i) => {
    const mask = p.mask;
    return mask ? s.params[i]!.map((v, j) => (mask[j] ? v : 0)) : s.params[i]!.slice();
  });
}

function expectState(m: Module, expected: Snapshot, label: string): void {
  m.parameters().forEach((p, i) => expect(p.data, `${label}: parameter ${i}`).toEqual(masked(m, expected)[i]));
  m.namedBuffers().forEach(([n, b], i) => expect(b.data, `${label}: buffer ${n}`).toEqual(expected.buffers[i]));
}

const DATA = dataset(48, 1);
const train = (m: Module, callbacks: Callback[], epochs = 2) =>
  fit(m, DATA, { optimizer: new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 }), epochs, batchSize: 8, callbacks, progress: false });

// -------------------------------------------------------------------- checkpoints ----

describe('rewindCheckpoint', () => {
  it('step 0: restore() gives the initial values at kept positions and 0 at pruned ones (buffers too)', async () => {
    const m = model(10);
    const init = snapshot(m);
    const ckpt = rewindCheckpoint(m);
    expect(ckpt.step).toBe(0);
    expect(ckpt.captured).toBe(false);
    await train(m, [ckpt]);
    expect(ckpt.captured).toBe(true);
    const trained = snapshot(m);
    expect(trained.params[0]).not.toEqual(init.params[0]);
    expect(trained.buffers[0]).not.toEqual(init.buffers[0]); // BN running mean moved
    new Pruner(m, { scope: 'global', onWarning: () => {} }).pruneTo(0.8);
    const masks = pruneTargets(m).map((t) => Uint8Array.from(t.param.mask!));
    ckpt.restore();
    expectState(m, init, 'rewound to step 0');
    pruneTargets(m).forEach((t, i) => expect(t.param.mask).toEqual(masks[i]));
    // kept positions hold exactly the initial values (not merely the right zeros)
    const w = pruneTargets(m)[0]!.param;
    const keptIdx = w.maskPattern().active;
    expect(keptIdx.length).toBeGreaterThan(0);
    for (const j of keptIdx) expect(w.data[j]).toBe(init.params[0]![j]);
  });

  it('step k (late rewinding): restore() gives the values of global step k, copied by this file’s own callback', async () => {
    const m = model(20);
    const init = snapshot(m);
    let atK: Snapshot | null = null;
    const mine: Callback = { onStepBegin: (info) => void (info.globalStep === 5 && (atK = snapshot(m))) };
    const ckpt = rewindCheckpoint(m, { step: 5 });
    await train(m, [mine, ckpt]);
    expect(atK).not.toBeNull();
    expect(atK!.params[0]).not.toEqual(init.params[0]);
    new Pruner(m, { scope: 'global', onWarning: () => {} }).pruneTo(0.7);
    ckpt.restore();
    expectState(m, atK!, 'rewound to step 5');
    // restoring twice changes nothing (the checkpoint keeps its own copy)
    m.parameters()[0]!.data.fill(3);
    ckpt.restore();
    expectState(m, atK!, 'rewound again');
  });

  it('restore() without a capture throws ERR_TYPE; a bad step throws ERR_RANGE; capture() works by hand', () => {
    const m = model(30);
    const ckpt = rewindCheckpoint(m, { step: 3 });
    expectThrows(() => ckpt.restore(), SparsennTypeError, 'ERR_TYPE', 'nothing captured');
    expectThrows(() => rewindCheckpoint(m, { step: -1 }), IndexRangeError, 'ERR_RANGE', 'step -1');
    expectThrows(() => rewindCheckpoint(m, { step: 1.5 }), IndexRangeError, 'ERR_RANGE', 'step 1.5');
    const before = snapshot(m);
    ckpt.capture();
    m.parameters().forEach((p) => p.data.fill(1));
    ckpt.restore();
    expectState(m, before, 'manual capture');
  });
});

// -------------------------------------------------------------- iterative pruning ----

describe('iterativePruning', () => {
  const sparsities = [0.5, 0.75, 0.9];

  async function runIterative(rewind: 'init' | 'none' | { step: number }, seed: number) {
    const m = model(seed);
    const init = snapshot(m);
    const starts: Snapshot[] = [];
    const ends: Snapshot[] = [];
    const rounds: IterativeRound[] = [];
    let atK: Snapshot | null = null;
    const reports = await iterativePruning(m, {
      sparsities,
      rewind,
      pruner: { onWarning: () => {} },
      train: async (round) => {
        rounds.push(round);
        const mine: Callback = {
          onTrainBegin: () => void starts.push(snapshot(m)),
          onStepBegin: (info) => void (round.round === 0 && typeof rewind === 'object' && info.globalStep === rewind.step && (atK = snapshot(m))),
          onTrainEnd: () => void ends.push(snapshot(m)),
        };
        await train(m, [...round.callbacks, mine]);
      },
      afterRound: (round, prune) => ({ round: round.round, kept: prune?.layers.reduce((a, l) => a + l.kept, 0) ?? null }),
    });
    return { m, init, starts, ends, rounds, reports, atK: atK as Snapshot | null };
  }

  it("reaches each listed sparsity exactly (global), with nested masks, each round starting from the initial weights ('init')", async () => {
    const { m, init, starts, rounds, reports } = await runIterative('init', 40);
    const N = pruneTargets(m).reduce((a, t) => a + t.param.size, 0);
    expect(reports.map((r) => r.round)).toEqual([0, 1, 2, 3]);
    expect(reports[0]!.prune).toBeNull();
    expect(rounds.map((r) => [r.round, r.sparsity, r.startStep])).toEqual([
      [0, 0, 0],
      [1, 0.5, 0],
      [2, 0.75, 0],
      [3, 0.9, 0],
    ]);
    expect(rounds[0]!.callbacks).toHaveLength(1);
    sparsities.forEach((s, r) => {
      const rep = reports[r + 1]!;
      const kept = rep.prune!.layers.reduce((a, l) => a + l.kept, 0);
      expect(kept).toBe(Math.round((1 - s) * N));
      expect(rep.sparsity).toBeCloseTo(1 - kept / N, 12);
      expect(rep.metrics).toEqual({ round: r + 1, kept });
    });
    expect(reports[0]!.metrics).toEqual({ round: 0, kept: null });
    // the masks are nested: each round's kept weights are a subset of the previous round's
    const keptSets = reports.slice(1).map((r) => r.prune!.layers.map((l) => l.kept));
    for (let r = 1; r < keptSets.length; r++) keptSets[r]!.forEach((k, i) => expect(k).toBeLessThanOrEqual(keptSets[r - 1]![i]!));
    expect(starts[0]!.params).toEqual(init.params);
  });

  it('each pruning round starts from the initial weights under its own mask (nested masks, exact counts)', async () => {
    const { init, starts, m } = await runIterative('init', 41);
    expect(starts).toHaveLength(4);
    expectStartedFrom(starts[0]!, init, 'round 0');
    const N = pruneTargets(m).reduce((a, t) => a + t.param.size, 0);
    const targetIdx = pruneTargets(m).map((t) => m.parameters().indexOf(t.param));
    for (let r = 1; r < 4; r++) {
      expectStartedFrom(starts[r]!, init, `round ${r}`);
      const kept = targetIdx.reduce((a, i) => a + starts[r]!.masks[i]!.reduce((x, y) => x + y, 0), 0);
      expect(kept).toBe(Math.round((1 - sparsities[r - 1]!) * N));
      // nested: nothing kept now was pruned in the previous round
      if (r > 1) for (const i of targetIdx) starts[r]!.masks[i]!.forEach((v, j) => v && expect(starts[r - 1]!.masks[i]![j]).toBe(1));
    }
  });

  it('late rewinding ({ step: k }) starts every pruned round from the step-k weights; startStep is k', async () => {
    const { starts, rounds, atK } = await runIterative({ step: 3 }, 42);
    expect(atK).not.toBeNull();
    expect(rounds.slice(1).map((r) => r.startStep)).toEqual([3, 3, 3]);
    for (let r = 1; r < 4; r++) expectStartedFrom(starts[r]!, atK!, `round ${r}`);
    expect(atK!.params[0]).not.toEqual(starts[0]!.params[0]);
  });

  it("rewind 'none' continues from the trained weights (masked)", async () => {
    const { starts, ends, init } = await runIterative('none', 43);
    for (let r = 1; r < 4; r++) expectStartedFrom(starts[r]!, ends[r - 1]!, `round ${r}`);
    // and so not from the initial ones
    expect(starts[1]!.params[0]!.some((v, j) => v !== 0 && v !== init.params[0]![j])).toBe(true);
  });

  it('rejects bad options (ERR_RANGE / ERR_TYPE) and a checkpoint round 0 never reached', async () => {
    const m = model(44);
    const trainFn = (round: IterativeRound) => train(m, round.callbacks, 1);
    await expectRejects(iterativePruning(m, { sparsities: [0.5, 0.3], train: trainFn }), IndexRangeError, 'ERR_RANGE', 'descending');
    await expectRejects(iterativePruning(m, { sparsities: [0.5, 1.2], train: trainFn }), IndexRangeError, 'ERR_RANGE', 'sparsity 1.2');
    await expectRejects(iterativePruning(m, { sparsities: [0.5] } as never), SparsennTypeError, 'ERR_TYPE', 'no train');
    // one epoch is 6 steps: step 50 is never reached
    await expectRejects(iterativePruning(m, { sparsities: [0.5], rewind: { step: 50 }, train: trainFn }), SparsennTypeError, 'ERR_TYPE', 'late step never reached');
  });
});

// ------------------------------------------------------------------ reinitialize ----

describe('reinitialize', () => {
  const convNet = (seed: number) =>
    new Sequential(new Conv2d(2, 4, 3, { rng: new Random(seed) }), new ReLU(), new Flatten(), new Linear(4 * 4 * 4, 200, { rng: new Random(seed + 1) }), new ReLU(), new Linear(200, 100, { rng: new Random(seed + 2) }));

  it('keeps the masks, redraws the survivors and biases from U(±1/sqrt(fan_in)), reproducibly by seed', () => {
    const m = convNet(50);
    new Pruner(m, { scope: 'global', onWarning: () => {} }).pruneTo(0.5);
    const ts = pruneTargets(m);
    const masks = ts.map((t) => Uint8Array.from(t.param.mask!));
    const before = snapshot(m);
    reinitialize(m, { seed: 1 });
    const fanIns = [2 * 9, 64, 200];
    ts.forEach((t, i) => {
      expect(t.param.mask).toEqual(masks[i]);
      const w = t.param.data;
      const old = before.params[m.parameters().indexOf(t.param)]!;
      const bound = 1 / Math.sqrt(fanIns[i]!);
      let changed = 0;
      let kept = 0;
      let sumSq = 0;
      w.forEach((v, j) => {
        if (!masks[i]![j]) return expect(v).toBe(0);
        kept++;
        sumSq += v * v;
        if (v !== old[j]) changed++;
        expect(Math.abs(v)).toBeLessThanOrEqual(bound);
      });
      // every survivor is redrawn; (at most) one may coincide: Random's first draw does not depend
      // on the seed (see criteria.test.ts), and both the constructor and reinitialize start there
      expect(changed).toBeGreaterThanOrEqual(kept - 1);
      const bias = (t.module as Linear | Conv2d).bias!;
      const oldBias = before.params[m.parameters().indexOf(bias)]!;
      bias.data.forEach((v, j) => {
        expect(Math.abs(v)).toBeLessThanOrEqual(bound);
        expect(v).not.toBe(oldBias[j]);
      });
      // U(-b, b) has variance b^2 / 3; the 200x100 layer keeps ~10,000 weights: the sample
      // variance's relative standard error is sqrt(0.8 / n) < 1%, so 5% is five of them
      if (i === 2) expect(sumSq / kept / (bound * bound / 3)).toBeCloseTo(1, 1);
    });
    const again = convNet(50);
    new Pruner(again, { scope: 'global', onWarning: () => {} }).pruneTo(0.5);
    reinitialize(again, { seed: 1 });
    expect(snapshot(again).params).toEqual(snapshot(m).params);
    const other = convNet(50);
    new Pruner(other, { scope: 'global', onWarning: () => {} }).pruneTo(0.5);
    reinitialize(other, { seed: 2 });
    expect(snapshot(other).params[0]).not.toEqual(snapshot(m).params[0]);
  });
});
