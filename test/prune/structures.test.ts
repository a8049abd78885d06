/**
 * Structures (lib/prune/structures.ts) against hand-written group arithmetic: the groups, their
 * sizes, their mean kept scores and the expanded masks of unstructured(), blocks(r, c) (edge
 * tiles included) and channels(); N:M selection as a property over random shapes (every group of
 * every row keeps exactly min(N, width) weights, the tail group included, and they are its best);
 * and, through the Pruner, sparsity targets met exactly in units of groups for every grouped
 * structure (per layer: round((1 - s) * groups) groups kept; globally: the budget, overshot by
 * less than one group), with the mask always a union of whole groups. Channel pruning runs on
 * dependency groups (the model's output layer is never a target) and also masks the biases and
 * batch norms of removed units.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexRangeError, SparsennTypeError } from '../../lib/errors.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Flatten, ReLU } from '../../lib/nn/layers/activations.js';
import { BatchNorm1d } from '../../lib/nn/layers/norm.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { Random } from '../../lib/nn/random.js';
import { Tensor } from '../../lib/nn/tensor.js';
import { Pruner } from '../../lib/prune/pruner.js';
import { blocks, channels, maskedScores, nm, unstructured } from '../../lib/prune/structures.js';
import { pruneTargets } from '../../lib/prune/targets.js';
import type { GroupedStructure, PruneTarget } from '../../lib/prune/types.js';
import { expectThrows } from '../helpers/errors.js';

// --------------------------------------------------------------------------- helpers ----

/** A Linear(cols -> rows) as a prune target, with weights drawn from `seed`. */
function linearTarget(rows: number, cols: number, seed: number): PruneTarget {
  const l = new Linear(cols, rows, { rng: new Random(seed) });
  return { name: 'fc.weight', param: l.weight, module: l, moduleName: 'fc' };
}

function randomScores(n: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n }, () => rng.next());
}

function randomMask(n: number, density: number, seed: number): Uint8Array {
  const rng = new Random(seed);
  return Uint8Array.from({ length: n }, () => (rng.next() < density ? 1 : 0));
}

/** The group of weight (r, c) for r x c tiles: row-major tile index. */
const tileOf = (br: number, bc: number, cols: number) => (r: number, c: number) => Math.floor(r / br) * Math.ceil(cols / bc) + Math.floor(c / bc);

/** Mean of the kept members' scores per group (-Infinity for an all-pruned group), float64. */
function refGroupMeans(rows: number, cols: number, count: number, groupOf: (r: number, c: number) => number, scores: Float32Array, mask: Uint8Array | null): Float64Array {
  const sum = new Float64Array(count);
  const n = new Float64Array(count);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (mask && !mask[i]) continue;
      sum[groupOf(r, c)]! += scores[i]!;
      n[groupOf(r, c)]!++;
    }
  return sum.map((s, g) => (n[g] ? s / n[g]! : -Infinity));
}

function expectCloseArray(got: Float64Array, want: Float64Array): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (want[i] === -Infinity) expect(got[i]).toBe(-Infinity);
    else expect(got[i]).toBeCloseTo(want[i]!, 12);
  }
}

// ------------------------------------------------------------------------ structures ----

describe('unstructured()', () => {
  it('one group per weight, pruned weights scored -Infinity, expand ANDs with the current mask', () => {
    const t = linearTarget(3, 5, 1);
    const s = unstructured();
    expect(s.kind).toBe('unstructured');
    expect(s.groupCount(t)).toBe(15);
    expect(Array.from(s.groupSizes(t))).toEqual(new Array(15).fill(1));
    const scores = randomScores(15, 2);
    expect(Array.from(s.groupScores(t, scores))).toEqual(Array.from(scores));
    const mask = randomMask(15, 0.6, 3);
    t.param.setMask(mask);
    const gs = s.groupScores(t, scores);
    gs.forEach((v, i) => expect(v).toBe(mask[i] ? scores[i] : -Infinity));
    // the caller's scores are not modified
    expect(maskedScores(t, scores)).not.toBe(scores);
    expect(scores.every((v) => v >= 0)).toBe(true);
    const keepAll = new Uint8Array(15).fill(1);
    expect(Array.from(s.expand(t, keepAll))).toEqual(Array.from(mask));
  });
});

