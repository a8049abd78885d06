/**
 * The Pruner (lib/prune/pruner.ts, scope.ts, targets.ts): which weights are targets; scopes meeting
 * their targets exactly ('layer': round((1 - s) * n_l) per layer; 'global': round((1 - s) * N) in
 * all, the global top-|w|; ERK: densities summing to the target and proportional to
 * (sum dims) / (prod dims) where not clamped, against an independent water-filling; perLayer;
 * sensitivity() with a constructed metric); the connectivity guard (clamp to
 * max(1/rows, 1/cols) with a warning, off at minFanOut 0, floors kept under 'global'); the
 * monotone-mask property over random criteria, structures, scopes and rising/falling targets;
 * typed errors for bad input.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexRangeError, SparsennTypeError } from '../../lib/errors.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { BatchNorm2d } from '../../lib/nn/layers/norm.js';
import { Flatten, ReLU } from '../../lib/nn/layers/activations.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import type { Module } from '../../lib/nn/module.js';
import { Random } from '../../lib/nn/random.js';
import { magnitude, random } from '../../lib/prune/criteria.js';
import { prune, Pruner } from '../../lib/prune/pruner.js';
import { erkDensities, erkRaw, sensitivity, type Scope } from '../../lib/prune/scope.js';
import { blocks, channels, nm, unstructured } from '../../lib/prune/structures.js';
import { pruneTargets } from '../../lib/prune/targets.js';
import type { Criterion, Structure } from '../../lib/prune/types.js';
import { expectThrows } from '../helpers/errors.js';

afterEach(() => vi.restoreAllMocks());

const quiet = { onWarning: () => {} };

function mlp(dims: number[], seed: number): Sequential {
  const layers = [];
  for (let i = 0; i + 1 < dims.length; i++) {
    if (i > 0) layers.push(new ReLU());
    layers.push(new Linear(dims[i]!, dims[i + 1]!, { rng: new Random(seed + i) }));
  }
  return new Sequential(...layers);
}

const keptOf = (m: Readonly<Uint8Array> | null, size: number) => (m ? m.reduce((a, b) => a + b, 0) : size);

/** Indices of the k largest values (no ties expected: random float weights). */
function topIndices(values: number[], k: number): Set<number> {
  return new Set(
    values
      .map((v, i) => [v, i] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, k)
      .map(([, i]) => i),
  );
}

// ------------------------------------------------------------------------- targets ----

