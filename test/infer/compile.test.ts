import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Add,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  Concat,
  Conv2d,
  Flatten,
  GELU,
  Graph,
  IndexRangeError,
  Linear,
  MaxPool2d,
  Module,
  NativeError,
  ReLU,
  Sequential,
  ShapeError,
  FormatError,
  SparsennTypeError,
  Tensor,
  compile,
  manualSeed,
  noGrad,
  nm,
  prune,
  type CompileOptions,
} from '../../lib/index.js';
import { convChunkRows } from '../../lib/infer/lower.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';
import { mulberry32 } from '../helpers/random.js';
import { randomTensor } from '../helpers/tensors.js';

const quiet = () => {};
const opts = (o: Omit<CompileOptions, 'timingCache'>): CompileOptions => ({ timingCache: false, ...o });

/** Gives every batch norm non-trivial statistics and affine parameters, so folding is tested. */
function randomizeNorms(model: Module, seed: number): void {
  const rng = mulberry32(seed);
  for (const [, m] of model.namedModules())
    if (m instanceof BatchNorm1d || m instanceof BatchNorm2d) {
      for (let i = 0; i < m.numFeatures; i++) {
        m.runningMean![i] = rng() - 0.5;
        m.runningVar![i] = 0.5 + rng();
        m.weight!.data[i] = 0.5 + rng();
        m.bias!.data[i] = rng() - 0.5;
      }
    }
}

function reference(model: Module, xs: Tensor[]): Float32Array {
  model.eval();
  return noGrad(() => model.forward(...xs)).data;
}

function expectNear(got: Float32Array, want: Float32Array, tol = 1e-5): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  expect(worst).toBeLessThanOrEqual(tol * Math.max(1, scale));
}

function mlp(): Sequential {
  manualSeed(11);
  return new Sequential({ fc1: new Linear(64, 48), bn1: new BatchNorm1d(48), relu1: new ReLU(), fc2: new Linear(48, 32), relu2: new ReLU(), fc3: new Linear(32, 10) });
}

function smallCnn(): Sequential {
  manualSeed(12);
  return new Sequential({
    conv1: new Conv2d(2, 16, 3, { padding: 1 }),
    bn1: new BatchNorm2d(16),
    relu1: new ReLU(),
    pool1: new MaxPool2d(2),
    conv2: new Conv2d(16, 16, 3, { padding: 1, groups: 2 }),
    relu2: new ReLU(),
    dw: new Conv2d(16, 16, 3, { padding: 1, groups: 16 }),
    pool2: new AvgPool2d(2),
    flat: new Flatten(),
    fc: new Linear(16 * 3 * 3, 10),
  });
}