describe('blocks(r, c)', () => {
  it('tiles rows x cols row-major, edge tiles smaller; scores are the mean kept score; expand fills tiles within the mask', () => {
    const rows = 5;
    const cols = 7;
    const t = linearTarget(rows, cols, 4);
    const s = blocks(2, 3);
    expect(s.kind).toBe('block');
    expect(s.name).toBe('block 2x3');
    expect(s.groupCount(t)).toBe(3 * 3);
    // tile heights 2, 2, 1 and widths 3, 3, 1
    expect(Array.from(s.groupSizes(t))).toEqual([6, 6, 2, 6, 6, 2, 3, 3, 1]);
    const scores = randomScores(rows * cols, 5);
    const groupOf = tileOf(2, 3, cols);
    expectCloseArray(s.groupScores(t, scores), refGroupMeans(rows, cols, 9, groupOf, scores, null));
    const mask = randomMask(rows * cols, 0.5, 6);
    // make tile 4 (rows 2-3, cols 3-5) entirely pruned: its score must be -Infinity
    for (let r = 2; r < 4; r++) for (let c = 3; c < 6; c++) mask[r * cols + c] = 0;
    t.param.setMask(mask);
    const gs = s.groupScores(t, scores);
    expect(gs[4]).toBe(-Infinity);
    expectCloseArray(gs, refGroupMeans(rows, cols, 9, groupOf, scores, mask));
    const kept = Uint8Array.from([1, 0, 1, 0, 1, 1, 0, 1, 0]);
    const m = s.expand(t, kept);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(m[r * cols + c]).toBe(kept[groupOf(r, c)]! & mask[r * cols + c]!);
  });

  it('sees a conv weight [out, in, kh, kw] as out x (in*kh*kw)', () => {
    const conv = new Conv2d(3, 8, 3, { rng: new Random(7) });
    const t: PruneTarget = { name: 'conv.weight', param: conv.weight, module: conv, moduleName: 'conv' };
    const s = blocks(4, 1);
    expect(s.groupCount(t)).toBe(2 * 27);
    expect(Array.from(s.groupSizes(t))).toEqual(new Array(54).fill(4));
  });

  it('rejects block sides outside [1, 64] or not integers with ERR_RANGE', () => {
    for (const [r, c] of [
      [0, 1],
      [1, 0],
      [65, 1],
      [1, 1.5],
      [NaN, 2],
    ] as const)
      expectThrows(() => blocks(r, c), IndexRangeError, 'ERR_RANGE', `blocks(${r}, ${c})`);
  });
});

describe('channels()', () => {
  it('one group per row of cols weights, scored by the row’s mean kept score', () => {
    const t = linearTarget(4, 6, 8);
    const s = channels();
    expect(s.kind).toBe('channel');
    expect(s.groupCount(t)).toBe(4);
    expect(Array.from(s.groupSizes(t))).toEqual([6, 6, 6, 6]);
    const scores = randomScores(24, 9);
    const mask = randomMask(24, 0.5, 10);
    mask.fill(0, 12, 18); // row 2 entirely pruned
    t.param.setMask(mask);
    const gs = s.groupScores(t, scores);
    expect(gs[2]).toBe(-Infinity);
    expectCloseArray(gs, refGroupMeans(4, 6, 4, (r) => r, scores, mask));
    const m = s.expand(t, Uint8Array.from([1, 0, 1, 1]));
    for (let i = 0; i < 24; i++) expect(m[i]).toBe(Math.floor(i / 6) === 1 ? 0 : mask[i]);
  });
});