describe('pruneTargets', () => {
  const convNet = () =>
    new Sequential({
      conv: new Conv2d(1, 4, 3, { rng: new Random(1) }),
      bn: new BatchNorm2d(4),
      relu: new ReLU(),
      flat: new Flatten(),
      fc1: new Linear(64, 8, { rng: new Random(2) }),
      fc2: new Linear(8, 3, { rng: new Random(3) }),
    });
  const names = (m: Module, o?: Parameters<typeof pruneTargets>[1]) => pruneTargets(m, o).map((t) => t.name);

  it('defaults to every Linear and Conv2d weight in model order (no biases, no norm layers)', () => {
    const model = convNet();
    const ts = pruneTargets(model);
    expect(ts.map((t) => t.name)).toEqual(['conv.weight', 'fc1.weight', 'fc2.weight']);
    expect(ts.map((t) => t.moduleName)).toEqual(['conv', 'fc1', 'fc2']);
    const params = Object.fromEntries(model.namedParameters());
    for (const t of ts) expect(t.param).toBe(params[t.name]);
    expect(names(new Sequential(new Sequential(new Linear(2, 2)), new Linear(2, 1)))).toEqual(['0.0.weight', '1.weight']);
    expect(names(new Linear(2, 2))).toEqual(['weight']);
  });

  it('include (names, globs, RegExps), exclude and keepDense narrow the list', () => {
    const model = convNet();
    expect(names(model, { include: ['fc1.weight'] })).toEqual(['fc1.weight']);
    expect(names(model, { include: ['fc*'] })).toEqual(['fc1.weight', 'fc2.weight']);
    expect(names(model, { include: [/^conv/] })).toEqual(['conv.weight']);
    expect(names(model, { exclude: ['fc2.*'] })).toEqual(['conv.weight', 'fc1.weight']);
    expect(names(model, { include: ['*.weight'], exclude: [/conv/] })).toEqual(['fc1.weight', 'fc2.weight']);
    expect(names(model, { keepDense: 'first' })).toEqual(['fc1.weight', 'fc2.weight']);
    expect(names(model, { keepDense: 'last' })).toEqual(['conv.weight', 'fc1.weight']);
    expect(names(model, { keepDense: 'first-last' })).toEqual(['fc1.weight']);
    expect(names(model, { keepDense: 'none' })).toEqual(['conv.weight', 'fc1.weight', 'fc2.weight']);
    // a glob that matches nothing is not an error (an exact name is)
    expect(names(model, { include: ['nothing*'] })).toEqual([]);
  });

  it('rejects unknown include names, bad patterns, bad keepDense and non-modules with ERR_TYPE', () => {
    const model = convNet();
    const err = expectThrows(() => pruneTargets(model, { include: ['fc3.weight'] }), SparsennTypeError, 'ERR_TYPE', 'unknown include');
    expect(err.message).toContain('fc3.weight');
    expect(err.message).toContain('fc1.weight'); // lists what exists
    expectThrows(() => pruneTargets(model, { exclude: [42 as unknown as string] }), SparsennTypeError, 'ERR_TYPE', 'bad pattern');
    expectThrows(() => pruneTargets(model, { keepDense: 'middle' as 'first' }), SparsennTypeError, 'ERR_TYPE', 'bad keepDense');
    expectThrows(() => pruneTargets({} as Module), SparsennTypeError, 'ERR_TYPE', 'not a module');
  });
});

// -------------------------------------------------------------------- bad input ----

describe('Pruner input checks', () => {
  it('typed errors for bad options', () => {
    const model = mlp([4, 5, 3], 1);
    expectThrows(() => new Pruner(new Sequential(new ReLU())), SparsennTypeError, 'ERR_TYPE', 'nothing to prune');
    expectThrows(() => new Pruner({} as Module), SparsennTypeError, 'ERR_TYPE', 'not a module');
    expectThrows(() => new Pruner(model, { criterion: {} as Criterion }), SparsennTypeError, 'ERR_TYPE', 'bad criterion');
    expectThrows(() => new Pruner(model, { structure: { kind: 'rows' } as unknown as Structure }), SparsennTypeError, 'ERR_TYPE', 'bad structure');
    expectThrows(() => new Pruner(model, { minFanOut: -1 }), IndexRangeError, 'ERR_RANGE', 'negative minFanOut');
    expectThrows(() => new Pruner(model, { minFanOut: NaN }), IndexRangeError, 'ERR_RANGE', 'NaN minFanOut');
    expectThrows(() => new Pruner(model, { include: ['2.weight', 'x.weight'] }), SparsennTypeError, 'ERR_TYPE', 'unknown include');
  });

  it('pruneTo rejects sparsities outside [0, 1] with ERR_RANGE and leaves the masks alone', () => {
    const model = mlp([4, 5, 3], 2);
    const p = new Pruner(model);
    for (const s of [-0.1, 1.01, NaN, Infinity, '0.5' as unknown as number, undefined as unknown as number])
      expectThrows(() => p.pruneTo(s), IndexRangeError, 'ERR_RANGE', `sparsity ${String(s)}`);
    for (const t of p.targets) expect(t.param.mask).toBeNull();
    expectThrows(() => prune(model, { sparsity: 2 }), IndexRangeError, 'ERR_RANGE', 'prune sparsity 2');
    expectThrows(() => prune(model, null as unknown as { sparsity: number }), SparsennTypeError, 'ERR_TYPE', 'prune without options');
  });

  it('rejects a criterion returning the wrong number or size of score arrays with ERR_TYPE', () => {
    const model = mlp([4, 5, 3], 3);
    const few: Criterion = { name: 'few', score: (ts) => ts.slice(1).map((t) => new Float32Array(t.param.size)) };
    const short: Criterion = { name: 'short', score: (ts) => ts.map((t) => new Float32Array(t.param.size - 1)) };
    const f64: Criterion = { name: 'f64', score: (ts) => ts.map((t) => new Float64Array(t.param.size) as unknown as Float32Array) };
    for (const criterion of [few, short, f64]) expectThrows(() => new Pruner(model, { criterion }).pruneTo(0.5), SparsennTypeError, 'ERR_TYPE', criterion.name);
  });

  it('rejects unknown scopes, unknown perLayer names (ERR_TYPE) and bad perLayer sparsities (ERR_RANGE)', () => {
    const model = mlp([4, 5, 3], 4);
    expectThrows(() => new Pruner(model, { scope: 'uniform' as Scope }).pruneTo(0.5), SparsennTypeError, 'ERR_TYPE', 'unknown scope');
    expectThrows(() => new Pruner(model, { scope: { perLayer: { 'fc9.weight': 0.5 } } }).pruneTo(0.5), SparsennTypeError, 'ERR_TYPE', 'unknown layer');
    expectThrows(() => new Pruner(model, { scope: { perLayer: { '0.weight': 1.5 } } }).pruneTo(0.5), IndexRangeError, 'ERR_RANGE', 'bad layer sparsity');
    expectThrows(() => sensitivity('loss' as unknown as () => number), SparsennTypeError, 'ERR_TYPE', 'sensitivity metric');
    expectThrows(() => sensitivity(() => 0, { levels: [0.5, 1.2] }), IndexRangeError, 'ERR_RANGE', 'sensitivity level');
  });
});