describe('compile: outputs match the uncompiled model', () => {
  it('an MLP with batch norm and masks, in every format that fits, at several batch sizes', () => {
    const model = mlp();
    randomizeNorms(model, 1);
    prune(model, { sparsity: 0.5, structure: nm(2, 4), onWarning: quiet });
    for (const formats of ['dense', 'csr', '2:4', 'auto'] as const) {
      const s = compile(model, opts({ sampleShape: [64], formats, batchSizes: [1, 8] }));
      for (const n of [1, 3, 8, 64]) {
        const x = randomTensor([64, n], n);
        expectNear(s.run(x).output!.data, reference(model, [x]));
      }
      const plan = s.plan();
      expect(plan.layers.map((l) => l.fused)).toEqual([['bn1', 'relu1'], ['relu2'], []]);
      if (formats !== 'auto') expect(Object.values(plan.layers[0]!.formats)).toEqual([formats, formats]);
      s.dispose();
    }
  });

  it('matches a float64 reference computed by hand (Linear + ReLU + Linear)', () => {
    manualSeed(3);
    const model = new Sequential(new Linear(5, 4), new ReLU(), new Linear(4, 3));
    prune(model, { sparsity: 0.5, onWarning: quiet });
    const [w1, b1, w2, b2] = model.parameters().map((p) => p.data);
    const x = randomTensor([5, 2], 9);
    const s = compile(model, opts({ sampleShape: [5], formats: 'csr' }));
    const got = s.run(x).output!.data;
    for (let b = 0; b < 2; b++) {
      const h = Array.from({ length: 4 }, (_, r) => {
        let acc = b1![r]!;
        for (let c = 0; c < 5; c++) acc += w1![r * 5 + c]! * x.data[c * 2 + b]!;
        return Math.max(0, acc);
      });
      for (let r = 0; r < 3; r++) {
        let acc = b2![r]!;
        for (let c = 0; c < 4; c++) acc += w2![r * 4 + c]! * h[c]!;
        expect(got[r * 2 + b]).toBeCloseTo(acc, 5);
      }
    }
  });

  it('a CNN with folded batch norm, grouped and depthwise convolutions, pooling and flatten', async () => {
    const model = smallCnn();
    randomizeNorms(model, 2);
    prune(model, { sparsity: 0.7, scope: 'global', onWarning: quiet });
    for (const formats of ['dense', 'csr', { conv1: 'direct', conv2: 'direct' }, 'auto'] as const) {
      const s = compile(model, opts({ sampleShape: [2, 12, 12], formats, batchSizes: [2] }));
      // Batch 64 makes conv2's im2col larger than a chunk: it runs in row blocks (convChunkRows).
      for (const n of [1, 5, 64]) {
        const x = randomTensor([2, 12, 12, n], 20 + n);
        const want = reference(model, [x]);
        expectNear(s.run(x).output!.data, want);
        expectNear((await s.runAsync(x)).output!.data, want);
      }
      const steps = s.plan().steps;
      expect(steps[0]).toBe('conv conv1 (+bn1, relu1)');
      expect(steps).toContain('conv conv2 (+relu2)');
      // A depthwise convolution runs as the module itself.
      expect(steps).toContain('module dw (Conv2d)');
      expect(convChunkRows({ c: 16, h: 6, w: 6, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 6, ow: 6 }, 64)).toBeLessThan(6);
      s.dispose();
    }
  });

  it('the direct sparse convolution: height stride, dilation, uneven padding, grouped, every batch width', async () => {
    manualSeed(21);
    const model = new Sequential({
      c1: new Conv2d(3, 12, [3, 2], { stride: [2, 1], padding: [1, 2], dilation: [1, 2] }),
      relu1: new ReLU(),
      c2: new Conv2d(12, 16, 3, { padding: 1, groups: 2 }),
      flat: new Flatten(),
    });
    prune(model, { sparsity: 0.8, onWarning: quiet });
    const s = compile(model, opts({ sampleShape: [3, 9, 7], formats: 'direct', batchSizes: [1, 16] }));
    expect(s.plan().layers.map((l) => Object.values(l.formats))).toEqual([
      ['direct', 'direct'],
      ['direct', 'direct'],
    ]);
    // Widths that leave every kind of tail: single rows, masked vectors, more than one column block.
    for (const n of [1, 2, 3, 9, 16, 40]) {
      const x = randomTensor([3, 9, 7, n], 70 + n);
      const want = reference(model, [x]);
      expectNear(s.run(x).output!.data, want);
      expectNear((await s.runAsync(x)).output!.data, want);
    }
    s.dispose();
  });

  it('max pooling without argmax (2x2 fast path and clipped windows) matches the module, NaN and infinities included', () => {
    const model = new Sequential({ p1: new MaxPool2d(2), p2: new MaxPool2d(3, { stride: 2, padding: 1 }) });
    const s = compile(model, opts({ sampleShape: [2, 8, 6], batchSizes: [3] }));
    for (const n of [1, 3, 20]) {
      const x = randomTensor([2, 8, 6, n], 90 + n);
      for (let i = 0; i < x.data.length; i += 17) x.data[i] = [NaN, Infinity, -Infinity][i % 3]!;
      const want = reference(model, [x]);
      const got = s.run(x).output!.data;
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(Object.is(got[i], want[i]) || got[i] === want[i], `element ${i}`).toBe(true);
    }
    s.dispose();
  });

  it('a width stride other than 1 cannot run direct: forcing it names the formats that fit', () => {
    manualSeed(22);
    const model = new Sequential({ c: new Conv2d(2, 8, 3, { stride: 2 }) });
    prune(model, { sparsity: 0.8, onWarning: quiet });
    const err = expectThrows(() => compile(model, opts({ sampleShape: [2, 9, 9], formats: 'direct' })), IndexRangeError, 'ERR_RANGE');
    expect(err.message).toContain("'direct'");
    expect(err.message).toContain('csr');
    const auto = compile(model, opts({ sampleShape: [2, 9, 9], batchSizes: [4] }));
    expect(Object.keys(auto.plan().layers[0]!.timings['4']!)).not.toContain('direct');
    const x = randomTensor([2, 9, 9, 4], 5);
    expectNear(auto.run(x).output!.data, reference(model, [x]));
    auto.dispose();
  });

  it('a Graph with a residual Add, a Concat, a GELU and two named outputs', async () => {
    manualSeed(5);
    const g = new Graph();
    const x = g.input('x');
    const side = g.input('side');
    const h = g.add('fc1', new Linear(12, 12), x);
    const a = g.add('act', new GELU(), h);
    const r = g.add('res', new Add(), a, x);
    const c = g.add('cat', new Concat(0), r, side);
    const o = g.add('head', new Linear(16, 3), c);
    const z = g.add('relu', new ReLU(), r);
    g.output('logits', o);
    g.output('features', z);
    prune(g, { sparsity: 0.6, onWarning: quiet });
    const s = compile(g, opts({ sampleShape: [[12], [4]], batchSizes: [4] }));
    expect(s.inputNames).toEqual(['x', 'side']);
    expect(s.outputNames).toEqual(['logits', 'features']);
    const xs = [randomTensor([12, 4], 1), randomTensor([4, 4], 2)];
    const want = noGrad(() => g.run(xs));
    for (const got of [s.run({ x: xs[0]!, side: xs[1]! }), await s.runAsync(xs)]) {
      expectNear(got['logits']!.data, want['logits']!.data);
      expectNear(got['features']!.data, want['features']!.data);
      expect(got['logits']!.shape).toEqual([3, 4]);
    }
  });

  it('overlapping runAsync calls with different inputs and batch sizes each get their own result', async () => {
    const model = mlp();
    randomizeNorms(model, 4);
    prune(model, { sparsity: 0.9, scope: 'global', onWarning: quiet });
    const s = compile(model, opts({ sampleShape: [64], batchSizes: [1, 16] }));
    const xs = [1, 16, 16, 7, 1].map((n, i) => randomTensor([64, n], 100 + i));
    const got = await Promise.all(xs.map((x) => s.runAsync(x)));
    got.forEach((g, i) => expectNear(g.output!.data, reference(model, [xs[i]!])));
  });

  it('batch 0 gives empty outputs; the source model is not changed', () => {
    const model = mlp();
    randomizeNorms(model, 5);
    prune(model, { sparsity: 0.8, onWarning: quiet });
    const before = model.parameters().map((p) => p.data.slice());
    const s = compile(model, opts({ sampleShape: [64] }));
    const out = s.run(Tensor.zeros([64, 0])).output!;
    expect(out.shape).toEqual([10, 0]);
    model.parameters().forEach((p, i) => expect(p.data).toEqual(before[i]));
    expect(model.training).toBe(true);
  });
});