describe('nm(n, m)', () => {
  /** Checks select's mask: in each group exactly min(n, available) survivors, all at least as good as the rest. */
  function checkNm(rows: number, cols: number, n: number, m: number, scores: Float32Array, mask: Uint8Array | null, out: Uint8Array): void {
    for (let r = 0; r < rows; r++)
      for (let g0 = 0; g0 < cols; g0 += m) {
        const width = Math.min(m, cols - g0);
        const idx = Array.from({ length: width }, (_, j) => r * cols + g0 + j);
        const avail = idx.filter((i) => !mask || mask[i]);
        const kept = idx.filter((i) => out[i]);
        expect(kept.length, `row ${r} group at ${g0} (width ${width})`).toBe(Math.min(n, avail.length));
        for (const i of kept) expect(!mask || mask[i] === 1).toBe(true);
        const minKept = Math.min(...kept.map((i) => scores[i]!));
        for (const i of avail) if (!out[i]) expect(scores[i]!).toBeLessThanOrEqual(minKept);
      }
  }

  it('keeps exactly min(N, width) of every group, the best ones, for random shapes (tail groups included)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 45 }),
        fc.integer({ min: 2, max: 16 }).chain((m) => fc.tuple(fc.integer({ min: 1, max: m - 1 }), fc.constant(m))),
        fc.integer({ min: 0, max: 1_000_000 }),
        (rows, cols, [n, m], seed) => {
          const t = linearTarget(rows, cols, seed);
          const s = nm(n, m);
          const scores = randomScores(rows * cols, seed + 1);
          const out = s.select(t, scores);
          checkNm(rows, cols, n, m, scores, null, out);
          // the structure's own sparsity is what select produced
          const kept = out.reduce((a, b) => a + b, 0);
          expect(s.sparsityOf(t)).toBeCloseTo(1 - kept / (rows * cols), 12);
        },
      ),
      { seed: 4242, numRuns: 300 },
    );
  });

  it('never keeps a pruned weight: a group keeps min(N, its kept weights)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 2, max: 8 }).chain((m) => fc.tuple(fc.integer({ min: 1, max: m - 1 }), fc.constant(m))),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (rows, cols, [n, m], density, seed) => {
          const t = linearTarget(rows, cols, seed);
          const mask = randomMask(rows * cols, density, seed + 2);
          t.param.setMask(mask);
          const scores = randomScores(rows * cols, seed + 3);
          checkNm(rows, cols, n, m, scores, mask, nm(n, m).select(t, scores));
        },
      ),
      { seed: 777, numRuns: 200 },
    );
  });

  it('breaks ties by the lower offset (deterministic)', () => {
    const t = linearTarget(1, 8, 1);
    const out = nm(2, 4).select(t, new Float32Array(8).fill(0.5));
    expect(Array.from(out)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
  });

  it('sparsityOf: 1 - N/M for full groups, the tail counted as min(N, width)', () => {
    expect(nm(2, 4).sparsityOf(linearTarget(3, 16, 1))).toBe(0.5);
    // 10 = 4 + 4 + 2: keeps 2 + 2 + 2 of 10
    expect(nm(2, 4).sparsityOf(linearTarget(3, 10, 1))).toBeCloseTo(1 - 6 / 10, 15);
    // 9 = 4 + 4 + 1: keeps 2 + 2 + 1 of 9
    expect(nm(2, 4).sparsityOf(linearTarget(3, 9, 1))).toBeCloseTo(1 - 5 / 9, 15);
    expect(nm(1, 16).sparsityOf(linearTarget(1, 3, 1))).toBeCloseTo(1 - 1 / 3, 15);
  });

  it('names itself N:M and rejects N >= M, M > 16, M < 2, N < 1 and non-integers with ERR_RANGE', () => {
    expect(nm(2, 4).name).toBe('2:4');
    expect(nm(15, 16).m).toBe(16);
    for (const [n, m] of [
      [4, 4],
      [5, 4],
      [1, 17],
      [8, 32],
      [1, 1],
      [0, 4],
      [-1, 4],
      [1.5, 4],
      [2, 4.5],
    ] as const)
      expectThrows(() => nm(n, m), IndexRangeError, 'ERR_RANGE', `nm(${n}, ${m})`);
  });
});

// --------------------------------------------------------- exact targets via the Pruner ----

/** Checks that the mask is a union of whole groups and returns the kept group flags. */
function keptGroups(t: PruneTarget, s: GroupedStructure, groupOf: (r: number, c: number) => number): Uint8Array {
  const rows = t.param.shape[0]!;
  const cols = t.param.size / rows;
  const g = new Int8Array(s.groupCount(t)).fill(-1);
  const m = t.param.mask ?? new Uint8Array(t.param.size).fill(1);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const k = groupOf(r, c);
      const v = m[r * cols + c]!;
      if (g[k] === -1) g[k] = v;
      else expect(v, `group ${k} is split`).toBe(g[k]);
    }
  return Uint8Array.from(g);
}