// ------------------------------------------------------------------------- scopes ----

describe("'layer' scope", () => {
  it('keeps exactly round((1 - s) * n_l) weights per layer, the largest |w| of each', () => {
    for (const s of [0, 0.1, 0.333, 0.5, 0.77, 0.9]) {
      const model = mlp([20, 30, 17, 10], 10);
      const before = pruneTargets(model).map((t) => Array.from(t.param.data, Math.abs));
      const res = new Pruner(model, quiet).pruneTo(s);
      pruneTargets(model).forEach((t, i) => {
        const k = Math.round((1 - s) * t.param.size);
        expect(res.layers[i]).toEqual({ name: t.name, size: t.param.size, kept: k, sparsity: 1 - k / t.param.size });
        const top = topIndices(before[i]!, k);
        for (let j = 0; j < t.param.size; j++) expect(t.param.mask![j]).toBe(top.has(j) ? 1 : 0);
      });
    }
  });

  it('status() reports the masks without changing them; prune() is the one-shot shorthand', () => {
    const model = mlp([8, 6, 4], 11);
    const p = new Pruner(model);
    expect(p.status().sparsity).toBe(0);
    p.pruneTo(0.5);
    const masks = p.targets.map((t) => Uint8Array.from(t.param.mask!));
    const st = p.status();
    expect(st.sparsity).toBeCloseTo(1 - (24 + 12) / (48 + 24), 12);
    expect(st.warnings).toEqual([]);
    p.targets.forEach((t, i) => expect(t.param.mask).toEqual(masks[i]));
    const other = mlp([8, 6, 4], 11);
    const r = prune(other, { sparsity: 0.5 });
    expect(r.layers.map((l) => l.kept)).toEqual([24, 12]);
    pruneTargets(other).forEach((t, i) => expect(t.param.mask).toEqual(masks[i]));
  });

  it('prunes only the explicit targets when given', () => {
    const model = mlp([8, 6, 4], 12);
    const [first, second] = pruneTargets(model);
    new Pruner(model, { targets: [second!] }).pruneTo(0.5);
    expect(first!.param.mask).toBeNull();
    expect(keptOf(second!.param.mask, 24)).toBe(12);
  });
});