describe('compile: format choice', () => {
  it('picks the fastest timed format per batch size, and reads timings from the per-machine cache', () => {
    const model = mlp();
    prune(model, { sparsity: 0.9, scope: 'global', onWarning: quiet });
    const dir = mkdtempSync(join(tmpdir(), 'sparsenn-timing-'));
    const cache = join(dir, 'timings.json');
    const s = compile(model, { sampleShape: [64], batchSizes: [1, 8], timingCache: cache });
    for (const l of s.plan().layers)
      for (const [b, t] of Object.entries(l.timings)) {
        const best = Object.entries(t).reduce((x, y) => (y[1] < x[1] ? y : x));
        expect(l.formats[b]).toBe(best[0]);
      }
    const file = JSON.parse(readFileSync(cache, 'utf8')) as { version: number; timings: Record<string, number> };
    const keys = Object.keys(file.timings);
    expect(keys.some((k) => k.includes('|csr|') && k.includes('|n8'))).toBe(true);
    // Rewrite the cache so that CSR looks far faster for fc1: the next compile must trust it.
    const fc1 = s.plan().layers[0]!;
    const shape = `|1x${fc1.rows}x${fc1.cols}|`;
    for (const k of keys) if (k.includes(shape)) file.timings[k] = k.includes('|csr|') ? 1e-6 : 1e6;
    writeFileSync(cache, JSON.stringify(file));
    const again = compile(model, { sampleShape: [64], batchSizes: [1, 8], timingCache: cache });
    expect(Object.values(again.plan().layers[0]!.formats)).toEqual(['csr', 'csr']);
    for (const k of keys) if (k.includes(shape)) file.timings[k] = k.includes('|dense|') ? 1e-6 : 1e6;
    writeFileSync(cache, JSON.stringify(file));
    const third = compile(model, { sampleShape: [64], batchSizes: [1, 8], timingCache: cache });
    expect(Object.values(third.plan().layers[0]!.formats)).toEqual(['dense', 'dense']);
  });

  it('offers N:M and block formats only when the weights fit them exactly', () => {
    manualSeed(8);
    const model = new Sequential({ fc: new Linear(32, 32) });
    prune(model, { sparsity: 0.5, structure: nm(2, 4) });
    const s = compile(model, opts({ sampleShape: [32], batchSizes: [4] }));
    expect(Object.keys(s.plan().layers[0]!.timings['4']!)).toContain('2:4');
    const unstructured = new Sequential({ fc: new Linear(32, 32) });
    prune(unstructured, { sparsity: 0.5, onWarning: quiet });
    expectThrows(() => compile(unstructured, opts({ sampleShape: [32], formats: '2:4' })), IndexRangeError, 'ERR_RANGE');
  });
});