const grouped: Array<{ label: string; make: () => GroupedStructure; groupOf: (t: PruneTarget) => (r: number, c: number) => number }> = [
  { label: 'unstructured', make: unstructured, groupOf: (t) => (r, c) => r * (t.param.size / t.param.shape[0]!) + c },
  { label: 'blocks(4, 1)', make: () => blocks(4, 1), groupOf: (t) => tileOf(4, 1, t.param.size / t.param.shape[0]!) },
  { label: 'blocks(2, 3)', make: () => blocks(2, 3), groupOf: (t) => tileOf(2, 3, t.param.size / t.param.shape[0]!) },
];

function mlp(dims: number[], seed: number): Sequential {
  const layers = [];
  for (let i = 0; i + 1 < dims.length; i++) {
    if (i > 0) layers.push(new ReLU());
    layers.push(new Linear(dims[i]!, dims[i + 1]!, { rng: new Random(seed + i) }));
  }
  return new Sequential(...layers);
}

describe.each(grouped)('$label through the Pruner', ({ make, groupOf }) => {
  it("'layer' scope keeps exactly round((1 - s) * groups) groups per layer, the best by mean |w|", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 13 }), { minLength: 2, maxLength: 4 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 100000 }),
        (dims, s, seed) => {
          const model = mlp(dims, seed);
          const structure = make();
          const pruner = new Pruner(model, { structure, minFanOut: 0 });
          const before = pruner.targets.map((t) => structure.groupScores(t, Float32Array.from(t.param.data, Math.abs)));
          const res = pruner.pruneTo(s);
          pruner.targets.forEach((t, i) => {
            const groups = structure.groupCount(t);
            const g = keptGroups(t, structure, groupOf(t));
            const keptCount = g.reduce((a, b) => a + b, 0);
            expect(keptCount, `${t.name}`).toBe(Math.round((1 - s) * groups));
            const sizes = structure.groupSizes(t);
            const keptWeights = g.reduce((a, v, k) => a + v * sizes[k]!, 0);
            expect(res.layers[i]!.kept).toBe(keptWeights);
            // the kept groups are the best: every kept score >= every pruned score
            const sc = before[i]!;
            const minKept = Math.min(...Array.from(sc).filter((_, k) => g[k]));
            for (let k = 0; k < groups; k++) if (!g[k]) expect(sc[k]!).toBeLessThanOrEqual(minKept);
          });
        },
      ),
      { seed: 99, numRuns: 60 },
    );
  });

  it("'global' scope keeps the best groups over all layers until round((1 - s) * N) weights (overshoot < one group)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 13 }), { minLength: 2, maxLength: 4 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 100000 }),
        (dims, s, seed) => {
          const model = mlp(dims, seed);
          const structure = make();
          const pruner = new Pruner(model, { structure, scope: 'global', minFanOut: 0 });
          const before = pruner.targets.map((t) => structure.groupScores(t, Float32Array.from(t.param.data, Math.abs)));
          const res = pruner.pruneTo(s);
          const N = pruner.targets.reduce((a, t) => a + t.param.size, 0);
          const budget = Math.round((1 - s) * N);
          let maxGroup = 0;
          let minKept = Infinity;
          let maxPruned = -Infinity;
          pruner.targets.forEach((t, i) => {
            const g = keptGroups(t, structure, groupOf(t));
            const sizes = structure.groupSizes(t);
            maxGroup = Math.max(maxGroup, ...sizes);
            g.forEach((v, k) => {
              if (v) minKept = Math.min(minKept, before[i]![k]!);
              else maxPruned = Math.max(maxPruned, before[i]![k]!);
            });
          });
          const kept = res.layers.reduce((a, l) => a + l.kept, 0);
          expect(kept).toBeGreaterThanOrEqual(budget);
          expect(kept).toBeLessThan(budget + Math.max(maxGroup, 1));
          if (structure.kind === 'unstructured') expect(kept).toBe(budget);
          expect(maxPruned).toBeLessThanOrEqual(minKept);
        },
      ),
      { seed: 123, numRuns: 60 },
    );
  });
});