describe("'global' scope", () => {
  it('keeps exactly round((1 - s) * N) weights over all targets: the global top |w|', () => {
    let checked = 0;
    for (const minFanOut of [0, 1])
      for (const s of [0.2, 0.5, 0.8, 0.9]) {
        const model = mlp([20, 30, 17, 10], 20);
        // layers at different scales, so the global ranking differs from a per-layer one
        pruneTargets(model).forEach((t, i) => t.param.data.forEach((v, j, a) => (a[j] = v * (i + 1))));
        const ts = pruneTargets(model);
        const all = ts.flatMap((t) => Array.from(t.param.data, Math.abs));
        const N = all.length;
        const k = Math.round((1 - s) * N);
        const top = topIndices(all, k);
        // with the guard on, the ranking is the global one only where no floor binds
        let o = 0;
        const floorsBind = ts.some((t) => {
          const rows = t.param.shape[0]!;
          const inTop = Array.from({ length: t.param.size }, (_, j) => o + j).filter((j) => top.has(j)).length;
          o += t.param.size;
          return inTop < Math.ceil(minFanOut * Math.max(1 / rows, rows / t.param.size) * t.param.size - 1e-9);
        });
        if (floorsBind) continue;
        const res = new Pruner(model, { scope: 'global', minFanOut, ...quiet }).pruneTo(s);
        expect(res.layers.reduce((a, l) => a + l.kept, 0)).toBe(k);
        expect(res.sparsity).toBeCloseTo(1 - k / N, 12);
        o = 0;
        for (const t of ts) {
          for (let j = 0; j < t.param.size; j++) expect(t.param.mask![j], `${t.name}[${j}] at s=${s}`).toBe(top.has(o + j) ? 1 : 0);
          o += t.param.size;
        }
        // the layers end at different sparsities
        expect(new Set(res.layers.map((l) => l.sparsity.toFixed(6))).size).toBeGreaterThan(1);
        checked++;
      }
    expect(checked).toBeGreaterThanOrEqual(6);
  });
});

/** ERK by water-filling, written independently: clamp densities above 1, rescale the rest. */
function refErk(shapes: number[][], density: number): number[] {
  const n = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const raw = shapes.map((s) => s.reduce((a, b) => a + b, 0) / s.reduce((a, b) => a * b, 1));
  const dense = new Set<number>();
  const budget = density * n.reduce((a, b) => a + b, 0);
  for (;;) {
    let left = budget;
    let rawMass = 0;
    n.forEach((v, i) => {
      if (dense.has(i)) left -= v;
      else rawMass += raw[i]! * v;
    });
    const eps = left / rawMass;
    const over = raw.findIndex((r, i) => !dense.has(i) && eps * r > 1);
    if (over < 0) return raw.map((r, i) => (dense.has(i) ? 1 : eps * r));
    raw.forEach((r, i) => {
      if (eps * r > 1) dense.add(i);
    });
  }
}