describe('compile: dead units', () => {
  it('removes hidden units no output reads and folds units no input feeds, keeping the outputs', () => {
    manualSeed(21);
    const model = new Sequential({ fc1: new Linear(8, 6), relu1: new ReLU(), fc2: new Linear(6, 5), relu2: new ReLU(), fc3: new Linear(5, 3) });
    const [fc1, , fc2, , fc3] = [0, 1, 2, 3, 4].map((i) => (model as Sequential).at(i)) as [Linear, Module, Linear, Module, Linear];
    // fc1 unit 2: nothing reads it (column 2 of fc2 masked).
    const m2 = new Uint8Array(30).fill(1);
    for (let r = 0; r < 5; r++) m2[r * 6 + 2] = 0;
    fc2.weight.setMask(m2);
    // fc2 unit 4: no input feeds it (row 4 masked), but its bias makes it a nonzero constant.
    const m2b = fc2.weight.mask!.slice();
    for (let c = 0; c < 6; c++) m2b[4 * 6 + c] = 0;
    fc2.weight.setMask(m2b);
    fc2.bias!.data[4] = 0.75;
    void fc1;
    void fc3;
    const x = randomTensor([8, 3], 4);
    const want = reference(model, [x]);
    const s = compile(model, opts({ sampleShape: [8] }));
    expectNear(s.run(x).output!.data, want);
    const plan = s.plan();
    expect(plan.removedUnits['fc1']).toEqual([2]);
    expect(plan.removedUnits['fc2']).toEqual([4]);
    expect(plan.foldedUnits['fc2']).toEqual([4]);
    expect(plan.layers.map((l) => [l.rows, l.cols])).toEqual([
      [5, 8],
      [4, 5],
      [3, 4],
    ]);
    const kept = compile(model, opts({ sampleShape: [8], removeDeadUnits: false }));
    expect(kept.plan().layers.map((l) => l.rows)).toEqual([6, 5, 3]);
  });
});

describe('compile: errors', () => {
  const model = mlp();
  const s = compile(model, opts({ sampleShape: [64] }));

  it('rejects inputs of the wrong shape, type or name', () => {
    expectThrows(() => s.run(Tensor.zeros([63, 2])), ShapeError, 'ERR_SHAPE');
    expectThrows(() => s.run(Tensor.zeros([64])), ShapeError, 'ERR_SHAPE');
    expectThrows(() => s.run({ image: Tensor.zeros([64, 1]) }), ShapeError, 'ERR_SHAPE');
    expectThrows(() => s.run([]), ShapeError, 'ERR_SHAPE');
    expectThrows(() => s.run(new Float32Array(64) as unknown as Tensor), SparsennTypeError, 'ERR_TYPE');
  });

  it('rejects bad options', () => {
    expectThrows(() => compile(model, opts({ sampleShape: [65] })), ShapeError, 'ERR_SHAPE');
    expectThrows(() => compile(model, opts({ sampleShape: [64], batchSizes: [0] })), IndexRangeError, 'ERR_RANGE');
    expectThrows(() => compile(model, opts({ sampleShape: [64], formats: { nope: 'csr' } })), IndexRangeError, 'ERR_RANGE');
    expectThrows(() => compile({} as Module, opts({ sampleShape: [64] })), SparsennTypeError, 'ERR_TYPE');
  });

  it('rejects a model that cannot be rebuilt from its config', () => {
    class Custom extends Module {
      forward(x: Tensor): Tensor {
        return x;
      }
      config() {
        return { type: 'Custom' };
      }
    }
    expectThrows(() => compile(new Sequential(new Custom()), opts({ sampleShape: [4] })), FormatError, 'ERR_FORMAT');
  });

  it('refuses to run after dispose()', async () => {
    const t = compile(model, opts({ sampleShape: [64] }));
    t.dispose();
    expectThrows(() => t.run(Tensor.zeros([64, 1])), NativeError, 'ERR_DISPOSED');
    await expectRejects(t.runAsync(Tensor.zeros([64, 1])), NativeError, 'ERR_DISPOSED');
  });
});