describe('channels() through the Pruner (dependency groups: every hidden layer, not the model output)', () => {
  /** Mean |w| of each row: the channel score of a fresh (unmasked) single-producer group. */
  const rowMeans = (t: PruneTarget) => {
    const rows = t.param.shape[0]!;
    const cols = t.param.size / rows;
    return Array.from({ length: rows }, (_, r) => t.param.data.subarray(r * cols, (r + 1) * cols).reduce((a, v) => a + Math.abs(v), 0) / cols);
  };
  const keptRows = (t: PruneTarget) => {
    const g = keptGroups(t, channels(), (r) => r);
    return Array.from(g);
  };

  it("'layer' scope keeps exactly round((1 - s) * channels) rows per layer (at least one), the best by mean |w|", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 13 }), { minLength: 3, maxLength: 5 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 100000 }),
        (dims, s, seed) => {
          const model = mlp(dims, seed);
          const all = pruneTargets(model);
          const before = all.map(rowMeans);
          const last = all[all.length - 1]!.param.data.slice();
          const pruner = new Pruner(model, { structure: channels(), minFanOut: 0, sampleShape: [dims[0]!], onWarning: () => {} });
          // the last layer produces the model output: its rows cannot go
          expect(pruner.targets.map((t) => t.name)).toEqual(all.slice(0, -1).map((t) => t.name));
          const res = pruner.pruneTo(s);
          pruner.targets.forEach((t, i) => {
            const rows = t.param.shape[0]!;
            const g = keptRows(t);
            const kept = g.reduce((a, b) => a + b, 0);
            expect(kept, t.name).toBe(Math.max(1, Math.round((1 - s) * rows)));
            expect(res.layers[i]!.kept).toBe(kept * (t.param.size / rows));
            const minKept = Math.min(...before[i]!.filter((_, r) => g[r]));
            before[i]!.forEach((v, r) => g[r] || expect(v).toBeLessThanOrEqual(minKept));
            // the bias of a removed unit is masked too
            const bias = (t.module as Linear).bias!;
            g.forEach((k, r) => expect(bias.mask ? bias.mask[r] : 1).toBe(k));
          });
          expect(all[all.length - 1]!.param.mask).toBeNull();
          expect(all[all.length - 1]!.param.data).toEqual(last);
        },
      ),
      { seed: 99, numRuns: 60 },
    );
  });

  it("'global' scope ranks all channels together until round((1 - s) * N) weights (one channel per layer at least)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 13 }), { minLength: 3, maxLength: 5 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 100000 }),
        (dims, s, seed) => {
          const model = mlp(dims, seed);
          const pruner = new Pruner(model, { structure: channels(), scope: 'global', minFanOut: 0, sampleShape: [dims[0]!], onWarning: () => {} });
          const before = pruner.targets.map(rowMeans);
          const res = pruner.pruneTo(s);
          const N = pruner.targets.reduce((a, t) => a + t.param.size, 0);
          const budget = Math.round((1 - s) * N);
          let floors = 0;
          let maxRow = 0;
          let minKept = Infinity;
          let maxPruned = -Infinity;
          pruner.targets.forEach((t, i) => {
            const rows = t.param.shape[0]!;
            const cols = t.param.size / rows;
            floors += cols;
            maxRow = Math.max(maxRow, cols);
            const g = keptRows(t);
            expect(g.some((k) => k === 1)).toBe(true);
            // the layer's best channel is its floor; the rest come from the one ranking
            const best = before[i]!.indexOf(Math.max(...before[i]!));
            g.forEach((k, r) => {
              if (k && r !== best) minKept = Math.min(minKept, before[i]![r]!);
              if (!k) maxPruned = Math.max(maxPruned, before[i]![r]!);
            });
          });
          const kept = res.layers.reduce((a, l) => a + l.kept, 0);
          if (floors >= budget) expect(kept).toBe(floors);
          else {
            expect(kept).toBeGreaterThanOrEqual(budget);
            expect(kept).toBeLessThan(budget + maxRow);
          }
          expect(maxPruned).toBeLessThanOrEqual(minKept);
        },
      ),
      { seed: 123, numRuns: 60 },
    );
  });

  it('zeroes removed units through the bias and a following batch norm: their outputs are exactly zero', () => {
    const fc1 = new Linear(6, 10, { rng: new Random(31) });
    const bn = new BatchNorm1d(10);
    const model = new Sequential(fc1, bn, new ReLU(), new Linear(10, 3, { rng: new Random(32) }));
    // non-trivial batch-norm state, so a zero output is not an accident of the defaults
    bn.weight!.data.fill(1.5);
    bn.bias!.data.fill(0.25);
    new Pruner(model, { structure: channels(), sampleShape: [6], minFanOut: 0 }).pruneTo(0.6);
    const m = fc1.weight.mask!;
    const removed = Array.from({ length: 10 }, (_, r) => r).filter((r) => m[r * 6] === 0);
    expect(removed).toHaveLength(6);
    for (let r = 0; r < 10; r++) expect(fc1.bias!.mask![r]).toBe(removed.includes(r) ? 0 : 1);
    const rng = new Random(33);
    const x = new Tensor(Float32Array.from({ length: 6 * 4 }, () => rng.normal()), [6, 4]);
    const y = fc1.forward(x);
    model.eval();
    const z = bn.forward(y);
    for (const r of removed)
      for (let j = 0; j < 4; j++) {
        expect(y.data[r * 4 + j]).toBe(0);
        expect(z.data[r * 4 + j]).toBe(0);
      }
  });

  it('removes whole filters of a conv (out x in*kh*kw rows)', () => {
    const conv = new Conv2d(2, 8, 3, { rng: new Random(34) });
    const model = new Sequential(conv, new ReLU(), new Flatten(), new Linear(8 * 3 * 3, 4, { rng: new Random(35) }));
    const pruner = new Pruner(model, { structure: channels(), sampleShape: [2, 5, 5], minFanOut: 0 });
    expect(pruner.targets.map((t) => t.name)).toEqual(['0.weight']);
    const res = pruner.pruneTo(0.75);
    expect(res.layers[0]!.kept).toBe(2 * 18);
    const g = keptGroups(pruneTargets(model)[0]!, channels(), (r) => r);
    expect(g.reduce((a, b) => a + b, 0)).toBe(2);
    expect(Array.from(conv.bias!.mask!)).toEqual(Array.from(g));
  });

  it('needs sampleShape and a layer or global scope (ERR_TYPE)', () => {
    const model = mlp([4, 5, 3], 36);
    expectThrows(() => new Pruner(model, { structure: channels() }), SparsennTypeError, 'ERR_TYPE', 'no sampleShape');
    expectThrows(() => new Pruner(model, { structure: channels(), sampleShape: [4], scope: 'erk' }), SparsennTypeError, 'ERR_TYPE', 'erk scope');
  });
});

describe('N:M through the Pruner', () => {
  it('ignores the sparsity argument, respects earlier pruning, and keeps N per group of M', () => {
    const model = mlp([10, 12, 5], 40);
    const first = new Pruner(model, { minFanOut: 0 });
    first.pruneTo(0.3);
    const prev = first.targets.map((t) => Uint8Array.from(t.param.mask!));
    const res = new Pruner(model, { structure: nm(2, 4) }).pruneTo(0.99);
    first.targets.forEach((t, i) => {
      const m = t.param.mask!;
      const rows = t.param.shape[0]!;
      const cols = t.param.size / rows;
      for (let k = 0; k < m.length; k++) if (m[k]) expect(prev[i]![k]).toBe(1);
      for (let r = 0; r < rows; r++)
        for (let g0 = 0; g0 < cols; g0 += 4) {
          let kept = 0;
          let avail = 0;
          for (let j = g0; j < Math.min(g0 + 4, cols); j++) {
            kept += m[r * cols + j]!;
            avail += prev[i]![r * cols + j]!;
          }
          expect(kept).toBe(Math.min(2, avail));
        }
    });
    expect(res.sparsity).toBeLessThan(0.99);
  });
});