describe("'erk' scope", () => {
  const dims = [100, 60, 30, 4]; // weights [60,100], [30,60], [4,30]

  it('erkRaw is (sum of dims) / (product of dims)', () => {
    expect(erkRaw([60, 100])).toBeCloseTo(160 / 6000, 15);
    expect(erkRaw([16, 8, 3, 3])).toBeCloseTo(30 / 1152, 15);
  });

  it.each([0.9, 0.5, 0.2])('densities sum to the target and follow the raw ERK ratio where not clamped (s = %s)', (s) => {
    const model = mlp(dims, 30);
    const ts = pruneTargets(model);
    const shapes = ts.map((t) => [...t.param.shape]);
    const d = erkDensities(ts, 1 - s);
    const ref = refErk(shapes, 1 - s);
    d.forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 12));
    const sizes = ts.map((t) => t.param.size);
    const N = sizes.reduce((a, b) => a + b, 0);
    expect(d.reduce((a, v, i) => a + v * sizes[i]!, 0)).toBeCloseTo((1 - s) * N, 6);
    const free = d.map((v, i) => [v, i] as const).filter(([v]) => v < 1);
    const ratio = free.map(([v, i]) => v / erkRaw(shapes[i]!));
    for (const r of ratio) expect(r).toBeCloseTo(ratio[0]!, 9);
    if (s === 0.5) expect(d[2]).toBe(1); // the 4x30 classifier is clamped dense
    // through the pruner: each layer keeps round(d_l * n_l); the total within rounding
    const res = new Pruner(model, { scope: 'erk' }).pruneTo(s);
    res.layers.forEach((l, i) => expect(l.kept).toBe(Math.round(ref[i]! * sizes[i]!)));
    const kept = res.layers.reduce((a, l) => a + l.kept, 0);
    expect(Math.abs(kept - (1 - s) * N)).toBeLessThanOrEqual(ts.length / 2);
  });
});

describe('perLayer scope', () => {
  it('prunes each named layer to its sparsity exactly; unnamed layers stay dense', () => {
    const model = mlp([20, 30, 17, 10], 40);
    const res = new Pruner(model, { scope: { perLayer: { '0.weight': 0.25, '4.weight': 0.8 } } }).pruneTo(0.5);
    expect(res.layers.map((l) => l.kept)).toEqual([Math.round(0.75 * 600), 510, Math.round(0.2 * 170)]);
  });
});

describe('sensitivity() scope', () => {
  it('gives the insensitive layer the higher sparsity and meets the total target', () => {
    const model = mlp([50, 50, 50], 50);
    const [a, b] = pruneTargets(model);
    let calls = 0;
    // a loss that grows fast with the first layer's sparsity and barely with the second's
    const metric = () => {
      calls++;
      return 10 * (1 - a!.param.density()) + 0.01 * (1 - b!.param.density());
    };
    const dataBefore = pruneTargets(model).map((t) => t.param.data.slice());
    const scope = sensitivity(metric);
    expect(scope.levels).toEqual([0.5, 0.7, 0.8, 0.9, 0.95, 0.98]);
    const res = new Pruner(model, { scope }).pruneTo(0.6);
    expect(calls).toBe(1 + 2 * 6);
    const [sa, sb] = res.layers.map((l) => l.sparsity);
    expect(sb!).toBeGreaterThan(sa!);
    // budget tau with sparsity(a) = tau / 10 and sparsity(b) at the scan's top level 0.98
    expect(sb!).toBeCloseTo(0.98, 3);
    expect(sa!).toBeCloseTo(0.22, 3);
    const kept = res.layers.reduce((x, l) => x + l.kept, 0);
    expect(Math.abs(kept - 0.4 * 5000)).toBeLessThanOrEqual(1);
    // the scan restored every weight before the final pruning: kept weights are the originals
    pruneTargets(model).forEach((t, i) => t.param.data.forEach((v, j) => expect(v).toBe(t.param.mask![j] ? dataBefore[i]![j] : 0)));
  });

  it('the order of the layers does not matter: the sensitive one is protected wherever it is', () => {
    const model = mlp([40, 40, 40, 40], 60);
    const [a, b, c] = pruneTargets(model);
    const metric = () => 0.01 * (1 - a!.param.density()) + 0.01 * (1 - b!.param.density()) + 5 * (1 - c!.param.density());
    const res = new Pruner(model, { scope: sensitivity(metric, { levels: [0.9, 0.5, 0.7] }) }).pruneTo(0.5);
    const [sa, sb, sc] = res.layers.map((l) => l.sparsity);
    expect(sc!).toBeLessThan(sa!);
    expect(sc!).toBeLessThan(sb!);
    const kept = res.layers.reduce((x, l) => x + l.kept, 0);
    expect(Math.abs(kept - 0.5 * 4800)).toBeLessThanOrEqual(1.5);
  });
});

// ----------------------------------------------------------------- connectivity guard ----

describe('connectivity guard', () => {
  it('clamps uniform 98% on a 10x100 layer to density max(1/10, 1/100) = 0.1, with a warning', () => {
    const model = new Sequential(new Linear(100, 10, { rng: new Random(70) }));
    const warnings: string[] = [];
    const res = new Pruner(model, { onWarning: (w) => warnings.push(w) }).pruneTo(0.98);
    expect(res.layers[0]!.kept).toBe(100);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('0.weight');
    expect(res.warnings).toEqual(warnings);
  });

  it('minFanOut: 0 disables it; minFanOut: 2 doubles the floor', () => {
    const off = new Sequential(new Linear(100, 10, { rng: new Random(71) }));
    const warnings: string[] = [];
    const res = new Pruner(off, { minFanOut: 0, onWarning: (w) => warnings.push(w) }).pruneTo(0.98);
    expect(res.layers[0]!.kept).toBe(20);
    expect(warnings).toEqual([]);
    const two = new Sequential(new Linear(100, 10, { rng: new Random(71) }));
    expect(new Pruner(two, quiet).pruneTo(0.98).layers[0]!.kept).toBe(100);
    const two2 = new Sequential(new Linear(100, 10, { rng: new Random(71) }));
    expect(new Pruner(two2, { minFanOut: 2, ...quiet }).pruneTo(0.98).layers[0]!.kept).toBe(200);
  });

  it('sends warnings to process.emitWarning by default', () => {
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    new Pruner(new Sequential(new Linear(100, 10, { rng: new Random(72) }))).pruneTo(0.99);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(String(spy.mock.calls[0]![0])).toContain('0.weight');
  });

  it('applies to perLayer and ERK allocations too', () => {
    const m1 = mlp([100, 10, 50], 73);
    const w1: string[] = [];
    const r1 = new Pruner(m1, { scope: { perLayer: { '0.weight': 0.99 } }, onWarning: (w) => w1.push(w) }).pruneTo(0);
    expect(r1.layers[0]!.kept).toBe(100);
    expect(w1).toHaveLength(1);
    const m2 = mlp([100, 10, 50], 74);
    const r2 = new Pruner(m2, { scope: 'erk', ...quiet }).pruneTo(0.995);
    expect(r2.layers[0]!.kept).toBeGreaterThanOrEqual(100);
    expect(r2.layers[1]!.kept).toBeGreaterThanOrEqual(50); // 50x10: max(1/50, 1/10) * 500
  });

  it("'global' never drops a layer below its floor (and would without the guard)", () => {
    const make = () => {
      const model = new Sequential(new Linear(100, 10, { rng: new Random(75) }), new ReLU(), new Linear(10, 500, { rng: new Random(76) }));
      const [a] = pruneTargets(model);
      a!.param.data.forEach((v, j, arr) => (arr[j] = v * 1e-4)); // the global ranking wants all of it gone
      return model;
    };
    const guarded = make();
    const a0 = Array.from(pruneTargets(guarded)[0]!.param.data, Math.abs);
    const warnings: string[] = [];
    const res = new Pruner(guarded, { scope: 'global', onWarning: (w) => warnings.push(w) }).pruneTo(0.9);
    // N = 1000 + 5000, budget 600: the 10x100 layer keeps its floor 0.1 * 1000 (its best 100)
    expect(res.layers[0]!.kept).toBe(100);
    expect(res.layers[0]!.kept + res.layers[1]!.kept).toBe(600);
    const top = topIndices(a0, 100);
    pruneTargets(guarded)[0]!.param.mask!.forEach((v, j) => expect(v).toBe(top.has(j) ? 1 : 0));
    expect(warnings.some((w) => w.includes('0.weight'))).toBe(true);
    const unguarded = make();
    expect(new Pruner(unguarded, { scope: 'global', minFanOut: 0 }).pruneTo(0.9).layers[0]!.kept).toBe(0);
  });

  it("'global' keeps every floor for random layer sizes, scales and sparsities; the total is max(budget, sum of floors)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 2, maxLength: 4 }),
        fc.array(fc.double({ min: -5, max: 0, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 10000 }),
        (dims, logScales, s, seed) => {
          const model = mlp(dims, seed);
          const ts = pruneTargets(model);
          ts.forEach((t, i) => t.param.data.forEach((v, j, a) => (a[j] = v * 10 ** logScales[i]!)));
          const res = new Pruner(model, { scope: 'global', ...quiet }).pruneTo(s);
          let floors = 0;
          ts.forEach((t, i) => {
            const rows = t.param.shape[0]!;
            const cols = t.param.size / rows;
            const floor = Math.ceil(Math.min(1, Math.max(1 / rows, 1 / cols)) * t.param.size - 1e-9);
            floors += floor;
            expect(res.layers[i]!.kept).toBeGreaterThanOrEqual(floor);
          });
          const N = ts.reduce((a, t) => a + t.param.size, 0);
          expect(res.layers.reduce((a, l) => a + l.kept, 0)).toBe(Math.max(Math.round((1 - s) * N), floors));
        },
      ),
      { seed: 5, numRuns: 80 },
    );
  });
});

// ------------------------------------------------------------------ monotone masks ----

describe('masks never regrow under repeated pruning', () => {
  const structures: Array<[string, () => Structure]> = [
    ['unstructured', unstructured],
    ['blocks(2, 2)', () => blocks(2, 2)],
    ['channels', channels],
    ['nm(2, 4)', () => nm(2, 4)],
  ];
  const scopes: Array<[string, Scope]> = [
    ['layer', 'layer'],
    ['global', 'global'],
    ['erk', 'erk'],
    ['perLayer', { perLayer: { '0.weight': 0.6, '2.weight': 0.3 } }],
  ];

  it('random criteria and random rising/falling targets never turn a mask bit from 0 to 1', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...structures),
        fc.constantFrom(...scopes),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 8 }),
        fc.integer({ min: 0, max: 100000 }),
        fc.integer({ min: 0, max: 1 }),
        ([name, structure], [, scope], targets, seed, guard) => {
          // channels() runs on dependency groups: 'layer' and 'global' only, with a traced sample shape
          if (name === 'channels' && scope !== 'layer' && scope !== 'global') scope = 'layer';
          const model = mlp([12, 9, 6, 5], seed);
          const pruner = new Pruner(model, { criterion: random({ seed }), structure: structure(), scope, minFanOut: guard, sampleShape: [12], ...quiet });
          let prev = pruner.targets.map((t) => new Uint8Array(t.param.size).fill(1));
          for (const s of targets) {
            pruner.pruneTo(s);
            const now = pruner.targets.map((t) => Uint8Array.from(t.param.mask ?? new Uint8Array(t.param.size).fill(1)));
            now.forEach((m, i) => {
              for (let j = 0; j < m.length; j++) if (m[j] === 1) expect(prev[i]![j], `regrown ${pruner.targets[i]!.name}[${j}]`).toBe(1);
              // pruned weights are exactly zero
              m.forEach((v, j) => v === 0 && expect(pruner.targets[i]!.param.data[j]).toBe(0));
            });
            prev = now;
          }
        },
      ),
      { seed: 2024, numRuns: 100 },
    );
  });

  it('a lower target than the current sparsity changes nothing (magnitude, layer scope)', () => {
    const model = mlp([12, 9, 6], 80);
    const p = new Pruner(model, { criterion: magnitude() });
    p.pruneTo(0.8);
    const masks = p.targets.map((t) => Uint8Array.from(t.param.mask!));
    const res = p.pruneTo(0.3);
    p.targets.forEach((t, i) => expect(t.param.mask).toEqual(masks[i]));
    expect(res.sparsity).toBeCloseTo(1 - (Math.round(0.2 * 108) + Math.round(0.2 * 54)) / 162, 12);
  });
});
